// The delta rule (DeltaNet, "delta") and the gated delta rule (Gated DeltaNet, "gated-delta"): per head a state
// S (F, M) that is read for each key before it is written, so a key overwrites what it held instead of adding.
//   k = phi(k)/|phi(k)|, q = phi(q)/|phi(q)|, beta = sigmoid(beta_projection(x)), alpha = sigmoid(gate_projection(x))
//   S_t = alpha S_{t-1} + beta k (v - alpha S_{t-1}^T k)^T,   o_t = S_t^T q / sqrt(F)
#include <cmath>

#include "kinds/sums_kind.h"
#include "insight/attention_views.h"
#include "kernels/delta_rule_kernels.h"
#include "layers/step_scratch.h"

namespace stepscope {

namespace {

template <bool Gated>
class DeltaRule final : public SumsKind {
public:
    DeltaRule() : SumsKind(false) {}

    AttentionCapabilities capabilities() const override {
        AttentionCapabilities c = sums_capabilities(Gated ? "gated delta rule" : "delta rule");
        c.feature_map = c.spectrum = c.scale_head = true;
        c.attention_map = c.signed_map = true;
        c.write_strength = c.prediction_error = true;
        c.forget_gate = Gated;
        c.gates = {"beta_projection"};
        if (Gated) c.gates.push_back("gate_projection");
        return c;
    }

    void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                   const LayerStep& step) const override {
        const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
        step_features(inner, s, state, sequence_seed, batch);
        normalize_rows(s.phi_keys);
        normalize_rows(s.phi_queries);
        if (!state.started) start(inner, state, batch);
        squash_gates(s.gates);
        const float* beta = s.gates.row(0).data();
        const float* alpha = Gated ? s.gates.row(1).data() : nullptr;
        ensure_shape(s.errors, s.values.rows(), s.values.cols());
        StateNorms* norms = step.observer ? &s.norms : nullptr;
        delta_rule_step(s.phi_keys, s.values, s.phi_queries, beta, alpha, scale(inner), state.linear().sums, s.errors,
                        s.heads, norms);
        if (norms) report(s, batch, heads, beta, alpha);
        if (step.observation) observe_delta_rule_self(inner, s, state, beta, alpha, scale(inner), batch, step);
    }

    // Per batch element and head, the parallel form's weights A (delta_rule_weights) times the values.
    void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                    const RowMatrix& values, const RowMatrix& gates, int steps, int batch, uint64_t sequence_seed,
                    RowMatrix& attended) const override {
        const int heads = inner.heads(), features = inner.feature_dims(), value_dims = inner.value_dims();
        RowMatrix squashed = gates;
        squash_gates(squashed);
        AttentionState draw;
        const RowMatrix& omega = inner.omega(draw, sequence_seed);
        RowMatrix phi_q, phi_k;
        inner.features(queries, omega, phi_q, RowLayout{steps * batch, heads, 1});
        inner.features(keys, omega, phi_k, RowLayout{steps * batch, heads, 1});
        normalize_rows(phi_q);
        normalize_rows(phi_k);
        const long rows_per_step = long(batch) * heads;
        for (long r = 0; r < rows_per_step; ++r) {
            RowMatrix q(steps, features), k(steps, features), v(steps, value_dims);
            Vector beta(steps), alpha(Gated ? steps : 0);
            for (int t = 0; t < steps; ++t) {
                const long row = t * rows_per_step + r;
                q.row(t) = phi_q.row(row);
                k.row(t) = phi_k.row(row);
                v.row(t) = values.row(row);
                beta[t] = squashed(0, row);
                if (Gated) alpha[t] = squashed(1, row);
            }
            RowMatrix weights;
            delta_rule_weights(k, q, beta, alpha, scale(inner), weights);
            const RowMatrix out = weights * v;
            for (int t = 0; t < steps; ++t) attended.row(t * rows_per_step + r) = out.row(t);
        }
    }

private:
    // 1/sqrt(F): the reference scales the normalised queries by their width.
    static float scale(const InnerAttention& inner) { return 1.0f / std::sqrt(float(inner.feature_dims())); }

    // What an observer plots besides ||S||, read off this step.
    static void report(AttentionScratch& s, int batch, int heads, const float* beta, const float* alpha) {
        StateNorms& norms = s.norms;
        const long rows = long(batch) * heads;
        norms.batch = batch;
        norms.heads = heads;
        norms.components.resize(1);  // S alone
        norms.write_strength.assign(beta, beta + rows);
        if (alpha) norms.forget_gate.assign(alpha, alpha + rows);
        norms.prediction_error.resize(size_t(rows));
        for (long r = 0; r < rows; ++r) norms.prediction_error[size_t(r)] = s.errors.row(r).norm();
    }
};

}  // namespace

const AttentionKind& delta_rule_kind() {
    static const DeltaRule<false> kind;
    return kind;
}

const AttentionKind& gated_delta_rule_kind() {
    static const DeltaRule<true> kind;
    return kind;
}

}  // namespace stepscope
