// What a token model is for: scoring it on the evaluation set its file carries, and generating text.
//
// A stored evaluation set is groups g = 0, 1, ... of tensors (in the file, under `evaluation.`):
//   evaluation.{g}.tokens  (N, T, S) I64  the S tokens of each step of N sequences (they add up)
//   evaluation.{g}.targets (N, T)    I64  the token expected from each step, -1 where none is scored
// The task's "metric" says how the scored positions count ("accuracy": the argmax is the target;
// "bits_per_character": mean -log2 p(target)), and its "groups" names the groups (e.g. "K=16").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stepscope/token_model.h"

namespace stepscope {

struct GroupScore {
    std::string name;
    double value = 0;
    int64_t examples = 0;  // sequences N
    int64_t scored = 0;    // positions with a target
};

struct Evaluation {
    std::string metric;  // accuracy | bits_per_character
    double value = 0;    // over every scored position of every group
    int64_t examples = 0;
    int64_t scored = 0;
    std::vector<GroupScore> groups;
};

// Runs the stored evaluation set through the model from a fresh state per
// group (the N sequences of a group step as one batch). Throws Error when the
// model has no task, an unknown metric, no evaluation set, or tensors of the
// wrong shape or with ids outside the vocabulary.
Evaluation evaluate_stored(const TokenModel& model);

struct GenerationOptions {
    int steps = 1;             // tokens to generate
    double temperature = 0;    // 0: greedy (argmax); else sample softmax(logits / temperature)
    uint64_t seed = 0;         // the sampler's seed
};

// Feeds `prompt`, then each predicted token, and returns the N = `steps`
// predictions. Deterministic for given options. Throws Error for an empty
// prompt, a negative temperature, or a prompt and steps that run past the
// model's learned positions.
std::vector<int64_t> generate(const TokenModel& model, const std::vector<TokenStep>& prompt,
                              const GenerationOptions& options);

}  // namespace stepscope
