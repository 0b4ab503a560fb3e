// Attention maps and state capacity per attention kind, for the observed layers only.
#include "insight/attention_views.h"

#include <algorithm>
#include <limits>

#include "stepscope/implicit_attention.h"
#include "stepscope/observation.h"
#include "stepscope/state_spectrum.h"

namespace stepscope {

namespace {

// The rows of the batch elements an observation covers: [first, first + count).
struct Covered {
    int first_batch, batch, first, count;
};

Covered covered(const Observation& observation, int batch, int heads) {
    const int first_batch = observation.first_batch(batch), count = observation.batch_count(batch);
    return {first_batch, count, first_batch * heads, count * heads};
}

void send_map(const LayerStep& step, AttentionRole role, bool implicit, const Covered& c, int heads, int first_key,
              const ConstMatrixRef& weights, bool is_signed = false) {
    step.observer->attention_map(step.layer, role,
                                 AttentionMap{implicit, c.first_batch, c.batch, heads, first_key, weights, is_signed});
}

// Denominators phi(q) . Z, the minimum per head over the whole batch, and the spectrum if asked for.
void send_linear_capacity(const InnerAttention& inner, const ConstMatrixRef& phi_q, const AttentionState& state,
                          int batch, AttentionRole role, const Covered& c, const LayerStep& step) {
    if (!step.observation->options().capacity && !step.observation->options().spectrum) return;
    const int heads = inner.heads(), features = inner.feature_dims();
    const RowMatrix& normalizer = state.linear().normalizer;
    StateCapacity capacity;
    capacity.first_batch = c.first_batch;
    capacity.batch = c.batch;
    capacity.heads = heads;
    capacity.rank = std::min(features, inner.value_dims());
    // The delta rules keep no Z and divide by none.
    if (normalizer.cols() > 0) capacity.min_denominator.assign(size_t(heads), std::numeric_limits<float>::infinity());
    for (int n = 0; n < batch && normalizer.cols() > 0; ++n)
        for (int h = 0; h < heads; ++h) {
            const int r = n * heads + h;
            const float denominator = phi_q.row(r).dot(normalizer.row(r));
            capacity.min_denominator[size_t(h)] = std::min(capacity.min_denominator[size_t(h)], denominator);
            if (r >= c.first && r < c.first + c.count) capacity.denominator.push_back(denominator);
        }
    if (step.observation->options().spectrum) {
        singular_values(state.linear().sums.middleRows(long(c.first) * features, long(c.count) * features), features,
                        capacity.singular_values);
        for (int r = 0; r < c.count; ++r)
            capacity.effective_rank.push_back(effective_rank(capacity.singular_values.row(r).data(), capacity.rank));
    }
    step.observer->state_capacity(step.layer, role, capacity);
}

}  // namespace

void observe_linear_self(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state, int batch,
                         const LayerStep& step) {
    const Covered c = covered(*step.observation, batch, inner.heads());
    const auto phi_q = s.phi_queries.middleRows(c.first, c.count);
    if (step.observation->options().attention) {
        FeatureHistory& history = step.observation->self_history(step.layer, c.count, inner.feature_dims(), step.step);
        history.append(s.phi_keys.middleRows(c.first, c.count));
        const int newest = step.observation->options().attention_keys;
        const int first_column = newest > 0 ? std::max(0, history.length() - newest) : 0;
        RowMatrix weights;
        linear_attention_weights(phi_q, state.linear().normalizer.middleRows(c.first, c.count), inner.eps(), history,
                                 {}, inner.heads(), weights, first_column);
        send_map(step, AttentionRole::Self, true, c, inner.heads(),
                 static_cast<int>(history.first_step()) + first_column, weights);
    }
    send_linear_capacity(inner, s.phi_queries, state, batch, AttentionRole::Self, c, step);
}

void observe_delta_rule_self(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state,
                             const float* beta, const float* alpha, float scale, int batch, const LayerStep& step) {
    const Covered c = covered(*step.observation, batch, inner.heads());
    if (step.observation->options().attention) {
        const int features = inner.feature_dims();
        FeatureHistory& history = step.observation->self_history(step.layer, c.count, features, step.step, true);
        for (int i = 0; i < c.count; ++i) {
            const int r = c.first + i;
            const auto key = s.phi_keys.row(r);
            for (int j = 0; j < history.length(); ++j) {
                Eigen::Map<RowVector> held(history.features_of(i, j), features);
                held = (alpha ? alpha[r] : 1.0f) * (held - (beta[r] * key.dot(held)) * key);
            }
        }
        RowMatrix written = s.phi_keys.middleRows(c.first, c.count);
        for (int i = 0; i < c.count; ++i) written.row(i) *= beta[c.first + i];
        history.append(written);
        RowMatrix weights(c.count, history.length());
        for (int i = 0; i < c.count; ++i)
            for (int j = 0; j < history.length(); ++j)
                weights(i, j) = scale * s.phi_queries.row(c.first + i)
                                            .dot(Eigen::Map<const RowVector>(history.features_of(i, j), features));
        send_map(step, AttentionRole::Self, true, c, inner.heads(), static_cast<int>(history.first_step()), weights,
                 true);
    }
    send_linear_capacity(inner, s.phi_queries, state, batch, AttentionRole::Self, c, step);
}

void observe_gated_linear_self(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state,
                               const float* alpha, int batch, const LayerStep& step) {
    const Covered c = covered(*step.observation, batch, inner.heads());
    if (step.observation->options().attention) {
        const int features = inner.feature_dims();
        FeatureHistory& history = step.observation->self_history(step.layer, c.count, features, step.step, true);
        for (int i = 0; i < c.count; ++i)
            for (int j = 0; j < history.length(); ++j)
                Eigen::Map<RowVector>(history.features_of(i, j), features) *= alpha[c.first + i];
        history.append(s.phi_keys.middleRows(c.first, c.count));
        RowMatrix weights;
        linear_attention_weights(s.phi_queries.middleRows(c.first, c.count),
                                 state.linear().normalizer.middleRows(c.first, c.count), inner.eps(), history, {},
                                 inner.heads(), weights);
        send_map(step, AttentionRole::Self, true, c, inner.heads(), static_cast<int>(history.first_step()), weights);
    }
    send_linear_capacity(inner, s.phi_queries, state, batch, AttentionRole::Self, c, step);
}

void observe_linear_cross(const InnerAttention& inner, const AttentionScratch& s, const RowMatrix& memory_phi_keys,
                          const AttentionState& state, int batch, const LayerStep& step) {
    const int heads = inner.heads();
    const Covered c = covered(*step.observation, batch, heads);
    if (step.observation->options().attention) {
        // The memory's features as a history of S "steps", masked per batch element by its length.
        const int length = static_cast<int>(memory_phi_keys.rows() / (long(batch) * heads));
        FeatureHistory keys;
        keys.restart(c.count, inner.feature_dims(), length, 0);
        RowMatrix element(c.count, inner.feature_dims());
        for (int t = 0; t < length; ++t) {
            for (int n = 0; n < c.batch; ++n)
                element.middleRows(long(n) * heads, heads) =
                    memory_phi_keys.middleRows((long(c.first_batch + n) * length + t) * heads, heads);
            keys.append(element);
        }
        const std::vector<int> lengths(state.memory_lengths.begin() + c.first_batch,
                                       state.memory_lengths.begin() + c.first_batch + c.batch);
        RowMatrix weights;
        linear_attention_weights(s.phi_queries.middleRows(c.first, c.count),
                                 state.linear().normalizer.middleRows(c.first, c.count), inner.eps(), keys, lengths,
                                 heads, weights);
        send_map(step, AttentionRole::Cross, true, c, heads, 0, weights);
    }
    send_linear_capacity(inner, s.phi_queries, state, batch, AttentionRole::Cross, c, step);
}

void observe_full(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state, int batch,
                  AttentionRole role, const LayerStep& step) {
    const Covered c = covered(*step.observation, batch, inner.heads());
    const int length = state.cache().length;
    const auto weights = s.weights.block(c.first, 0, c.count, length);
    // A self-attention cache holds the last cache.length steps, this one included.
    const int first_key = role == AttentionRole::Self ? static_cast<int>(step.step + 1 - length) : 0;
    if (step.observation->options().attention) send_map(step, role, false, c, inner.heads(), first_key, weights);
    if (!step.observation->options().capacity && !step.observation->options().spectrum) return;
    StateCapacity capacity;
    capacity.first_batch = c.first_batch;
    capacity.batch = c.batch;
    capacity.heads = inner.heads();
    capacity.cache_length = length;
    capacity.row_entropy = row_entropy(weights);
    step.observer->state_capacity(step.layer, role, capacity);
}

}  // namespace stepscope
