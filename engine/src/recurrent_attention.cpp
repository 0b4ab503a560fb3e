// Step kernels of linear and softmax attention: Eigen/oneTBB fast paths beside plain-loop references.
#include "stepscope/recurrent_attention.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "stepscope/error.h"

namespace stepscope {

namespace {

// Below this many multiply-adds a parallel loop costs more than it saves.
constexpr long kParallelWork = 1 << 15;

template <typename Body>
void for_each_head(int rows, long work_per_row, Body body) {
    if (rows * work_per_row < kParallelWork) {
        for (int r = 0; r < rows; ++r) body(r);
        return;
    }
    tbb::parallel_for(0, rows, [&](int r) { body(r); });
}

int valid_keys(const KeyValueCache& cache, const std::vector<int>& valid_lengths, int row, int heads) {
    return valid_lengths.empty() ? cache.length : valid_lengths[row / heads];
}

}  // namespace

AttentionKind attention_kind(const std::string& type) {
    if (type == "linear" || type == "causal-linear") return AttentionKind::Linear;
    if (type == "full") return AttentionKind::Full;
    throw Error("unknown attention type '" + type + "' (known: full, linear, causal-linear)");
}

void linear_attention_update(const ConstMatrixRef& phi_k, const ConstMatrixRef& values,
                             LinearAttentionState& state) {
    const int rows = static_cast<int>(phi_k.rows()), features = static_cast<int>(phi_k.cols());
    state.normalizer += phi_k;
    for_each_head(rows, long(features) * values.cols(), [&](int r) {
        state.sums.middleRows(long(r) * features, features).noalias() +=
            phi_k.row(r).transpose() * values.row(r);
    });
}

void linear_attention_update_scalar(const ConstMatrixRef& phi_k, const ConstMatrixRef& values,
                                    LinearAttentionState& state) {
    const long features = phi_k.cols(), value_dims = values.cols();
    for (long r = 0; r < phi_k.rows(); ++r) {
        for (long f = 0; f < features; ++f) {
            state.normalizer(r, f) += phi_k(r, f);
            for (long m = 0; m < value_dims; ++m) state.sums(r * features + f, m) += phi_k(r, f) * values(r, m);
        }
    }
}

void linear_attention_readout(const ConstMatrixRef& phi_q, const LinearAttentionState& state,
                              float eps, MatrixRef out) {
    const int rows = static_cast<int>(phi_q.rows()), features = static_cast<int>(phi_q.cols());
    for_each_head(rows, long(features) * out.cols(), [&](int r) {
        const float normaliser = 1.0f / (phi_q.row(r).dot(state.normalizer.row(r)) + eps);
        out.row(r).noalias() = normaliser * (phi_q.row(r) * state.sums.middleRows(long(r) * features, features));
    });
}

void linear_attention_readout_scalar(const ConstMatrixRef& phi_q, const LinearAttentionState& state,
                                     float eps, MatrixRef out) {
    const long features = phi_q.cols(), value_dims = out.cols();
    for (long r = 0; r < phi_q.rows(); ++r) {
        float dot = 0;
        for (long f = 0; f < features; ++f) dot += phi_q(r, f) * state.normalizer(r, f);
        const float normaliser = 1.0f / (dot + eps);
        for (long m = 0; m < value_dims; ++m) {
            float sum = 0;
            for (long f = 0; f < features; ++f) sum += phi_q(r, f) * state.sums(r * features + f, m);
            out(r, m) = sum * normaliser;
        }
    }
}

void full_attention(const ConstMatrixRef& queries, const KeyValueCache& cache, float temperature,
                    const std::vector<int>& valid_lengths, int heads, MatrixRef out, RowMatrix& weights) {
    const int rows = static_cast<int>(queries.rows());
    // Sized like the cache (a multiple of its quantum) so rows align the same way every run.
    if (weights.rows() != rows || weights.cols() < cache.length)
        weights.resize(rows, std::max(cache.capacity(), KeyValueCache::kCapacityQuantum));
    for_each_head(rows, long(cache.length) * (cache.key_dims + cache.value_dims), [&](int r) {
        const int valid = valid_keys(cache, valid_lengths, r, heads);
        auto scores = weights.row(r).head(cache.length);
        // pass 1: query dot keys, scaled
        scores.head(valid).noalias() = temperature * (cache.head_keys(r).topRows(valid) * queries.row(r).transpose()).transpose();
        // pass 2: softmax over the valid keys, masked ones weigh 0
        const float max_score = scores.head(valid).maxCoeff();
        scores.head(valid) = (scores.head(valid).array() - max_score).exp();
        scores.head(valid) /= scores.head(valid).sum();
        scores.tail(cache.length - valid).setZero();
        // pass 3: weighted sum of the values
        out.row(r).noalias() = scores.head(valid) * cache.head_values(r).topRows(valid);
    });
}

void full_attention_scalar(const ConstMatrixRef& queries, const KeyValueCache& cache, float temperature,
                           const std::vector<int>& valid_lengths, int heads, MatrixRef out,
                           RowMatrix& weights) {
    const long rows = queries.rows(), key_dims = cache.key_dims, value_dims = cache.value_dims;
    weights.resize(rows, cache.length);
    for (long r = 0; r < rows; ++r) {
        const int valid = valid_keys(cache, valid_lengths, static_cast<int>(r), heads);
        const auto keys = cache.head_keys(static_cast<int>(r));
        const auto values = cache.head_values(static_cast<int>(r));
        float max_score = -std::numeric_limits<float>::infinity();
        for (int t = 0; t < valid; ++t) {
            float dot = 0;
            for (long d = 0; d < key_dims; ++d) dot += queries(r, d) * keys(t, d);
            weights(r, t) = temperature * dot;
            max_score = std::max(max_score, weights(r, t));
        }
        float total = 0;
        for (int t = 0; t < valid; ++t) total += weights(r, t) = std::exp(weights(r, t) - max_score);
        for (int t = 0; t < cache.length; ++t) weights(r, t) = t < valid ? weights(r, t) / total : 0.0f;
        for (long m = 0; m < value_dims; ++m) {
            float sum = 0;
            for (int t = 0; t < valid; ++t) sum += weights(r, t) * values(t, m);
            out(r, m) = sum;
        }
    }
}

}  // namespace stepscope
