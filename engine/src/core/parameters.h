// The weights a config needs, under the reference's state_dict names, and their random initialisation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
    int64_t fan_in = 1;  // uniform bound 1/sqrt(fan_in), as torch.nn.Linear
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

// Random weights for every spec, drawn from `seed`: the union of random_layer_parameters over the layers.
TensorMap random_parameters(const ModelConfig& config, uint64_t seed);
// The random weights of layer `layer` (layer == n_layers: the final norm's). Counter-based: value i of a
// tensor is a hash of (seed, the tensor's name, i), so layers and parts of a tensor draw on any thread, in
// any order, with the same result.
TensorMap random_layer_parameters(const ModelConfig& config, uint64_t seed, int layer);

// Where a model's layers find their weights while it is built, called from any thread: layer i's tensors
// (i == n_layers: the final norm's) under their full names. The map may hold other layers' tensors too.
using LayerTensors = std::function<std::shared_ptr<const TensorMap>(int layer)>;
// Moves every tensor of `tensors` into its layer's map (index n_layers: everything else), so a layer's
// tensors can be freed once it is built.
std::vector<std::shared_ptr<const TensorMap>> split_by_layer(TensorMap tensors, int n_layers);

// Throws Error naming the first missing tensor, wrong shape, non-float dtype,
// or tensor the architecture does not have. Checked layer by layer: a small
// file claiming a huge config fails at once, in little memory.
void check_parameters(const ModelConfig& config, const TensorMap& tensors);

// A (rows, cols) matrix or a vector view of a stored tensor.
RowMatrix matrix_of(const Tensor& tensor);
Vector vector_of(const Tensor& tensor);
// The format a config's precision keeps its linear layers in.
WeightFormat weight_format(const ModelConfig& config);
// The Linear stored as `prefix`.weight and `prefix`.bias, in `format`.
Linear linear_from(const TensorMap& tensors, const std::string& prefix, WeightFormat format);
// One Linear of several stored ones that read the same input, their outputs in the order given, so the
// query, key and value projections of a step cost one pass over x.
Linear fused_linear_from(const TensorMap& tensors, const std::vector<std::string>& prefixes, WeightFormat format);

// The inverse, for saving: `linear`'s rows from `first` on, `count` of them, as `prefix`.weight and .bias.
void store_linear(const Linear& linear, long first, long count, const std::string& prefix, TensorMap& out);
void store_linear(const Linear& linear, const std::string& prefix, TensorMap& out);
// A float tensor of `shape` holding `values` (shape's element count of them).
Tensor tensor_of(const float* values, std::vector<int64_t> shape);

}  // namespace stepscope
