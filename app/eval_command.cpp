// stepscope eval: score a token model on the evaluation set its file carries, against the value PyTorch measured.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "commands.h"
#include "compare_plot.h"
#include "stepscope/atomic_file.h"
#include "stepscope/config.h"
#include "stepscope/error.h"
#include "stepscope/model_comparison.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope eval --model MODEL.safetensors [--json]\n"
    "       stepscope eval --compare MODEL1 MODEL2 ... [--plot OUT.svg] [--json]\n"
    "  Runs a token model (a model file with a token head and a task, such as the demos in\n"
    "  resources/models/) over the evaluation set stored in the file and prints the task's metric\n"
    "  (accuracy, or bits per character) per group and overall, beside the value measured in\n"
    "  training (__metadata__.trained_value), and the attention state one sequence of the group\n"
    "  holds (state_bytes). --json prints one JSON object instead.\n"
    "  --compare evaluates several models of one metric and prints one table; --plot draws each\n"
    "  model's metric against stored pairs (or steps) and against state bytes as SVG.\n";

// The metadata's trained values, when present and numeric.
nlohmann::json trained(const TokenModel& model, const std::string& key) {
    const auto found = model.metadata().find(key);
    if (found == model.metadata().end()) return nullptr;
    const nlohmann::json value = nlohmann::json::parse(found->second, nullptr, false);
    return value.is_discarded() ? nlohmann::json(nullptr) : value;
}

std::string file_stem(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const size_t dot = name.find('.');
    return dot == std::string::npos ? name : name.substr(0, dot);
}

int compare(const cli::Arguments& args) {
    const std::vector<std::string> paths = args.texts("compare");
    for (const std::string& path : paths)
        if (path.empty()) throw cli::UsageError{"--compare needs the model files to compare after it"};
    std::vector<ComparedModel> curves;
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& path : paths) {
        const auto model = TokenModel::load(path);
        ComparedModel curve;
        try {
            curve = compare_model(*model, file_stem(path));
        } catch (const Error& e) {
            throw Error(path + ": " + e.what());
        }
        if (const std::string mismatch = comparison_mismatch(curves, curve); !mismatch.empty())
            throw Error(path + ": " + mismatch);
        nlohmann::json entry = {{"model", path}, {"attention_type", curve.attention_type}, {"value", curve.value}};
        std::printf("%-28s %-12s", file_stem(path).c_str(), curve.attention_type.c_str());
        for (const ComparedPoint& point : curve.points) {
            entry["groups"][point.group] = {{"value", point.value},
                                            {"state_bytes", point.state_bytes},
                                            {"steps", point.steps},
                                            {"position", point.position}};
            std::printf("  %s %.3f (%.0f B)", point.group.c_str(), point.value, point.state_bytes);
        }
        std::printf("\n");
        out.push_back(entry);
        curves.push_back(std::move(curve));
    }
    const std::string metric = curves.empty() ? std::string() : curves.front().metric;
    if (args.has("json")) std::printf("%s\n", nlohmann::json{{"metric", metric}, {"models", out}}.dump().c_str());
    if (args.has("plot")) {
        const std::string plot = args.text("plot");
        const std::string svg = cli::comparison_svg(curves, metric, comparison_position_name(curves));
        write_file_atomically(plot, std::vector<uint8_t>(svg.begin(), svg.end()));
        std::fprintf(stderr, "wrote %s\n", plot.c_str());
    }
    return 0;
}

int eval(const cli::Arguments& args) {
    if (!args.texts("compare").empty()) {
        if (args.has("model")) throw cli::UsageError{"give either --model or --compare"};
        return compare(args);
    }
    if (args.has("plot")) throw cli::UsageError{"--plot draws a comparison: give --compare MODEL1 MODEL2 ..."};
    const std::string path = args.text("model");
    const auto model = TokenModel::load(path);
    Evaluation result;
    try {
        cli::Progress progress("eval");
        result = evaluate_stored(*model, [&progress](int64_t done, int64_t total) { progress(done, total); });
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    const nlohmann::json trained_value = trained(*model, "trained_value");
    const nlohmann::json trained_values = trained(*model, "trained_values");

    if (args.has("json")) {
        nlohmann::json out;
        out["model"] = path;
        out["task"] = model->task_name();
        out["description"] = nlohmann::json::parse(model->task_json());
        out["metric"] = result.metric;
        out["value"] = result.value;
        out["trained_value"] = trained_value.is_number() ? trained_value : nlohmann::json(nullptr);
        out["examples"] = result.examples;
        out["scored"] = result.scored;
        out["groups"] = nlohmann::json::object();
        for (const GroupScore& group : result.groups) {
            nlohmann::json entry = {{"value", group.value},
                                    {"examples", group.examples},
                                    {"scored", group.scored},
                                    {"steps", group.steps},
                                    {"state_bytes", group.state_bytes}};
            if (trained_values.is_object() && trained_values.contains(group.name))
                entry["trained_value"] = trained_values[group.name];
            out["groups"][group.name] = entry;
        }
        out["config"] = nlohmann::json::parse(config_to_json(model->transformer().config()));
        // A path or task text that is not UTF-8 is printed with U+FFFD in place of its bad bytes.
        std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return 0;
    }
    std::printf("%s: task %s, %s attention, %ld examples, %ld scored positions\n", path.c_str(),
                model->task_name().c_str(), model->transformer().config().attention_type.c_str(), long(result.examples),
                long(result.scored));
    for (const GroupScore& group : result.groups) {
        std::printf("  %-10s %s %.4f", group.name.c_str(), result.metric.c_str(), group.value);
        if (trained_values.is_object() && trained_values.contains(group.name) && trained_values[group.name].is_number())
            std::printf("  (trained %.4f)", trained_values[group.name].get<double>());
        std::printf("  state %.0f bytes after %ld steps\n", group.state_bytes, long(group.steps));
    }
    std::printf("  %-10s %s %.4f", "all", result.metric.c_str(), result.value);
    if (trained_value.is_number()) std::printf("  (trained %.4f)", trained_value.get<double>());
    std::printf("\n");
    return 0;
}

}  // namespace

int run_eval(int argc, char** argv) {
    // "--compare F1 F2 ..." lists its files after one option: each becomes "--compare F" for the parser.
    std::vector<std::string> words;
    for (int i = 0; i < argc; ++i) {
        words.emplace_back(argv[i]);
        if (words.back() != "--compare") continue;
        words.pop_back();
        const size_t before = words.size();
        for (; i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0; ++i) {
            words.emplace_back("--compare");
            words.emplace_back(argv[i + 1]);
        }
        if (words.size() == before) words.insert(words.end(), {"--compare", ""});  // compare() names the gap
    }
    std::vector<char*> rewritten;
    for (std::string& word : words) rewritten.push_back(word.data());
    return cli::run_guarded("eval", eval, int(rewritten.size()), rewritten.data(), {"model", "plot"}, {"json"}, kUsage,
                            {"compare"});
}
