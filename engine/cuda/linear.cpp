// Dense layers on the device: row-major products through column-major cuBLAS.
#include "linear.h"

#include <string>

#include "cublas_library.h"
#include "layer_norm_activation.cuh"
#include "stepscope/error.h"

namespace stepscope::cuda {

void check_cublas(cublasStatus_t status, const char* call) {
    if (status != CUBLAS_STATUS_SUCCESS)
        throw Error(std::string("cuBLAS: ") + call + " failed: " + cublas_library().status_string(status));
}

DeviceLinear DeviceLinear::upload(const std::vector<float>& weight, const std::vector<float>& bias, int out, int in,
                                  cudaStream_t stream) {
    if (weight.size() != size_t(out) * in || bias.size() != size_t(out))
        throw Error("device linear layer: " + std::to_string(weight.size()) + " weights and " +
                    std::to_string(bias.size()) + " biases for (" + std::to_string(out) + ", " + std::to_string(in) +
                    ")");
    DeviceLinear linear;
    linear.in = in;
    linear.out = out;
    linear.weight.upload(weight.data(), weight.size(), stream);
    linear.bias.upload(bias.data(), bias.size(), stream);
    return linear;
}

void DeviceLinear::multiply(cublasHandle_t handle, const float* x, int rows, float* y) const {
    // Row-major y (rows, out) is column-major y^T (out, rows) = W x^T, where
    // row-major W (out, in) reads as column-major W^T (in, out), hence OP_T,
    // and row-major x (rows, in) as column-major x^T (in, rows).
    const float one = 1.0f, zero = 0.0f;
    if (bf16_inputs) {
        cudaStream_t stream;
        STEPSCOPE_CUBLAS_CHECK(cublas_library().get_stream(handle, &stream));
        const std::size_t count = std::size_t(rows) * in;
        if (rounded_input.size() < count) rounded_input.allocate(count);
        copy_rounded_to_bf16(x, rounded_input.data(), long(count), stream);
        x = rounded_input.data();
    }
    STEPSCOPE_CUBLAS_CHECK(cublas_library().sgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, weight.data(),
                                                  in, x, in, &zero, y, out));
}

}  // namespace stepscope::cuda
