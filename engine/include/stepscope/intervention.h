// Interventions on a run: heads ablated while stepping, and edits of a state between steps.
//
// The model stays immutable: an ablation travels with each step (StepOptions
// in model.h), and a state edit changes only the State value it is given, so
// the run it came from can be kept as a copy and compared.
//
//   Ablation ablation;
//   ablation.heads.push_back({/*layer=*/1, /*head=*/1});  // from step 0: the whole run
//   model->step(x, state, y, StepOptions{nullptr, nullptr, &ablation});
//
//   State patched = state;                       // a branch of the run
//   scale_head(*model, patched, 0, AttentionRole::Self, 3, 0.0f);  // erase head 3's S and Z
//   copy_layer_state(*model, patched, pinned, 2);                  // activation patching
#pragma once

#include <cstdint>
#include <vector>

#include "stepscope/observer.h"
#include "stepscope/state.h"

namespace stepscope {

class Model;

// One head silenced: its attention output contributes zero to its layer's out
// projection at every step from `from_step` (0-based) on. Its state still updates.
struct HeadAblation {
    int layer = 0;
    int head = 0;
    int64_t from_step = 0;
    AttentionRole role = AttentionRole::Self;
};

struct Ablation {
    std::vector<HeadAblation> heads;

    bool empty() const { return heads.empty(); }
    // Whether head `head` of `layer`'s `role` attention is silenced at `step`.
    bool silences(int layer, AttentionRole role, int head, int64_t step) const;
};

// Throws Error naming the first ablated layer or head the model does not have.
void check_ablation(const Model& model, const Ablation& ablation);

// State edits at the current step. Each throws Error, changing nothing, for a
// layer, head or attention kind that does not fit the model or the state.

// Multiplies head `head`'s S and Z (linear attention) of every batch element by `factor`; 0 erases what it holds.
void scale_head(const Model& model, State& state, int layer, AttentionRole role, int head, float factor);

// Empties head `head`'s key/value cache (softmax attention) in every batch element, exactly: from then on
// the head attends only to steps cached after the clear (the next step attends to itself first), while
// the other heads keep theirs. The cache is one length for all heads, so the cleared steps stay in it,
// zeroed, behind the head's start (KeyValueCache::starts). A cross-attention head cleared so attends
// to nothing and outputs 0. The CUDA backend refuses a state with a cleared head.
void clear_head_cache(const Model& model, State& state, int layer, AttentionRole role, int head);

// Empties layer `layer`'s self-attention state: linear S and Z become 0; a
// softmax key/value cache drops every cached step, so the next step attends
// to itself and what follows, in every head (cleared heads' starts included).
void clear_layer_state(const Model& model, State& state, int layer);

// Activation patching: layer `layer` of `target` takes `source`'s state (self
// and cross attention) as it is; both are started sequences of the same batch at the same step.
void copy_layer_state(const Model& model, State& target, const State& source, int layer);

}  // namespace stepscope
