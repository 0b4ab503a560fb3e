// What the kinds with a fixed-size state share: S (N*H*F, M) per head, and Z (N*H, F) where the kind normalises.
//
// Their shape checks, snapshot tensors ("{name}.0" S (N, H, F, M), "{name}.1" Z (N, H, F)), norms, head scaling,
// clearing and memory estimate; a kind derives from SumsKind and writes its step, batch form and views.
#pragma once

#include <string>

#include "kinds/attention_kind.h"
#include "kinds/inner_attention.h"

namespace stepscope {

class SumsKind : public AttentionKind {
public:
    explicit SumsKind(bool normalizer) : normalizer_(normalizer) {}

    std::string misfit(const InnerAttention& inner, const AttentionState& state, int batch) const override;
    void put_tensors(const InnerAttention& inner, const AttentionState& state, int batch, const std::string& name,
                     TensorMap& out) const override;
    void get_tensors(const InnerAttention& inner, const TensorMap& tensors, const std::string& name, int batch,
                     AttentionState& state) const override;
    StateNorms norms(const AttentionState& state, int batch, int heads) const override;
    void scale_head(const InnerAttention& inner, AttentionState& state, int batch, int head,
                    float factor) const override;
    void clear(AttentionState& state) const override;
    // S (N*H*F, M), Z (N*H, F) where kept, and the sequence's omega (D, C): the same at every step.
    double state_bytes(const ModuleWidths& m, double batch, int64_t steps) const override;

protected:
    // What every kind with sums declares: S, and Z where it normalises; a kind adds its views and devices.
    AttentionCapabilities sums_capabilities(const std::string& description) const;
    // A zero state for `batch` sequences, on the sequence's first step.
    void start(const InnerAttention& inner, AttentionState& state, int batch) const;
    // phi of this step's keys and queries into s.phi_keys and s.phi_queries.
    void step_features(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                       int batch) const;

private:
    bool normalizer_;
};

// Linear attention (the reference's "linear" and "causal-linear"): S = sum phi(k) v^T and Z = sum phi(k).
class LinearAttention : public SumsKind {
public:
    LinearAttention() : SumsKind(true) {}

    AttentionCapabilities capabilities() const override;
    void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                   const LayerStep& step) const override;
    // Pointwise feature maps (elu, relu) only: a random map steps, whatever its draw.
    bool takes_blocks(const InnerAttention& inner) const override;
    void self_block(const InnerAttention& inner, BlockScratch& b, AttentionState& state, uint64_t sequence_seed,
                    int steps, int batch) const override;
    void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                    const RowMatrix& values, const RowMatrix& gates, int steps, int batch, uint64_t sequence_seed,
                    RowMatrix& attended) const override;
    void cross_start(const InnerAttention& inner, AttentionScratch& s, const RowMatrix& keys, const RowMatrix& values,
                     int batch, AttentionState& state, uint64_t sequence_seed) const override;
    void cross_step(const InnerAttention& inner, const MemoryProjection& memory, AttentionScratch& s,
                    AttentionState& state, uint64_t sequence_seed, const LayerStep& step) const override;

protected:
    // phi of queries and keys (T*N*H, D), rows (t, n, h), as the batch form computes them: rows (n, t, h).
    void batch_features(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys, int steps,
                        int batch, uint64_t sequence_seed, RowMatrix& phi_q, RowMatrix& phi_k) const;
};

}  // namespace stepscope
