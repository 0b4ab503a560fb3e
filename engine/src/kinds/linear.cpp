// Linear attention (the reference's "linear" and "causal-linear"): per head S = sum phi(k) v^T and Z = sum phi(k).
#include "kernels/attention_kernels.h"
#include "kinds/sums_kind.h"
#include "insight/attention_views.h"
#include "layers/step_scratch.h"

namespace stepscope {

AttentionCapabilities LinearAttention::capabilities() const {
    AttentionCapabilities c = sums_capabilities("linear attention");
    c.feature_map = c.spectrum = c.scale_head = c.attention_map = true;
    c.cuda = CudaKernel::LinearSums;
    return c;
}

void LinearAttention::self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state,
                                uint64_t sequence_seed, const LayerStep& step) const {
    const int batch = static_cast<int>(s.queries.rows()) / inner.heads();
    step_features(inner, s, state, sequence_seed, batch);
    if (!state.started) start(inner, state, batch);
    // An observer gets the norms of S and Z: read during the step, while each head's rows are in cache.
    StateNorms* norms = step.observer ? &s.norms : nullptr;
    if (norms) {
        norms->batch = batch;
        norms->heads = inner.heads();
    }
    linear_attention_step(s.phi_keys, s.values, s.phi_queries, inner.eps(), state.linear(), s.heads, norms);
    if (step.observation) observe_linear_self(inner, s, state, batch, step);
}

bool LinearAttention::takes_blocks(const InnerAttention& inner) const {
    return inner.feature_map() && inner.feature_map()->pointwise() != PointwiseMap::None;
}

void LinearAttention::self_block(const InnerAttention& inner, BlockScratch& b, AttentionState& state,
                                 uint64_t sequence_seed, int steps, int batch) const {
    if (!state.started) start(inner, state, batch);
    // A pointwise map gives each element what the step's call gives it, whatever rows it is called on.
    const RowMatrix& omega = inner.omega(state, sequence_seed);
    const RowLayout layout{steps * batch, inner.heads(), 1};
    inner.features(b.keys, omega, b.phi_keys, layout);
    inner.features(b.queries, omega, b.phi_queries, layout);
    ensure_shape(b.head_outputs, b.values.rows(), b.values.cols());
    linear_attention_block(b.phi_keys, b.values, b.phi_queries, inner.eps(), steps, state.linear(), b.head_outputs);
}

void LinearAttention::batch_features(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                                     int steps, int batch, uint64_t sequence_seed, RowMatrix& phi_q,
                                     RowMatrix& phi_k) const {
    const int heads = inner.heads(), query_dims = inner.query_dims(), rows_per_step = batch * heads;
    AttentionState draw;
    const RowMatrix& omega = inner.omega(draw, sequence_seed);
    // Favor's stabilize reduces over the sequence in the batch form: rows (n, t, h) there.
    RowMatrix q_nth(queries.rows(), query_dims), k_nth(keys.rows(), query_dims);
    for (int t = 0; t < steps; ++t)
        for (int n = 0; n < batch; ++n)
            for (int h = 0; h < heads; ++h) {
                const long source = long(t) * rows_per_step + n * heads + h, target = (long(n) * steps + t) * heads + h;
                q_nth.row(target) = queries.row(source);
                k_nth.row(target) = keys.row(source);
            }
    const RowLayout layout{batch, steps, heads};
    inner.features(q_nth, omega, phi_q, layout);
    inner.features(k_nth, omega, phi_k, layout);
}

// The masked quadratic form: out_t = sum_{s<=t} (phi(q_t).phi(k_s)) v_s / (sum_{s<=t} phi(q_t).phi(k_s) + eps)
void LinearAttention::self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                                 const RowMatrix& values, const RowMatrix& /*gates*/, int steps, int batch,
                                 uint64_t sequence_seed, RowMatrix& attended) const {
    const int heads = inner.heads(), value_dims = inner.value_dims();
    const int rows_per_step = batch * heads;
    auto row = [&](int t, int r) { return long(t) * rows_per_step + r; };
    RowMatrix phi_q, phi_k;
    batch_features(inner, queries, keys, steps, batch, sequence_seed, phi_q, phi_k);
    auto nth = [&](int n, int t, int h) { return (long(n) * steps + t) * heads + h; };
    for (int n = 0; n < batch; ++n)
        for (int h = 0; h < heads; ++h)
            for (int t = 0; t < steps; ++t) {
                Vector numerator = Vector::Zero(value_dims);
                float denominator = 0;
                for (int u = 0; u <= t; ++u) {
                    const float similarity = phi_q.row(nth(n, t, h)).dot(phi_k.row(nth(n, u, h)));
                    numerator += similarity * values.row(row(u, n * heads + h)).transpose();
                    denominator += similarity;
                }
                attended.row(row(t, n * heads + h)) = numerator.transpose() / (denominator + inner.eps());
            }
}

// S = sum_s phi(k_s) v_s^T and Z = sum_s phi(k_s) over the valid memory, once.
void LinearAttention::cross_start(const InnerAttention& inner, AttentionScratch& s, const RowMatrix& keys,
                                  const RowMatrix& values, int batch, AttentionState& state,
                                  uint64_t sequence_seed) const {
    const int heads = inner.heads(), features = inner.feature_dims();
    const int length = static_cast<int>(keys.rows() / (long(batch) * heads));
    inner.features(keys, inner.omega(state, sequence_seed), s.phi_keys, RowLayout{batch, length, heads});
    start(inner, state, batch);
    LinearAttentionState& sums = state.linear();
    for (int n = 0; n < batch; ++n)
        for (int t = 0; t < state.memory_lengths[n]; ++t)
            for (int h = 0; h < heads; ++h) {
                const long source = (long(n) * length + t) * heads + h, target = long(n) * heads + h;
                sums.normalizer.row(target) += s.phi_keys.row(source);
                sums.sums.middleRows(target * features, features).noalias() +=
                    s.phi_keys.row(source).transpose() * values.row(source);
            }
}

void LinearAttention::cross_step(const InnerAttention& inner, const MemoryProjection& memory, AttentionScratch& s,
                                 AttentionState& state, uint64_t sequence_seed, const LayerStep& step) const {
    const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
    inner.features(s.queries, inner.omega(state, sequence_seed), s.phi_queries, RowLayout{batch, heads, 1});
    linear_attention_readout(s.phi_queries, state.linear(), inner.eps(), s.heads);
    if (!step.observation) return;
    // The memory's features are not kept in the state: recomputed as cross_start computed them.
    memory.memory_keys(state.memory, s.keys);
    const int length = static_cast<int>(state.memory.rows() / batch);
    inner.features(s.keys, inner.omega(state, sequence_seed), s.phi_keys, RowLayout{batch, length, heads});
    observe_linear_cross(inner, s, s.phi_keys, state, batch, step);
}

const AttentionKind& linear_attention_kind() {
    static const LinearAttention kind;
    return kind;
}

}  // namespace stepscope
