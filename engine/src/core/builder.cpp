// The builders: a ModelConfig filled by name, validated whole before anything is built.
#include "stepscope/builder.h"

#include "stepscope/error.h"

namespace stepscope {

namespace {

template <typename Builder>
Builder builder_from(const ParamMap& params, ModelKind kind) {
    Builder builder;
    ParamMap rest = params;
    if (auto found = rest.find("kind"); found != rest.end()) {
        const auto* name = std::get_if<std::string>(&found->second);
        const char* expected = kind == ModelKind::Encoder ? "encoder" : "decoder";
        if (!name || *name != expected)
            throw Error(std::string("parameter 'kind' must be '") + expected + "' for this builder");
        rest.erase(found);
    }
    ModelConfig config = builder.config();
    for (const auto& [key, value] : rest) set_parameter(config, key, value);
    validate(config);
    for (const auto& [key, value] : rest) builder.set(key, value);
    return builder;
}

}  // namespace

std::shared_ptr<const Model> TransformerBuilder::get(uint64_t seed) const {
    validate(config_);
    return Model::create_random(config_, seed);
}

RecurrentEncoderBuilder RecurrentEncoderBuilder::from_kwargs(const ParamMap& params) {
    return builder_from<RecurrentEncoderBuilder>(params, ModelKind::Encoder);
}
RecurrentEncoderBuilder RecurrentEncoderBuilder::from_json(const std::string& json_text) {
    return from_kwargs(params_from_json(json_text));
}
RecurrentDecoderBuilder RecurrentDecoderBuilder::from_kwargs(const ParamMap& params) {
    return builder_from<RecurrentDecoderBuilder>(params, ModelKind::Decoder);
}
RecurrentDecoderBuilder RecurrentDecoderBuilder::from_json(const std::string& json_text) {
    return from_kwargs(params_from_json(json_text));
}

}  // namespace stepscope
