// The Frobenius norm of each row span of a state tensor, one block per row.
#include "cuda_check.h"
#include "reduce.cuh"
#include "state_norms.cuh"

namespace stepscope::cuda {

namespace {

__global__ void row_norms_kernel(const float* data, long stride, long count, float* out) {
    __shared__ float partial[32];
    const float* row = data + long(blockIdx.x) * stride;
    float sum = 0.0f;
    for (long i = threadIdx.x; i < count; i += blockDim.x) sum += row[i] * row[i];
    sum = block_sum(sum, partial);
    if (threadIdx.x == 0) out[blockIdx.x] = sqrtf(sum);
}

}  // namespace

void row_norms(const float* data, int rows, long stride, long count, float* out, cudaStream_t stream) {
    if (rows == 0) return;
    row_norms_kernel<<<rows, 256, 0, stream>>>(data, stride, count, out);
    check_launch("row norms kernel");
}

}  // namespace stepscope::cuda
