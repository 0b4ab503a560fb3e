// How much room a softmax key/value cache keeps: one rule for the CPU cache (state.cpp) and the CUDA one
// (cuda/cuda_stepper.cpp), so a state moved between devices keeps its alignment and its growth.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "stepscope/state.h"

namespace stepscope {

// The capacity that holds `steps` time steps: a multiple of KeyValueCache::kCapacityQuantum, at least one.
inline int cache_capacity(int steps) {
    const int q = KeyValueCache::kCapacityQuantum;
    return std::max(q, (steps + q - 1) / q * q);
}

// The capacity a full cache grows to: doubled, so appending is amortised O(1).
inline int grown_cache_capacity(int capacity) { return cache_capacity(2 * capacity); }

// The capacity after `steps` appends from an empty cache, for memory estimates: in doubles, since an
// estimate may be asked about more steps than a cache takes.
inline double appended_cache_capacity(int64_t steps) {
    const double quantum = KeyValueCache::kCapacityQuantum;
    double capacity = quantum;
    while (capacity < double(steps)) capacity = std::ceil(2 * capacity / quantum) * quantum;
    return capacity;
}

}  // namespace stepscope
