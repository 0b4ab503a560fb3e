// Linear attention kernels: the fused update-and-readout of a step, and the sums over a decoder's memory.
#include "cuda_check.h"
#include "linear_attention.cuh"
#include "reduce.cuh"

namespace stepscope::cuda {

namespace {

// As the CPU's feature maps (feature_map.cpp): elu(x) + 1 is x + 1 above 0
// and exp(x) below, which stays positive where expm1(x) + 1 would round to 0.
__device__ inline float phi(float x, FeatureMapKind map) {
    if (map == FeatureMapKind::Elu) return x > 0.0f ? x + 1.0f : expf(x);
    return fmaxf(x, 0.0f);
}

// One block per head row r = n*H + h; the threads loop over d for Z and over m for S.
// Shared memory: phi(q) (D), phi(k) (D), v (M), 32 partials.
__global__ void step_kernel(ProjectedHeads in, HeadShape shape, FeatureMapKind map, float eps, float* sums,
                            float* normalizer, float* out) {
    const int r = blockIdx.x, n = r / shape.heads, h = r % shape.heads;
    const int D = shape.query_dims, M = shape.value_dims;
    const bool update = in.key_offset >= 0;
    extern __shared__ float shared[];
    float* phi_q = shared;
    float* phi_k = phi_q + D;
    float* v = phi_k + D;
    float* partial = v + M;

    const float* row = in.projected + long(n) * in.width;
    const int q0 = in.query_offset + h * D, k0 = in.key_offset + h * D, v0 = in.value_offset + h * M;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        phi_q[d] = phi(row[q0 + d] + in.bias[q0 + d], map);
        if (update) phi_k[d] = phi(row[k0 + d] + in.bias[k0 + d], map);
    }
    if (update)
        for (int m = threadIdx.x; m < M; m += blockDim.x) v[m] = row[v0 + m] + in.bias[v0 + m];
    __syncthreads();

    // Z += phi(k), then phi(q) . Z over the updated Z
    float* Z = normalizer + long(r) * D;
    float dot = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float z = Z[d];
        if (update) Z[d] = z += phi_k[d];
        dot += phi_q[d] * z;
    }
    const float normaliser = 1.0f / (block_sum(dot, partial) + eps);

    // S += phi(k) v^T, then out = phi(q)^T S: column m of S per thread, so a
    // warp reads each row of S in one coalesced access.
    float* S = sums + long(r) * D * M;
    for (int m = threadIdx.x; m < M; m += blockDim.x) {
        float acc = 0.0f;
        for (int d = 0; d < D; ++d) {
            float s = S[long(d) * M + m];
            if (update) S[long(d) * M + m] = s += phi_k[d] * v[m];
            acc += phi_q[d] * s;
        }
        out[long(r) * M + m] = normaliser * acc;
    }
}

// One block per head row r = n*H + h; a thread per entry (d, m) of S sums
// over the valid memory in order of s, as the CPU does.
__global__ void memory_kernel(const float* keys, const float* key_bias, const float* values, const float* value_bias,
                              const int* lengths, int length, HeadShape shape, FeatureMapKind map, float* sums,
                              float* normalizer) {
    const int r = blockIdx.x, n = r / shape.heads, h = r % shape.heads;
    const int D = shape.query_dims, M = shape.value_dims, H = shape.heads, valid = lengths[n];
    const float* k = keys + long(n) * length * H * D + h * D;    // row s at k + s*H*D
    const float* v = values + long(n) * length * H * M + h * M;  // row s at v + s*H*M
    const float* kb = key_bias + h * D;
    const float* vb = value_bias + h * M;
    for (int i = threadIdx.x; i < D * M; i += blockDim.x) {
        const int d = i / M, m = i % M;
        float acc = 0.0f;
        for (int s = 0; s < valid; ++s)
            acc += phi(k[long(s) * H * D + d] + kb[d], map) * (v[long(s) * H * M + m] + vb[m]);
        sums[long(r) * D * M + i] = acc;
    }
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s < valid; ++s) acc += phi(k[long(s) * H * D + d] + kb[d], map);
        normalizer[long(r) * D + d] = acc;
    }
}

}  // namespace

void linear_attention_step(const ProjectedHeads& in, const HeadShape& shape, FeatureMapKind map, float eps, float* sums,
                           float* normalizer, float* out, cudaStream_t stream) {
    const int D = shape.query_dims, M = shape.value_dims;
    const int threads = threads_for(D > M ? D : M, 256);
    const size_t shared = (2 * D + M + 32) * sizeof(float);
    step_kernel<<<shape.batch * shape.heads, threads, shared, stream>>>(in, shape, map, eps, sums, normalizer, out);
    check_launch("linear attention step kernel");
}

void linear_attention_memory(const float* keys, const float* key_bias, const float* values, const float* value_bias,
                             const int* lengths, int length, const HeadShape& shape, FeatureMapKind map, float* sums,
                             float* normalizer, cudaStream_t stream) {
    const int threads = threads_for(shape.query_dims * shape.value_dims, 256);
    memory_kernel<<<shape.batch * shape.heads, threads, 0, stream>>>(keys, key_bias, values, value_bias, lengths,
                                                                     length, shape, map, sums, normalizer);
    check_launch("linear attention memory kernel");
}

}  // namespace stepscope::cuda
