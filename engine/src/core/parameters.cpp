// Parameter names and shapes of encoders and decoders, random initialisation and checks.
#include "core/parameters.h"

#include <cmath>
#include <map>
#include <random>
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
    return "layers." + std::to_string(layer) +
           (config.kind == ModelKind::Encoder ? ".attention" : ".self_attention");
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
                      config.effective_cross_model_dimensions(),
                      config.effective_cross_n_heads(), config.effective_cross_query_dimensions(),
                      config.effective_cross_value_dimensions());
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
                                     config.effective_cross_n_heads(),
                                     config.effective_cross_query_dimensions(),
                                     config.effective_cross_value_dimensions());
    return per_layer * config.n_layers + (config.final_normalization ? 2 * d_model : 0);
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

Vector vector_of(const Tensor& tensor) {
    return Eigen::Map<const Vector>(tensor.values.data(), tensor.numel());
}

Linear linear_from(const TensorMap& tensors, const std::string& prefix) {
    return Linear(matrix_of(tensors.at(prefix + ".weight")), vector_of(tensors.at(prefix + ".bias")));
}

}  // namespace stepscope
