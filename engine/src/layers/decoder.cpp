// The recurrent decoder: self attention, cross attention over the memory, feed-forward, per layer.
#include "layers/decoder.h"

#include "layers/build_layers.h"
#include "layers/layer_stack.h"
#include "layers/step_scratch.h"
#include "core/parameters.h"

namespace stepscope {

RecurrentTransformerDecoderLayer::RecurrentTransformerDecoderLayer(const ModelConfig& config, const TensorMap& tensors,
                                                                   int layer)
    : self_attention_(config, tensors, self_attention_prefix(config, layer), layer),
      cross_attention_(config, tensors, layer),
      feed_forward_(config, tensors, "layers." + std::to_string(layer)),
      norm1_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm1")),
      norm2_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm2")),
      norm3_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm3")) {}

void RecurrentTransformerDecoderLayer::store(const ModelConfig& config, int layer, TensorMap& out) const {
    const std::string prefix = "layers." + std::to_string(layer);
    self_attention_.store(self_attention_prefix(config, layer), out);
    cross_attention_.store(cross_attention_prefix(layer), out);
    feed_forward_.store(prefix, out);
    store_layer_norm(norm1_, prefix + ".norm1", out);
    store_layer_norm(norm2_, prefix + ".norm2", out);
    store_layer_norm(norm3_, prefix + ".norm3", out);
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

RecurrentTransformerDecoder::RecurrentTransformerDecoder(const ModelConfig& config, const LayerTensors& tensors)
    : layers_(build_layers<RecurrentTransformerDecoderLayer>(config.n_layers, [&](int i) {
          return RecurrentTransformerDecoderLayer(config, *tensors(i), i);
      })) {
    if (config.final_normalization) norm_ = layer_norm_from(*tensors(config.n_layers), "norm");
}

void RecurrentTransformerDecoder::store(const ModelConfig& config, TensorMap& out) const {
    for (int i = 0; i < int(layers_.size()); ++i) layers_[size_t(i)].store(config, i, out);
    if (norm_) store_layer_norm(*norm_, "norm", out);
}

void RecurrentTransformerDecoder::forward(const ConstMatrixRef& x, const Memory& memory, State& state, RowMatrix& y,
                                          const StepOptions& options) const {
    StepScratch& s = state.scratch.get();
    step_layers(x, int(layers_.size()), norm_, s, y, options.observer, [&](int i, RowMatrix& h) {
        layers_[i].forward(h, memory, state.layers[i], state.sequence_seed, s, LayerStep::of(options, state.step, i));
    });
}

}  // namespace stepscope
