// The weights a config needs, under the reference's state_dict names, and their random initialisation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stepscope/config.h"
#include "layers/linear.h"
#include "stepscope/tensor.h"
#include "stepscope/types.h"

namespace stepscope {

struct ParameterSpec {
    enum class Init { Uniform, Ones, Zeros };
    std::string name;            // e.g. layers.0.attention.query_projection.weight
    std::vector<int64_t> shape;  // linear weights are (out_features, in_features)
    Init init = Init::Uniform;
    int64_t fan_in = 1;          // uniform bound 1/sqrt(fan_in), as torch.nn.Linear
};

// The attention modules' name prefixes: "layers.{i}.attention" for encoders,
// "layers.{i}.self_attention" and "layers.{i}.cross_attention" for decoders.
std::string self_attention_prefix(const ModelConfig& config, int layer);
std::string cross_attention_prefix(int layer);
// A random feature map's stored matrix under an attention prefix.
std::string omega_name(const std::string& attention_prefix);

// Every required tensor, in state_dict order. A stored omega is optional.
std::vector<ParameterSpec> parameter_specs(const ModelConfig& config);

// How many weights parameter_specs(config) lists, counted without listing them (memory
// estimates). The config must be valid: validate() bounds every dimension, so the count fits.
int64_t parameter_count(const ModelConfig& config);

// Random weights for every spec, drawn from `seed`.
TensorMap random_parameters(const ModelConfig& config, uint64_t seed);

// Throws Error naming the first missing tensor, wrong shape, non-float dtype,
// or tensor the architecture does not have. Checked layer by layer: a small
// file claiming a huge config fails at once, in little memory.
void check_parameters(const ModelConfig& config, const TensorMap& tensors);

// A (rows, cols) matrix or a vector view of a stored tensor.
RowMatrix matrix_of(const Tensor& tensor);
Vector vector_of(const Tensor& tensor);
// The Linear stored as `prefix`.weight and `prefix`.bias.
Linear linear_from(const TensorMap& tensors, const std::string& prefix);

}  // namespace stepscope
