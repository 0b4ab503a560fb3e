// What a kind is handed by the layer that owns it: the module's inner attention (its kind, feature map and
// the constants of its formula) and what one step asks (layer, step, observer, ablation). Both sit on the
// kinds' floor so that a kind depends on them, not on the layer classes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stepscope/attention_kind.h"
#include "stepscope/config.h"
#include "stepscope/feature_map.h"
#include "stepscope/observer.h"
#include "stepscope/state.h"
#include "stepscope/tensor.h"
#include "stepscope/types.h"

namespace stepscope {

class AttentionKind;
class Observation;
struct Ablation;
struct StepOptions;

// What one layer's step needs of StepOptions (model.h), resolved for that layer.
struct LayerStep {
    int layer = 0;
    int64_t step = 0;                    // the sequence step being taken
    StepObserver* observer = nullptr;    // null: nothing reported
    Observation* observation = nullptr;  // null unless this layer is looked inside and an observer listens
    const Ablation* ablation = nullptr;  // null when no head is silenced

    static LayerStep of(const StepOptions& options, int64_t step, int layer);
    // Zeroes the heads `ablation` silences at this step in `heads` (N*H, M) of `role`.
    void silence(AttentionRole role, RowMatrix& heads, int head_count) const;
};

// The inner attention of one module: its kind, feature map and the
// constants of its formula.
class InnerAttention {
public:
    InnerAttention(const ModelConfig& config, const std::string& type, int heads, int query_dims, int value_dims,
                   const TensorMap& tensors, const std::string& prefix, uint64_t draw_tag);

    const AttentionKind& kind() const { return *kind_; }
    // The kind's capabilities under the name it was configured by.
    const AttentionCapabilities& capabilities() const { return *capabilities_; }
    // Null for kinds without a feature map.
    const FeatureMap* feature_map() const { return feature_map_.get(); }
    int heads() const { return heads_; }
    int query_dims() const { return query_dims_; }
    int value_dims() const { return value_dims_; }
    int feature_dims() const { return feature_map_ ? feature_map_->output_dims() : 0; }
    // C of a random feature map's omega (D, C); 0 for deterministic maps.
    int omega_columns() const { return feature_map_ ? feature_map_->omega_columns() : 0; }
    float eps() const { return eps_; }
    // A parameter the kind declares (AttentionCapabilities::parameters): as configured, else its default.
    float parameter(const std::string& name) const;
    float temperature() const { return temperature_; }
    // How a key/value cache keeps its steps (kinds that keep one).
    CachePrecision cache_precision() const { return cache_precision_; }

    // The omega of this sequence: the stored one, or a draw made from the
    // sequence seed when the state is new (as the reference redraws on an
    // empty state), kept in the state so a snapshot resumes exactly.
    const RowMatrix& omega(AttentionState& state, uint64_t sequence_seed) const;
    bool has_stored_omega() const { return stored_omega_.size() > 0; }

    // phi (R, F) of x (R, D).
    void features(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout layout) const;
    // The stored omega, if any, under its name in the module `prefix` (for saving).
    void store(const std::string& prefix, TensorMap& out) const;

private:
    const AttentionKind* kind_;
    const AttentionCapabilities* capabilities_;
    int heads_, query_dims_, value_dims_;
    float eps_, temperature_;
    CachePrecision cache_precision_;
    std::vector<float> parameters_;            // the kind's declared parameters, in its declaration's order
    std::unique_ptr<FeatureMap> feature_map_;  // kinds with a feature map only
    RowMatrix stored_omega_;
    uint64_t draw_tag_;
};

}  // namespace stepscope
