// Observation of a step from outside the engine: layer outputs, attention maps, state norms and capacity.
//
// A model steps with no observer at no extra cost. The GUI and the exporters
// pass one to see inside; what costs more than a norm (the implicit attention
// of linear attention, the singular values of its state) is computed only for
// the layers an Observation (observation.h) names, and only when one is passed
// with the step (StepOptions in model.h):
//
//   ObservationOptions what;
//   what.layers = {0};
//   what.attention = what.spectrum = true;
//   Observation observation(what);
//   MyObserver observer;  // overrides attention_map and state_capacity
//   model->step(x, state, y, StepOptions{&observer, &observation});
#pragma once

#include <string>
#include <vector>

#include "stepscope/state.h"
#include "stepscope/types.h"

namespace stepscope {

// Norms of one attention state, per batch element and head: index n*H + h.
struct StateNorms {
    int batch = 0;
    int heads = 0;
    // The norms of each of the kind's components (AttentionCapabilities::components), in its order, each
    // (N*H): ||S||_F and ||Z||_2 (linear), ||S||_F (the delta rules), or ||K||_F and ||V||_F over the cached
    // steps (full). Empty before the state has started.
    std::vector<std::vector<float>> components;
    int cache_length = 0;  // a growing state: its cached steps (self) or memory length (cross)
    // The delta-rule family, where the kind declares them (AttentionCapabilities); empty otherwise.
    std::vector<float> write_strength;    // beta_t
    std::vector<float> forget_gate;       // alpha_t
    std::vector<float> prediction_error;  // ||v_t - S_{t-1}^T k_t||, S_{t-1} after the forget gate

    // Component `index`'s norms, sized for `rows`, for a kind to write; a step reuses the last step's vectors.
    // A later call may move the vector (not its floats): hold its data(), not a reference to it.
    std::vector<float>& component(size_t index, size_t rows) {
        if (components.size() <= index) components.resize(index + 1);
        components[index].resize(rows);
        return components[index];
    }
};

// The weights one step's queries gave the values, for softmax and linear
// attention alike. Row (n - first_batch)*H + h holds batch element n, head h;
// column c is key first_key + c (self: a step of the sequence; cross: a
// memory element, masked ones 0). Softmax rows sum to 1; linear rows hold
//   A[t, j] = phi(q_t) . phi(k_j) / (phi(q_t) . Z_t + eps),  Z_t = sum_{j<=t} phi(k_j)
// which sum to just under 1 and may be negative for random feature maps:
// unlike softmax rows they need not be sparse. The delta rules' rows
// (delta_rule_weights.h) need not sum to 1 and are negative where a later
// key overwrote what an earlier one wrote (is_signed).
struct AttentionMap {
    bool implicit = false;   // weights computed from a fixed-size state (exact), not softmax weights
    int first_batch = 0;     // the first batch element covered
    int batch = 0;           // batch elements covered
    int heads = 0;           // H
    int first_key = 0;       // the key of column 0: self attention, a step of the sequence (above 0 once
                             // a linear history dropped old steps or a cache was cleared); cross, 0
    ConstMatrixRef weights;  // (batch*H, K)
    bool is_signed = false;  // the delta rules': negative where a later key overwrote a value
};

// How much one attention state holds after a step, per covered batch element
// and head: index (n - first_batch)*H + h. ||Z|| is StateNorms' second component.
struct StateCapacity {
    int first_batch = 0;
    int batch = 0;
    int heads = 0;
    // A kind with S (a spectrum); the spectrum fields are filled when the Observation asks for it.
    int rank = 0;                        // min(D, M): D the feature map's width
    RowMatrix singular_values;           // (batch*H, rank), of S (D, M), descending
    std::vector<float> effective_rank;   // exp(-sum p_i log p_i), p_i = sigma_i / sum sigma; 0 for S = 0
    std::vector<float> denominator;      // phi(q_t) . Z_t, without eps: near 0 linear attention turns unstable
    std::vector<float> min_denominator;  // (H): the minimum of phi(q_t) . Z_t over the whole batch
    // Softmax attention.
    int cache_length = 0;            // cached keys (self) or memory elements (cross)
    std::vector<float> row_entropy;  // -sum a log a of this step's weights, in nats
};

class StepObserver {
public:
    virtual ~StepObserver() = default;
    // y (N, E): the output of `layer` at this step.
    virtual void layer_output(int /*layer*/, const ConstMatrixRef& /*y*/) {}
    // Softmax weights of full attention, (N*H, T): row n*H + h over the T keys
    // (self: the cache so far; cross: the S memory elements, masked ones 0).
    // Sent at every step; attention_map carries both kinds for observed layers.
    virtual void attention_weights(int /*layer*/, AttentionRole /*role*/, const ConstMatrixRef& /*weights*/) {}
    // The layer's attention state norms after this step's update.
    virtual void state_norms(int /*layer*/, AttentionRole /*role*/, const StateNorms& /*norms*/) {}
    // Observed layers only (Observation::attention): this step's attention weights.
    virtual void attention_map(int /*layer*/, AttentionRole /*role*/, const AttentionMap& /*map*/) {}
    // Observed layers only: the state's capacity after this step's update.
    virtual void state_capacity(int /*layer*/, AttentionRole /*role*/, const StateCapacity& /*capacity*/) {}
};

}  // namespace stepscope
