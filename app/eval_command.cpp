// stepscope eval: score a token model on the evaluation set its file carries, against the value PyTorch measured.
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "arguments.h"
#include "commands.h"
#include "stepscope/config.h"
#include "stepscope/error.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope eval --model MODEL.safetensors [--json]\n"
    "  Runs a token model (a model file with a token head and a task, such as the demos in\n"
    "  resources/models/) over the evaluation set stored in the file and prints the task's metric\n"
    "  (accuracy, or bits per character) per group and overall, beside the value measured in\n"
    "  training (__metadata__.trained_value). --json prints one JSON object instead.\n";

// The metadata's trained values, when present and numeric.
nlohmann::json trained(const TokenModel& model, const std::string& key) {
    const auto found = model.metadata().find(key);
    if (found == model.metadata().end()) return nullptr;
    const nlohmann::json value = nlohmann::json::parse(found->second, nullptr, false);
    return value.is_discarded() ? nlohmann::json(nullptr) : value;
}

int eval(const cli::Arguments& args) {
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
            nlohmann::json entry = {{"value", group.value}, {"examples", group.examples}, {"scored", group.scored}};
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
                model->task_name().c_str(), model->transformer().config().attention_type.c_str(),
                long(result.examples), long(result.scored));
    for (const GroupScore& group : result.groups) {
        std::printf("  %-10s %s %.4f", group.name.c_str(), result.metric.c_str(), group.value);
        if (trained_values.is_object() && trained_values.contains(group.name) && trained_values[group.name].is_number())
            std::printf("  (trained %.4f)", trained_values[group.name].get<double>());
        std::printf("\n");
    }
    std::printf("  %-10s %s %.4f", "all", result.metric.c_str(), result.value);
    if (trained_value.is_number()) std::printf("  (trained %.4f)", trained_value.get<double>());
    std::printf("\n");
    return 0;
}

}  // namespace

int run_eval(int argc, char** argv) {
    return cli::run_guarded("eval", eval, argc, argv, {"model"}, {"json"}, kUsage);
}
