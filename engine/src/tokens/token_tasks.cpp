// Scoring a token model on its stored evaluation set, and greedy or sampled generation.
#include "stepscope/token_tasks.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

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

// Sequences of a group stepped at once, at most: more are stepped in slices of this many (each
// sequence is scored on its own, so a slice is as exact as the whole), fewer where the memory limit
// asks for it.
constexpr int64_t kEvaluationSlice = 512;
// Rows (steps x sequences) of one block at most: past a few hundred rows a product already reads each weight
// once for many rows, and a larger block only adds buffers to fill (measured: blocks of 512 x 42 rows made
// eval slower than stepping, 94 ms against 55 of CPU for recall_linear).
constexpr int64_t kEvaluationBlockRows = 1024;

// Steps per block for `count` sequences.
int evaluation_block(const TokenModel& model, int64_t count) {
    return model.transformer().block_steps(count, int(std::max<int64_t>(1, kEvaluationBlockRows / count)));
}

// A group's tensors, checked before anything is stepped: a refusal costs no stepping.
struct Group {
    const Tensor* tokens = nullptr;
    const Tensor* targets = nullptr;
    int64_t batch = 0, steps = 0, width = 0;
};

Group checked_group(const TokenModel& model, const std::string& index) {
    Group g;
    g.tokens = &evaluation_tensor(model, index + ".tokens", 3);
    g.targets = &evaluation_tensor(model, index + ".targets", 2);
    g.batch = g.tokens->shape[0];
    g.steps = g.tokens->shape[1];
    g.width = g.tokens->shape[2];
    if (g.batch < 1 || g.steps < 1 || g.width < 1 || g.targets->shape != std::vector<int64_t>{g.batch, g.steps})
        throw Error("evaluation group " + index + ": tokens " + g.tokens->shape_string() + " and targets " +
                    g.targets->shape_string() + " do not match");
    for (const int64_t id : g.tokens->integers)
        if (id < 0 || id >= model.vocabulary_size())
            throw Error("evaluation group " + index + ": token id " + std::to_string(id) +
                        " is outside the vocabulary 0.." + std::to_string(model.vocabulary_size() - 1));
    for (const int64_t target : g.targets->integers)
        if (target >= model.vocabulary_size())
            throw Error("evaluation group " + index + ": target " + std::to_string(target) +
                        " is outside the vocabulary");
    if (model.positions() > 0 && g.steps > model.positions())
        throw Error("evaluation group " + index + ": " + std::to_string(g.steps) + " steps run past the model's " +
                    std::to_string(model.positions()) + " learned positions");
    return g;
}

// The largest slice of the group's sequences whose run, beside the model, fits the memory limit;
// throws the limit's refusal when not even one sequence fits.
int64_t evaluation_slice(const TokenModel& model, const Group& g, const std::string& index) {
    const ModelConfig& config = model.transformer().config();
    const double model_bytes = estimate_model_bytes(config);
    auto run_bytes = [&](int64_t slice) {
        RunShape run;
        run.batch = slice;
        run.steps = g.steps;
        // The step's embeddings, logits and probabilities, and the slice's tokens.
        run.kept_bytes = double(slice) * (3.0 * model.vocabulary_size() * sizeof(float) + g.width * 24.0 + 64);
        // A block's embeddings, outputs and logits, its tokens, and the layers' buffers (Model::block_steps).
        const double block = evaluation_block(model, slice);
        run.kept_bytes += double(slice) * block *
                          ((2.0 * config.d_model() + model.vocabulary_size()) * sizeof(float) + g.width * 24.0 + 24);
        run.kept_bytes += kBlockBufferBytes;
        return model_bytes + estimate_run_bytes(config, run);
    };
    int64_t slice = std::min(g.batch, kEvaluationSlice);
    while (slice > 1 && run_bytes(slice) > double(memory_limit())) slice /= 2;
    require_memory(run_bytes(slice), "evaluation group " + index + " (" + std::to_string(g.steps) + " steps)");
    return slice;
}

// The sum of the metric over a group's scored positions.
GroupScore score_group(const TokenModel& model, const Group& g, bool accuracy, double& sum,
                       const EvaluationProgress& progress, int64_t& done, int64_t total, int64_t slice) {
    GroupScore group;
    group.examples = g.batch;
    group.steps = g.steps;
    group.state_bytes = sequence_state_bytes(model.transformer().config(), g.steps);
    RowMatrix logits;
    for (int64_t first = 0; first < g.batch; first += slice) {
        const int64_t count = std::min(slice, g.batch - first);
        State state = model.transformer().new_state();
        // The whole sequence is known: blocks of steps (TokenModel::step_block), each product over the block.
        const int64_t block = evaluation_block(model, count);
        std::vector<std::vector<TokenStep>> steps;
        std::vector<TokenStep> previous;  // the step before the block, for a token shift
        for (int64_t t0 = 0; t0 < g.steps; t0 += block) {
            const int64_t length = std::min(block, g.steps - t0);
            steps.assign(size_t(length), std::vector<TokenStep>(size_t(count), TokenStep(size_t(g.width))));
            for (int64_t t = 0; t < length; ++t)
                for (int64_t i = 0; i < count; ++i)
                    for (int64_t s = 0; s < g.width; ++s)
                        steps[size_t(t)][size_t(i)][size_t(s)] =
                            g.tokens->integers[size_t(((first + i) * g.steps + t0 + t) * g.width + s)];
            model.step_block(steps, state, logits, &previous);
            previous = steps.back();
            for (int64_t t = 0; t < length; ++t)
                for (int64_t i = 0; i < count; ++i) {
                    const int64_t target = g.targets->integers[size_t((first + i) * g.steps + t0 + t)];
                    if (target < 0) continue;
                    ++group.scored;
                    const long row = long(t * count + i);
                    if (accuracy) {
                        Eigen::Index best;
                        logits.row(row).maxCoeff(&best);
                        sum += best == target ? 1.0 : 0.0;
                    } else {
                        sum += bits(logits, row, target);
                    }
                }
            done += count * length;
            if (progress) progress(done, total);
        }
    }
    return group;
}

// The recall task's layout: how many keys and values, the NULL token's id and the queries per instance.
struct RecallLayout {
    int64_t keys = 0, values = 0, null = 0, queries = 0;
};

RecallLayout recall_layout(const TokenModel& model) {
    if (model.task_name() != "recall") throw Error("the model's task is '" + model.task_name() + "', not recall");
    const nlohmann::json task = nlohmann::json::parse(model.task_json());
    RecallLayout layout;
    for (auto [name, field] : {std::pair{"keys", &layout.keys}, std::pair{"values", &layout.values},
                               std::pair{"null", &layout.null}, std::pair{"queries", &layout.queries}}) {
        if (!task.contains(name) || !task[name].is_number_integer())
            throw Error(std::string("the recall task has no integer '") + name + "'");
        *field = task[name].get<int64_t>();
    }
    // Each is checked against the vocabulary before they are added: huge counts cannot wrap around.
    const int64_t size = model.vocabulary_size();
    if (layout.keys < 1 || layout.keys >= size || layout.values < 1 || layout.values >= size || layout.null < 0 ||
        layout.null >= size || layout.keys + layout.values > layout.null)
        throw Error("the recall task's keys (" + std::to_string(layout.keys) + "), values (" +
                    std::to_string(layout.values) + ") and null (" + std::to_string(layout.null) +
                    ") do not fit the vocabulary of " + std::to_string(size) + " tokens");
    if (layout.queries < 0 || layout.queries > kMaxRecallQueries)
        throw Error("the recall task's queries (" + std::to_string(layout.queries) + ") are not 0 to " +
                    std::to_string(kMaxRecallQueries));
    return layout;
}

bool is_query(const TokenStep& step, const RecallLayout& layout) { return step.size() == 2 && step[1] == layout.null; }

}  // namespace

int64_t choose_token(const ConstMatrixRef& logits, double temperature, double u) {
    Eigen::Index next = 0;
    if (temperature == 0) {
        logits.row(0).maxCoeff(&next);
        return next;
    }
    // A temperature under kMinTemperature would divide by a float zero: it is as greedy as 0.
    if (temperature < kMinTemperature) {
        logits.row(0).maxCoeff(&next);
        return next;
    }
    const RowMatrix p = TokenModel::probabilities(logits / float(temperature));
    for (next = 0; next + 1 < p.cols() && u >= p(0, next); ++next) u -= p(0, next);
    return next;
}

std::vector<Prediction> top_k(const ConstMatrixRef& probabilities, int k) {
    std::vector<int64_t> ids(size_t(probabilities.cols()));
    std::iota(ids.begin(), ids.end(), 0);
    const auto count = std::min<size_t>(size_t(std::max(k, 0)), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + long(count), ids.end(), [&](int64_t a, int64_t b) {
        return probabilities(0, a) > probabilities(0, b) || (probabilities(0, a) == probabilities(0, b) && a < b);
    });
    std::vector<Prediction> best;
    for (size_t i = 0; i < count; ++i) best.push_back({ids[i], probabilities(0, ids[i])});
    return best;
}

double estimate_recall_instance_bytes(const TokenModel& model, int pairs) {
    const RecallLayout layout = recall_layout(model);
    // Each step: a vector of two ids on the heap and its target; the shuffled keys once.
    return double(std::max(pairs, 0) + layout.queries) * kRecallStepBytes + 8.0 * double(layout.keys);
}

TaskInstance draw_recall_instance(const TokenModel& model, int pairs, uint64_t seed) {
    const RecallLayout layout = recall_layout(model);
    if (pairs < 1 || pairs > layout.keys)
        throw Error("a recall instance holds 1 to " + std::to_string(layout.keys) + " pairs, not " +
                    std::to_string(pairs));
    // Raw draws reduced by modulo: std::uniform_int_distribution differs between standard libraries.
    std::mt19937_64 random(seed);
    std::vector<int64_t> keys(size_t(layout.keys));
    std::iota(keys.begin(), keys.end(), 0);
    for (size_t i = keys.size() - 1; i > 0; --i) std::swap(keys[i], keys[random() % (i + 1)]);
    TaskInstance instance;
    instance.steps.reserve(size_t(pairs + layout.queries));
    instance.targets.reserve(size_t(pairs + layout.queries));
    std::vector<int64_t> values;
    for (int i = 0; i < pairs; ++i) {
        values.push_back(layout.keys + int64_t(random() % uint64_t(layout.values)));
        instance.steps.push_back({keys[size_t(i)], values.back()});
        instance.targets.push_back(-1);
    }
    for (int64_t q = 0; q < layout.queries; ++q) {
        const auto asked = size_t(random() % uint64_t(pairs));
        instance.steps.push_back({keys[asked], layout.null});
        instance.targets.push_back(values[asked]);
    }
    return instance;
}

std::vector<std::pair<int64_t, int64_t>> stored_pairs(const TokenModel& model, const std::vector<TokenStep>& steps,
                                                      size_t count) {
    const RecallLayout layout = recall_layout(model);
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (size_t t = 0; t < std::min(count, steps.size()); ++t) {
        if (steps[t].size() != 2 || is_query(steps[t], layout)) continue;
        const auto same_key =
            std::find_if(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == steps[t][0]; });
        if (same_key != pairs.end()) same_key->second = steps[t][1];
        else pairs.emplace_back(steps[t][0], steps[t][1]);
    }
    return pairs;
}

std::vector<int64_t> task_targets(const TokenModel& model, const std::vector<TokenStep>& steps) {
    std::vector<int64_t> targets(steps.size(), -1);
    if (model.task_name() == "text") {
        for (size_t t = 0; t + 1 < steps.size(); ++t)
            if (steps[t + 1].size() == 1) targets[t] = steps[t + 1][0];
    } else if (model.task_name() == "recall") {
        const RecallLayout layout = recall_layout(model);
        std::map<int64_t, int64_t> stored;  // key -> its latest value
        for (size_t t = 0; t < steps.size(); ++t) {
            if (is_query(steps[t], layout)) {
                if (const auto found = stored.find(steps[t][0]); found != stored.end()) targets[t] = found->second;
            } else if (steps[t].size() == 2) {
                stored[steps[t][0]] = steps[t][1];
            }
        }
    }
    return targets;
}

std::vector<std::vector<Retrieval>> read_back(const TokenModel& model, const State& state,
                                              const std::vector<std::vector<std::pair<int64_t, int64_t>>>& pairs) {
    const RecallLayout layout = recall_layout(model);
    if (int64_t(pairs.size()) != state.batch)
        throw Error("read_back: " + std::to_string(pairs.size()) + " lists of pairs for " +
                    std::to_string(state.batch) + " sequences");
    size_t longest = 0;
    for (const auto& list : pairs) longest = std::max(longest, list.size());
    std::vector<std::vector<Retrieval>> result(pairs.size());
    RowMatrix logits;
    for (size_t j = 0; j < longest; ++j) {
        // Sequences with fewer pairs repeat their first (or query key 0); their extra answers are dropped.
        std::vector<TokenStep> queries;
        for (const auto& list : pairs)
            queries.push_back({list.empty() ? 0 : list[j < list.size() ? j : 0].first, layout.null});
        State probe = state;
        model.step(queries, probe, logits);
        const RowMatrix p = TokenModel::probabilities(logits);
        for (size_t n = 0; n < pairs.size(); ++n) {
            if (j >= pairs[n].size()) continue;
            const auto [key, value] = pairs[n][j];
            Eigen::Index best;
            p.row(long(n)).maxCoeff(&best);
            result[n].push_back({key, value, p(long(n), value), best == value});
        }
    }
    return result;
}

Evaluation evaluate_stored(const TokenModel& model, const EvaluationProgress& progress) {
    if (model.task_json().empty()) throw Error("the model carries no task (__metadata__.task)");
    const nlohmann::json task = nlohmann::json::parse(model.task_json());
    Evaluation result;
    if (task.contains("metric") && !task["metric"].is_string())
        throw Error(std::string("the task's metric must be a string, got ") + task["metric"].type_name());
    result.metric = task.value("metric", "");
    if (result.metric != "accuracy" && result.metric != "bits_per_character")
        throw Error("the task's metric is '" + result.metric + "', not accuracy or bits_per_character");
    const nlohmann::json names =
        task.contains("groups") && task["groups"].is_array() ? task["groups"] : nlohmann::json::array();
    // Every group is checked, sized against the memory limit and its work counted before any is stepped.
    std::vector<Group> groups;
    std::vector<int64_t> slices;
    double work = 0;
    int64_t total_steps = 0;
    for (int g = 0; model.evaluation_tensors().count(std::to_string(g) + ".tokens"); ++g) {
        groups.push_back(checked_group(model, std::to_string(g)));
        slices.push_back(evaluation_slice(model, groups.back(), std::to_string(g)));
        RunShape run;
        run.batch = groups.back().batch;
        run.steps = groups.back().steps;
        work += estimate_step_work(model.transformer().config(), run);
        total_steps += run.batch * run.steps;
    }
    require_work(work, "the evaluation set (" + std::to_string(groups.size()) + " groups)");
    double total = 0;
    int64_t done = 0;
    for (size_t g = 0; g < groups.size(); ++g) {
        double sum = 0;
        GroupScore group =
            score_group(model, groups[g], result.metric == "accuracy", sum, progress, done, total_steps, slices[g]);
        group.name = g < names.size() && names[g].is_string() ? names[g].get<std::string>() : std::to_string(g);
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
                              const GenerationOptions& options, const EvaluationProgress& progress) {
    if (prompt.empty()) throw Error("the prompt is empty");
    if (options.steps < 0) throw Error("the number of steps is negative");
    if (!(options.temperature == 0 || (options.temperature >= kMinTemperature && std::isfinite(options.temperature))))
        throw Error("the temperature must be 0 (greedy) or a finite number >= 1e-06");
    const int64_t fed = int64_t(prompt.size()) + options.steps - 1;
    if (model.positions() > 0 && fed > model.positions())
        throw Error("the prompt (" + std::to_string(prompt.size()) + " steps) and " + std::to_string(options.steps) +
                    " generated tokens need " + std::to_string(fed) + " positions, the model has " +
                    std::to_string(model.positions()));
    RunShape run;
    run.steps = fed + 1;
    require_work(estimate_step_work(model.transformer().config(), run),
                 "generating " + std::to_string(options.steps) + " tokens");
    require_memory(estimate_model_bytes(model.transformer().config()) +
                       estimate_run_bytes(model.transformer().config(), run),
                   "generating " + std::to_string(options.steps) + " tokens");
    std::mt19937_64 random(options.seed);
    State state = model.transformer().new_state();
    RowMatrix logits;
    const int64_t total = fed;        // the steps fed: the prompt, then each token but the last
    std::vector<TokenStep> previous;  // the step before, for a token shift
    // The prompt but its last step is known: blocks of steps (TokenModel::step_block).
    const size_t block = size_t(model.transformer().block_steps(1));
    for (size_t t0 = 0; t0 + 1 < prompt.size(); t0 += block) {
        const size_t length = std::min(block, prompt.size() - 1 - t0);
        std::vector<std::vector<TokenStep>> steps;
        for (size_t t = t0; t < t0 + length; ++t) steps.push_back({prompt[t]});
        model.step_block(steps, state, logits, &previous);
        previous = steps.back();
        if (progress) progress(int64_t(t0 + length), total);
    }
    std::vector<int64_t> generated;
    TokenStep input = prompt.back();
    for (int i = 0; i < options.steps; ++i) {
        model.step({input}, state, logits, nullptr, &previous);
        previous = {input};
        if (progress) progress(int64_t(prompt.size()) + i, total);
        // A uniform draw in [0, 1) from 53 random bits: the same on every standard library.
        const double u = options.temperature == 0 ? 0.0 : double(random() >> 11) * 0x1.0p-53;
        const int64_t next = choose_token(logits, options.temperature, u);
        generated.push_back(next);
        input = {next};
    }
    return generated;
}

}  // namespace stepscope
