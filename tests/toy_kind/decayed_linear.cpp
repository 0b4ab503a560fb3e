// A toy attention kind built only with -DSTEPSCOPE_TOY_KIND=ON (CI's headless build): linear attention whose
// state decays by a constant before each write,
//   S_t = gamma S_{t-1} + phi(k) v^T,  Z_t = gamma Z_{t-1} + phi(k),  o_t = phi(q)^T S_t / (phi(q) . Z_t + eps)
// with gamma its own parameter "decay" (default 0.9). It is the README's walkthrough done literally (this file and
// one registry line), and every test that loops over the registry exercises it without naming it: it declares no
// attention map, so the views refuse to draw one, and no CUDA kernel, so the GPU refuses it.
#include <vector>

#include "kinds/sums_kind.h"
#include "kernels/attention_kernels.h"
#include "layers/step_scratch.h"

namespace stepscope {

namespace {

class DecayedLinearAttention final : public SumsKind {
public:
    DecayedLinearAttention() : SumsKind(true) {}

    AttentionCapabilities capabilities() const override {
        AttentionCapabilities c = sums_capabilities("decayed linear attention (a test-only kind)");
        c.feature_map = c.spectrum = c.scale_head = true;
        c.parameters = {{"decay", "Decay γ", 0.9, 0.0, 1.0, "How much of S and Z each step keeps before it writes"}};
        return c;
    }

    void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                   const LayerStep& step) const override {
        const int batch = static_cast<int>(s.queries.rows()) / inner.heads();
        step_features(inner, s, state, sequence_seed, batch);
        if (!state.started) start(inner, state, batch);
        decay_.assign(size_t(s.queries.rows()), inner.parameter("decay"));
        StateNorms* norms = step.observer ? &s.norms : nullptr;
        linear_attention_step(s.phi_keys, s.values, s.phi_queries, inner.eps(), state.linear(), s.heads, norms,
                              decay_.data());
        if (norms) {
            norms->batch = batch;
            norms->heads = inner.heads();
        }
    }

    // Per head, out_t = sum_{j<=t} gamma^(t-j) phi(q_t).phi(k_j) v_j / (sum_{j<=t} gamma^(t-j) phi(q_t).phi(k_j) +
    // eps).
    void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                    const RowMatrix& values, const RowMatrix& /*gates*/, int steps, int batch, uint64_t sequence_seed,
                    RowMatrix& attended) const override {
        const int heads = inner.heads();
        const float decay = inner.parameter("decay");
        AttentionState draw;
        const RowMatrix& omega = inner.omega(draw, sequence_seed);
        RowMatrix phi_q, phi_k;
        inner.features(queries, omega, phi_q, RowLayout{steps * batch, heads, 1});
        inner.features(keys, omega, phi_k, RowLayout{steps * batch, heads, 1});
        const long rows_per_step = long(batch) * heads;
        for (long r = 0; r < rows_per_step; ++r)
            for (int t = 0; t < steps; ++t) {
                Vector numerator = Vector::Zero(inner.value_dims());
                float denominator = inner.eps(), weight = 1;
                for (int j = t; j >= 0; --j, weight *= decay) {
                    const float similarity =
                        weight * phi_q.row(t * rows_per_step + r).dot(phi_k.row(j * rows_per_step + r));
                    numerator += similarity * values.row(j * rows_per_step + r).transpose();
                    denominator += similarity;
                }
                attended.row(t * rows_per_step + r) = numerator.transpose() / denominator;
            }
    }

private:
    // The decay of every row, as the gated kernel reads it; the kind is shared, so per thread.
    static thread_local std::vector<float> decay_;
};

thread_local std::vector<float> DecayedLinearAttention::decay_;

}  // namespace

const AttentionKind& decayed_linear_attention_kind() {
    static const DecayedLinearAttention kind;
    return kind;
}

}  // namespace stepscope
