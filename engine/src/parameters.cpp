// Parameter names and shapes of encoders and decoders, random initialisation and checks.
#include "stepscope/parameters.h"

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "stepscope/error.h"

namespace stepscope {

namespace {

using Init = ParameterSpec::Init;

void add_linear(std::vector<ParameterSpec>& specs, const std::string& prefix, int out, int in) {
    specs.push_back({prefix + ".weight", {out, in}, Init::Uniform, in});
    specs.push_back({prefix + ".bias", {out}, Init::Uniform, in});
}

void add_norm(std::vector<ParameterSpec>& specs, const std::string& prefix, int width) {
    specs.push_back({prefix + ".weight", {width}, Init::Ones, 1});
    specs.push_back({prefix + ".bias", {width}, Init::Zeros, 1});
}

void add_attention(std::vector<ParameterSpec>& specs, const std::string& prefix, int d_model,
                   int d_model_keys, int heads, int query_dims, int value_dims) {
    add_linear(specs, prefix + ".query_projection", heads * query_dims, d_model);
    add_linear(specs, prefix + ".key_projection", heads * query_dims, d_model_keys);
    add_linear(specs, prefix + ".value_projection", heads * value_dims, d_model_keys);
    add_linear(specs, prefix + ".out_projection", d_model, heads * value_dims);
}

// The omega a linear attention's feature map may store: (D, C), D its query width.
void allow_omega(std::map<std::string, int>& optional, const std::string& prefix, const std::string& type,
                 int query_dims) {
    if (type != "full") optional[omega_name(prefix)] = query_dims;
}

}  // namespace

std::string self_attention_prefix(const ModelConfig& config, int layer) {
    return "layers." + std::to_string(layer) +
           (config.kind == ModelKind::Encoder ? ".attention" : ".self_attention");
}

std::string cross_attention_prefix(int layer) { return "layers." + std::to_string(layer) + ".cross_attention"; }

std::string omega_name(const std::string& attention_prefix) {
    return attention_prefix + ".inner_attention.feature_map.omega";
}

std::vector<ParameterSpec> parameter_specs(const ModelConfig& config) {
    std::vector<ParameterSpec> specs;
    const int d_model = config.d_model();
    for (int i = 0; i < config.n_layers; ++i) {
        const std::string layer = "layers." + std::to_string(i);
        add_attention(specs, self_attention_prefix(config, i), d_model, d_model, config.n_heads,
                      config.query_dimensions, config.value_dimensions);
        if (config.kind == ModelKind::Decoder)
            add_attention(specs, cross_attention_prefix(i), d_model, config.effective_cross_model_dimensions(),
                          config.effective_cross_n_heads(), config.effective_cross_query_dimensions(),
                          config.effective_cross_value_dimensions());
        add_linear(specs, layer + ".linear1", config.feed_forward_dimensions, d_model);
        add_linear(specs, layer + ".linear2", d_model, config.feed_forward_dimensions);
        add_norm(specs, layer + ".norm1", d_model);
        add_norm(specs, layer + ".norm2", d_model);
        if (config.kind == ModelKind::Decoder) add_norm(specs, layer + ".norm3", d_model);
    }
    if (config.final_normalization) add_norm(specs, "norm", d_model);
    return specs;
}

TensorMap random_parameters(const ModelConfig& config, uint64_t seed) {
    std::mt19937_64 rng(seed);
    TensorMap tensors;
    for (const auto& spec : parameter_specs(config)) {
        Tensor tensor = Tensor::f32_zeros(spec.shape);
        if (spec.init == Init::Ones) {
            std::fill(tensor.values.begin(), tensor.values.end(), 1.0f);
        } else if (spec.init == Init::Uniform) {
            const float bound = 1.0f / std::sqrt(static_cast<float>(spec.fan_in));
            std::uniform_real_distribution<float> uniform(-bound, bound);
            for (float& v : tensor.values) v = uniform(rng);
        }
        tensors.emplace(spec.name, std::move(tensor));
    }
    return tensors;
}

void check_parameters(const ModelConfig& config, const TensorMap& tensors) {
    std::set<std::string> known;
    for (const auto& spec : parameter_specs(config)) {
        known.insert(spec.name);
        const auto found = tensors.find(spec.name);
        if (found == tensors.end()) throw Error("missing tensor '" + spec.name + "'");
        if (found->second.dtype == DType::I64)
            throw Error("tensor '" + spec.name + "' has dtype I64, expected F32");
        if (found->second.shape != spec.shape)
            throw Error("tensor '" + spec.name + "' has shape " + found->second.shape_string() + ", expected " +
                        shape_to_string(spec.shape));
    }
    std::map<std::string, int> optional;
    for (int i = 0; i < config.n_layers; ++i) {
        allow_omega(optional, self_attention_prefix(config, i), config.self_attention(), config.query_dimensions);
        if (config.kind == ModelKind::Decoder)
            allow_omega(optional, cross_attention_prefix(i), config.cross_attention_type,
                        config.effective_cross_query_dimensions());
    }
    for (const auto& [name, tensor] : tensors) {
        if (known.count(name)) continue;
        const auto expected = optional.find(name);
        if (expected == optional.end())
            throw Error("unexpected tensor '" + name + "': the file does not match this architecture");
        if (tensor.shape.size() != 2 || tensor.shape[0] != expected->second || tensor.dtype == DType::I64)
            throw Error("tensor '" + name + "' has shape " + tensor.shape_string() +
                        ", expected (query_dimensions, columns)");
    }
}

RowMatrix matrix_of(const Tensor& tensor) {
    const long rows = tensor.shape.empty() ? 1 : tensor.shape[0];
    const long cols = rows ? tensor.numel() / rows : 0;
    return Eigen::Map<const RowMatrix>(tensor.values.data(), rows, cols);
}

Vector vector_of(const Tensor& tensor) {
    return Eigen::Map<const Vector>(tensor.values.data(), tensor.numel());
}

Linear linear_from(const TensorMap& tensors, const std::string& prefix) {
    return Linear(matrix_of(tensors.at(prefix + ".weight")), vector_of(tensors.at(prefix + ".bias")));
}

}  // namespace stepscope
