// Scoring a token model on its stored evaluation set, and greedy or sampled generation.
#include "stepscope/token_tasks.h"

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "stepscope/error.h"

namespace stepscope {

namespace {

const Tensor& evaluation_tensor(const TokenModel& model, const std::string& name, size_t rank) {
    const auto found = model.evaluation_tensors().find(name);
    if (found == model.evaluation_tensors().end()) throw Error("no tensor 'evaluation." + name + "'");
    if (found->second.dtype != DType::I64 || found->second.shape.size() != rank)
        throw Error("tensor 'evaluation." + name + "' must be I64 of rank " + std::to_string(rank) + ", got " +
                    found->second.shape_string());
    return found->second;
}

// -log2 p(target) under softmax(logits), in double.
double bits(const RowMatrix& logits, long row, int64_t target) {
    const double largest = logits.row(row).maxCoeff();
    const double total = (logits.row(row).cast<double>().array() - largest).exp().sum();
    return (std::log(total) + largest - logits(row, target)) / std::log(2.0);
}

// The sum of the metric over a group's scored positions.
GroupScore score_group(const TokenModel& model, const std::string& index, bool accuracy, double& sum) {
    const Tensor& tokens = evaluation_tensor(model, index + ".tokens", 3);
    const Tensor& targets = evaluation_tensor(model, index + ".targets", 2);
    const int64_t batch = tokens.shape[0], steps = tokens.shape[1], width = tokens.shape[2];
    if (batch < 1 || steps < 1 || width < 1 || targets.shape != std::vector<int64_t>{batch, steps})
        throw Error("evaluation group " + index + ": tokens " + tokens.shape_string() + " and targets " +
                    targets.shape_string() + " do not match");
    GroupScore group;
    group.examples = batch;
    State state = model.transformer().new_state();
    RowMatrix logits;
    std::vector<TokenStep> step_tokens(batch, TokenStep(width));
    for (int64_t t = 0; t < steps; ++t) {
        for (int64_t n = 0; n < batch; ++n)
            for (int64_t s = 0; s < width; ++s) step_tokens[n][s] = tokens.integers[(n * steps + t) * width + s];
        model.step(step_tokens, state, logits);
        for (int64_t n = 0; n < batch; ++n) {
            const int64_t target = targets.integers[n * steps + t];
            if (target < 0) continue;
            if (target >= model.vocabulary_size())
                throw Error("evaluation group " + index + ": target " + std::to_string(target) +
                            " is outside the vocabulary");
            ++group.scored;
            if (accuracy) {
                Eigen::Index best;
                logits.row(n).maxCoeff(&best);
                sum += best == target ? 1.0 : 0.0;
            } else {
                sum += bits(logits, n, target);
            }
        }
    }
    return group;
}

}  // namespace

Evaluation evaluate_stored(const TokenModel& model) {
    if (model.task_json().empty()) throw Error("the model carries no task (__metadata__.task)");
    const nlohmann::json task = nlohmann::json::parse(model.task_json());
    Evaluation result;
    result.metric = task.value("metric", "");
    if (result.metric != "accuracy" && result.metric != "bits_per_character")
        throw Error("the task's metric is '" + result.metric + "', not accuracy or bits_per_character");
    const nlohmann::json names = task.value("groups", nlohmann::json::array());
    double total = 0;
    for (int g = 0; model.evaluation_tensors().count(std::to_string(g) + ".tokens"); ++g) {
        double sum = 0;
        GroupScore group = score_group(model, std::to_string(g), result.metric == "accuracy", sum);
        group.name = g < int(names.size()) && names[g].is_string() ? names[g].get<std::string>() : std::to_string(g);
        group.value = group.scored ? sum / double(group.scored) : 0.0;
        result.examples += group.examples;
        result.scored += group.scored;
        total += sum;
        result.groups.push_back(group);
    }
    if (result.groups.empty()) throw Error("the model carries no evaluation set (evaluation.0.tokens)");
    if (result.scored == 0) throw Error("the evaluation set scores no position");
    result.value = total / double(result.scored);
    return result;
}

std::vector<int64_t> generate(const TokenModel& model, const std::vector<TokenStep>& prompt,
                              const GenerationOptions& options) {
    if (prompt.empty()) throw Error("the prompt is empty");
    if (options.steps < 0) throw Error("the number of steps is negative");
    if (!(options.temperature >= 0) || !std::isfinite(options.temperature))
        throw Error("the temperature must be a finite number >= 0");
    const int64_t fed = int64_t(prompt.size()) + options.steps - 1;
    if (model.positions() > 0 && fed > model.positions())
        throw Error("the prompt (" + std::to_string(prompt.size()) + " steps) and " + std::to_string(options.steps) +
                    " generated tokens need " + std::to_string(fed) + " positions, the model has " +
                    std::to_string(model.positions()));
    std::mt19937_64 random(options.seed);
    State state = model.transformer().new_state();
    RowMatrix logits;
    for (size_t t = 0; t + 1 < prompt.size(); ++t) model.step({prompt[t]}, state, logits);
    std::vector<int64_t> generated;
    TokenStep input = prompt.back();
    for (int i = 0; i < options.steps; ++i) {
        model.step({input}, state, logits);
        Eigen::Index next = 0;
        if (options.temperature == 0) {
            logits.row(0).maxCoeff(&next);
        } else {
            const RowMatrix p = TokenModel::probabilities(logits / float(options.temperature));
            // A uniform draw in [0, 1) from 53 random bits: the same on every standard library.
            double u = double(random() >> 11) * 0x1.0p-53;
            for (next = 0; next + 1 < p.cols() && u >= p(0, next); ++next) u -= p(0, next);
        }
        generated.push_back(next);
        input = {next};
    }
    return generated;
}

}  // namespace stepscope
