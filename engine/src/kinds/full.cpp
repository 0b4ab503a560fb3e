// Softmax attention (the reference's "full"): a key/value cache per head, one step longer each step.
#include <algorithm>

#include "kernels/attention_kernels.h"
#include "kinds/attention_kind.h"
#include "kinds/inner_attention.h"
#include "insight/attention_views.h"
#include "kernels/cache_capacity.h"
#include "io/snapshot_tensors.h"
#include "layers/step_scratch.h"
#include "stepscope/error.h"

namespace stepscope {

namespace {

// The first `length` steps of each cache row, as (N, H, T, width); BF16 for a bf16 cache, which it holds exactly.
Tensor cache_tensor(const KeyValueCache& cache, bool keys, int batch, int heads) {
    const int width = keys ? cache.key_dims : cache.value_dims;
    RowMatrix valid(cache.rows(), long(cache.length) * width);
    for (int r = 0; r < valid.rows(); ++r) {
        const RowMatrix head = keys ? cache.head_keys(r) : cache.head_values(r);
        valid.row(r) = Eigen::Map<const RowVector>(head.data(), head.size());
    }
    Tensor tensor = snapshot::tensor_of(valid, {batch, heads, cache.length, width});
    if (cache.bf16()) tensor.dtype = DType::BF16;
    return tensor;
}

double cache_bytes(const ModuleWidths& m, double batch, double capacity) {
    return m.cache_element_bytes * batch * m.heads * capacity * (m.query + m.value);
}

class FullAttention final : public AttentionKind {
public:
    AttentionCapabilities capabilities() const override {
        AttentionCapabilities c;
        c.description = "softmax attention";
        c.components = {{"K", "the cached keys, (t, D) per head", true},
                        {"V", "the cached values, (t, M) per head", true}};
        c.cache_entropy = c.clear_head = c.attention_map = true;
        c.cuda = CudaKernel::SoftmaxCache;
        c.max_steps = KeyValueCache::kMaxLength;
        return c;
    }

    void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state, uint64_t /*sequence_seed*/,
                   const LayerStep& step) const override {
        const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
        KeyValueCache& cache = state.cache();
        cache.append(s.keys, s.values, inner.cache_precision());
        full_attention(s.queries, cache, inner.temperature(), {}, heads, s.heads, s.weights);
        if (step.observer)
            step.observer->attention_weights(step.layer, AttentionRole::Self, s.weights.leftCols(cache.length));
        if (step.observation) observe_full(inner, s, state, batch, AttentionRole::Self, step);
    }

    // Softmax over keys s <= t (the triangular causal mask).
    void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                    const RowMatrix& values, const RowMatrix& /*gates*/, int steps, int batch,
                    uint64_t /*sequence_seed*/, RowMatrix& attended) const override {
        const int rows_per_step = batch * inner.heads(), value_dims = inner.value_dims();
        auto row = [&](int t, int r) { return long(t) * rows_per_step + r; };
        for (int r = 0; r < rows_per_step; ++r)
            for (int t = 0; t < steps; ++t) {
                Vector scores(t + 1);
                for (int u = 0; u <= t; ++u)
                    scores[u] = inner.temperature() * queries.row(row(t, r)).dot(keys.row(row(u, r)));
                scores = (scores.array() - scores.maxCoeff()).exp();
                scores /= scores.sum();
                Vector sum = Vector::Zero(value_dims);
                for (int u = 0; u <= t; ++u) sum += scores[u] * values.row(row(u, r)).transpose();
                attended.row(row(t, r)) = sum.transpose();
            }
    }

    // Cache row n*H + h holds that head's S keys and values.
    void cross_start(const InnerAttention& inner, AttentionScratch& /*s*/, const RowMatrix& keys,
                     const RowMatrix& values, int batch, AttentionState& state,
                     uint64_t /*sequence_seed*/) const override {
        const int heads = inner.heads(), query_dims = inner.query_dims(), value_dims = inner.value_dims();
        const int length = static_cast<int>(keys.rows() / (long(batch) * heads));
        RowMatrix head_keys(long(batch) * heads, long(length) * query_dims);
        RowMatrix head_values(long(batch) * heads, long(length) * value_dims);
        for (int n = 0; n < batch; ++n)
            for (int t = 0; t < length; ++t)
                for (int h = 0; h < heads; ++h) {
                    const long source = (long(n) * length + t) * heads + h;
                    head_keys.row(n * heads + h).segment(long(t) * query_dims, query_dims) = keys.row(source);
                    head_values.row(n * heads + h).segment(long(t) * value_dims, value_dims) = values.row(source);
                }
        state.cache().assign(head_keys, head_values, query_dims, value_dims, length, inner.cache_precision());
    }

    void cross_step(const InnerAttention& inner, const MemoryProjection& /*memory*/, AttentionScratch& s,
                    AttentionState& state, uint64_t /*sequence_seed*/, const LayerStep& step) const override {
        const int heads = inner.heads(), batch = static_cast<int>(s.queries.rows()) / heads;
        const KeyValueCache& cache = state.cache();
        full_attention(s.queries, cache, inner.temperature(), state.memory_lengths, heads, s.heads, s.weights);
        if (step.observer)
            step.observer->attention_weights(step.layer, AttentionRole::Cross, s.weights.leftCols(cache.length));
        if (step.observation) observe_full(inner, s, state, batch, AttentionRole::Cross, step);
    }

    std::string misfit(const InnerAttention& inner, const AttentionState& state, int batch) const override {
        const long rows = long(batch) * inner.heads();
        const KeyValueCache* cache = state.find<KeyValueCache>();
        if (!cache) return " key/value cache does not fit the model's heads and dimensions";
        if (cache->precision != inner.cache_precision())
            return " key/value cache is kept in " + cache_precision_name(cache->precision) + ", the model keeps " +
                   cache_precision_name(inner.cache_precision()) + " (cache_precision)";
        const long value_columns = cache->bf16() ? cache->values_bf16.cols() : cache->values.cols();
        const long value_rows = cache->bf16() ? cache->values_bf16.rows() : cache->values.rows();
        if (cache->key_dims != inner.query_dims() || cache->value_dims != inner.value_dims() || cache->rows() != rows ||
            value_rows != rows || cache->length < 0 || cache->length > cache->capacity() ||
            value_columns < long(cache->capacity()) * cache->value_dims)
            return " key/value cache does not fit the model's heads and dimensions";
        const auto outside = [&](int start) { return start < 0 || start > cache->length; };
        if ((!cache->starts.empty() && long(cache->starts.size()) != rows) ||
            std::any_of(cache->starts.begin(), cache->starts.end(), outside))
            return " key/value cache's head starts do not fit its heads and length";
        return {};
    }

    std::string memory_misfit(const AttentionState& state, long length) const override {
        const KeyValueCache* cache = state.find<KeyValueCache>();
        const int cached = cache ? cache->length : 0;
        if (cached == length) return {};
        return " caches " + std::to_string(cached) + " memory elements, not " + std::to_string(length);
    }

    void put_tensors(const InnerAttention& inner, const AttentionState& state, int batch, const std::string& name,
                     TensorMap& out) const override {
        const KeyValueCache& cache = state.cache();
        out[name + ".0"] = cache_tensor(cache, true, batch, inner.heads());
        out[name + ".1"] = cache_tensor(cache, false, batch, inner.heads());
        // Only a state with a cleared head has starts, so every other snapshot keeps its tensors.
        if (cache.has_starts())
            out[name + ".starts"] = Tensor::i64({batch, inner.heads()}, {cache.starts.begin(), cache.starts.end()});
    }

    void get_tensors(const InnerAttention& inner, const TensorMap& tensors, const std::string& name, int batch,
                     AttentionState& state) const override {
        const int heads = inner.heads();
        const Tensor& keys = snapshot::require_shape(tensors, name + ".0", 4, {batch, heads});
        const Tensor& values = snapshot::require_shape(tensors, name + ".1", 4, {batch, heads, keys.shape[2]});
        if (keys.shape[3] != inner.query_dims() || values.shape[3] != inner.value_dims())
            throw Error("snapshot cache '" + name + "' has head widths " + std::to_string(keys.shape[3]) + "/" +
                        std::to_string(values.shape[3]) + ", the model " + std::to_string(inner.query_dims()) + "/" +
                        std::to_string(inner.value_dims()));
        KeyValueCache& cache = state.cache();
        cache.assign(snapshot::matrix(keys, long(batch) * heads), snapshot::matrix(values, long(batch) * heads),
                     inner.query_dims(), inner.value_dims(), static_cast<int>(keys.shape[2]), inner.cache_precision());
        const auto found = tensors.find(name + ".starts");
        if (found == tensors.end()) return;
        const Tensor& starts = found->second;
        const auto outside = [&](int64_t start) { return start < 0 || start > cache.length; };
        if (starts.dtype != DType::I64 || starts.shape != std::vector<int64_t>{batch, heads} ||
            std::any_of(starts.integers.begin(), starts.integers.end(), outside))
            throw Error("snapshot tensor '" + name + ".starts' must be I64 of shape (" + std::to_string(batch) + ", " +
                        std::to_string(heads) + ") with steps in 0.." + std::to_string(cache.length));
        cache.starts.assign(starts.integers.begin(), starts.integers.end());
    }

    StateNorms norms(const AttentionState& state, int batch, int heads) const override {
        StateNorms norms;
        norms.batch = batch;
        norms.heads = heads;
        const int rows = batch * heads;
        const KeyValueCache* cache = state.find<KeyValueCache>();
        if (!cache) return norms;
        norms.cache_length = cache->length;
        if (cache->rows() != rows) return norms;
        norms.components.assign(2, std::vector<float>(size_t(rows)));
        for (int r = 0; r < rows; ++r) {
            norms.components[0][r] = cache->head_keys_norm(r);
            norms.components[1][r] = cache->head_values_norm(r);
        }
        return norms;
    }

    // The cache is one length for all heads, so a head forgets by starting after the steps cached so far
    // (zeroed, so nothing of them is kept): it attends as if its cache had been emptied.
    void clear_head(const InnerAttention& inner, AttentionState& state, int batch, int head) const override {
        KeyValueCache& cache = state.cache();
        if (cache.starts.empty()) cache.starts.assign(size_t(cache.rows()), 0);
        for (int n = 0; n < batch; ++n) {
            const long row = long(n) * inner.heads() + head;
            cache.zero_row(row);
            cache.starts[size_t(row)] = cache.length;
        }
    }

    // Keys (N*H, capacity*D) and values (N*H, capacity*M).
    double state_bytes(const ModuleWidths& m, double batch, int64_t steps) const override {
        return cache_bytes(m, batch, appended_cache_capacity(steps));
    }

    // The last doubling held the old buffer and the new one of one module at once.
    double growth_bytes(const ModuleWidths& m, double batch, int64_t steps) const override {
        const double capacity = appended_cache_capacity(steps);
        return capacity > KeyValueCache::kCapacityQuantum ? cache_bytes(m, batch, capacity / 2) : 0;
    }

    // The capacity stays, so the cache keeps its shapes and the next step appends at 0.
    void clear(AttentionState& state) const override {
        KeyValueCache& cache = state.cache();
        cache.zero_all();
        cache.length = 0;
        cache.starts.clear();
    }
};

}  // namespace

const AttentionKind& full_attention_kind() {
    static const FullAttention kind;
    return kind;
}

}  // namespace stepscope
