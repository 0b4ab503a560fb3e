// RecurrentEncoderBuilder and RecurrentDecoderBuilder: the reference's builders, by parameter name.
//
//   auto builder = RecurrentEncoderBuilder::from_kwargs({{"n_layers", int64_t(8)},
//                                                        {"attention_type", std::string("linear")}});
//   auto model = builder.get(/*seed=*/0);
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "stepscope/config.h"
#include "stepscope/model.h"

namespace stepscope {

class TransformerBuilder {
public:
    // Sets one parameter; throws Error naming the key, leaving the builder as it was.
    void set(const std::string& key, const ParamValue& value) { set_parameter(config_, key, value); }
    const ModelConfig& config() const { return config_; }

    // Validates, then builds with random weights drawn from `seed`.
    std::shared_ptr<const Model> get(uint64_t seed = 0) const;

protected:
    explicit TransformerBuilder(ModelKind kind) { config_.kind = kind; }
    ModelConfig config_;
};

class RecurrentEncoderBuilder : public TransformerBuilder {
public:
    RecurrentEncoderBuilder() : TransformerBuilder(ModelKind::Encoder) {}
    static RecurrentEncoderBuilder from_kwargs(const ParamMap& params);
    static RecurrentEncoderBuilder from_json(const std::string& json_text);
};

class RecurrentDecoderBuilder : public TransformerBuilder {
public:
    RecurrentDecoderBuilder() : TransformerBuilder(ModelKind::Decoder) {}
    static RecurrentDecoderBuilder from_kwargs(const ParamMap& params);
    static RecurrentDecoderBuilder from_json(const std::string& json_text);
};

}  // namespace stepscope
