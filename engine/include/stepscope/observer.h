// Observation of a step from outside the engine: layer outputs, attention weights, state norms.
//
// A model steps with a null observer at no extra cost; the GUI and the
// exporters pass one to see inside.
#pragma once

#include <string>
#include <vector>

#include "stepscope/state.h"
#include "stepscope/types.h"

namespace stepscope {

enum class AttentionRole { Self, Cross };

// Norms of one attention state, per batch element and head: index n*H + h.
struct StateNorms {
    bool is_linear = false;
    int batch = 0;
    int heads = 0;
    std::vector<float> sums;        // linear: ||S[n,h]||_F
    std::vector<float> normalizer;  // linear: ||Z[n,h]||_2
    std::vector<float> keys;        // full: ||K[n,h]||_F over the cached keys
    std::vector<float> values;      // full: ||V[n,h]||_F over the cached values
    int cache_length = 0;           // full: cached steps (self) or memory length (cross)
};

// Norms of `state`; `is_linear` selects which half is filled.
StateNorms compute_state_norms(const AttentionState& state, bool is_linear, int batch, int heads);

class StepObserver {
public:
    virtual ~StepObserver() = default;
    // y (N, E): the output of `layer` at this step.
    virtual void layer_output(int /*layer*/, const ConstMatrixRef& /*y*/) {}
    // Softmax weights of full attention, (N*H, T): row n*H + h over the T keys
    // (self: the cache so far; cross: the S memory elements, masked ones 0).
    virtual void attention_weights(int /*layer*/, AttentionRole /*role*/,
                                   const ConstMatrixRef& /*weights*/) {}
    // The layer's attention state norms after this step's update.
    virtual void state_norms(int /*layer*/, AttentionRole /*role*/, const StateNorms& /*norms*/) {}
};

}  // namespace stepscope
