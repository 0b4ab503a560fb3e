// Linear attention (the reference's "linear" and "causal-linear"): per head S = sum phi(k) v^T and Z = sum phi(k).
#include "attention_kernels.h"
#include "attention_kind.h"
#include "attention_layer.h"
#include "attention_views.h"
#include "snapshot_tensors.h"
#include "step_scratch.h"

namespace stepscope {

namespace {

class LinearAttention final : public AttentionKind {
public:
    AttentionCapabilities capabilities() const override {
        AttentionCapabilities c;
        c.description = "linear attention";
        c.kept = KeptState::Sums;
        c.feature_map = c.spectrum = c.scale_head = true;
        return c;
    }

    void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                   const LayerStep& step) const override {
        const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
        const RowMatrix& omega = inner.omega(state, sequence_seed);
        const RowLayout layout{batch, heads, 1};
        inner.features(s.keys, omega, s.phi_keys, layout);
        inner.features(s.queries, omega, s.phi_queries, layout);
        LinearAttentionState& sums = state.linear();
        if (!state.started) {
            sums.sums = RowMatrix::Zero(long(batch) * heads * inner.feature_dims(), inner.value_dims());
            sums.normalizer = RowMatrix::Zero(long(batch) * heads, inner.feature_dims());
        }
        // An observer gets the norms of S and Z: read during the step, while each head's rows are in cache.
        StateNorms* norms = step.observer ? &s.norms : nullptr;
        if (norms) {
            norms->is_linear = true;
            norms->batch = batch;
            norms->heads = heads;
        }
        linear_attention_step(s.phi_keys, s.values, s.phi_queries, inner.eps(), sums, s.heads, norms);
        if (step.observation) observe_linear_self(inner, s, state, batch, step);
    }

    // The masked quadratic form: out_t = sum_{s<=t} (phi(q_t).phi(k_s)) v_s / (sum_{s<=t} phi(q_t).phi(k_s) + eps)
    void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                    const RowMatrix& values, int steps, int batch, uint64_t sequence_seed,
                    RowMatrix& attended) const override {
        const int heads = inner.heads(), query_dims = inner.query_dims(), value_dims = inner.value_dims();
        const int rows_per_step = batch * heads;
        auto row = [&](int t, int r) { return long(t) * rows_per_step + r; };
        AttentionState draw;
        const RowMatrix& omega = inner.omega(draw, sequence_seed);
        // Favor's stabilize reduces over the sequence in the batch form: rows (n, t, h) there.
        RowMatrix q_nth(queries.rows(), query_dims), k_nth(keys.rows(), query_dims);
        for (int t = 0; t < steps; ++t)
            for (int n = 0; n < batch; ++n)
                for (int h = 0; h < heads; ++h) {
                    const long source = row(t, n * heads + h), target = (long(n) * steps + t) * heads + h;
                    q_nth.row(target) = queries.row(source);
                    k_nth.row(target) = keys.row(source);
                }
        RowMatrix phi_q, phi_k;
        const RowLayout layout{batch, steps, heads};
        inner.features(q_nth, omega, phi_q, layout);
        inner.features(k_nth, omega, phi_k, layout);
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
    void cross_start(const InnerAttention& inner, AttentionScratch& s, const RowMatrix& keys, const RowMatrix& values,
                     int batch, AttentionState& state, uint64_t sequence_seed) const override {
        const int heads = inner.heads(), features = inner.feature_dims();
        const int length = static_cast<int>(keys.rows() / (long(batch) * heads));
        inner.features(keys, inner.omega(state, sequence_seed), s.phi_keys, RowLayout{batch, length, heads});
        LinearAttentionState& sums = state.linear();
        sums.sums = RowMatrix::Zero(long(batch) * heads * features, inner.value_dims());
        sums.normalizer = RowMatrix::Zero(long(batch) * heads, features);
        for (int n = 0; n < batch; ++n)
            for (int t = 0; t < state.memory_lengths[n]; ++t)
                for (int h = 0; h < heads; ++h) {
                    const long source = (long(n) * length + t) * heads + h, target = long(n) * heads + h;
                    sums.normalizer.row(target) += s.phi_keys.row(source);
                    sums.sums.middleRows(target * features, features).noalias() +=
                        s.phi_keys.row(source).transpose() * values.row(source);
                }
    }

    void cross_step(const InnerAttention& inner, const RecurrentCrossAttentionLayer& layer, AttentionScratch& s,
                    AttentionState& state, uint64_t sequence_seed, const LayerStep& step) const override {
        const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
        inner.features(s.queries, inner.omega(state, sequence_seed), s.phi_queries, RowLayout{batch, heads, 1});
        linear_attention_readout(s.phi_queries, state.linear(), inner.eps(), s.heads);
        if (!step.observation) return;
        // The memory's features are not kept in the state: recomputed as cross_start computed them.
        layer.memory_keys(state.memory, s.keys);
        const int length = static_cast<int>(state.memory.rows() / batch);
        inner.features(s.keys, inner.omega(state, sequence_seed), s.phi_keys, RowLayout{batch, length, heads});
        observe_linear_cross(inner, s, s.phi_keys, state, batch, step);
    }

    std::string misfit(const InnerAttention& inner, const AttentionState& state, int batch) const override {
        const long rows = long(batch) * inner.heads();
        const int features = inner.feature_dims();
        const LinearAttentionState* s = state.find<LinearAttentionState>();
        if (!s || s->sums.rows() != rows * features || s->sums.cols() != inner.value_dims() ||
            s->normalizer.rows() != rows || s->normalizer.cols() != features)
            return " sums do not fit the model's heads and dimensions";
        if (inner.omega_columns() && !inner.has_stored_omega() &&
            (state.omega.rows() != inner.query_dims() || state.omega.cols() != inner.omega_columns()))
            return " has no feature-map draw of shape (" + std::to_string(inner.query_dims()) + ", " +
                   std::to_string(inner.omega_columns()) + ")";
        return {};
    }

    void put_tensors(const InnerAttention& inner, const AttentionState& state, int batch, const std::string& name,
                     TensorMap& out) const override {
        const LinearAttentionState& s = state.linear();
        const int heads = inner.heads(), features = static_cast<int>(s.normalizer.cols());
        out[name + ".0"] = snapshot::tensor_of(s.sums, {batch, heads, features, inner.value_dims()});
        out[name + ".1"] = snapshot::tensor_of(s.normalizer, {batch, heads, features});
    }

    void get_tensors(const InnerAttention& inner, const SafetensorsFile& file, const std::string& name, int batch,
                     AttentionState& state) const override {
        const int heads = inner.heads(), features = inner.feature_dims();
        const Tensor& sums =
            snapshot::require_shape(file, name + ".0", 4, {batch, heads, features, inner.value_dims()});
        const Tensor& normalizer = snapshot::require_shape(file, name + ".1", 3, {batch, heads, features});
        LinearAttentionState& s = state.linear();
        s.sums = snapshot::matrix(sums, long(batch) * heads * features);
        s.normalizer = snapshot::matrix(normalizer, long(batch) * heads);
        if (inner.feature_dims() && !inner.has_stored_omega() && file.tensors.count(name + ".omega")) {
            const Tensor& omega = snapshot::require_shape(file, name + ".omega", 2, {inner.query_dims()});
            state.omega = snapshot::matrix(omega, inner.query_dims());
        }
    }

    StateNorms norms(const AttentionState& state, int batch, int heads) const override {
        StateNorms norms;
        norms.is_linear = true;
        norms.batch = batch;
        norms.heads = heads;
        const int rows = batch * heads;
        const LinearAttentionState* s = state.find<LinearAttentionState>();
        if (!s || s->normalizer.rows() != rows) return norms;
        const long features = s->normalizer.cols();
        norms.sums.resize(rows);
        norms.normalizer.resize(rows);
        for (int r = 0; r < rows; ++r) {
            norms.sums[r] = s->sums.middleRows(long(r) * features, features).norm();
            norms.normalizer[r] = s->normalizer.row(r).norm();
        }
        return norms;
    }

    void scale_head(const InnerAttention& inner, AttentionState& state, int batch, int head,
                    float factor) const override {
        LinearAttentionState& s = state.linear();
        const int features = inner.feature_dims(), heads = inner.heads();
        for (int n = 0; n < batch; ++n) {
            const long row = long(n) * heads + head;
            s.sums.middleRows(row * features, features) *= factor;
            s.normalizer.row(row) *= factor;
        }
    }

    void clear(AttentionState& state) const override {
        LinearAttentionState& s = state.linear();
        s.sums.setZero();
        s.normalizer.setZero();
    }

    // S (N*H*F, M) and Z (N*H, F), and the sequence's omega (D, C): the same at every step.
    double state_bytes(const ModuleWidths& m, double batch, int64_t /*steps*/) const override {
        return sizeof(float) * (batch * m.heads * m.features * (m.value + 1) + m.query * m.omega_columns);
    }
};

}  // namespace

const AttentionKind& linear_attention_kind() {
    static const LinearAttention kind;
    return kind;
}

}  // namespace stepscope
