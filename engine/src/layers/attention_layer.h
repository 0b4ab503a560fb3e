// Attention layers: projections to heads around an inner attention (self, or cross over a memory).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "stepscope/config.h"
#include "stepscope/feature_map.h"
#include "layers/linear.h"
#include "stepscope/model.h"
#include "stepscope/observer.h"
#include "kinds/attention_kind.h"
#include "kinds/inner_attention.h"
#include "stepscope/state.h"
#include "stepscope/tensor.h"
#include "layers/step_scratch.h"

namespace stepscope {

struct StepScratch;
struct AttentionScratch;

// Self attention, one element at a time: RecurrentAttentionLayer.
class RecurrentAttentionLayer {
public:
    RecurrentAttentionLayer(const ModelConfig& config, const TensorMap& tensors, const std::string& prefix, int layer);

    const InnerAttention& inner() const { return inner_; }
    // Its weights under the reference's names below `prefix` (for saving).
    void store(const std::string& prefix, TensorMap& out) const;

    // x (N, E) -> out (N, E); updates `state`.
    void forward(const ConstMatrixRef& x, AttentionState& state, uint64_t sequence_seed, StepScratch& scratch,
                 RowMatrix& out, const LayerStep& step) const;

    // The causal batch form over a whole sequence: xs (T*N, E), rows (t, n).
    void forward_batch(const ConstMatrixRef& xs, int steps, uint64_t sequence_seed, RowMatrix& out) const;

    // T steps of known inputs xs (T*N, E), rows (t, n) -> out (T*N, E): the projections one product over the
    // block, then the state advanced a step at a time, step t as `step_of(t)` says.
    template <typename StepOf>
    void forward_block(const ConstMatrixRef& xs, int steps, AttentionState& state, uint64_t sequence_seed,
                       StepScratch& scratch, RowMatrix& out, StepOf step_of) const;

private:
    // One step's attention from its fused projection s.projected (N, ...) to s.heads (N*H, M): split, the
    // kind's step, the ablation and the report.
    void attend(AttentionScratch& s, AttentionState& state, uint64_t sequence_seed, const LayerStep& step) const;
    // A block's attention at once, from b.projected (T*N, ...) to b.head_outputs (T*N*H, M), where the kind
    // takes a block whole (AttentionKind::self_block); false, leaving the state as it was, where it steps.
    bool attend_block(BlockScratch& b, AttentionState& state, uint64_t sequence_seed, int steps, int batch) const;

    // Splits the fused projection into s.queries, s.keys, s.values and s.gates.
    void split(const RowMatrix& projected, RowMatrix& queries, RowMatrix& keys, RowMatrix& values,
               RowMatrix& gates) const;

    InnerAttention inner_;
    Linear projection_;  // query, key, value and the kind's gate projections fused: (H*D + H*D + H*M + H*G, E)
    Linear out_projection_;
};

// Cross attention over a decoder's memory: RecurrentCrossAttentionLayer.
// The memory's keys and values are projected once, on the first step.
class RecurrentCrossAttentionLayer final : public MemoryProjection {
public:
    RecurrentCrossAttentionLayer(const ModelConfig& config, const TensorMap& tensors, int layer);

    const InnerAttention& inner() const { return inner_; }
    int memory_dims() const { return key_projection_.in_features(); }
    void store(const std::string& prefix, TensorMap& out) const;

    void forward(const ConstMatrixRef& x, const Memory& memory, AttentionState& state, uint64_t sequence_seed,
                 StepScratch& scratch, RowMatrix& out, const LayerStep& step) const;

    // The keys (N*S*H, D) of `memory` (N*S, E), rows (n, s, h).
    void memory_keys(const RowMatrix& memory, RowMatrix& keys) const override;

private:
    // The state over the memory, on the sequence's first step.
    void start(const Memory& memory, AttentionState& state, uint64_t sequence_seed, AttentionScratch& s) const;

    InnerAttention inner_;
    Linear query_projection_;
    Linear key_projection_;
    Linear value_projection_;
    Linear out_projection_;
};

// Views (N*H, M) head outputs as the (N, H*M) input of the output projection.
Eigen::Map<const RowMatrix> merged_heads(const RowMatrix& heads, int batch);

template <typename StepOf>
void RecurrentAttentionLayer::forward_block(const ConstMatrixRef& xs, int steps, AttentionState& state,
                                            uint64_t sequence_seed, StepScratch& scratch, RowMatrix& out,
                                            StepOf step_of) const {
    AttentionScratch& s = scratch.self_attention;
    BlockScratch& block = scratch.block;
    const long batch = xs.rows() / steps;
    projection_.forward(xs, block.projected);
    const LayerStep first = step_of(0);
    if (!first.ablation && !first.observer && attend_block(block, state, sequence_seed, steps, int(batch))) {
        out_projection_.forward(merged_heads(block.head_outputs, static_cast<int>(xs.rows())), out);
        return;
    }
    ensure_shape(block.heads, xs.rows(), long(inner_.heads()) * inner_.value_dims());
    for (int t = 0; t < steps; ++t) {
        ensure_shape(s.projected, batch, block.projected.cols());
        s.projected = block.projected.middleRows(t * batch, batch);
        attend(s, state, sequence_seed, step_of(t));
        block.heads.middleRows(t * batch, batch) = merged_heads(s.heads, static_cast<int>(batch));
    }
    out_projection_.forward(block.heads, out);
}

// Splits row n of `projected` at `offset` into rows n*H + h of heads (N*H, width).
void split_heads(const RowMatrix& projected, int offset, int heads, int width, RowMatrix& out);
// Gathers G per-head gates stored gate-major from `offset` of row n of `projected` (column offset + g*H + h)
// into gates (G, N*H): row g holds gate g of every head, column n*H + h.
void split_gates(const RowMatrix& projected, int offset, int heads, int count, RowMatrix& gates);

}  // namespace stepscope
