// The recurrent state of a model: per layer, linear-attention sums or a key/value cache.
//
// A State is a value. Copy it to branch a run, compare it, save it
// (snapshot.h); the Model that steps it never changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "stepscope/config.h"
#include "stepscope/types.h"

namespace stepscope {

// Linear attention's fixed-size state, per batch element n and head h:
//   S[n, h] = sum_t phi(k_t) v_t^T  (D, M),   Z[n, h] = sum_t phi(k_t)  (D)
// where D is the feature map's width.
struct LinearAttentionState {
    RowMatrix sums;        // S, (N*H*D, M): rows ordered (n, h, d)
    RowMatrix normalizer;  // Z, (N*H, D)

    bool operator==(const LinearAttentionState& other) const;
};

// Softmax attention's growing cache. Row n*H + h holds that head's keys
// (capacity, D) and values (capacity, M) back to back; the first `length`
// time steps are valid. Capacity grows geometrically, so appending is
// amortised O(1) and most steps allocate nothing. Capacity is always a
// multiple of kCapacityQuantum, so every head's row starts equally aligned
// whatever the history: vectorised sums then round the same way, and a
// restored snapshot continues bit for bit.
//
// A bf16 cache (CachePrecision::Bf16) keeps keys and values rounded to
// bfloat16 in keys_bf16 and values_bf16, the float buffers empty: a step then
// reads half the bytes. An f32 cache keeps the bf16 buffers empty.
//
// A head whose cache was cleared (clear_head_cache) attends only to the steps
// from its start on: the steps before stay in the buffers, zeroed, because all
// heads share one length. Row n*H + h's start is starts[n*H + h]; empty
// `starts` means every head starts at 0, as in a run that cleared no head.
struct KeyValueCache {
    CachePrecision precision = CachePrecision::F32;
    RowMatrix keys;           // f32: (N*H, capacity*D)
    RowMatrix values;         // f32: (N*H, capacity*M)
    Bf16Matrix keys_bf16;     // bf16: (N*H, capacity*D)
    Bf16Matrix values_bf16;   // bf16: (N*H, capacity*M)
    int key_dims = 0;         // D
    int value_dims = 0;       // M
    int length = 0;           // T
    std::vector<int> starts;  // (N*H) in 0..T, or empty

    static constexpr int kCapacityQuantum = 16;
    // Steps and capacity are ints, and the capacity doubles: the most steps a cache takes.
    static constexpr int kMaxLength = 1 << 29;

    bool bf16() const { return precision == CachePrecision::Bf16; }
    // N*H, whichever buffers hold the cache.
    long rows() const { return bf16() ? keys_bf16.rows() : keys.rows(); }
    int capacity() const;
    // The first step row n*H + h attends to.
    int start(int row) const { return starts.empty() ? 0 : starts[size_t(row)]; }
    // Whether some head starts after step 0.
    bool has_starts() const;

    // key (N*H, D), value (N*H, M) become time step `length`, stored in `precision` (an empty
    // cache takes `cache_precision`, the model's).
    void append(const ConstMatrixRef& key, const ConstMatrixRef& value, CachePrecision cache_precision);
    // Replaces the contents: keys (N*H, T*D), values (N*H, T*M), stored in `cache_precision`; every
    // head starts at 0.
    void assign(const ConstMatrixRef& all_keys, const ConstMatrixRef& all_values, int key_width, int value_width,
                int steps, CachePrecision cache_precision = CachePrecision::F32);
    void clear();
    // Zeroes row n*H + h, or every row; the length and capacity stay.
    void zero_row(long row);
    void zero_all();
    // The first `length` steps of row n*H + h as float (T, D) and (T, M) copies.
    RowMatrix head_keys(int row) const;
    RowMatrix head_values(int row) const;
    // Their Frobenius norms, read in place.
    float head_keys_norm(int row) const;
    float head_values_norm(int row) const;

    // Only the precision, the valid steps and the starts count; capacity is an implementation detail.
    bool operator==(const KeyValueCache& other) const;
};

// The state of one attention module. `started` is false for a new sequence:
// the reference's `state is None`.
struct AttentionState {
    bool started = false;
    RowMatrix omega;  // (D, C): a random feature map's draw for this sequence
    // What the module's attention kind keeps (attention_kind.h): nothing before its first step,
    // S and Z for the linear kinds, a key/value cache for softmax (cross: the projected memory, length S).
    std::variant<std::monostate, LinearAttentionState, KeyValueCache> kept;
    std::vector<int> memory_lengths;  // cross only: valid memory elements per sequence
    RowMatrix memory;                 // cross only: the memory the state was built from, (N*S, E)

    // The kept state as `Kept`; an empty one replaces what is kept when it is another kind's.
    template <typename Kept>
    Kept& as() {
        if (!std::holds_alternative<Kept>(kept)) kept.template emplace<Kept>();
        return std::get<Kept>(kept);
    }
    // The kept state if it is a `Kept`, else null.
    template <typename Kept>
    const Kept* find() const {
        return std::get_if<Kept>(&kept);
    }
    LinearAttentionState& linear() { return as<LinearAttentionState>(); }
    KeyValueCache& cache() { return as<KeyValueCache>(); }
    // An empty one when the state keeps something else, as a state of another kind holds no sums.
    const LinearAttentionState& linear() const;
    const KeyValueCache& cache() const;

    bool operator==(const AttentionState& other) const;
    std::size_t bytes() const;
};

enum class AttentionRole { Self, Cross };

struct LayerState {
    AttentionState self_attention;
    AttentionState cross_attention;  // decoders only
    AttentionState& attention(AttentionRole role) {
        return role == AttentionRole::Self ? self_attention : cross_attention;
    }
    const AttentionState& attention(AttentionRole role) const {
        return role == AttentionRole::Self ? self_attention : cross_attention;
    }
    bool operator==(const LayerState& other) const {
        return self_attention == other.self_attention && cross_attention == other.cross_attention;
    }
};

// Reusable buffers of a step. Not part of the value: copying a State gives
// the copy its own empty scratch, so two branches never share buffers.
struct StepScratch;
class ScratchHandle {
public:
    ScratchHandle();
    ~ScratchHandle();
    ScratchHandle(const ScratchHandle&);
    ScratchHandle& operator=(const ScratchHandle&);
    ScratchHandle(ScratchHandle&&) noexcept;
    ScratchHandle& operator=(ScratchHandle&&) noexcept;
    StepScratch& get() const;  // created on first use, also after a move

private:
    mutable std::unique_ptr<StepScratch> scratch_;
};

struct State {
    std::vector<LayerState> layers;
    int batch = 0;               // N, fixed by the first step of a sequence
    int64_t step = 0;            // sequence elements consumed
    uint64_t sequence_seed = 0;  // seeds random feature map draws of this sequence
    ScratchHandle scratch;

    bool empty() const { return step == 0; }
    // Bytes held by the state's tensors (capacity, not just the valid part).
    std::size_t bytes() const;
    bool operator==(const State& other) const;
    bool operator!=(const State& other) const { return !(*this == other); }
};

}  // namespace stepscope
