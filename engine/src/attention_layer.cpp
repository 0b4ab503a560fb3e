// Self and cross attention layers: fused projections, head splitting, the inner attention, observation.
#include "stepscope/attention_layer.h"

#include <random>

#include "attention_views.h"
#include "step_scratch.h"
#include "stepscope/error.h"
#include "stepscope/intervention.h"
#include "stepscope/observation.h"
#include "stepscope/parameters.h"

namespace stepscope {

namespace {

// Views (N*H, M) head outputs as the (N, H*M) input of the output projection.
Eigen::Map<const RowMatrix> merged_heads(const RowMatrix& heads, int batch) {
    return Eigen::Map<const RowMatrix>(heads.data(), batch, heads.size() / batch);
}

void report(StepObserver* observer, int layer, AttentionRole role, const InnerAttention& inner,
            const AttentionState& state, int batch) {
    if (!observer) return;
    observer->state_norms(layer, role,
                          compute_state_norms(state, inner.kind() == AttentionKind::Linear, batch, inner.heads()));
}

}  // namespace

LayerStep LayerStep::of(const StepOptions& options, int64_t step, int layer) {
    LayerStep out;
    out.layer = layer;
    out.step = step;
    out.observer = options.observer;
    if (options.observer && options.observation && options.observation->observes(layer))
        out.observation = options.observation;
    if (options.ablation && !options.ablation->empty()) out.ablation = options.ablation;
    return out;
}

void LayerStep::silence(AttentionRole role, RowMatrix& heads, int head_count) const {
    if (!ablation) return;
    const long batch = heads.rows() / head_count;
    for (int h = 0; h < head_count; ++h)
        if (ablation->silences(layer, role, h, step))
            for (long n = 0; n < batch; ++n) heads.row(n * head_count + h).setZero();
}

void split_heads(const RowMatrix& projected, int offset, int heads, int width, RowMatrix& out) {
    const long batch = projected.rows();
    ensure_shape(out, batch * heads, width);
    for (long n = 0; n < batch; ++n)
        Eigen::Map<RowMatrix>(out.data() + n * heads * width, heads, width) =
            Eigen::Map<const RowMatrix>(projected.row(n).data() + offset, heads, width);
}

InnerAttention::InnerAttention(const ModelConfig& config, const std::string& type, int heads, int query_dims,
                               int value_dims, const TensorMap& tensors, const std::string& prefix,
                               uint64_t draw_tag)
    : kind_(attention_kind(type)),
      heads_(heads),
      query_dims_(query_dims),
      value_dims_(value_dims),
      eps_(static_cast<float>(config.eps)),
      temperature_(static_cast<float>(config.softmax_temp.value_or(default_softmax_temp(query_dims)))),
      draw_tag_(draw_tag) {
    if (kind_ != AttentionKind::Linear) return;
    FeatureMapOptions options;
    options.name = config.feature_map;
    options.query_dimensions = query_dims;
    options.n_dims = config.feature_map_dimensions;
    // softmax_temp stays the map's own default: in the reference the builder's
    // softmax_temp reaches full attention only, never the feature map factory.
    options.stabilize = config.feature_map_stabilize;
    feature_map_ = make_feature_map(options);
    const auto stored = tensors.find(omega_name(prefix));
    if (stored == tensors.end()) return;
    if (!feature_map_->is_random())
        throw Error("tensor '" + stored->first + "' is stored, but feature map '" + config.feature_map +
                    "' takes no omega");
    stored_omega_ = matrix_of(stored->second);
    if (stored_omega_.cols() != feature_map_->omega_columns())
        throw Error("tensor '" + stored->first + "' has " + std::to_string(stored_omega_.cols()) +
                    " columns, feature map '" + config.feature_map + "' needs " +
                    std::to_string(feature_map_->omega_columns()));
}

const RowMatrix& InnerAttention::omega(AttentionState& state, uint64_t sequence_seed) const {
    if (has_stored_omega() || !feature_map_->is_random()) return stored_omega_;
    if (!state.started) {
        std::seed_seq seeds{uint32_t(sequence_seed), uint32_t(sequence_seed >> 32), uint32_t(draw_tag_),
                            uint32_t(draw_tag_ >> 32)};
        std::mt19937_64 rng(seeds);
        state.omega = feature_map_->draw_omega(rng);
    }
    return state.omega;
}

void InnerAttention::features(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi,
                              RowLayout layout) const {
    feature_map_->apply(x, omega, phi, layout);
}

RecurrentAttentionLayer::RecurrentAttentionLayer(const ModelConfig& config, const TensorMap& tensors,
                                                 const std::string& prefix, int layer)
    : inner_(config, config.self_attention(), config.n_heads, config.query_dimensions, config.value_dimensions,
             tensors, prefix, 2 * uint64_t(layer)),
      out_projection_(linear_from(tensors, prefix + ".out_projection")) {
    const Linear query = linear_from(tensors, prefix + ".query_projection");
    const Linear key = linear_from(tensors, prefix + ".key_projection");
    const Linear value = linear_from(tensors, prefix + ".value_projection");
    projection_ = concatenate_outputs({&query, &key, &value});
}

void RecurrentAttentionLayer::use_format(WeightFormat format) {
    projection_.use_format(format);
    out_projection_.use_format(format);
}

void RecurrentAttentionLayer::forward(const ConstMatrixRef& x, AttentionState& state, uint64_t sequence_seed,
                                      StepScratch& scratch, RowMatrix& out, const LayerStep& step) const {
    AttentionScratch& s = scratch.self_attention;
    const int batch = static_cast<int>(x.rows()), heads = inner_.heads();
    const int query_dims = inner_.query_dims(), value_dims = inner_.value_dims();
    projection_.forward(x, s.projected);
    split_heads(s.projected, 0, heads, query_dims, s.queries);
    split_heads(s.projected, heads * query_dims, heads, query_dims, s.keys);
    split_heads(s.projected, 2 * heads * query_dims, heads, value_dims, s.values);
    ensure_shape(s.heads, long(batch) * heads, value_dims);

    if (inner_.kind() == AttentionKind::Linear) {
        const RowMatrix& omega = inner_.omega(state, sequence_seed);
        const RowLayout layout{batch, heads, 1};
        inner_.features(s.keys, omega, s.phi_keys, layout);
        inner_.features(s.queries, omega, s.phi_queries, layout);
        if (!state.started) {
            state.linear.sums = RowMatrix::Zero(long(batch) * heads * inner_.feature_dims(), value_dims);
            state.linear.normalizer = RowMatrix::Zero(long(batch) * heads, inner_.feature_dims());
        }
        linear_attention_step(s.phi_keys, s.values, s.phi_queries, inner_.eps(), state.linear, s.heads);
        if (step.observation) observe_linear_self(inner_, s, state, batch, step);
    } else {
        state.cache.append(s.keys, s.values);
        full_attention(s.queries, state.cache, inner_.temperature(), {}, heads, s.heads, s.weights);
        if (step.observer)
            step.observer->attention_weights(step.layer, AttentionRole::Self, s.weights.leftCols(state.cache.length));
        if (step.observation) observe_full(inner_, s, state, batch, AttentionRole::Self, step);
    }
    state.started = true;
    step.silence(AttentionRole::Self, s.heads, heads);
    out_projection_.forward(merged_heads(s.heads, batch), out);
    report(step.observer, step.layer, AttentionRole::Self, inner_, state, batch);
}

void RecurrentAttentionLayer::forward_batch(const ConstMatrixRef& xs, int steps, uint64_t sequence_seed,
                                            RowMatrix& out) const {
    const int batch = static_cast<int>(xs.rows()) / steps, heads = inner_.heads();
    const int query_dims = inner_.query_dims(), value_dims = inner_.value_dims();
    RowMatrix projected, queries, keys, values;
    projection_.forward(xs, projected);
    // Rows (t, n, h) after splitting.
    split_heads(projected, 0, heads, query_dims, queries);
    split_heads(projected, heads * query_dims, heads, query_dims, keys);
    split_heads(projected, 2 * heads * query_dims, heads, value_dims, values);
    const int rows_per_step = batch * heads;
    auto row = [&](int t, int r) { return long(t) * rows_per_step + r; };

    RowMatrix attended(long(steps) * rows_per_step, value_dims);
    if (inner_.kind() == AttentionKind::Linear) {
        // The masked quadratic form: out_t = sum_{s<=t} (phi(q_t).phi(k_s)) v_s / (sum_{s<=t} phi(q_t).phi(k_s) + eps)
        AttentionState draw;
        const RowMatrix& omega = inner_.omega(draw, sequence_seed);
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
        inner_.features(q_nth, omega, phi_q, layout);
        inner_.features(k_nth, omega, phi_k, layout);
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
                    attended.row(row(t, n * heads + h)) = numerator.transpose() / (denominator + inner_.eps());
                }
    } else {
        // Softmax over keys s <= t (the triangular causal mask).
        for (int r = 0; r < rows_per_step; ++r)
            for (int t = 0; t < steps; ++t) {
                Vector scores(t + 1);
                for (int u = 0; u <= t; ++u)
                    scores[u] = inner_.temperature() * queries.row(row(t, r)).dot(keys.row(row(u, r)));
                scores = (scores.array() - scores.maxCoeff()).exp();
                scores /= scores.sum();
                Vector sum = Vector::Zero(value_dims);
                for (int u = 0; u <= t; ++u) sum += scores[u] * values.row(row(u, r)).transpose();
                attended.row(row(t, r)) = sum.transpose();
            }
    }
    out_projection_.forward(merged_heads(attended, steps * batch), out);
}

RecurrentCrossAttentionLayer::RecurrentCrossAttentionLayer(const ModelConfig& config, const TensorMap& tensors,
                                                           int layer)
    : inner_(config, config.cross_attention_type, config.effective_cross_n_heads(),
             config.effective_cross_query_dimensions(), config.effective_cross_value_dimensions(), tensors,
             cross_attention_prefix(layer), 2 * uint64_t(layer) + 1),
      query_projection_(linear_from(tensors, cross_attention_prefix(layer) + ".query_projection")),
      key_projection_(linear_from(tensors, cross_attention_prefix(layer) + ".key_projection")),
      value_projection_(linear_from(tensors, cross_attention_prefix(layer) + ".value_projection")),
      out_projection_(linear_from(tensors, cross_attention_prefix(layer) + ".out_projection")) {}

void RecurrentCrossAttentionLayer::use_format(WeightFormat format) {
    for (Linear* linear : {&query_projection_, &key_projection_, &value_projection_, &out_projection_})
        linear->use_format(format);
}

void RecurrentCrossAttentionLayer::start(const Memory& memory, AttentionState& state, uint64_t sequence_seed,
                                         StepScratch& scratch) const {
    AttentionScratch& s = scratch.cross_attention;
    const int batch = memory.batch, length = memory.length, heads = inner_.heads();
    const int query_dims = inner_.query_dims(), value_dims = inner_.value_dims();
    state.memory = memory.values;
    state.memory_lengths.assign(batch, length);
    for (int n = 0; n < batch && !memory.lengths.empty(); ++n)
        state.memory_lengths[n] = static_cast<int>(memory.lengths[n]);

    if (inner_.kind() == AttentionKind::Full) {
        RowMatrix keys, values;
        key_projection_.forward(memory.values, keys);      // (N*S, H*D), rows (n, s)
        value_projection_.forward(memory.values, values);  // (N*S, H*M)
        // Cache row n*H + h holds that head's S keys and values.
        RowMatrix head_keys(long(batch) * heads, long(length) * query_dims);
        RowMatrix head_values(long(batch) * heads, long(length) * value_dims);
        for (int n = 0; n < batch; ++n)
            for (int t = 0; t < length; ++t)
                for (int h = 0; h < heads; ++h) {
                    head_keys.row(n * heads + h).segment(long(t) * query_dims, query_dims) =
                        keys.row(long(n) * length + t).segment(long(h) * query_dims, query_dims);
                    head_values.row(n * heads + h).segment(long(t) * value_dims, value_dims) =
                        values.row(long(n) * length + t).segment(long(h) * value_dims, value_dims);
                }
        state.cache.assign(head_keys, head_values, query_dims, value_dims, length);
        return;
    }
    // Linear: S = sum_s phi(k_s) v_s^T and Z = sum_s phi(k_s) over the valid memory, once.
    memory_features(memory.values, batch, state, sequence_seed, s);
    RowMatrix values;
    value_projection_.forward(memory.values, values);  // (N*S, H*M)
    split_heads(values, 0, heads, value_dims, s.values);  // rows (n, s, h)
    const int features = inner_.feature_dims();
    state.linear.sums = RowMatrix::Zero(long(batch) * heads * features, value_dims);
    state.linear.normalizer = RowMatrix::Zero(long(batch) * heads, features);
    for (int n = 0; n < batch; ++n)
        for (int t = 0; t < state.memory_lengths[n]; ++t)
            for (int h = 0; h < heads; ++h) {
                const long source = (long(n) * length + t) * heads + h, target = long(n) * heads + h;
                state.linear.normalizer.row(target) += s.phi_keys.row(source);
                state.linear.sums.middleRows(target * features, features).noalias() +=
                    s.phi_keys.row(source).transpose() * s.values.row(source);
            }
}

void RecurrentCrossAttentionLayer::memory_features(const RowMatrix& memory, int batch, AttentionState& state,
                                                   uint64_t sequence_seed, AttentionScratch& s) const {
    const int length = static_cast<int>(memory.rows() / batch), heads = inner_.heads();
    RowMatrix keys;
    key_projection_.forward(memory, keys);  // (N*S, H*D), rows (n, s)
    split_heads(keys, 0, heads, inner_.query_dims(), s.keys);  // rows (n, s, h)
    inner_.features(s.keys, inner_.omega(state, sequence_seed), s.phi_keys, RowLayout{batch, length, heads});
}

void RecurrentCrossAttentionLayer::forward(const ConstMatrixRef& x, const Memory& memory, AttentionState& state,
                                           uint64_t sequence_seed, StepScratch& scratch, RowMatrix& out,
                                           const LayerStep& step) const {
    AttentionScratch& s = scratch.cross_attention;
    const int batch = static_cast<int>(x.rows()), heads = inner_.heads();
    if (!state.started) start(memory, state, sequence_seed, scratch);
    state.started = true;
    query_projection_.forward(x, s.projected);
    split_heads(s.projected, 0, heads, inner_.query_dims(), s.queries);
    ensure_shape(s.heads, long(batch) * heads, inner_.value_dims());
    if (inner_.kind() == AttentionKind::Linear) {
        inner_.features(s.queries, inner_.omega(state, sequence_seed), s.phi_queries, RowLayout{batch, heads, 1});
        linear_attention_readout(s.phi_queries, state.linear, inner_.eps(), s.heads);
        if (step.observation) {
            // The memory's features are not kept in the state: recomputed as start() computed them.
            memory_features(state.memory, batch, state, sequence_seed, s);
            observe_linear_cross(inner_, s, s.phi_keys, state, batch, step);
        }
    } else {
        full_attention(s.queries, state.cache, inner_.temperature(), state.memory_lengths, heads, s.heads,
                       s.weights);
        if (step.observer)
            step.observer->attention_weights(step.layer, AttentionRole::Cross, s.weights.leftCols(state.cache.length));
        if (step.observation) observe_full(inner_, s, state, batch, AttentionRole::Cross, step);
    }
    step.silence(AttentionRole::Cross, s.heads, heads);
    out_projection_.forward(merged_heads(s.heads, batch), out);
    report(step.observer, step.layer, AttentionRole::Cross, inner_, state, batch);
}

}  // namespace stepscope
