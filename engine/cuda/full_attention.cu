// Softmax attention kernels: append to the cache, three passes over it, and a decoder's memory laid out as a cache.
#include "cuda_check.h"
#include "full_attention.cuh"
#include "reduce.cuh"

namespace stepscope::cuda {

namespace {

constexpr int kThreads = 128;

// One block per head row r = n*H + h. Shared memory: q (D), then kThreads
// floats for the reductions' partials and pass 3's per-group sums.
__global__ void step_kernel(ProjectedHeads in, HeadShape shape, float temperature, DeviceCache cache,
                            const int* lengths, float* weights, int weights_stride, float* out) {
    const int r = blockIdx.x, n = r / shape.heads, h = r % shape.heads;
    const int D = shape.query_dims, M = shape.value_dims, T = cache.length;
    extern __shared__ float shared[];
    float* q = shared;
    float* partial = q + D;

    const float* row = in.projected + long(n) * in.width;
    float* K = cache.keys + long(r) * cache.capacity * D;
    float* V = cache.values + long(r) * cache.capacity * M;
    const int q0 = in.query_offset + h * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) q[d] = row[q0 + d] + in.bias[q0 + d];
    if (in.key_offset >= 0) {
        const int k0 = in.key_offset + h * D, v0 = in.value_offset + h * M;
        for (int d = threadIdx.x; d < D; d += blockDim.x) K[long(T - 1) * D + d] = row[k0 + d] + in.bias[k0 + d];
        for (int m = threadIdx.x; m < M; m += blockDim.x) V[long(T - 1) * M + m] = row[v0 + m] + in.bias[v0 + m];
    }
    __syncthreads();  // q, and the appended key and value, visible to the whole block
    const int valid = lengths ? lengths[n] : T;
    float* a = weights + long(r) * weights_stride;

    // pass 1: query dot keys, scaled; one warp per key, its lanes over d
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int t = warp; t < valid; t += warps) {
        float dot = 0.0f;
        for (int d = lane; d < D; d += 32) dot += q[d] * K[long(t) * D + d];
        dot = warp_reduce(dot, Sum{});
        if (lane == 0) a[t] = temperature * dot;
    }
    __syncthreads();

    // pass 2: softmax over the valid keys, masked ones weigh 0; each thread
    // revisits the same t in every loop, so only the reductions need barriers
    float top = -INFINITY;
    for (int t = threadIdx.x; t < valid; t += blockDim.x) top = fmaxf(top, a[t]);
    top = block_max(top, partial);
    float total = 0.0f;
    for (int t = threadIdx.x; t < valid; t += blockDim.x) total += a[t] = expf(a[t] - top);
    total = block_sum(total, partial);
    for (int t = threadIdx.x; t < T; t += blockDim.x) a[t] = t < valid ? a[t] / total : 0.0f;
    __syncthreads();

    // pass 3: out = V^T a. Groups of M threads split the keys, a thread per
    // column m, so each group reads rows of V coalesced; then the groups' sums
    // are added. A block narrower than M loops over m as one group.
    float* o = out + long(r) * M;
    const int groups = blockDim.x >= M ? blockDim.x / M : 1;
    if (groups == 1) {
        for (int m = threadIdx.x; m < M; m += blockDim.x) {
            float acc = 0.0f;
            for (int t = 0; t < valid; ++t) acc += a[t] * V[long(t) * M + m];
            o[m] = acc;
        }
        return;
    }
    const int g = threadIdx.x / M, m = threadIdx.x % M;
    float acc = 0.0f;
    if (g < groups)
        for (int t = g; t < valid; t += groups) acc += a[t] * V[long(t) * M + m];
    float* group_sums = partial;  // groups * M <= blockDim.x floats
    if (g < groups) group_sums[g * M + m] = acc;
    __syncthreads();
    if (g == 0) {
        float sum = 0.0f;
        for (int k = 0; k < groups; ++k) sum += group_sums[k * M + m];
        o[m] = sum;
    }
}

// One block per memory row n*S + s; its threads over the H*width columns.
__global__ void memory_to_cache_kernel(const float* projected, const float* bias, int length, int heads, int width,
                                       int capacity, float* cache) {
    const int n = blockIdx.x / length, s = blockIdx.x % length;
    const float* source = projected + long(blockIdx.x) * heads * width;
    for (int i = threadIdx.x; i < heads * width; i += blockDim.x) {
        const int h = i / width, d = i % width;
        cache[(long(n) * heads + h) * capacity * width + long(s) * width + d] = source[i] + bias[i];
    }
}

}  // namespace

void full_attention_step(const ProjectedHeads& in, const HeadShape& shape, float temperature, DeviceCache cache,
                         const int* lengths, float* weights, int weights_stride, float* out, cudaStream_t stream) {
    const size_t shared = (shape.query_dims + kThreads) * sizeof(float);
    step_kernel<<<shape.batch * shape.heads, kThreads, shared, stream>>>(in, shape, temperature, cache, lengths,
                                                                         weights, weights_stride, out);
    check_launch("full attention step kernel");
}

void memory_to_cache(const float* projected, const float* bias, int batch, int length, int heads, int width,
                     int capacity, float* cache, cudaStream_t stream) {
    memory_to_cache_kernel<<<batch * length, threads_for(heads * width, 256), 0, stream>>>(projected, bias, length,
                                                                                           heads, width, capacity,
                                                                                           cache);
    check_launch("memory to cache kernel");
}

}  // namespace stepscope::cuda
