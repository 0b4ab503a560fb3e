// Self and cross attention layers: fused projections, head splitting, the inner attention, observation.
#include "layers/attention_layer.h"

#include <random>

#include "layers/step_scratch.h"
#include "stepscope/error.h"
#include "stepscope/intervention.h"
#include "stepscope/observation.h"
#include "core/parameters.h"

namespace stepscope {

namespace {

// The norms a kind read during its step (scratch.norms), else the kind's pass over the state.
void report(StepObserver* observer, int layer, AttentionRole role, const InnerAttention& inner,
            const AttentionState& state, const AttentionScratch& scratch, int batch) {
    if (!observer) return;
    if (scratch.norms.heads > 0) observer->state_norms(layer, role, scratch.norms);
    else observer->state_norms(layer, role, inner.kind().norms(state, batch, inner.heads()));
}

}  // namespace

Eigen::Map<const RowMatrix> merged_heads(const RowMatrix& heads, int batch) {
    return Eigen::Map<const RowMatrix>(heads.data(), batch, heads.size() / batch);
}

void split_heads(const RowMatrix& projected, int offset, int heads, int width, RowMatrix& out) {
    const long batch = projected.rows();
    ensure_shape(out, batch * heads, width);
    for (long n = 0; n < batch; ++n)
        Eigen::Map<RowMatrix>(out.data() + n * heads * width, heads, width) =
            Eigen::Map<const RowMatrix>(projected.row(n).data() + offset, heads, width);
}

void split_gates(const RowMatrix& projected, int offset, int heads, int count, RowMatrix& gates) {
    const long batch = projected.rows();
    ensure_shape(gates, count, batch * heads);
    for (long n = 0; n < batch; ++n)
        for (int g = 0; g < count; ++g)
            for (int h = 0; h < heads; ++h) gates(g, n * heads + h) = projected(n, offset + g * heads + h);
}

RecurrentAttentionLayer::RecurrentAttentionLayer(const ModelConfig& config, const TensorMap& tensors,
                                                 const std::string& prefix, int layer)
    : inner_(config, config.self_attention(), config.n_heads, config.query_dimensions, config.value_dimensions, tensors,
             prefix, 2 * uint64_t(layer)),
      out_projection_(linear_from(tensors, prefix + ".out_projection", weight_format(config))) {
    std::vector<std::string> parts;
    for (const char* name : {".query_projection", ".key_projection", ".value_projection"})
        parts.push_back(prefix + name);
    for (const std::string& gate : inner_.capabilities().gates) parts.push_back(prefix + "." + gate);
    projection_ = fused_linear_from(tensors, parts, weight_format(config));
}

void RecurrentAttentionLayer::store(const std::string& prefix, TensorMap& out) const {
    const long queries = long(inner_.heads()) * inner_.query_dims(),
               values = long(inner_.heads()) * inner_.value_dims();
    store_linear(projection_, 0, queries, prefix + ".query_projection", out);
    store_linear(projection_, queries, queries, prefix + ".key_projection", out);
    store_linear(projection_, 2 * queries, values, prefix + ".value_projection", out);
    long first = 2 * queries + values;
    for (const std::string& gate : inner_.capabilities().gates) {
        store_linear(projection_, first, inner_.heads(), prefix + "." + gate, out);
        first += inner_.heads();
    }
    store_linear(out_projection_, prefix + ".out_projection", out);
    inner_.store(prefix, out);
}

void RecurrentAttentionLayer::split(const RowMatrix& projected, RowMatrix& queries, RowMatrix& keys, RowMatrix& values,
                                    RowMatrix& gates) const {
    const int heads = inner_.heads(), query_dims = inner_.query_dims(), value_dims = inner_.value_dims();
    split_heads(projected, 0, heads, query_dims, queries);
    split_heads(projected, heads * query_dims, heads, query_dims, keys);
    split_heads(projected, 2 * heads * query_dims, heads, value_dims, values);
    const int gate_count = static_cast<int>(inner_.capabilities().gates.size());
    if (gate_count) split_gates(projected, heads * (2 * query_dims + value_dims), heads, gate_count, gates);
}

void RecurrentAttentionLayer::attend(AttentionScratch& s, AttentionState& state, uint64_t sequence_seed,
                                     const LayerStep& step) const {
    const int batch = static_cast<int>(s.projected.rows()), heads = inner_.heads();
    split(s.projected, s.queries, s.keys, s.values, s.gates);
    ensure_shape(s.heads, long(batch) * heads, inner_.value_dims());
    s.norms.heads = 0;  // the scratch is every layer's: norms left by another layer's step are not this one's
    inner_.kind().self_step(inner_, s, state, sequence_seed, step);
    state.started = true;
    step.silence(AttentionRole::Self, s.heads, heads);
    report(step.observer, step.layer, AttentionRole::Self, inner_, state, s, batch);
}

bool RecurrentAttentionLayer::attend_block(BlockScratch& b, AttentionState& state, uint64_t sequence_seed, int steps,
                                           int batch) const {
    // The block form takes no gates: a gated kind (gated-linear, the delta rules) steps.
    if (!inner_.capabilities().gates.empty() || !inner_.kind().takes_blocks(inner_)) return false;
    split(b.projected, b.queries, b.keys, b.values, b.gates);
    inner_.kind().self_block(inner_, b, state, sequence_seed, steps, batch);
    state.started = true;
    return true;
}

void RecurrentAttentionLayer::forward(const ConstMatrixRef& x, AttentionState& state, uint64_t sequence_seed,
                                      StepScratch& scratch, RowMatrix& out, const LayerStep& step) const {
    AttentionScratch& s = scratch.self_attention;
    projection_.forward(x, s.projected);
    attend(s, state, sequence_seed, step);
    out_projection_.forward(merged_heads(s.heads, static_cast<int>(x.rows())), out);
}

void RecurrentAttentionLayer::forward_batch(const ConstMatrixRef& xs, int steps, uint64_t sequence_seed,
                                            RowMatrix& out) const {
    const int batch = static_cast<int>(xs.rows()) / steps, heads = inner_.heads();
    RowMatrix projected, queries, keys, values, gates;
    projection_.forward(xs, projected);
    split(projected, queries, keys, values, gates);  // rows (t, n, h)

    RowMatrix attended(long(steps) * batch * heads, inner_.value_dims());
    inner_.kind().self_batch(inner_, queries, keys, values, gates, steps, batch, sequence_seed, attended);
    out_projection_.forward(merged_heads(attended, steps * batch), out);
}

RecurrentCrossAttentionLayer::RecurrentCrossAttentionLayer(const ModelConfig& config, const TensorMap& tensors,
                                                           int layer)
    : inner_(config, config.cross_attention_type, config.effective_cross_n_heads(),
             config.effective_cross_query_dimensions(), config.effective_cross_value_dimensions(), tensors,
             cross_attention_prefix(layer), 2 * uint64_t(layer) + 1),
      query_projection_(
          linear_from(tensors, cross_attention_prefix(layer) + ".query_projection", weight_format(config))),
      key_projection_(linear_from(tensors, cross_attention_prefix(layer) + ".key_projection", weight_format(config))),
      value_projection_(
          linear_from(tensors, cross_attention_prefix(layer) + ".value_projection", weight_format(config))),
      out_projection_(linear_from(tensors, cross_attention_prefix(layer) + ".out_projection", weight_format(config))) {}

void RecurrentCrossAttentionLayer::store(const std::string& prefix, TensorMap& out) const {
    store_linear(query_projection_, prefix + ".query_projection", out);
    store_linear(key_projection_, prefix + ".key_projection", out);
    store_linear(value_projection_, prefix + ".value_projection", out);
    store_linear(out_projection_, prefix + ".out_projection", out);
    inner_.store(prefix, out);
}

void RecurrentCrossAttentionLayer::start(const Memory& memory, AttentionState& state, uint64_t sequence_seed,
                                         AttentionScratch& s) const {
    const int batch = memory.batch;
    state.memory = memory.values;
    state.memory_lengths.assign(batch, memory.length);
    for (int n = 0; n < batch && !memory.lengths.empty(); ++n)
        state.memory_lengths[n] = static_cast<int>(memory.lengths[n]);
    memory_keys(memory.values, s.keys);
    RowMatrix values;
    value_projection_.forward(memory.values, values);                       // (N*S, H*M), rows (n, s)
    split_heads(values, 0, inner_.heads(), inner_.value_dims(), s.values);  // rows (n, s, h)
    inner_.kind().cross_start(inner_, s, s.keys, s.values, batch, state, sequence_seed);
}

void RecurrentCrossAttentionLayer::memory_keys(const RowMatrix& memory, RowMatrix& keys) const {
    RowMatrix projected;
    key_projection_.forward(memory, projected);                            // (N*S, H*D), rows (n, s)
    split_heads(projected, 0, inner_.heads(), inner_.query_dims(), keys);  // rows (n, s, h)
}

void RecurrentCrossAttentionLayer::forward(const ConstMatrixRef& x, const Memory& memory, AttentionState& state,
                                           uint64_t sequence_seed, StepScratch& scratch, RowMatrix& out,
                                           const LayerStep& step) const {
    AttentionScratch& s = scratch.cross_attention;
    const int batch = static_cast<int>(x.rows()), heads = inner_.heads();
    if (!state.started) start(memory, state, sequence_seed, s);
    state.started = true;
    query_projection_.forward(x, s.projected);
    split_heads(s.projected, 0, heads, inner_.query_dims(), s.queries);
    ensure_shape(s.heads, long(batch) * heads, inner_.value_dims());
    inner_.kind().cross_step(inner_, *this, s, state, sequence_seed, step);
    step.silence(AttentionRole::Cross, s.heads, heads);
    out_projection_.forward(merged_heads(s.heads, batch), out);
    report(step.observer, step.layer, AttentionRole::Cross, inner_, state, s, batch);
}

}  // namespace stepscope
