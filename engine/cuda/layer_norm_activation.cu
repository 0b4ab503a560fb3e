// LayerNorm fused with the residual and the bias of the product before it; bias plus relu or gelu.
#include "cuda_check.h"
#include "layer_norm_activation.cuh"
#include "reduce.cuh"

namespace stepscope::cuda {

namespace {

// One block per row; three passes over the row, which stays in L1: the
// residual sum and its mean, the variance about the mean, the normalisation.
__global__ void residual_layer_norm_kernel(float* x, const float* y, const float* y_bias, const float* weight,
                                           const float* bias, float eps, int width) {
    __shared__ float partial[32];
    float* row = x + long(blockIdx.x) * width;
    const float* added = y ? y + long(blockIdx.x) * width : nullptr;
    float sum = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        if (added) row[i] += added[i] + y_bias[i];
        sum += row[i];
    }
    const float mean = block_sum(sum, partial) / width;
    float squares = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) squares += (row[i] - mean) * (row[i] - mean);
    const float inverse = 1.0f / sqrtf(block_sum(squares, partial) / width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) row[i] = (row[i] - mean) * inverse * weight[i] + bias[i];
}

__global__ void bias_activation_kernel(float* x, const float* bias, ActivationKind activation, long count, int width) {
    for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < count; i += long(gridDim.x) * blockDim.x) {
        const float v = x[i] + bias[i % width];
        x[i] = activation == ActivationKind::Relu ? fmaxf(v, 0.0f) : 0.5f * v * (1.0f + erff(v * float(M_SQRT1_2)));
    }
}

__global__ void round_to_bf16_kernel(const float* x, float* out, long count) {
    for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < count; i += long(gridDim.x) * blockDim.x) {
        const unsigned bits = __float_as_uint(x[i]);
        const unsigned rounded = (bits & 0x7fffffffu) > 0x7f800000u
                                     ? (bits | 0x400000u) & 0xffff0000u
                                     : (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
        out[i] = __uint_as_float(rounded);
    }
}

// Enough blocks of 256 threads for `count` elements, at most the grid's 65,535.
int blocks_for(long count) {
    const long blocks = (count + 255) / 256;
    return int(blocks < 65535 ? blocks : 65535);
}

}  // namespace

void residual_layer_norm(float* x, const float* y, const float* y_bias, const float* weight, const float* bias,
                         float eps, int rows, int width, cudaStream_t stream) {
    residual_layer_norm_kernel<<<rows, threads_for(width, 256), 0, stream>>>(x, y, y_bias, weight, bias, eps, width);
    check_launch("residual layer norm kernel");
}

void bias_activation(float* x, const float* bias, ActivationKind activation, int rows, int width, cudaStream_t stream) {
    const long count = long(rows) * width;
    bias_activation_kernel<<<blocks_for(count), 256, 0, stream>>>(x, bias, activation, count, width);
    check_launch("bias activation kernel");
}

void copy_rounded_to_bf16(const float* x, float* out, long count, cudaStream_t stream) {
    round_to_bf16_kernel<<<blocks_for(count), 256, 0, stream>>>(x, out, count);
    check_launch("bfloat16 rounding kernel");
}

cudaError_t kernel_image_status() {
    cudaFuncAttributes attributes;
    return cudaFuncGetAttributes(&attributes, residual_layer_norm_kernel);
}

}  // namespace stepscope::cuda
