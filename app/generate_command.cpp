// stepscope generate: continue a prompt with a token model's own predictions.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "arguments.h"
#include "commands.h"
#include "stepscope/error.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope generate --model MODEL.safetensors --prompt TEXT --steps N\n"
    "                          [--temperature T] [--seed S]\n"
    "  Feeds the prompt to a token model, then each token it predicts, and prints the prompt and\n"
    "  its continuation. Greedy (the most probable token) unless --temperature T > 0 samples from\n"
    "  softmax(logits / T) with --seed S (default 0); the same command prints the same text.\n"
    "  A character model reads TEXT one character a step; other vocabularies read whitespace-\n"
    "  separated steps whose tokens join with '+' (\"k3+v9 k3+?\").\n";

double temperature_of(const cli::Arguments& args) {
    if (!args.has("temperature")) return 0;
    const std::string text = args.text("temperature");
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    // A positive temperature under 1e-6 divides the logits into infinities: 0 is greedy.
    if (text.empty() || *end != '\0' || !(value == 0 || (value >= kMinTemperature && value <= 1e6)))
        throw cli::UsageError{"--temperature must be 0 (greedy) or a number from 1e-06 to 1e+06, got " +
                              quote_text(text)};
    return value;
}

int generate_text(const cli::Arguments& args) {
    const std::string path = args.text("model"), prompt_text = args.text("prompt");
    GenerationOptions options;
    args.text("steps");  // required
    options.steps = static_cast<int>(args.integer("steps", 0, 0, 100000));
    options.temperature = temperature_of(args);
    options.seed = static_cast<uint64_t>(args.integer("seed", 0, 0, 0x7fffffffffffffffL));
    const auto model = TokenModel::load(path);
    std::vector<TokenStep> prompt;
    try {
        prompt = model->tokenize(prompt_text);
    } catch (const Error& e) {
        throw cli::UsageError{std::string("--prompt: ") + e.what()};
    }
    std::vector<int64_t> generated;
    try {
        cli::Progress progress("generate");
        generated =
            generate(*model, prompt, options, [&progress](int64_t done, int64_t total) { progress(done, total); });
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    std::string text = prompt_text;
    for (const int64_t id : generated) {
        if (!model->character_vocabulary()) text += ' ';
        text += model->step_text({id});
    }
    std::printf("%s\n", text.c_str());
    return 0;
}

}  // namespace

int run_generate(int argc, char** argv) {
    return cli::run_guarded("generate", generate_text, argc, argv, {"model", "prompt", "steps", "temperature", "seed"},
                            {}, kUsage);
}
