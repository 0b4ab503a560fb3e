// The state value: key/value cache growth, equality, size in bytes, per-copy scratch.
#include "stepscope/state.h"

#include <algorithm>

#include "kernels/bfloat16.h"
#include "kernels/cache_capacity.h"
#include "layers/step_scratch.h"

namespace stepscope {

namespace {

bool same(const RowMatrix& a, const RowMatrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.size() == 0 || a == b);
}

template <typename Matrix>
std::size_t bytes_of(const Matrix& m) {
    return static_cast<std::size_t>(m.size()) * sizeof(typename Matrix::Scalar);
}

// Nothing kept compares equal to an empty state of either kind, as it did when every kind's fields were kept.
bool kept_nothing(const AttentionState& s) {
    if (const auto* linear = s.find<LinearAttentionState>())
        return linear->sums.size() == 0 && linear->normalizer.size() == 0;
    if (const auto* cache = s.find<KeyValueCache>()) return cache->length == 0;
    return true;
}

// Copies the first `length` steps of each row into a buffer of `capacity` steps.
template <typename Matrix>
void grow(Matrix& buffer, int width, int length, int capacity) {
    Matrix grown = Matrix::Zero(buffer.rows(), long(capacity) * width);
    grown.leftCols(long(length) * width) = buffer.leftCols(long(length) * width);
    buffer.swap(grown);
}

// Writes floats `source` (R, C) into `target`'s columns from `column` on, rounded to bfloat16 for a bf16 buffer.
void put(RowMatrix& target, long column, const ConstMatrixRef& source) {
    target.middleCols(column, source.cols()) = source;
}
void put(Bf16Matrix& target, long column, const ConstMatrixRef& source) {
    target.middleCols(column, source.cols()) = source.unaryExpr([](float v) { return to_bf16(v); });
}

// Row `row`'s first `steps` steps of `width` as floats (T, width): a float buffer's in place, a bf16 one's widened.
Eigen::Map<const RowMatrix> head_of(const RowMatrix& buffer, long row, int steps, int width) {
    return {buffer.row(row).data(), steps, width};
}
RowMatrix head_of(const Bf16Matrix& buffer, long row, int steps, int width) {
    return Eigen::Map<const Bf16Matrix>(buffer.row(row).data(), steps, width).unaryExpr([](uint16_t v) {
        return from_bf16(v);
    });
}

// Appends one step to `buffer` (rows, capacity*width) holding `length` steps, doubling it when full.
template <typename Matrix>
void append_step(Matrix& buffer, const ConstMatrixRef& step, int length) {
    const long width = step.cols();
    if ((length + 1) * width > buffer.cols()) grow(buffer, int(width), length, grown_cache_capacity(length));
    put(buffer, length * width, step);
}

// A buffer of contents.rows() rows with room for `steps` steps of `width`, its first columns `contents`.
template <typename Matrix>
Matrix filled(const ConstMatrixRef& contents, long width, int steps) {
    Matrix buffer = Matrix::Zero(contents.rows(), long(cache_capacity(steps)) * width);
    put(buffer, 0, contents);
    return buffer;
}

}  // namespace

int KeyValueCache::capacity() const {
    if (!key_dims) return 0;
    return static_cast<int>((bf16() ? keys_bf16.cols() : keys.cols()) / key_dims);
}

void KeyValueCache::append(const ConstMatrixRef& key, const ConstMatrixRef& value, CachePrecision cache_precision) {
    if (length == 0 && (rows() != key.rows() || precision != cache_precision)) {
        const RowMatrix none(key.rows(), 0);
        assign(none, RowMatrix(value.rows(), 0), static_cast<int>(key.cols()), static_cast<int>(value.cols()), 0,
               cache_precision);
    }
    if (bf16()) {
        append_step(keys_bf16, key, length);
        append_step(values_bf16, value, length);
    } else {
        append_step(keys, key, length);
        append_step(values, value, length);
    }
    ++length;
}

void KeyValueCache::assign(const ConstMatrixRef& all_keys, const ConstMatrixRef& all_values, int key_width,
                           int value_width, int steps, CachePrecision cache_precision) {
    precision = cache_precision;
    key_dims = key_width;
    value_dims = value_width;
    length = steps;
    starts.clear();
    keys = values = RowMatrix();
    keys_bf16 = values_bf16 = Bf16Matrix();
    if (bf16()) {
        keys_bf16 = filled<Bf16Matrix>(all_keys, key_dims, steps);
        values_bf16 = filled<Bf16Matrix>(all_values, value_dims, steps);
    } else {
        keys = filled<RowMatrix>(all_keys, key_dims, steps);
        values = filled<RowMatrix>(all_values, value_dims, steps);
    }
}

void KeyValueCache::clear() { *this = KeyValueCache(); }

void KeyValueCache::zero_row(long row) {
    if (bf16()) {
        keys_bf16.row(row).setZero();
        values_bf16.row(row).setZero();
    } else {
        keys.row(row).setZero();
        values.row(row).setZero();
    }
}

void KeyValueCache::zero_all() {
    keys.setZero();
    values.setZero();
    keys_bf16.setZero();
    values_bf16.setZero();
}

bool KeyValueCache::has_starts() const {
    return std::any_of(starts.begin(), starts.end(), [](int start) { return start != 0; });
}

RowMatrix KeyValueCache::head_keys(int row) const {
    return bf16() ? head_of(keys_bf16, row, length, key_dims) : RowMatrix(head_of(keys, row, length, key_dims));
}

RowMatrix KeyValueCache::head_values(int row) const {
    return bf16() ? head_of(values_bf16, row, length, value_dims) : RowMatrix(head_of(values, row, length, value_dims));
}

float KeyValueCache::head_keys_norm(int row) const {
    return bf16() ? head_of(keys_bf16, row, length, key_dims).norm() : head_of(keys, row, length, key_dims).norm();
}

float KeyValueCache::head_values_norm(int row) const {
    return bf16() ? head_of(values_bf16, row, length, value_dims).norm()
                  : head_of(values, row, length, value_dims).norm();
}

bool LinearAttentionState::operator==(const LinearAttentionState& o) const {
    return same(sums, o.sums) && same(normalizer, o.normalizer);
}

bool KeyValueCache::operator==(const KeyValueCache& o) const {
    if (length != o.length) return false;
    if ((has_starts() || o.has_starts()) && starts != o.starts) return false;
    if (length == 0) return true;
    if (precision != o.precision || rows() != o.rows() || key_dims != o.key_dims || value_dims != o.value_dims)
        return false;
    const long key_columns = long(length) * key_dims, value_columns = long(length) * value_dims;
    if (bf16())
        return keys_bf16.leftCols(key_columns) == o.keys_bf16.leftCols(key_columns) &&
               values_bf16.leftCols(value_columns) == o.values_bf16.leftCols(value_columns);
    return keys.leftCols(key_columns) == o.keys.leftCols(key_columns) &&
           values.leftCols(value_columns) == o.values.leftCols(value_columns);
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
        kept_bytes = bytes_of(cache->keys) + bytes_of(cache->values) + bytes_of(cache->keys_bf16) +
                     bytes_of(cache->values_bf16) + cache->starts.size() * sizeof(int);
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
