// The builder parameters of a recurrent transformer, with the reference builders' names and defaults.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace stepscope {

enum class ModelKind { Encoder, Decoder };

// The config's names that a built model steps by, parsed once (the *_from_name functions below).
enum class Precision { F32, Bf16, Q8 };   // how the linear layers keep their weights
enum class CachePrecision { F32, Bf16 };  // how softmax attention keeps its key/value cache
enum class Activation { Relu, Gelu };     // the feed-forward activation

// Every field carries the reference default (fast_transformers.builders).
// Zero in a cross_* field or in feature_map_dimensions means "the reference's
// default", which the effective_* accessors resolve.
struct ModelConfig {
    ModelKind kind = ModelKind::Encoder;
    std::string attention_type = "full";        // encoders
    std::string self_attention_type = "full";   // decoders
    std::string cross_attention_type = "full";  // decoders
    int n_layers = 4;
    int n_heads = 4;
    int query_dimensions = 64;
    int value_dimensions = 64;
    int feed_forward_dimensions = 1024;
    std::string activation = "relu";
    bool final_normalization = true;
    double dropout = 0.1;                // accepted, inference only
    double attention_dropout = 0.1;      // accepted, inference only
    std::optional<double> softmax_temp;  // full attention: 1/sqrt(query_dimensions) when absent
    double eps = 1e-6;
    std::string feature_map = "elu";
    int feature_map_dimensions = 0;
    bool feature_map_stabilize = false;  // Stepscope: Favor's `stabilize` (the reference sets it in the factory)
    int cross_n_heads = 0;
    int cross_query_dimensions = 0;
    int cross_value_dimensions = 0;
    int cross_model_dimensions = 0;
    std::string precision = "f32";        // Stepscope: weight storage, one of precision_names()
    std::string cache_precision = "f32";  // Stepscope: key/value cache storage, one of cache_precision_names()
    // Stepscope: the parameters the configured kinds declare (AttentionCapabilities::parameters) that were set;
    // an absent one keeps the kind's default.
    std::map<std::string, double> kind_parameters;

    // Products of two int fields, in 64 bits so that an unvalidated config cannot overflow them;
    // validate() bounds both by kMaxModelDimensions.
    int64_t d_model() const { return int64_t(value_dimensions) * n_heads; }
    int effective_cross_n_heads() const { return cross_n_heads ? cross_n_heads : n_heads; }
    int effective_cross_query_dimensions() const;
    int effective_cross_value_dimensions() const;
    // The memory's width: cross_n_heads * cross_value_dimensions unless set.
    int64_t effective_cross_model_dimensions() const;

    // The self-attention type of either kind.
    const std::string& self_attention() const;
    // The value of `parameter`, which attention type `type` declares: as set, else the kind's default.
    double kind_parameter(const std::string& type, const std::string& parameter) const;

    bool operator==(const ModelConfig& other) const;
    bool operator!=(const ModelConfig& other) const { return !(*this == other); }
};

// softmax_temp when none is given: 1/sqrt(query_dimensions), the reference's default for full attention and
// for the random feature maps that approximate its kernel (favor, rff).
inline double default_softmax_temp(int query_dimensions) { return 1.0 / std::sqrt(double(query_dimensions)); }

// Upper bounds of the dimensions validate() accepts, far above any published recurrent
// transformer. They keep every size computed from a config within 64 bits, and refuse
// configs whose cost is time rather than memory (a favor map of query width D draws a
// (D, D) QR per layer for each sequence: D = 10,000 takes minutes).
constexpr int kMaxLayers = 1024;                        // n_layers
constexpr int kMaxHeads = 1024;                         // n_heads, cross_n_heads
constexpr int kMaxHeadDimensions = 8192;                // query/value dimensions, self and cross
constexpr int64_t kMaxModelDimensions = 65536;          // d_model, cross_model_dimensions
constexpr int kMaxFeedForwardDimensions = 262144;       // feed_forward_dimensions
constexpr int kMaxFeatureMapDimensions = 65536;         // feature_map_dimensions
constexpr int kMaxRandomFeatureQueryDimensions = 1024;  // query width D under favor and grf
// favor and grf: n_layers x (D, D) QR blocks per sequence, counted as D^3 each.
constexpr double kMaxFeatureDrawWork = 2e10;

// A builder parameter's value as it comes from a form, a command line or JSON.
using ParamValue = std::variant<bool, int64_t, double, std::string>;
using ParamMap = std::map<std::string, ParamValue>;

// The accepted names of precision, cache precision and activation, in table order, and their parsed values. The
// parsers throw Error naming the parameter and the accepted names.
const std::vector<std::string>& precision_names();  // f32, bf16, q8
Precision precision_from_name(const std::string& name);
const std::vector<std::string>& cache_precision_names();  // f32, bf16
CachePrecision cache_precision_from_name(const std::string& name);
const std::string& cache_precision_name(CachePrecision precision);
const std::vector<std::string>& activation_names();  // relu, gelu
Activation activation_from_name(const std::string& name);

// Attention types each builder accepts (the reference registry's recurrent ones).
const std::vector<std::string>& self_attention_types();   // full, linear, causal-linear
const std::vector<std::string>& cross_attention_types();  // full, linear
const std::vector<std::string>& builder_parameter_names();

// Sets one parameter. Throws Error naming the key for an unknown key or a value
// of the wrong type; the config is unchanged when it throws.
void set_parameter(ModelConfig& config, const std::string& key, const ParamValue& value);

// Throws Error naming the first impossible key: zero heads, non-positive
// dimensions or dimensions past the bounds above, an unknown attention type,
// activation or feature map, a negative eps or dropout outside [0, 1), a kind's
// parameter outside its declared range or set for a kind that does not declare it.
void validate(const ModelConfig& config);

// Strict construction: unknown keys, wrong types and impossible values throw;
// no config is returned half-built.
ModelConfig config_from_params(const ParamMap& params);
ModelConfig config_from_json(const std::string& json_text);
// The parameters of a JSON object text, unvalidated; JSON null (the
// reference's None) keeps the default and is left out.
// Text longer than kMaxConfigJsonBytes or nested deeper than an object of
// values is refused before it is parsed into a tree.
ParamMap params_from_json(const std::string& json_text);
constexpr size_t kMaxConfigJsonBytes = 65536;

// Every parameter, defaults included, as a JSON object text (keys sorted).
std::string config_to_json(const ModelConfig& config);

// What sets two configs' models apart besides how they store weights and caches (and dropout): "" when their
// architectures agree, else the first parameter that differs, e.g. "n_layers is 3, the file's 1".
// Weights of one architecture load at any precision and cache precision.
std::string architecture_difference(const ModelConfig& requested, const ModelConfig& file);
// The file's config with the requested precision and cache precision; throws Error "the weights
// file's model differs from the one asked for: n_layers is 3, the file's 1" when the architectures differ.
ModelConfig stored_as_requested(const ModelConfig& file, const ModelConfig& requested);

}  // namespace stepscope
