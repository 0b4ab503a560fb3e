// Gated linear attention ("gated-linear"): linear attention whose state decays by a data-dependent forget gate
// before each write, the decay-only baseline beside the delta rules.
//   alpha = sigmoid(gate_projection(x)),  S_t = alpha S_{t-1} + phi(k) v^T,  Z_t = alpha Z_{t-1} + phi(k)
//   o_t = phi(q)^T S_t / (phi(q) . Z_t + eps)
#include "kinds/sums_kind.h"
#include "insight/attention_views.h"
#include "kernels/attention_kernels.h"
#include "kernels/delta_rule_kernels.h"
#include "layers/step_scratch.h"

namespace stepscope {

namespace {

class GatedLinearAttention final : public LinearAttention {
public:
    AttentionCapabilities capabilities() const override {
        AttentionCapabilities c = LinearAttention::capabilities();
        c.description = "gated linear attention";
        c.cuda = CudaKernel::None;
        c.forget_gate = true;
        c.gates = {"gate_projection"};
        return c;
    }

    void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                   const LayerStep& step) const override {
        const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
        step_features(inner, s, state, sequence_seed, batch);
        if (!state.started) start(inner, state, batch);
        squash_gates(s.gates);
        const float* alpha = s.gates.row(0).data();
        StateNorms* norms = step.observer ? &s.norms : nullptr;
        linear_attention_step(s.phi_keys, s.values, s.phi_queries, inner.eps(), state.linear(), s.heads, norms, alpha);
        if (norms) {
            norms->batch = batch;
            norms->heads = heads;
            norms->forget_gate.assign(alpha, alpha + long(batch) * heads);
        }
        if (step.observation) observe_gated_linear_self(inner, s, state, alpha, batch, step);
    }

    void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                    const RowMatrix& values, const RowMatrix& gates, int steps, int batch, uint64_t sequence_seed,
                    RowMatrix& attended) const override {
        const int heads = inner.heads(), features = inner.feature_dims(), value_dims = inner.value_dims();
        RowMatrix alphas = gates;
        squash_gates(alphas);
        RowMatrix phi_q, phi_k;  // rows (n, t, h)
        batch_features(inner, queries, keys, steps, batch, sequence_seed, phi_q, phi_k);
        for (int n = 0; n < batch; ++n)
            for (int h = 0; h < heads; ++h) {
                RowMatrix q(steps, features), k(steps, features), v(steps, value_dims);
                Vector alpha(steps);
                for (int t = 0; t < steps; ++t) {
                    const long nth = (long(n) * steps + t) * heads + h, tnh = (long(t) * batch + n) * heads + h;
                    q.row(t) = phi_q.row(nth);
                    k.row(t) = phi_k.row(nth);
                    v.row(t) = values.row(tnh);
                    alpha[t] = alphas(0, tnh);
                }
                RowMatrix weights;
                gated_linear_weights(k, q, alpha, inner.eps(), weights);
                const RowMatrix out = weights * v;
                for (int t = 0; t < steps; ++t) attended.row((long(t) * batch + n) * heads + h) = out.row(t);
            }
    }
};

}  // namespace

const AttentionKind& gated_linear_attention_kind() {
    static const GatedLinearAttention kind;
    return kind;
}

}  // namespace stepscope
