// A dense layer's weights on the device and its product by cuBLAS; the kernel that reads the product adds the bias.
#pragma once

#include <cublas_v2.h>

#include <vector>

#include "device_buffer.h"

namespace stepscope::cuda {

void check_cublas(cublasStatus_t status, const char* call);

struct DeviceLinear {
    int in = 0;
    int out = 0;
    DeviceBuffer<float> weight;  // (out, in) row-major, as the reference stores it
    DeviceBuffer<float> bias;    // (out)
    // bfloat16 weights (rounded on upload): the input is rounded too, into `rounded_input`, as the CPU's
    // bfloat16 product rounds it. Grown on the first product of each size, then reused.
    bool bf16_inputs = false;
    mutable DeviceBuffer<float> rounded_input;

    // weight (out*in) row-major and bias (out) from the host.
    static DeviceLinear upload(const std::vector<float>& weight, const std::vector<float>& bias, int out, int in,
                               cudaStream_t stream);

    // y (rows, out) = x (rows, in) W^T, without the bias, which the next
    // kernel adds as it reads y (one pass fewer per layer). Runs on the handle's stream.
    // CPU reference: Linear::forward (linear.cpp).
    void multiply(cublasHandle_t handle, const float* x, int rows, float* y) const;
};

}  // namespace stepscope::cuda

#define STEPSCOPE_CUBLAS_CHECK(call) ::stepscope::cuda::check_cublas((call), #call)
