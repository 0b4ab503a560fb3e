// RecurrentTransformerEncoderLayer and RecurrentTransformerEncoder: post-norm layers stepped one element at a time.
#pragma once

#include <optional>
#include <vector>

#include "layers/attention_layer.h"
#include "layers/linear.h"
#include "layers/layer_norm_activation.h"
#include "core/parameters.h"

namespace stepscope {

// The feed-forward half every layer shares: y = norm(x + linear2(act(linear1(x)))).
struct FeedForward {
    Linear linear1;
    Linear linear2;
    Activation activation = Activation::Relu;

    FeedForward(const ModelConfig& config, const TensorMap& tensors, const std::string& layer_prefix);
    // x (N, E) in place: x = norm(x + ff(x)).
    void residual(RowMatrix& x, const LayerNorm& norm, RowMatrix& hidden, RowMatrix& out) const;
    void store(const std::string& layer_prefix, TensorMap& out) const;
};

LayerNorm layer_norm_from(const TensorMap& tensors, const std::string& prefix);
void store_layer_norm(const LayerNorm& norm, const std::string& prefix, TensorMap& out);

class RecurrentTransformerEncoderLayer {
public:
    RecurrentTransformerEncoderLayer(const ModelConfig& config, const TensorMap& tensors, int layer);

    const RecurrentAttentionLayer& attention() const { return attention_; }
    // Its weights under the reference's names (for saving).
    void store(const ModelConfig& config, int layer, TensorMap& out) const;

    // x (N, E) in place:  x = norm1(x + attn(x));  x = norm2(x + ff(x))
    void forward(RowMatrix& x, AttentionState& state, uint64_t sequence_seed, StepScratch& scratch,
                 const LayerStep& step) const;
    // The same over a whole sequence (T*N, E) with causal attention.
    void forward_batch(RowMatrix& xs, int steps, uint64_t sequence_seed) const;
    // T steps of known inputs, xs (T*N, E) in place, rows (t, n): every product over the block's rows, the
    // attention state advanced step by step from `first_step`.
    void forward_block(RowMatrix& xs, int steps, AttentionState& state, uint64_t sequence_seed, StepScratch& scratch,
                       const StepOptions& options, int64_t first_step, int layer) const;

private:
    RecurrentAttentionLayer attention_;
    FeedForward feed_forward_;
    LayerNorm norm1_, norm2_;
};

class RecurrentTransformerEncoder {
public:
    // Builds the layers in parallel, each from tensors(i) (parameters.h).
    RecurrentTransformerEncoder(const ModelConfig& config, const LayerTensors& tensors);

    const std::vector<RecurrentTransformerEncoderLayer>& layers() const { return layers_; }
    void store(const ModelConfig& config, TensorMap& out) const;

    // x (N, E) -> y (N, E); the caller has checked shapes against `state`.
    void forward(const ConstMatrixRef& x, State& state, RowMatrix& y, const StepOptions& options) const;
    RowMatrix forward_batch(const ConstMatrixRef& xs, int steps, uint64_t sequence_seed) const;
    // xs (T*N, E) -> ys (T*N, E) over T steps of an unobserved run (Model::step_block has checked them).
    void forward_block(const ConstMatrixRef& xs, int steps, State& state, RowMatrix& ys,
                       const StepOptions& options) const;

private:
    std::vector<RecurrentTransformerEncoderLayer> layers_;
    std::optional<LayerNorm> norm_;
};

}  // namespace stepscope
