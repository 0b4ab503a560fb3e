// Step kernels of linear and softmax attention: Eigen/oneTBB fast paths beside plain-loop references.
#include "kernels/attention_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/for_each_head.h"
#include "kernels/linear_kernels.h"
#include "stepscope/config.h"
#include "stepscope/error.h"

namespace stepscope {

namespace {

// Hand-written reductions: Eigen's peel the first elements up to an aligned
// address, so its sums round differently as a buffer's address changes; these
// sum in one fixed order wherever the data lies, which keeps a restored
// snapshot bit-identical to the run it came from.
using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int kLanes = Eigen::internal::packet_traits<float>::size;

// How far ahead of a cache stream to prefetch: a head's keys and values come
// from memory (the weights stream through the caches every step), and the
// hardware prefetcher restarts at every head.
constexpr long kPrefetchBytes = 8192;
constexpr long kCacheLineBytes = 64;
static_assert(kMaxHeadDimensions <= kernels::kMaxCacheWidth, "a cache pass takes every key width a config allows");

// a . b over n floats: whole packets, their lanes summed, then the tail.
float dot(const float* a, const float* b, int n) {
    using namespace Eigen::internal;
    Packet acc = pset1<Packet>(0.0f);
    int i = 0;
    for (; i + kLanes <= n; i += kLanes) acc = pmadd(ploadu<Packet>(a + i), ploadu<Packet>(b + i), acc);
    float total = predux(acc);
    for (; i < n; ++i) total += a[i] * b[i];
    return total;
}

int valid_keys(const KeyValueCache& cache, const std::vector<int>& valid_lengths, int row, int heads) {
    return valid_lengths.empty() ? cache.length : valid_lengths[row / heads];
}

}  // namespace

void linear_attention_update(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, LinearAttentionState& state) {
    const int rows = static_cast<int>(phi_k.rows()), features = static_cast<int>(phi_k.cols());
    state.normalizer += phi_k;
    for_each_head(rows, long(features) * values.cols(), [&](int r) {
        state.sums.middleRows(long(r) * features, features).noalias() += phi_k.row(r).transpose() * values.row(r);
    });
}

void reference::linear_attention_update(const ConstMatrixRef& phi_k, const ConstMatrixRef& values,
                                        LinearAttentionState& state) {
    const long features = phi_k.cols(), value_dims = values.cols();
    for (long r = 0; r < phi_k.rows(); ++r) {
        for (long f = 0; f < features; ++f) {
            state.normalizer(r, f) += phi_k(r, f);
            for (long m = 0; m < value_dims; ++m) state.sums(r * features + f, m) += phi_k(r, f) * values(r, m);
        }
    }
}

void linear_attention_readout(const ConstMatrixRef& phi_q, const LinearAttentionState& state, float eps,
                              MatrixRef out) {
    const int rows = static_cast<int>(phi_q.rows()), features = static_cast<int>(phi_q.cols());
    for_each_head(rows, long(features) * out.cols(), [&](int r) {
        const float normaliser = 1.0f / (phi_q.row(r).dot(state.normalizer.row(r)) + eps);
        out.row(r).noalias() = normaliser * (phi_q.row(r) * state.sums.middleRows(long(r) * features, features));
    });
}

void reference::linear_attention_readout(const ConstMatrixRef& phi_q, const LinearAttentionState& state, float eps,
                                         MatrixRef out) {
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

namespace {

// The run-time dispatched kernel of one head's S: in a portable build Eigen's packets here are SSE only.
using HeadStep = decltype(kernels::LinearKernels::linear_attention_head);

// One head's step: Z += phi_k, S += phi_k v^T and out = phi_q^T S / (phi_q . Z + eps), state row r, inputs and
// out at row `row` (r itself in a step, t*R + r in a block).
inline void linear_head_step(HeadStep head_step, const ConstMatrixRef& phi_k, const ConstMatrixRef& values,
                             const ConstMatrixRef& phi_q, float eps, LinearAttentionState& state, MatrixRef out, int r,
                             long row) {
    const int features = static_cast<int>(phi_k.cols());
    state.normalizer.row(r) += phi_k.row(row);
    const float normaliser = 1.0f / (dot(phi_q.row(row).data(), state.normalizer.row(r).data(), features) + eps);
    // out accumulates phi_q^T S row by row of S, right after that row's update.
    head_step(phi_k.row(row).data(), phi_q.row(row).data(), values.row(row).data(), features, values.cols(),
              state.sums.row(long(r) * features).data(), out.row(row).data());
    out.row(row) *= normaliser;
}

}  // namespace

void linear_attention_block(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, const ConstMatrixRef& phi_q,
                            float eps, int steps, LinearAttentionState& state, MatrixRef out) {
    const int rows = static_cast<int>(state.normalizer.rows());
    const long work = long(steps) * phi_k.cols() * values.cols();
    const HeadStep head_step = kernels::linear_kernels().linear_attention_head;
    for_each_head(rows, work, [&](int r) {
        for (int t = 0; t < steps; ++t)
            linear_head_step(head_step, phi_k, values, phi_q, eps, state, out, r, long(t) * rows + r);
    });
}

void linear_attention_step(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, const ConstMatrixRef& phi_q,
                           float eps, LinearAttentionState& state, MatrixRef out, StateNorms* norms,
                           const float* decay) {
    const int rows = static_cast<int>(phi_k.rows()), features = static_cast<int>(phi_k.cols());
    const long width = values.cols();
    float* sums_norms = norms ? norms->component(0, size_t(rows)).data() : nullptr;
    float* normalizer_norms = norms ? norms->component(1, size_t(rows)).data() : nullptr;
    const HeadStep head_step = kernels::linear_kernels().linear_attention_head;
    for_each_head(rows, long(features) * width, [&](int r) {
        if (decay) {
            state.sums.middleRows(long(r) * features, features) *= decay[r];
            state.normalizer.row(r) *= decay[r];
        }
        linear_head_step(head_step, phi_k, values, phi_q, eps, state, out, r, r);
        if (!sums_norms) return;
        sums_norms[r] = state.sums.middleRows(long(r) * features, features).norm();
        normalizer_norms[r] = state.normalizer.row(r).norm();
    });
}

void reference::linear_attention_step(const ConstMatrixRef& phi_k, const ConstMatrixRef& values,
                                      const ConstMatrixRef& phi_q, float eps, LinearAttentionState& state,
                                      MatrixRef out, const float* decay) {
    const long features = phi_k.cols();
    for (long r = 0; r < phi_k.rows() && decay; ++r) {
        for (long f = 0; f < features; ++f) {
            state.normalizer(r, f) *= decay[r];
            for (long m = 0; m < values.cols(); ++m) state.sums(r * features + f, m) *= decay[r];
        }
    }
    reference::linear_attention_update(phi_k, values, state);
    reference::linear_attention_readout(phi_q, state, eps, out);
}

namespace {

// Prefetches the start of a cache row holding `elements` valid elements.
template <typename Element>
void prefetch_row(const Element* row, long elements) {
    const long bytes = std::min(kPrefetchBytes, elements * long(sizeof(Element)));
    const char* start = reinterpret_cast<const char*>(row);
    for (long b = 0; b < bytes; b += kCacheLineBytes) Eigen::internal::prefetch(start + b);
}

// Softmax attention over a cache whose keys (N*H, capacity*D) and values (N*H, capacity*M) hold
// `Element`s: float32, or bfloat16 bits read by the `_bf16` passes.
template <typename Element, typename Dots, typename WeightedRows>
void full_attention_over(const ConstMatrixRef& queries, const KeyValueCache& cache, const Element* all_keys,
                         const Element* all_values, Dots scaled_dots, WeightedRows weighted_rows,
                         void (*softmax)(float*, int), float temperature, const std::vector<int>& valid_lengths,
                         int heads, MatrixRef out, RowMatrix& weights) {
    const int rows = static_cast<int>(queries.rows());
    const int key_dims = cache.key_dims, value_dims = cache.value_dims;
    const long key_stride = long(cache.capacity()) * key_dims, value_stride = long(cache.capacity()) * value_dims;
    for_each_head(rows, long(cache.length) * (key_dims + value_dims), [&](int r) {
        const int valid = valid_keys(cache, valid_lengths, r, heads);
        const float* query = queries.row(r).data();
        const Element* keys = all_keys + r * key_stride;        // (T, D)
        const Element* values = all_values + r * value_stride;  // (T, M)
        float* scores = weights.row(r).data();                  // (T)
        // The streams' own prefetches start kPrefetchBytes in; this covers
        // the start of the next head, which the same worker usually takes.
        if (r + 1 < rows) {
            const long next_valid = valid_keys(cache, valid_lengths, r + 1, heads);
            prefetch_row(keys + key_stride, next_valid * key_dims);
            prefetch_row(values + value_stride, next_valid * value_dims);
        }
        // A cleared head attends from its start on: keys [first, valid) of the row.
        const int first = cache.start(r), count = std::max(valid - first, 0);
        std::fill(scores, scores + first, 0.0f);
        // pass 1: query dot keys, scaled
        scaled_dots(query, keys + long(first) * key_dims, count, key_dims, temperature, scores + first);
        // pass 2: softmax over the attended keys, the others weigh 0
        if (count > 0) softmax(scores + first, count);
        std::fill(scores + first + count, scores + cache.length, 0.0f);
        // pass 3: weighted sum of the values
        weighted_rows(scores + first, values + long(first) * value_dims, count, value_dims, out.row(r).data());
    });
}

}  // namespace

void full_attention(const ConstMatrixRef& queries, const KeyValueCache& cache, float temperature,
                    const std::vector<int>& valid_lengths, int heads, MatrixRef out, RowMatrix& weights) {
    // Sized like the cache (a multiple of its quantum); grows with it, geometrically.
    if (weights.rows() != queries.rows() || weights.cols() < cache.length)
        weights.resize(queries.rows(), std::max(cache.capacity(), KeyValueCache::kCapacityQuantum));
    // The run-time dispatched passes: in a portable build Eigen's packets here are SSE only.
    const kernels::LinearKernels& kernels = kernels::linear_kernels();
    if (cache.bf16())
        full_attention_over(queries, cache, cache.keys_bf16.data(), cache.values_bf16.data(), kernels.scaled_dots_bf16,
                            kernels.weighted_rows_bf16, kernels.softmax, temperature, valid_lengths, heads, out,
                            weights);
    else
        full_attention_over(queries, cache, cache.keys.data(), cache.values.data(), kernels.scaled_dots,
                            kernels.weighted_rows, kernels.softmax, temperature, valid_lengths, heads, out, weights);
}

void reference::full_attention(const ConstMatrixRef& queries, const KeyValueCache& cache, float temperature,
                               const std::vector<int>& valid_lengths, int heads, MatrixRef out, RowMatrix& weights) {
    const long rows = queries.rows(), key_dims = cache.key_dims, value_dims = cache.value_dims;
    weights.resize(rows, cache.length);
    for (long r = 0; r < rows; ++r) {
        const int valid = valid_keys(cache, valid_lengths, static_cast<int>(r), heads);
        const auto keys = cache.head_keys(static_cast<int>(r));
        const auto values = cache.head_values(static_cast<int>(r));
        const int first = cache.start(static_cast<int>(r));
        float max_score = -std::numeric_limits<float>::infinity();
        for (int t = first; t < valid; ++t) {
            float dot = 0;
            for (long d = 0; d < key_dims; ++d) dot += queries(r, d) * keys(t, d);
            weights(r, t) = temperature * dot;
            max_score = std::max(max_score, weights(r, t));
        }
        float total = 0;
        for (int t = first; t < valid; ++t) total += weights(r, t) = std::exp(weights(r, t) - max_score);
        for (int t = 0; t < cache.length; ++t) weights(r, t) = t >= first && t < valid ? weights(r, t) / total : 0.0f;
        for (long m = 0; m < value_dims; ++m) {
            float sum = 0;
            for (int t = first; t < valid; ++t) sum += weights(r, t) * values(t, m);
            out(r, m) = sum;
        }
    }
}

}  // namespace stepscope
