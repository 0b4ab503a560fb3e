// The state value: key/value cache growth, equality, size in bytes, per-copy scratch.
#include "stepscope/state.h"

#include <algorithm>

#include "cache_capacity.h"
#include "step_scratch.h"

namespace stepscope {

namespace {

bool same(const RowMatrix& a, const RowMatrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.size() == 0 || a == b);
}

std::size_t bytes_of(const RowMatrix& m) { return static_cast<std::size_t>(m.size()) * sizeof(float); }

// Nothing kept compares equal to an empty state of either kind, as it did when every kind's fields were kept.
bool kept_nothing(const AttentionState& s) {
    if (const auto* linear = s.find<LinearAttentionState>())
        return linear->sums.size() == 0 && linear->normalizer.size() == 0;
    if (const auto* cache = s.find<KeyValueCache>()) return cache->length == 0;
    return true;
}

// Copies the first `length` steps of each row into a buffer of `capacity` steps.
void grow(RowMatrix& buffer, int width, int length, int capacity) {
    RowMatrix grown = RowMatrix::Zero(buffer.rows(), long(capacity) * width);
    grown.leftCols(long(length) * width) = buffer.leftCols(long(length) * width);
    buffer.swap(grown);
}

}  // namespace

void KeyValueCache::append(const ConstMatrixRef& key, const ConstMatrixRef& value) {
    if (length == 0 && keys.rows() != key.rows()) {
        starts.clear();
        key_dims = static_cast<int>(key.cols());
        value_dims = static_cast<int>(value.cols());
        keys = RowMatrix::Zero(key.rows(), long(cache_capacity(1)) * key_dims);
        values = RowMatrix::Zero(value.rows(), long(cache_capacity(1)) * value_dims);
    }
    if (length == capacity()) {
        const int doubled = grown_cache_capacity(capacity());
        grow(keys, key_dims, length, doubled);
        grow(values, value_dims, length, doubled);
    }
    keys.middleCols(long(length) * key_dims, key_dims) = key;
    values.middleCols(long(length) * value_dims, value_dims) = value;
    ++length;
}

void KeyValueCache::assign(const ConstMatrixRef& all_keys, const ConstMatrixRef& all_values, int key_width,
                           int value_width, int steps) {
    key_dims = key_width;
    value_dims = value_width;
    length = steps;
    starts.clear();
    const int room = cache_capacity(steps);
    keys = RowMatrix::Zero(all_keys.rows(), long(room) * key_dims);
    values = RowMatrix::Zero(all_values.rows(), long(room) * value_dims);
    keys.leftCols(all_keys.cols()) = all_keys;
    values.leftCols(all_values.cols()) = all_values;
}

void KeyValueCache::clear() { *this = KeyValueCache(); }

bool KeyValueCache::has_starts() const {
    return std::any_of(starts.begin(), starts.end(), [](int start) { return start != 0; });
}

Eigen::Map<const RowMatrix> KeyValueCache::head_keys(int row) const {
    return Eigen::Map<const RowMatrix>(keys.row(row).data(), length, key_dims);
}

Eigen::Map<const RowMatrix> KeyValueCache::head_values(int row) const {
    return Eigen::Map<const RowMatrix>(values.row(row).data(), length, value_dims);
}

bool LinearAttentionState::operator==(const LinearAttentionState& o) const {
    return same(sums, o.sums) && same(normalizer, o.normalizer);
}

bool KeyValueCache::operator==(const KeyValueCache& o) const {
    if (length != o.length) return false;
    if ((has_starts() || o.has_starts()) && starts != o.starts) return false;
    if (length == 0) return true;
    return keys.rows() == o.keys.rows() &&
           keys.leftCols(long(length) * key_dims) == o.keys.leftCols(long(o.length) * o.key_dims) &&
           values.leftCols(long(length) * value_dims) == o.values.leftCols(long(o.length) * o.value_dims);
}

const LinearAttentionState& AttentionState::linear() const {
    static const LinearAttentionState none;
    const auto* s = find<LinearAttentionState>();
    return s ? *s : none;
}

const KeyValueCache& AttentionState::cache() const {
    static const KeyValueCache none;
    const auto* s = find<KeyValueCache>();
    return s ? *s : none;
}

bool AttentionState::operator==(const AttentionState& o) const {
    const bool same_kept = kept.index() == o.kept.index() ? kept == o.kept : kept_nothing(*this) && kept_nothing(o);
    return started == o.started && same(omega, o.omega) && same_kept && memory_lengths == o.memory_lengths &&
           same(memory, o.memory);
}

std::size_t AttentionState::bytes() const {
    std::size_t kept_bytes = 0;
    if (const auto* linear = find<LinearAttentionState>())
        kept_bytes = bytes_of(linear->sums) + bytes_of(linear->normalizer);
    if (const auto* cache = find<KeyValueCache>())
        kept_bytes = bytes_of(cache->keys) + bytes_of(cache->values) + cache->starts.size() * sizeof(int);
    return bytes_of(omega) + kept_bytes + bytes_of(memory) + memory_lengths.size() * sizeof(int);
}

std::size_t State::bytes() const {
    std::size_t total = 0;
    for (const auto& layer : layers) total += layer.self_attention.bytes() + layer.cross_attention.bytes();
    return total;
}

bool State::operator==(const State& o) const {
    return layers == o.layers && batch == o.batch && step == o.step && sequence_seed == o.sequence_seed;
}

ScratchHandle::ScratchHandle() = default;
ScratchHandle::~ScratchHandle() = default;
ScratchHandle::ScratchHandle(const ScratchHandle&) {}
ScratchHandle& ScratchHandle::operator=(const ScratchHandle&) { return *this; }
ScratchHandle::ScratchHandle(ScratchHandle&& o) noexcept = default;
ScratchHandle& ScratchHandle::operator=(ScratchHandle&& o) noexcept = default;

StepScratch& ScratchHandle::get() const {
    if (!scratch_) scratch_ = std::make_unique<StepScratch>();
    return *scratch_;
}

}  // namespace stepscope
