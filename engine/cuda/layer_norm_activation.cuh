// The elementwise parts of a layer on the device: the post-norm residual with LayerNorm, and bias plus activation.
#pragma once

#include <cuda_runtime_api.h>

namespace stepscope::cuda {

// The feed-forward activations, as stepscope::Activation (config.h),
// which this header does not include to keep Eigen out of nvcc.
enum class ActivationKind { Relu, Gelu };

// x (N, E) in place: x = LayerNorm(x + y + y_bias), the post-norm residual,
// where y (N, E) is a cuBLAS product still without its bias y_bias (E).
// y null: x = LayerNorm(x), the final norm. LayerNorm(v) = (v - mean) /
// sqrt(var + eps) * weight + bias over each row, var biased as torch's.
// CPU reference: `x += out; norm.apply(x)` and LayerNorm::apply (encoder.cpp, normalization.cpp).
void residual_layer_norm(float* x, const float* y, const float* y_bias, const float* weight, const float* bias,
                         float eps, int rows, int width, cudaStream_t stream);

// x (N, F) in place: x = act(x + bias). relu, or gelu(v) = v/2 (1 + erf(v / sqrt 2)) exactly, as F.gelu.
// CPU reference: Linear::forward's bias and apply_activation (linear.cpp, normalization.cpp).
void bias_activation(float* x, const float* bias, ActivationKind activation, int rows, int width, cudaStream_t stream);

// out (count) = x rounded to bfloat16 (to nearest even, a NaN stays a quiet NaN), as floats: the input of a
// bfloat16 product. CPU reference: round_to_bf16 (bfloat16.h).
void copy_rounded_to_bf16(const float* x, float* out, long count, cudaStream_t stream);

// cudaSuccess when this build holds code the current device can run;
// cudaErrorNoKernelImageForDevice when CMAKE_CUDA_ARCHITECTURES missed it.
cudaError_t kernel_image_status();

}  // namespace stepscope::cuda
