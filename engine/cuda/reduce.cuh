// Block-wide sum and maximum for this folder's kernels: warp shuffles, then one partial per warp in shared memory.
#pragma once

namespace stepscope::cuda {

struct Sum {
    __device__ float operator()(float a, float b) const { return a + b; }
};
struct Max {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <typename Op>
__device__ inline float warp_reduce(float value, Op op) {
    for (int offset = 16; offset > 0; offset >>= 1) value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}

// Every thread of the block passes its value and receives the block's total.
// blockDim.x is a multiple of 32; `partial` is 32 floats of shared memory,
// free again when this returns to all threads (the leading barrier keeps a
// previous reduction's readers from seeing this one's partials).
template <typename Op>
__device__ inline float block_reduce(float value, float* partial, Op op, float identity) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    value = warp_reduce(value, op);
    __syncthreads();
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    return warp_reduce(lane < warps ? partial[lane] : identity, op);
}

__device__ inline float block_sum(float value, float* partial) { return block_reduce(value, partial, Sum{}, 0.0f); }
__device__ inline float block_max(float value, float* partial) {
    return block_reduce(value, partial, Max{}, -INFINITY);
}

// Threads for a block that loops over `width` elements: a whole number of warps, at most `cap`.
inline int threads_for(int width, int cap) {
    const int warps = (width + 31) / 32;
    return 32 * (warps < 1 ? 1 : warps > cap / 32 ? cap / 32 : warps);
}

}  // namespace stepscope::cuda
