// Softmax attention on the device: one query per head over a key/value cache, and the cache of a decoder's memory.
#pragma once

#include <cuda_runtime_api.h>

#include "attention_inputs.cuh"

namespace stepscope::cuda {

// A head-major cache as the CPU's KeyValueCache: row r = n*H + h holds its
// keys (capacity, D) in `keys` (N*H, capacity*D) and values (capacity, M) in
// `values` (N*H, capacity*M); the first `length` time steps are valid.
struct DeviceCache {
    float* keys;
    float* values;
    int capacity;
    int length;
};

// For every head row r:
//   with a key (in.key_offset >= 0): appends (k, v) as time step length - 1
//   a = softmax(temperature * K q) over the first valid keys, out = V^T a
// where valid is lengths[n] (cross attention's memory lengths, on the device)
// or, with lengths null, cache.length. weights (N*H, weights_stride) receives
// a over cache.length columns, masked keys 0; out (N, H*M) = (N*H, M).
// CPU reference: KeyValueCache::append and full_attention (state.cpp, attention_kernels.cpp).
void full_attention_step(const ProjectedHeads& in, const HeadShape& shape, float temperature, DeviceCache cache,
                         const int* lengths, float* weights, int weights_stride, float* out, cudaStream_t stream);

// One projected memory tensor into a cache half: projected (N*S, H*width)
// rows (n, s) plus bias (H*width) -> cache (N*H, capacity*width), time step s.
// CPU reference: the full branch of RecurrentCrossAttentionLayer::start (attention_layer.cpp).
void memory_to_cache(const float* projected, const float* bias, int batch, int length, int heads, int width,
                     int capacity, float* cache, cudaStream_t stream);

}  // namespace stepscope::cuda
