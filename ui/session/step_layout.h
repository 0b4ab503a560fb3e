// How a run keeps one step: a block of floats for every batch element's outputs and norms, a small
// head, and the rarer observations beside them only where a step has any.
//
// A step of the seed example at batch 1 is 8 module words and 577 floats (the 384 outputs, ||y||,
// ||S|| and ||Z|| of 12 heads in 8 layers) plus a 40-byte head: 2,380 bytes. Kept as vectors per
// layer and per element, with a sliced copy for the shown element, it took about 12 KB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "session/step_record.h"

namespace stepscope::ui {

// What one step observed beyond outputs and norms: attention rows (the heatmap's window only),
// capacity, divergence, tokens and read-backs, as a BatchRecord holds them.
struct StepObservations {
    int observed = 0;                      // the element looked inside: capacity, implicit maps and read-back are its
    int divergence_of = 0;                 // the element the divergence was measured for
    std::vector<AttentionRows> attention;  // softmax rows of every element, (N, heads, keys); implicit maps
    std::vector<CapacityRecord> capacity;
    std::vector<float> divergence;
    std::vector<TokenPrediction> tokens;  // (N)
    std::vector<Retrieval> retrieval;
    // The rows StepRecord::attention shows for element `shown`: its softmax rows cut out of the batch's,
    // and the implicit maps when it is the observed element.
    int shown = -1;
    std::vector<AttentionRows> shown_attention;

    bool empty() const {
        return attention.empty() && capacity.empty() && divergence.empty() && tokens.empty() && retrieval.empty();
    }
    // Cuts shown_attention for element `n` of a batch of `batch`.
    void show(int n, int batch);
    std::size_t bytes() const;
    std::size_t attention_bytes() const;
    void drop_attention();
};

// The fixed part of one kept step.
struct StepHead {
    int64_t step = 0;
    double latency_ms = 0;
    int64_t state_bytes = 0;
    bool has_updates = false;
    int observed = 0;                                // BatchRecord::observed
    std::unique_ptr<StepObservations> observations;  // null when the step has none
};

// Where each value of a step's block sits: one word per attention module (present, linear, cache
// length), then per batch element [y (E), ||y||, per module its first and second norms (H_m each),
// the delta-rule updates (L, kUpdates, H) where the kind reports them]. Modules 0 .. L-1 are the
// layers' self attention, L .. 2L-1 a decoder's cross attention.
class StepLayout {
public:
    StepLayout() = default;
    // The shape of `record` (its batch, width, layers, heads per module, updates): a run's records share it.
    static StepLayout of(const BatchRecord& record);

    int batch() const { return batch_; }
    int width() const { return width_; }
    int layers() const { return layers_; }
    int modules() const { return layers_ * (cross_ ? 2 : 1); }
    int heads(int module) const { return module < layers_ ? self_heads_ : cross_heads_; }
    bool cross() const { return cross_; }
    std::size_t update_floats() const { return updates_ ? std::size_t(layers_) * kUpdates * self_heads_ : 0; }
    std::size_t element_floats() const;
    // The floats (module words included) of one step's block.
    std::size_t floats() const { return std::size_t(modules()) + std::size_t(batch_) * element_floats(); }
    // What one kept step costs at least: its block and its head.
    std::size_t step_bytes() const { return floats() * sizeof(float) + sizeof(StepHead); }

    // Writes `record`'s outputs, norms and updates into `block` (floats() of them); what the record
    // lacks is NaN, and a module it does not report is marked absent.
    void pack(const BatchRecord& record, float* block) const;
    // The record's head with a copy of its observations.
    static StepHead head(const BatchRecord& record);
    // Element `n`'s step, viewing `block` and `head` (which must outlive it).
    StepRecord view(const StepHead& head, const float* block, int n) const;
    // The whole step as a BatchRecord again (a copy).
    BatchRecord unpack(const StepHead& head, const float* block) const;

    // Module `m` of element `n`: for LayersView.
    ModuleNormsView module(const float* block, int n, int m) const;

private:
    std::size_t module_offset(int m) const;  // in an element's block, after y and ||y||

    int batch_ = 0, width_ = 0, layers_ = 0;
    bool cross_ = false;
    int self_heads_ = 0, cross_heads_ = 0;
    bool updates_ = false;
};

}  // namespace stepscope::ui
