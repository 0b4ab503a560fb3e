// A Model's weights on the device, uploaded once, with the constants its kernels need.
#pragma once

#include <optional>
#include <vector>

#include "attention_inputs.cuh"
#include "layer_norm_activation.cuh"
#include "linear.h"
#include "linear_attention.cuh"
#include "stepscope/attention_kind.h"
#include "stepscope/model.h"

namespace stepscope::cuda {

struct DeviceNorm {
    DeviceBuffer<float> weight;  // (E)
    DeviceBuffer<float> bias;    // (E)
};

// One attention module: its inner attention's constants, as the CPU's
// InnerAttention reports them, and its projections.
struct DeviceAttention {
    CudaKernel kernel = CudaKernel::LinearSums;        // which kernels step it, as its kind declares
    FeatureMapKind feature_map = FeatureMapKind::Elu;  // kinds with a feature map only
    int heads = 0, query_dims = 0, value_dims = 0;     // H, D, M
    float eps = 0, temperature = 0;
    DeviceLinear projection;        // self: query, key and value fused (H*D + H*D + H*M, E); cross: query (H*D, E)
    DeviceLinear key_projection;    // cross only: over the memory, (H*D, E_mem)
    DeviceLinear value_projection;  // cross only: (H*M, E_mem)
    DeviceLinear out_projection;    // (E, H*M)

    HeadShape shape(int batch) const { return {batch, heads, query_dims, value_dims}; }
};

struct DeviceLayer {
    DeviceAttention self_attention;
    DeviceAttention cross_attention;  // decoders only
    DeviceLinear linear1;             // (d_ff, E)
    DeviceLinear linear2;             // (E, d_ff)
    DeviceNorm norm1, norm2, norm3;   // norm3: decoders only
};

struct DeviceModel {
    bool decoder = false;
    int d_model = 0;
    ActivationKind activation = ActivationKind::Relu;
    std::vector<DeviceLayer> layers;
    std::optional<DeviceNorm> norm;  // final_normalization
};

// Throws Error naming what the device path does not implement: q8 weights, a
// bfloat16 key/value cache and the random feature maps (favor, rff,
// smoothed-rff, grf) of linear attention.
void require_device_support(const Model& model);

// Every weight under its reference name from Model::tensors(); with
// precision bf16 the linear weights are rounded to bfloat16 first, and each
// product rounds its input, as the CPU's Linear does, so both devices multiply
// the same numbers.
DeviceModel upload_model(const Model& model, cudaStream_t stream);

}  // namespace stepscope::cuda
