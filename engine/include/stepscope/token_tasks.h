// What a token model is for: scoring it on the evaluation set its file carries, and generating text.
//
// A stored evaluation set is groups g = 0, 1, ... of tensors (in the file, under `evaluation.`):
//   evaluation.{g}.tokens  (N, T, S) I64  the S tokens of each step of N sequences (they add up)
//   evaluation.{g}.targets (N, T)    I64  the token expected from each step, -1 where none is scored
// The task's "metric" says how the scored positions count ("accuracy": the argmax is the target;
// "bits_per_character": mean -log2 p(target)), and its "groups" names the groups (e.g. "K=16").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "stepscope/token_model.h"

namespace stepscope {

struct GroupScore {
    std::string name;
    double value = 0;
    int64_t examples = 0;  // sequences N
    int64_t scored = 0;    // positions with a target
    int64_t steps = 0;     // T, the length of the group's sequences
    // The attention state one sequence holds after its T steps (memory_budget.h sequence_state_bytes):
    // fixed for the kinds that keep sums, growing with T for a cache.
    double state_bytes = 0;
};

struct Evaluation {
    std::string metric;  // accuracy | bits_per_character
    double value = 0;    // over every scored position of every group
    int64_t examples = 0;
    int64_t scored = 0;
    std::vector<GroupScore> groups;
};

// Called after each step with the sequence-steps done and their total, for a progress line.
using EvaluationProgress = std::function<void(int64_t done, int64_t total)>;

// Runs the stored evaluation set through the model from a fresh state per
// group (the N sequences of a group step as one batch, in slices of at most
// 512, fewer where the memory limit asks). Throws Error when the model has no
// task, an unknown metric, no evaluation set, tensors of the wrong shape or
// with ids outside the vocabulary, or a set over the memory limit or
// Stepscope's bound on work (memory_budget.h); all are checked before any
// step.
Evaluation evaluate_stored(const TokenModel& model, const EvaluationProgress& progress = {});

// The smallest positive temperature: below it logits / temperature overflow a float (0 is greedy).
constexpr double kMinTemperature = 1e-6;

struct GenerationOptions {
    int steps = 1;           // tokens to generate
    double temperature = 0;  // 0: greedy (argmax); else sample softmax(logits / temperature)
    uint64_t seed = 0;       // the sampler's seed
};

// The token a step's logits choose: the argmax when `temperature` is 0, else a draw from
// softmax(logits / temperature) by the uniform number u in [0, 1). logits is one row (V).
int64_t choose_token(const ConstMatrixRef& logits, double temperature, double u);

// Feeds `prompt`, then each predicted token, and returns the N = `steps`
// predictions. Deterministic for given options. Throws Error for an empty
// prompt, a negative temperature, or a prompt and steps that run past the
// model's learned positions.
std::vector<int64_t> generate(const TokenModel& model, const std::vector<TokenStep>& prompt,
                              const GenerationOptions& options, const EvaluationProgress& progress = {});

struct Prediction {
    int64_t token = 0;
    float probability = 0;
};

// The k most probable tokens of one row of probabilities (V), most probable first (ties: lower id).
std::vector<Prediction> top_k(const ConstMatrixRef& probabilities, int k);

// One instance of a model's task, for one sequence: the steps to feed and the token expected from
// each step (-1 where nothing is scored).
struct TaskInstance {
    std::vector<TokenStep> steps;
    std::vector<int64_t> targets;
};

// A fresh recall instance drawn from `seed` (the same on every standard library): `pairs` distinct
// keys with random values at one position each, then the task's "queries" positions key+NULL asking
// for a stored key's value (drawn with replacement), as the training script lays them out. Throws
// Error for a model whose task is not recall or a pair count outside 1..keys.
TaskInstance draw_recall_instance(const TokenModel& model, int pairs, uint64_t seed);

// A recall task asks at most this many queries per instance; its keys, values and null must each be
// a token of the vocabulary.
constexpr int64_t kMaxRecallQueries = 1 << 20;
// The heap bytes of one step of a drawn instance (its two ids, the vector holding them, its target).
constexpr double kRecallStepBytes = 64;
// What draw_recall_instance holds for one sequence, for the memory estimate before drawing a batch.
double estimate_recall_instance_bytes(const TokenModel& model, int pairs);

// What the task scores for typed steps: for recall, each query key+NULL expects the value last stored
// with that key (-1 for a key never stored); for text, each step expects the next step's character
// (-1 for the last). All -1 for a model without a task.
std::vector<int64_t> task_targets(const TokenModel& model, const std::vector<TokenStep>& steps);

// Reading stored pairs back through a state: how the model would answer a query of each stored key now.
struct Retrieval {
    int64_t key = 0, value = 0;
    float probability = 0;  // p(value) after the query key+NULL
    bool correct = false;   // the value is the most probable token
};

// For each sequence n of `state` and each of its stored pairs (key, value) in `pairs[n]`, steps a copy
// of the state with the query key+NULL and reads p(value): (N) lists in the order of `pairs`. Costs one
// step of the batch per pair of the longest list; `state` is unchanged. Throws Error for a model whose
// task is not recall or a list count other than N.
std::vector<std::vector<Retrieval>> read_back(const TokenModel& model, const State& state,
                                              const std::vector<std::vector<std::pair<int64_t, int64_t>>>& pairs);

// The stored (key, value) pairs among the first `count` steps: each step of two tokens whose second is
// not the task's NULL token, the latest value of a repeated key winning.
std::vector<std::pair<int64_t, int64_t>> stored_pairs(const TokenModel& model, const std::vector<TokenStep>& steps,
                                                      size_t count);

}  // namespace stepscope
