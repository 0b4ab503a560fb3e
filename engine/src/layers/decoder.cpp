// The recurrent decoder: self attention, cross attention over the memory, feed-forward, per layer.
#include "layers/decoder.h"

#include "layers/layer_stack.h"
#include "layers/step_scratch.h"
#include "core/parameters.h"

namespace stepscope {

RecurrentTransformerDecoderLayer::RecurrentTransformerDecoderLayer(const ModelConfig& config,
                                                                   const TensorMap& tensors, int layer)
    : self_attention_(config, tensors, self_attention_prefix(config, layer), layer),
      cross_attention_(config, tensors, layer),
      feed_forward_(config, tensors, "layers." + std::to_string(layer)),
      norm1_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm1")),
      norm2_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm2")),
      norm3_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm3")) {}

void RecurrentTransformerDecoderLayer::use_format(WeightFormat format) {
    self_attention_.use_format(format);
    cross_attention_.use_format(format);
    feed_forward_.use_format(format);
}

void RecurrentTransformerDecoderLayer::forward(RowMatrix& x, const Memory& memory, LayerState& state,
                                               uint64_t sequence_seed, StepScratch& s, const LayerStep& step) const {
    self_attention_.forward(x, state.self_attention, sequence_seed, s, s.attended, step);
    x += s.attended;
    norm1_.apply(x);
    cross_attention_.forward(x, memory, state.cross_attention, sequence_seed, s, s.attended, step);
    x += s.attended;
    norm2_.apply(x);
    feed_forward_.residual(x, norm3_, s.hidden, s.feed_forward);
}

RecurrentTransformerDecoder::RecurrentTransformerDecoder(const ModelConfig& config, const TensorMap& tensors) {
    layers_.reserve(config.n_layers);
    for (int i = 0; i < config.n_layers; ++i) layers_.emplace_back(config, tensors, i);
    if (config.final_normalization) norm_ = layer_norm_from(tensors, "norm");
}

void RecurrentTransformerDecoder::use_format(WeightFormat format) {
    for (auto& layer : layers_) layer.use_format(format);
}

void RecurrentTransformerDecoder::forward(const ConstMatrixRef& x, const Memory& memory, State& state,
                                          RowMatrix& y, const StepOptions& options) const {
    StepScratch& s = state.scratch.get();
    step_layers(x, int(layers_.size()), norm_, s, y, options.observer, [&](int i, RowMatrix& h) {
        layers_[i].forward(h, memory, state.layers[i], state.sequence_seed, s, LayerStep::of(options, state.step, i));
    });
}

}  // namespace stepscope
