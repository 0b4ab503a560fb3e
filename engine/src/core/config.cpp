// Builder parameters: strict setting by name, validation with the offending key, JSON in and out.
#include "stepscope/config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "stepscope/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/feature_map.h"

namespace stepscope {

namespace {

using nlohmann::json;

const char* type_name(const ParamValue& value) {
    switch (value.index()) {
        case 0: return "a boolean";
        case 1: return "an integer";
        case 2: return "a number";
        default: return "a string";
    }
}

Error wrong_type(const std::string& key, const char* wanted, const ParamValue& value) {
    return Error("parameter " + quote_text(key) + " must be " + wanted + ", got " + type_name(value), key);
}

int as_int(const std::string& key, const ParamValue& value) {
    if (const auto* i = std::get_if<int64_t>(&value)) {
        if (*i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max())
            throw Error("parameter " + quote_text(key) + " is out of range: " + std::to_string(*i), key);
        return static_cast<int>(*i);
    }
    // A whole double (JSON writers may emit 8.0) is accepted as an integer.
    if (const auto* d = std::get_if<double>(&value)) {
        if (std::isfinite(*d) && std::floor(*d) == *d && std::abs(*d) < 1e9) return static_cast<int>(*d);
    }
    throw wrong_type(key, "an integer", value);
}

double as_double(const std::string& key, const ParamValue& value) {
    if (const auto* d = std::get_if<double>(&value)) return *d;
    if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
    throw wrong_type(key, "a number", value);
}

bool as_bool(const std::string& key, const ParamValue& value) {
    if (const auto* b = std::get_if<bool>(&value)) return *b;
    throw wrong_type(key, "a boolean", value);
}

std::string as_string(const std::string& key, const ParamValue& value) {
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    throw wrong_type(key, "a string", value);
}

using Setter = std::function<void(ModelConfig&, const std::string&, const ParamValue&)>;

template <typename Field>
Setter int_field(Field ModelConfig::*field) {
    return [field](ModelConfig& c, const std::string& k, const ParamValue& v) { c.*field = as_int(k, v); };
}
Setter double_field(double ModelConfig::*field) {
    return [field](ModelConfig& c, const std::string& k, const ParamValue& v) { c.*field = as_double(k, v); };
}
Setter string_field(std::string ModelConfig::*field) {
    return [field](ModelConfig& c, const std::string& k, const ParamValue& v) { c.*field = as_string(k, v); };
}

const std::map<std::string, Setter>& setters() {
    static const std::map<std::string, Setter> table = {
        {"kind",
         [](ModelConfig& c, const std::string& k, const ParamValue& v) {
             const std::string kind = as_string(k, v);
             if (kind == "encoder") c.kind = ModelKind::Encoder;
             else if (kind == "decoder") c.kind = ModelKind::Decoder;
             else throw Error("parameter 'kind' must be 'encoder' or 'decoder', got " + quote_text(kind), k);
         }},
        {"attention_type", string_field(&ModelConfig::attention_type)},
        {"self_attention_type", string_field(&ModelConfig::self_attention_type)},
        {"cross_attention_type", string_field(&ModelConfig::cross_attention_type)},
        {"n_layers", int_field(&ModelConfig::n_layers)},
        {"n_heads", int_field(&ModelConfig::n_heads)},
        {"query_dimensions", int_field(&ModelConfig::query_dimensions)},
        {"value_dimensions", int_field(&ModelConfig::value_dimensions)},
        {"feed_forward_dimensions", int_field(&ModelConfig::feed_forward_dimensions)},
        {"activation", string_field(&ModelConfig::activation)},
        {"final_normalization",
         [](ModelConfig& c, const std::string& k, const ParamValue& v) { c.final_normalization = as_bool(k, v); }},
        {"dropout", double_field(&ModelConfig::dropout)},
        {"attention_dropout", double_field(&ModelConfig::attention_dropout)},
        {"softmax_temp",
         [](ModelConfig& c, const std::string& k, const ParamValue& v) { c.softmax_temp = as_double(k, v); }},
        {"eps", double_field(&ModelConfig::eps)},
        {"feature_map", string_field(&ModelConfig::feature_map)},
        {"feature_map_dimensions", int_field(&ModelConfig::feature_map_dimensions)},
        {"feature_map_stabilize",
         [](ModelConfig& c, const std::string& k, const ParamValue& v) { c.feature_map_stabilize = as_bool(k, v); }},
        {"cross_n_heads", int_field(&ModelConfig::cross_n_heads)},
        {"cross_query_dimensions", int_field(&ModelConfig::cross_query_dimensions)},
        {"cross_value_dimensions", int_field(&ModelConfig::cross_value_dimensions)},
        {"cross_model_dimensions", int_field(&ModelConfig::cross_model_dimensions)},
        {"precision", string_field(&ModelConfig::precision)},
        {"cache_precision", string_field(&ModelConfig::cache_precision)},
    };
    return table;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

void require_at_most(const std::string& key, int64_t value, int64_t maximum) {
    if (value > maximum)
        throw Error("parameter '" + key + "' is " + std::to_string(value) + ", above Stepscope's limit of " +
                        std::to_string(maximum),
                    key);
}

void require_positive(const char* key, int value, int64_t maximum) {
    if (value <= 0)
        throw Error(std::string("parameter '") + key + "' must be positive, got " + std::to_string(value), key);
    require_at_most(key, value, maximum);
}

// Zero means "the reference default" for the optional cross dimensions.
void require_non_negative(const char* key, int value, int64_t maximum) {
    if (value < 0)
        throw Error(std::string("parameter '") + key + "' must not be negative, got " + std::to_string(value), key);
    require_at_most(key, value, maximum);
}

// A product of two parameters, named by both, for the widths built from heads and head dimensions.
void require_product_at_most(const char* product, const char* heads, const char* dims, int64_t value) {
    if (value > kMaxModelDimensions)
        throw Error(std::string(product) + " = '" + heads + "' x '" + dims + "' is " + std::to_string(value) +
                        ", above Stepscope's limit of " + std::to_string(kMaxModelDimensions),
                    product);
}

// favor and grf draw omega (D, C) in blocks of D columns, each the Q of a (D, D) QR, for every
// linear attention module at the start of every sequence: D^3 per block.
double feature_draw_work(const FeatureMap& map, int query_dims) {
    return std::ceil(double(map.omega_columns()) / query_dims) * std::pow(double(query_dims), 3);
}

// `self_map` is the map of width query_dimensions, which validate() built once; a decoder's cross
// attention of another width builds its own.
void require_feasible_feature_draw(const ModelConfig& c, const FeatureMap& self_map) {
    if (!self_map.draws_orthogonal()) return;
    const bool self = attention_capabilities(c.self_attention()).feature_map;
    const bool cross = c.kind == ModelKind::Decoder && attention_capabilities(c.cross_attention_type).feature_map;
    const int cross_dims = c.effective_cross_query_dimensions();
    if (self) require_at_most("query_dimensions", c.query_dimensions, kMaxRandomFeatureQueryDimensions);
    if (cross) require_at_most("cross_query_dimensions", cross_dims, kMaxRandomFeatureQueryDimensions);
    double per_layer = self ? feature_draw_work(self_map, c.query_dimensions) : 0;
    if (cross)
        per_layer += cross_dims == c.query_dimensions
                         ? feature_draw_work(self_map, cross_dims)
                         : feature_draw_work(*make_feature_map(feature_map_options(c, cross_dims)), cross_dims);
    const double work = per_layer * c.n_layers;
    if (work > kMaxFeatureDrawWork) {
        char figures[64];
        std::snprintf(figures, sizeof figures, "%.1e, above Stepscope's limit of %.1e", work, kMaxFeatureDrawWork);
        throw Error("parameters 'feature_map_dimensions', 'query_dimensions' and 'n_layers' ask " + c.feature_map +
                        " for QR work of about " + figures + " per sequence (seconds on every Reset)",
                    "feature_map_dimensions");
    }
}

void require_one_of(const char* key, const std::string& value, const std::vector<std::string>& allowed) {
    if (!contains(allowed, value))
        throw Error(std::string("parameter '") + key + "' is " + quote_text(value) + ", not one of: " + joined(allowed),
                    key);
}

void require_dropout(const char* key, double value) {
    if (!(value >= 0.0 && value < 1.0))
        throw Error(std::string("parameter '") + key + "' must be in [0, 1), got " + std::to_string(value), key);
}

ParamValue from_json_value(const std::string& key, const json& value) {
    switch (value.type()) {
        case json::value_t::boolean: return value.get<bool>();
        case json::value_t::number_integer: return value.get<int64_t>();
        case json::value_t::number_unsigned: {
            const auto u = value.get<uint64_t>();
            if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                throw Error("parameter " + quote_text(key) + " is out of range", key);
            return static_cast<int64_t>(u);
        }
        case json::value_t::number_float: return value.get<double>();
        case json::value_t::string: return value.get<std::string>();
        default:
            throw Error("parameter " + quote_text(key) + " has an unsupported JSON type (" +
                            std::string(value.type_name()) + ")",
                        key);
    }
}

// The config object may hold a container value (refused later by name); anything deeper is not a config,
// and refusing it while parsing keeps hostile text from building a large tree.
bool refuse_nested_containers(int depth, json::parse_event_t event, json&) {
    const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    if (opens && depth >= 2) throw Error("config nests JSON deeper than an object of parameter values");
    return true;
}

}  // namespace

int ModelConfig::effective_cross_query_dimensions() const {
    return cross_query_dimensions ? cross_query_dimensions : query_dimensions;
}
int ModelConfig::effective_cross_value_dimensions() const {
    return cross_value_dimensions ? cross_value_dimensions : value_dimensions;
}
int64_t ModelConfig::effective_cross_model_dimensions() const {
    return cross_model_dimensions ? cross_model_dimensions
                                  : int64_t(effective_cross_n_heads()) * effective_cross_value_dimensions();
}

const std::string& ModelConfig::self_attention() const {
    return kind == ModelKind::Encoder ? attention_type : self_attention_type;
}

double ModelConfig::kind_parameter(const std::string& type, const std::string& parameter) const {
    for (const KindParameter& declared : attention_capabilities(type).parameters)
        if (declared.name == parameter) {
            const auto set = kind_parameters.find(parameter);
            return set == kind_parameters.end() ? declared.default_value : set->second;
        }
    throw Error("attention type " + quote_text(type) + " declares no parameter " + quote_text(parameter), parameter);
}

bool ModelConfig::operator==(const ModelConfig& o) const { return config_to_json(*this) == config_to_json(o); }

std::string architecture_difference(const ModelConfig& requested, const ModelConfig& file) {
    const nlohmann::json want = nlohmann::json::parse(config_to_json(requested));
    const nlohmann::json have = nlohmann::json::parse(config_to_json(file));
    for (const auto& [key, value] : have.items()) {
        // Storage, and dropout (accepted, unused at inference), do not change what the weights compute.
        if (key == "precision" || key == "cache_precision" || key == "dropout" || key == "attention_dropout") continue;
        const nlohmann::json asked = want.contains(key) ? want[key] : nlohmann::json(nullptr);
        if (asked != value) return key + " is " + asked.dump() + ", the file's " + value.dump();
    }
    for (const auto& [key, value] : want.items())
        if (!have.contains(key)) return key + " is " + value.dump() + ", the file has none";
    return {};
}

ModelConfig stored_as_requested(const ModelConfig& file, const ModelConfig& requested) {
    const std::string difference = architecture_difference(requested, file);
    if (!difference.empty())
        throw Error("the weights file's model differs from the one asked for: " + difference +
                    " (only precision and cache_precision may differ)");
    ModelConfig config = file;
    config.precision = requested.precision;
    config.cache_precision = requested.cache_precision;
    return config;
}

namespace {

template <typename Value>
struct Named {
    const char* name;
    Value value;
};

// Adding a precision, a cache precision or an activation is one line here (and its enum value in config.h).
constexpr Named<Precision> kPrecisions[] = {{"f32", Precision::F32}, {"bf16", Precision::Bf16}, {"q8", Precision::Q8}};
constexpr Named<CachePrecision> kCachePrecisions[] = {{"f32", CachePrecision::F32}, {"bf16", CachePrecision::Bf16}};
constexpr Named<Activation> kActivations[] = {{"relu", Activation::Relu}, {"gelu", Activation::Gelu}};

template <typename Value, size_t N>
std::vector<std::string> names_of(const Named<Value> (&table)[N]) {
    std::vector<std::string> out;
    for (const auto& entry : table) out.emplace_back(entry.name);
    return out;
}

template <typename Value, size_t N>
Value parse(const char* key, const std::string& name, const Named<Value> (&table)[N]) {
    for (const auto& entry : table)
        if (name == entry.name) return entry.value;
    throw Error("parameter '" + std::string(key) + "' is " + quote_text(name) +
                    ", not one of: " + joined(names_of(table)),
                key);
}

}  // namespace

const std::vector<std::string>& precision_names() {
    static const std::vector<std::string> names = names_of(kPrecisions);
    return names;
}

Precision precision_from_name(const std::string& name) { return parse("precision", name, kPrecisions); }

const std::vector<std::string>& cache_precision_names() {
    static const std::vector<std::string> names = names_of(kCachePrecisions);
    return names;
}

CachePrecision cache_precision_from_name(const std::string& name) {
    return parse("cache_precision", name, kCachePrecisions);
}

const std::string& cache_precision_name(CachePrecision precision) {
    const auto& names = cache_precision_names();
    for (size_t i = 0; i < names.size(); ++i)
        if (kCachePrecisions[i].value == precision) return names[i];
    throw Error("unknown cache precision");
}

const std::vector<std::string>& activation_names() {
    static const std::vector<std::string> names = names_of(kActivations);
    return names;
}

Activation activation_from_name(const std::string& name) { return parse("activation", name, kActivations); }

const std::vector<std::string>& self_attention_types() { return attention_kind_names(); }

const std::vector<std::string>& cross_attention_types() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& name : attention_kind_names())
            if (attention_capabilities(name).cross) out.push_back(name);
        return out;
    }();
    return names;
}

const std::vector<std::string>& builder_parameter_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& entry : setters()) out.push_back(entry.first);
        for (const auto& kind : attention_kind_names())
            for (const KindParameter& parameter : attention_capabilities(kind).parameters)
                if (!contains(out, parameter.name)) out.push_back(parameter.name);
        return out;
    }();
    return names;
}

void set_parameter(ModelConfig& config, const std::string& key, const ParamValue& value) {
    const auto& table = setters();
    const auto found = table.find(key);
    if (found == table.end()) {
        if (!find_kind_parameter(key))
            throw Error("unknown parameter " + quote_text(key) + " (known: " + joined(builder_parameter_names()) + ")",
                        key);
        config.kind_parameters[key] = as_double(key, value);
        return;
    }
    ModelConfig updated = config;
    found->second(updated, key, value);
    config = updated;
}

namespace {

// The attention types a config's modules use: self attention, and a decoder's cross attention.
std::vector<std::string> configured_attention_types(const ModelConfig& c) {
    std::vector<std::string> types = {c.self_attention()};
    if (c.kind == ModelKind::Decoder) types.push_back(c.cross_attention_type);
    return types;
}

std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

// Each set kind parameter belongs to a configured kind and lies in its declared range.
void require_kind_parameters(const ModelConfig& c) {
    const std::vector<std::string> types = configured_attention_types(c);
    for (const auto& [name, value] : c.kind_parameters) {
        const KindParameter* declared = nullptr;
        for (const auto& type : types)
            for (const KindParameter& parameter : attention_capabilities(type).parameters)
                if (parameter.name == name) declared = &parameter;
        if (!declared)
            throw Error("parameter " + quote_text(name) + " belongs to another attention kind, not to " +
                            quote_text(joined(types)),
                        name);
        if (!(std::isfinite(value) && value >= declared->minimum && value <= declared->maximum))
            throw Error("parameter " + quote_text(name) + " must be in [" + number_text(declared->minimum) + ", " +
                            number_text(declared->maximum) + "], got " + number_text(value),
                        name);
    }
}

}  // namespace

void validate(const ModelConfig& c) {
    if (c.kind == ModelKind::Encoder) {
        require_one_of("attention_type", c.attention_type, self_attention_types());
    } else {
        require_one_of("self_attention_type", c.self_attention_type, self_attention_types());
        require_one_of("cross_attention_type", c.cross_attention_type, cross_attention_types());
    }
    require_positive("n_layers", c.n_layers, kMaxLayers);
    require_positive("n_heads", c.n_heads, kMaxHeads);
    require_positive("query_dimensions", c.query_dimensions, kMaxHeadDimensions);
    require_positive("value_dimensions", c.value_dimensions, kMaxHeadDimensions);
    require_product_at_most("d_model", "n_heads", "value_dimensions", c.d_model());
    require_positive("feed_forward_dimensions", c.feed_forward_dimensions, kMaxFeedForwardDimensions);
    require_one_of("activation", c.activation, activation_names());
    require_dropout("dropout", c.dropout);
    require_dropout("attention_dropout", c.attention_dropout);
    if (c.softmax_temp && !(std::isfinite(*c.softmax_temp) && *c.softmax_temp > 0))
        throw Error("parameter 'softmax_temp' must be a positive number, got " + std::to_string(*c.softmax_temp),
                    "softmax_temp");
    if (!(std::isfinite(c.eps) && c.eps >= 0))
        throw Error("parameter 'eps' must be a non-negative number, got " + std::to_string(c.eps), "eps");
    require_one_of("feature_map", c.feature_map, feature_map_names());
    require_non_negative("feature_map_dimensions", c.feature_map_dimensions, kMaxFeatureMapDimensions);
    require_non_negative("cross_n_heads", c.cross_n_heads, kMaxHeads);
    require_non_negative("cross_query_dimensions", c.cross_query_dimensions, kMaxHeadDimensions);
    require_non_negative("cross_value_dimensions", c.cross_value_dimensions, kMaxHeadDimensions);
    require_non_negative("cross_model_dimensions", c.cross_model_dimensions, kMaxModelDimensions);
    if (c.kind == ModelKind::Decoder && !c.cross_model_dimensions)
        require_product_at_most("cross_model_dimensions", "cross_n_heads", "cross_value_dimensions",
                                c.effective_cross_model_dimensions());
    require_one_of("precision", c.precision, precision_names());
    require_one_of("cache_precision", c.cache_precision, cache_precision_names());
    require_kind_parameters(c);
    // A feature map's own limits (n_dims too small for its construction), then what its draws cost.
    require_feasible_feature_draw(c, *make_feature_map(feature_map_options(c, c.query_dimensions)));
}

ModelConfig config_from_params(const ParamMap& params) {
    ModelConfig config;
    for (const auto& [key, value] : params) set_parameter(config, key, value);
    validate(config);
    return config;
}

ParamMap params_from_json(const std::string& json_text) {
    if (json_text.size() > kMaxConfigJsonBytes)
        throw Error("config is " + std::to_string(json_text.size()) + " bytes of JSON, more than the " +
                    std::to_string(kMaxConfigJsonBytes) + " a builder config can need");
    json document;
    try {
        document = json::parse(json_text, refuse_nested_containers);
    } catch (const json::exception& e) {
        throw Error("config is not valid JSON: " + clean_text(e.what()));
    }
    if (!document.is_object()) throw Error("config must be a JSON object");
    ParamMap params;
    for (const auto& [key, value] : document.items()) {
        if (value.is_null()) continue;
        params[key] = from_json_value(key, value);
    }
    return params;
}

ModelConfig config_from_json(const std::string& json_text) { return config_from_params(params_from_json(json_text)); }

namespace {

// The set kind parameters and the defaults of those the configured kinds declare and nobody set: two configs
// that differ only in stating a default are one model.
std::map<std::string, double> effective_kind_parameters(const ModelConfig& c) {
    std::map<std::string, double> out = c.kind_parameters;
    const std::vector<std::string> types = configured_attention_types(c);
    for (const auto& type : types)
        if (contains(attention_kind_names(), type))
            for (const KindParameter& parameter : attention_capabilities(type).parameters)
                out.emplace(parameter.name, parameter.default_value);
    return out;
}

}  // namespace

std::string config_to_json(const ModelConfig& c) {
    json out = {
        {"kind", c.kind == ModelKind::Encoder ? "encoder" : "decoder"},
        {"n_layers", c.n_layers},
        {"n_heads", c.n_heads},
        {"query_dimensions", c.query_dimensions},
        {"value_dimensions", c.value_dimensions},
        {"feed_forward_dimensions", c.feed_forward_dimensions},
        {"activation", c.activation},
        {"final_normalization", c.final_normalization},
        {"dropout", c.dropout},
        {"attention_dropout", c.attention_dropout},
        {"eps", c.eps},
        {"feature_map", c.feature_map},
        {"precision", c.precision},
        {"cache_precision", c.cache_precision},
    };
    if (c.kind == ModelKind::Encoder) {
        out["attention_type"] = c.attention_type;
    } else {
        out["self_attention_type"] = c.self_attention_type;
        out["cross_attention_type"] = c.cross_attention_type;
        out["cross_n_heads"] = c.effective_cross_n_heads();
        out["cross_query_dimensions"] = c.effective_cross_query_dimensions();
        out["cross_value_dimensions"] = c.effective_cross_value_dimensions();
        out["cross_model_dimensions"] = c.effective_cross_model_dimensions();
    }
    if (c.softmax_temp) out["softmax_temp"] = *c.softmax_temp;
    for (const auto& [name, value] : effective_kind_parameters(c)) out[name] = value;
    if (c.feature_map_dimensions) out["feature_map_dimensions"] = c.feature_map_dimensions;
    if (c.feature_map_stabilize) out["feature_map_stabilize"] = true;
    return out.dump();
}

}  // namespace stepscope
