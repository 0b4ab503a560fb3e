// Linear attention on the device: a step's state update and readout, and cross attention's sums over its memory.
#pragma once

#include <cuda_runtime_api.h>

#include "attention_inputs.cuh"

namespace stepscope::cuda {

// The deterministic feature maps, whose width F equals D. The random ones
// (favor, rff, smoothed-rff, grf) run on the CPU only.
enum class FeatureMapKind { Elu, Relu };

// One step for every head row r, S[r] (D, M) and Z[r] (D) in place:
//   update:  S += phi(k) v^T,  Z += phi(k)
//   readout: out = phi(q)^T S / (phi(q) . Z + eps)
// sums (N*H*D, M), normalizer (N*H, D), out (N, H*M) = (N*H, M).
// With in.key_offset < 0 only the readout runs (cross attention).
// CPU reference: linear_attention_update and linear_attention_readout (attention_kernels.cpp).
void linear_attention_step(const ProjectedHeads& in, const HeadShape& shape, FeatureMapKind map, float eps, float* sums,
                           float* normalizer, float* out, cudaStream_t stream);

// Cross attention's state, built once from the projected memory:
//   S[n*H + h] = sum_{s < lengths[n]} phi(k_s) v_s^T,  Z[n*H + h] = sum_{s < lengths[n]} phi(k_s)
// keys (N*S, H*D) and values (N*S, H*M) straight from cuBLAS, rows (n, s),
// plus key_bias (H*D) and value_bias (H*M); lengths (N) on the device.
// CPU reference: the linear branch of RecurrentCrossAttentionLayer::start (attention_layer.cpp).
void linear_attention_memory(const float* keys, const float* key_bias, const float* values, const float* value_bias,
                             const int* lengths, int length, const HeadShape& shape, FeatureMapKind map, float* sums,
                             float* normalizer, cudaStream_t stream);

}  // namespace stepscope::cuda
