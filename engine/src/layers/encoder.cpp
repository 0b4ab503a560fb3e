// The recurrent encoder: its layers' step and causal batch form, and the shared feed-forward block.
#include "layers/encoder.h"

#include "layers/build_layers.h"
#include "layers/layer_stack.h"
#include "layers/step_scratch.h"
#include "core/parameters.h"

namespace stepscope {

LayerNorm layer_norm_from(const TensorMap& tensors, const std::string& prefix) {
    return LayerNorm{vector_of(tensors.at(prefix + ".weight")), vector_of(tensors.at(prefix + ".bias"))};
}

void store_layer_norm(const LayerNorm& norm, const std::string& prefix, TensorMap& out) {
    out[prefix + ".weight"] = tensor_of(norm.weight.data(), {norm.weight.size()});
    out[prefix + ".bias"] = tensor_of(norm.bias.data(), {norm.bias.size()});
}

FeedForward::FeedForward(const ModelConfig& config, const TensorMap& tensors, const std::string& layer_prefix)
    : linear1(linear_from(tensors, layer_prefix + ".linear1", weight_format(config))),
      linear2(linear_from(tensors, layer_prefix + ".linear2", weight_format(config))),
      activation(activation_from_name(config.activation)) {}

void FeedForward::residual(RowMatrix& x, const LayerNorm& norm, RowMatrix& hidden, RowMatrix& out) const {
    linear1.forward(x, hidden);
    apply_activation(activation, hidden);
    linear2.forward(hidden, out);
    x += out;
    norm.apply(x);
}

void FeedForward::store(const std::string& layer_prefix, TensorMap& out) const {
    store_linear(linear1, layer_prefix + ".linear1", out);
    store_linear(linear2, layer_prefix + ".linear2", out);
}

RecurrentTransformerEncoderLayer::RecurrentTransformerEncoderLayer(const ModelConfig& config, const TensorMap& tensors,
                                                                   int layer)
    : attention_(config, tensors, self_attention_prefix(config, layer), layer),
      feed_forward_(config, tensors, "layers." + std::to_string(layer)),
      norm1_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm1")),
      norm2_(layer_norm_from(tensors, "layers." + std::to_string(layer) + ".norm2")) {}

void RecurrentTransformerEncoderLayer::store(const ModelConfig& config, int layer, TensorMap& out) const {
    const std::string prefix = "layers." + std::to_string(layer);
    attention_.store(self_attention_prefix(config, layer), out);
    feed_forward_.store(prefix, out);
    store_layer_norm(norm1_, prefix + ".norm1", out);
    store_layer_norm(norm2_, prefix + ".norm2", out);
}

void RecurrentTransformerEncoderLayer::forward(RowMatrix& x, AttentionState& state, uint64_t sequence_seed,
                                               StepScratch& s, const LayerStep& step) const {
    attention_.forward(x, state, sequence_seed, s, s.attended, step);
    x += s.attended;
    norm1_.apply(x);
    feed_forward_.residual(x, norm2_, s.hidden, s.feed_forward);
}

void RecurrentTransformerEncoderLayer::forward_batch(RowMatrix& xs, int steps, uint64_t sequence_seed) const {
    RowMatrix attended, hidden, out;
    attention_.forward_batch(xs, steps, sequence_seed, attended);
    xs += attended;
    norm1_.apply(xs);
    feed_forward_.residual(xs, norm2_, hidden, out);
}

void RecurrentTransformerEncoderLayer::forward_block(RowMatrix& xs, int steps, AttentionState& state,
                                                     uint64_t sequence_seed, StepScratch& s, const StepOptions& options,
                                                     int64_t first_step, int layer) const {
    BlockScratch& block = s.block;
    attention_.forward_block(xs, steps, state, sequence_seed, s, block.attended,
                             [&](int t) { return LayerStep::of(options, first_step + t, layer); });
    xs += block.attended;
    norm1_.apply(xs);
    feed_forward_.residual(xs, norm2_, block.hidden, block.feed_forward);
}

RecurrentTransformerEncoder::RecurrentTransformerEncoder(const ModelConfig& config, const LayerTensors& tensors)
    : layers_(build_layers<RecurrentTransformerEncoderLayer>(config.n_layers, [&](int i) {
          return RecurrentTransformerEncoderLayer(config, *tensors(i), i);
      })) {
    if (config.final_normalization) norm_ = layer_norm_from(*tensors(config.n_layers), "norm");
}

void RecurrentTransformerEncoder::store(const ModelConfig& config, TensorMap& out) const {
    for (int i = 0; i < int(layers_.size()); ++i) layers_[size_t(i)].store(config, i, out);
    if (norm_) store_layer_norm(*norm_, "norm", out);
}

void RecurrentTransformerEncoder::forward(const ConstMatrixRef& x, State& state, RowMatrix& y,
                                          const StepOptions& options) const {
    StepScratch& s = state.scratch.get();
    step_layers(x, int(layers_.size()), norm_, s, y, options.observer, [&](int i, RowMatrix& h) {
        layers_[i].forward(h, state.layers[i].self_attention, state.sequence_seed, s,
                           LayerStep::of(options, state.step, i));
    });
}

void RecurrentTransformerEncoder::forward_block(const ConstMatrixRef& xs, int steps, State& state, RowMatrix& ys,
                                                const StepOptions& options) const {
    StepScratch& s = state.scratch.get();
    ys = xs;
    for (int i = 0; i < int(layers_.size()); ++i)
        layers_[size_t(i)].forward_block(ys, steps, state.layers[size_t(i)].self_attention, state.sequence_seed, s,
                                         options, state.step, i);
    if (norm_) norm_->apply(ys);
}

RowMatrix RecurrentTransformerEncoder::forward_batch(const ConstMatrixRef& xs, int steps,
                                                     uint64_t sequence_seed) const {
    RowMatrix out = xs;
    for (const auto& layer : layers_) layer.forward_batch(out, steps, sequence_seed);
    if (norm_) norm_->apply(out);
    return out;
}

}  // namespace stepscope
