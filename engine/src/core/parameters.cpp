// Parameter names and shapes of encoders and decoders, random initialisation and checks.
#include "core/parameters.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "stepscope/attention_kind.h"
#include "stepscope/error.h"

namespace stepscope {

namespace {

using Init = ParameterSpec::Init;

void add_linear(std::vector<ParameterSpec>& specs, const std::string& prefix, int64_t out, int64_t in) {
    specs.push_back({prefix + ".weight", {out, in}, Init::Uniform, in});
    specs.push_back({prefix + ".bias", {out}, Init::Uniform, in});
}

void add_norm(std::vector<ParameterSpec>& specs, const std::string& prefix, int64_t width) {
    specs.push_back({prefix + ".weight", {width}, Init::Ones, 1});
    specs.push_back({prefix + ".bias", {width}, Init::Zeros, 1});
}

// Widths in 64 bits: heads and head dimensions are bounded by validate(), their products here. The kind's
// gates, one per head each, read the layer's input (self attention: the only role they are offered in).
void add_attention(std::vector<ParameterSpec>& specs, const std::string& prefix, const std::string& type,
                   int64_t d_model, int64_t d_model_keys, int64_t heads, int64_t query_dims, int64_t value_dims) {
    add_linear(specs, prefix + ".query_projection", heads * query_dims, d_model);
    add_linear(specs, prefix + ".key_projection", heads * query_dims, d_model_keys);
    add_linear(specs, prefix + ".value_projection", heads * value_dims, d_model_keys);
    add_linear(specs, prefix + ".out_projection", d_model, heads * value_dims);
    for (const std::string& gate : attention_capabilities(type).gates)
        add_linear(specs, prefix + "." + gate, heads, d_model);
}

// The omega a linear attention's feature map may store: (D, C), D its query width.
void allow_omega(std::map<std::string, int>& optional, const std::string& prefix, const std::string& type,
                 int query_dims) {
    if (attention_capabilities(type).feature_map) optional[omega_name(prefix)] = query_dims;
}

}  // namespace

std::string self_attention_prefix(const ModelConfig& config, int layer) {
    return "layers." + std::to_string(layer) + (config.kind == ModelKind::Encoder ? ".attention" : ".self_attention");
}

std::string cross_attention_prefix(int layer) { return "layers." + std::to_string(layer) + ".cross_attention"; }

std::string omega_name(const std::string& attention_prefix) {
    return attention_prefix + ".inner_attention.feature_map.omega";
}

namespace {

// The tensors of layer `i`, in state_dict order.
std::vector<ParameterSpec> layer_specs(const ModelConfig& config, int i) {
    std::vector<ParameterSpec> specs;
    const int64_t d_model = config.d_model();
    const std::string layer = "layers." + std::to_string(i);
    add_attention(specs, self_attention_prefix(config, i), config.self_attention(), d_model, d_model, config.n_heads,
                  config.query_dimensions, config.value_dimensions);
    if (config.kind == ModelKind::Decoder)
        add_attention(specs, cross_attention_prefix(i), config.cross_attention_type, d_model,
                      config.effective_cross_model_dimensions(), config.effective_cross_n_heads(),
                      config.effective_cross_query_dimensions(), config.effective_cross_value_dimensions());
    add_linear(specs, layer + ".linear1", config.feed_forward_dimensions, d_model);
    add_linear(specs, layer + ".linear2", d_model, config.feed_forward_dimensions);
    add_norm(specs, layer + ".norm1", d_model);
    add_norm(specs, layer + ".norm2", d_model);
    if (config.kind == ModelKind::Decoder) add_norm(specs, layer + ".norm3", d_model);
    return specs;
}

std::vector<ParameterSpec> final_specs(const ModelConfig& config) {
    std::vector<ParameterSpec> specs;
    if (config.final_normalization) add_norm(specs, "norm", config.d_model());
    return specs;
}

void check_spec(const ParameterSpec& spec, const TensorMap& tensors) {
    const auto found = tensors.find(spec.name);
    if (found == tensors.end()) throw Error("missing tensor '" + spec.name + "'");
    if (found->second.dtype == DType::I64) throw Error("tensor '" + spec.name + "' has dtype I64, expected F32");
    if (found->second.shape != spec.shape)
        throw Error("tensor '" + spec.name + "' has shape " + found->second.shape_string() + ", expected " +
                    shape_to_string(spec.shape));
}

// Weights and biases of the four projections of one attention module and of its kind's gates.
int64_t attention_count(const std::string& type, int64_t d_model, int64_t d_model_keys, int64_t heads,
                        int64_t query_dims, int64_t value_dims) {
    const int64_t queries = heads * query_dims, values = heads * value_dims;
    const int64_t gates = int64_t(attention_capabilities(type).gates.size()) * (heads * d_model + heads);
    return (queries * d_model + queries) + (queries * d_model_keys + queries) + (values * d_model_keys + values) +
           (d_model * values + d_model) + gates;
}

}  // namespace

std::vector<ParameterSpec> parameter_specs(const ModelConfig& config) {
    std::vector<ParameterSpec> specs;
    for (int i = 0; i < config.n_layers; ++i) {
        std::vector<ParameterSpec> layer = layer_specs(config, i);
        specs.insert(specs.end(), layer.begin(), layer.end());
    }
    const std::vector<ParameterSpec> last = final_specs(config);
    specs.insert(specs.end(), last.begin(), last.end());
    return specs;
}

int64_t parameter_count(const ModelConfig& config) {
    const int64_t d_model = config.d_model(), d_ff = config.feed_forward_dimensions;
    const bool decoder = config.kind == ModelKind::Decoder;
    int64_t per_layer = attention_count(config.self_attention(), d_model, d_model, config.n_heads,
                                        config.query_dimensions, config.value_dimensions) +
                        (d_ff * d_model + d_ff) + (d_model * d_ff + d_model) + (decoder ? 6 : 4) * d_model;
    if (decoder)
        per_layer += attention_count(config.cross_attention_type, d_model, config.effective_cross_model_dimensions(),
                                     config.effective_cross_n_heads(), config.effective_cross_query_dimensions(),
                                     config.effective_cross_value_dimensions());
    return per_layer * config.n_layers + (config.final_normalization ? 2 * d_model : 0);
}

namespace {

// SplitMix64's finaliser: a bijection of 64-bit words whose outputs over consecutive inputs pass
// BigCrush (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// FNV-1a of a tensor's name: each tensor its own stream, whatever order the tensors are drawn in.
uint64_t name_hash(const std::string& name) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const unsigned char c : name) hash = (hash ^ c) * 0x100000001b3ULL;
    return hash;
}

// Values drawn per task: a task's overhead is noise beside 64 Ki hashes.
constexpr long kDrawGrain = 1L << 16;

// value i = -bound + 2 bound u_i, u_i the top 24 bits of SplitMix64's output i of the tensor's stream, over
// [0, 1) in steps of 2^-24 (a float's precision), as torch's uniform_(-bound, bound) draws in float32.
void draw_uniform(const std::string& name, uint64_t seed, float bound, std::vector<float>& values) {
    const uint64_t stream = mix64(seed * kGolden ^ name_hash(name));
    tbb::parallel_for(tbb::blocked_range<size_t>(0, values.size(), kDrawGrain),
                      [&](const tbb::blocked_range<size_t>& r) {
                          for (size_t i = r.begin(); i < r.end(); ++i) {
                              const float u = float(mix64(stream + (i + 1) * kGolden) >> 40) * 0x1p-24f;
                              values[i] = -bound + 2 * bound * u;
                          }
                      });
}

TensorMap random_tensors(const std::vector<ParameterSpec>& specs, uint64_t seed) {
    TensorMap tensors;
    for (const auto& spec : specs) {
        Tensor tensor = Tensor::f32_zeros(spec.shape);
        if (spec.init == Init::Ones) std::fill(tensor.values.begin(), tensor.values.end(), 1.0f);
        else if (spec.init == Init::Uniform)
            draw_uniform(spec.name, seed, 1.0f / std::sqrt(static_cast<float>(spec.fan_in)), tensor.values);
        tensors.emplace(spec.name, std::move(tensor));
    }
    return tensors;
}

// The layer a tensor belongs to: i for "layers.{i}.", else n_layers (the final norm).
int layer_of(const std::string& name, int n_layers) {
    static const std::string prefix = "layers.";
    if (name.compare(0, prefix.size(), prefix) != 0) return n_layers;
    const size_t end = name.find('.', prefix.size());
    const std::string digits = name.substr(prefix.size(), end - prefix.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        return n_layers;
    return std::min(std::stoi(digits), n_layers);
}

}  // namespace

TensorMap random_layer_parameters(const ModelConfig& config, uint64_t seed, int layer) {
    return random_tensors(layer < config.n_layers ? layer_specs(config, layer) : final_specs(config), seed);
}

TensorMap random_parameters(const ModelConfig& config, uint64_t seed) {
    TensorMap tensors;
    for (int i = 0; i <= config.n_layers; ++i) tensors.merge(random_layer_parameters(config, seed, i));
    return tensors;
}

std::vector<std::shared_ptr<const TensorMap>> split_by_layer(TensorMap tensors, int n_layers) {
    std::vector<TensorMap> parts(size_t(n_layers) + 1);
    while (!tensors.empty()) {
        auto node = tensors.extract(tensors.begin());
        parts[size_t(layer_of(node.key(), n_layers))].insert(std::move(node));
    }
    std::vector<std::shared_ptr<const TensorMap>> shared;
    for (TensorMap& part : parts) shared.push_back(std::make_shared<const TensorMap>(std::move(part)));
    return shared;
}

// Layer by layer, so that what is built grows with the tensors the file holds, not with the
// layers its config claims: a small file claiming a huge config fails at its first missing tensor.
void check_parameters(const ModelConfig& config, const TensorMap& tensors) {
    std::set<std::string> known;
    std::map<std::string, int> optional;
    for (int i = 0; i <= config.n_layers; ++i) {
        for (const auto& spec : i < config.n_layers ? layer_specs(config, i) : final_specs(config)) {
            check_spec(spec, tensors);
            known.insert(spec.name);
        }
        if (i == config.n_layers) break;
        allow_omega(optional, self_attention_prefix(config, i), config.self_attention(), config.query_dimensions);
        if (config.kind == ModelKind::Decoder)
            allow_omega(optional, cross_attention_prefix(i), config.cross_attention_type,
                        config.effective_cross_query_dimensions());
    }
    for (const auto& [name, tensor] : tensors) {
        if (known.count(name)) continue;
        const auto expected = optional.find(name);
        if (expected == optional.end())
            throw Error("unexpected tensor " + quote_text(name) + ": the file does not match this architecture");
        if (tensor.shape.size() != 2 || tensor.shape[0] != expected->second || tensor.dtype == DType::I64)
            throw Error("tensor " + quote_text(name) + " has shape " + tensor.shape_string() +
                        ", expected (query_dimensions, columns)");
    }
}

RowMatrix matrix_of(const Tensor& tensor) {
    const long rows = tensor.shape.empty() ? 1 : tensor.shape[0];
    const long cols = rows ? tensor.numel() / rows : 0;
    return Eigen::Map<const RowMatrix>(tensor.values.data(), rows, cols);
}

Vector vector_of(const Tensor& tensor) { return Eigen::Map<const Vector>(tensor.values.data(), tensor.numel()); }

WeightFormat weight_format(const ModelConfig& config) {
    switch (precision_from_name(config.precision)) {
        case Precision::Bf16: return WeightFormat::Bf16;
        case Precision::Q8: return WeightFormat::Q8;
        case Precision::F32: break;
    }
    return WeightFormat::F32;
}

Linear linear_from(const TensorMap& tensors, const std::string& prefix, WeightFormat format) {
    const Tensor& weight = tensors.at(prefix + ".weight");
    const Eigen::Map<const RowMatrix> rows(weight.values.data(), weight.shape[0], weight.shape[1]);
    return Linear(rows, vector_of(tensors.at(prefix + ".bias")), format);
}

Linear fused_linear_from(const TensorMap& tensors, const std::vector<std::string>& prefixes, WeightFormat format) {
    long rows = 0;
    for (const std::string& prefix : prefixes) rows += long(tensors.at(prefix + ".weight").shape[0]);
    const long in = long(tensors.at(prefixes.front() + ".weight").shape[1]);
    RowMatrix weight(rows, in);
    Vector bias(rows);
    long offset = 0;
    for (const std::string& prefix : prefixes) {
        const Tensor& part = tensors.at(prefix + ".weight");
        const long count = long(part.shape[0]);
        weight.middleRows(offset, count) = Eigen::Map<const RowMatrix>(part.values.data(), count, in);
        bias.segment(offset, count) = vector_of(tensors.at(prefix + ".bias"));
        offset += count;
    }
    return Linear(weight, bias, format);
}

Tensor tensor_of(const float* values, std::vector<int64_t> shape) {
    const int64_t count = numel_of(shape);
    return Tensor::f32(std::move(shape), std::vector<float>(values, values + count));
}

void store_linear(const Linear& linear, long first, long count, const std::string& prefix, TensorMap& out) {
    const RowMatrix rows = linear.weight().middleRows(first, count);
    out[prefix + ".weight"] = tensor_of(rows.data(), {count, linear.in_features()});
    out[prefix + ".bias"] = tensor_of(linear.bias().data() + first, {count});
}

void store_linear(const Linear& linear, const std::string& prefix, TensorMap& out) {
    store_linear(linear, 0, linear.out_features(), prefix, out);
}

}  // namespace stepscope
