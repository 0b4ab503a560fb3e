// RecurrentTransformerDecoderLayer and RecurrentTransformerDecoder: self attention, cross attention over a memory,
// feed-forward.
#pragma once

#include <optional>
#include <vector>

#include "layers/attention_layer.h"
#include "layers/encoder.h"

namespace stepscope {

class RecurrentTransformerDecoderLayer {
public:
    RecurrentTransformerDecoderLayer(const ModelConfig& config, const TensorMap& tensors, int layer);

    const RecurrentAttentionLayer& self_attention() const { return self_attention_; }
    const RecurrentCrossAttentionLayer& cross_attention() const { return cross_attention_; }
    void store(const ModelConfig& config, int layer, TensorMap& out) const;

    // x (N, E) in place:  x = norm1(x + self_attn(x));  x = norm2(x + cross_attn(x, memory));
    //                     x = norm3(x + ff(x))
    void forward(RowMatrix& x, const Memory& memory, LayerState& state, uint64_t sequence_seed, StepScratch& scratch,
                 const LayerStep& step) const;

private:
    RecurrentAttentionLayer self_attention_;
    RecurrentCrossAttentionLayer cross_attention_;
    FeedForward feed_forward_;
    LayerNorm norm1_, norm2_, norm3_;
};

class RecurrentTransformerDecoder {
public:
    // Builds the layers in parallel, each from tensors(i) (parameters.h).
    RecurrentTransformerDecoder(const ModelConfig& config, const LayerTensors& tensors);

    const std::vector<RecurrentTransformerDecoderLayer>& layers() const { return layers_; }
    void store(const ModelConfig& config, TensorMap& out) const;

    void forward(const ConstMatrixRef& x, const Memory& memory, State& state, RowMatrix& y,
                 const StepOptions& options) const;

private:
    std::vector<RecurrentTransformerDecoderLayer> layers_;
    std::optional<LayerNorm> norm_;
};

}  // namespace stepscope
