// The state value: key/value cache growth, equality, size in bytes, per-copy scratch.
#include "stepscope/state.h"


#include "cache_capacity.h"
#include "step_scratch.h"

namespace stepscope {

namespace {

bool same(const RowMatrix& a, const RowMatrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.size() == 0 || a == b);
}

std::size_t bytes_of(const RowMatrix& m) { return static_cast<std::size_t>(m.size()) * sizeof(float); }

// Copies the first `length` steps of each row into a buffer of `capacity` steps.
void grow(RowMatrix& buffer, int width, int length, int capacity) {
    RowMatrix grown = RowMatrix::Zero(buffer.rows(), long(capacity) * width);
    grown.leftCols(long(length) * width) = buffer.leftCols(long(length) * width);
    buffer.swap(grown);
}

}  // namespace

void KeyValueCache::append(const ConstMatrixRef& key, const ConstMatrixRef& value) {
    if (length == 0 && keys.rows() != key.rows()) {
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
    const int room = cache_capacity(steps);
    keys = RowMatrix::Zero(all_keys.rows(), long(room) * key_dims);
    values = RowMatrix::Zero(all_values.rows(), long(room) * value_dims);
    keys.leftCols(all_keys.cols()) = all_keys;
    values.leftCols(all_values.cols()) = all_values;
}

void KeyValueCache::clear() { *this = KeyValueCache(); }

Eigen::Map<const RowMatrix> KeyValueCache::head_keys(int row) const {
    return Eigen::Map<const RowMatrix>(keys.row(row).data(), length, key_dims);
}

Eigen::Map<const RowMatrix> KeyValueCache::head_values(int row) const {
    return Eigen::Map<const RowMatrix>(values.row(row).data(), length, value_dims);
}

bool AttentionState::operator==(const AttentionState& o) const {
    // Only the valid part of a cache counts; capacity is an implementation detail.
    auto cache_equal = [](const KeyValueCache& a, const KeyValueCache& b) {
        if (a.length != b.length) return false;
        if (a.length == 0) return true;
        return a.keys.rows() == b.keys.rows() &&
               a.keys.leftCols(long(a.length) * a.key_dims) == b.keys.leftCols(long(b.length) * b.key_dims) &&
               a.values.leftCols(long(a.length) * a.value_dims) == b.values.leftCols(long(b.length) * b.value_dims);
    };
    return started == o.started && same(omega, o.omega) && same(linear.sums, o.linear.sums) &&
           same(linear.normalizer, o.linear.normalizer) && cache_equal(cache, o.cache) &&
           memory_lengths == o.memory_lengths && same(memory, o.memory);
}

std::size_t AttentionState::bytes() const {
    return bytes_of(omega) + bytes_of(linear.sums) + bytes_of(linear.normalizer) + bytes_of(cache.keys) +
           bytes_of(cache.values) + bytes_of(memory) + memory_lengths.size() * sizeof(int);
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
