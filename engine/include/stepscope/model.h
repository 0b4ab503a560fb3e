// A recurrent transformer model: immutable weights and config, stepped over a separate State.
//
//   auto model = Model::create_random(config, /*seed=*/1);
//   State state = model->new_state();
//   RowMatrix y;
//   for (each x of shape (N, E)) model->step(x, state, y);
//
// Thread safety: a Model is immutable and may be shared between threads; a
// State belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "stepscope/attention_kind.h"
#include "stepscope/config.h"
#include "stepscope/observer.h"
#include "stepscope/state.h"
#include "stepscope/tensor.h"
#include "stepscope/types.h"

namespace stepscope {

class RecurrentTransformerEncoder;
class RecurrentTransformerDecoder;
class InnerAttention;
class Observation;
struct Ablation;

// One attention module of a model. Model::attention_modules() lists them in
// layer order, a decoder layer's self attention before its cross attention.
struct AttentionModule {
    int layer = 0;
    AttentionRole role = AttentionRole::Self;
    std::string prefix;  // its weights' names: "layers.{i}.attention", ".self_attention" or ".cross_attention"
    const AttentionCapabilities* kind = nullptr;  // its attention kind, under the name it was configured by
    const InnerAttention* inner = nullptr;        // the module itself, for the engine's own code (attention_layer.h)

    AttentionState& state(State& of) const { return of.layers[size_t(layer)].attention(role); }
    const AttentionState& state(const State& of) const { return of.layers[size_t(layer)].attention(role); }
};

// What a step does besides stepping; every part optional.
struct StepOptions {
    StepObserver* observer = nullptr;    // receives what the step shows
    Observation* observation = nullptr;  // layers looked inside, and the history that needs (observation.h)
    const Ablation* ablation = nullptr;  // heads silenced (intervention.h)
};

// A decoder's memory: (N, S, E_mem) as N*S rows, with the number of valid
// elements of each sequence (the reference's LengthMask; all S when empty).
// What the buffers of one block of Model::step_block hold at most (Model::block_steps).
constexpr double kBlockBufferBytes = 64.0 * (1 << 20);

struct Memory {
    RowMatrix values;              // (N*S, E_mem), rows ordered (n, s)
    int batch = 0;                 // N
    int length = 0;                // S
    std::vector<int64_t> lengths;  // (N) in 1..S, or empty for all S
};

class Model {
public:
    ~Model();

    // Random weights as the reference initialises them (uniform +-1/sqrt(in)
    // for linear layers, ones and zeros for LayerNorm), drawn from `seed`:
    // layer by layer on oneTBB's workers, the same weights whatever the
    // thread count, never more than a layer's tensors per worker beside the model.
    static std::shared_ptr<const Model> create_random(const ModelConfig& config, uint64_t seed);

    // Weights under the reference's tensor names. Throws Error naming a
    // missing tensor, a wrong shape or an integer dtype; unknown tensors are
    // an error too, since they mean the file belongs to another architecture.
    // Given the map to keep, it frees each layer's tensors once that layer is built.
    static std::shared_ptr<const Model> from_tensors(const ModelConfig& config, const TensorMap& tensors);
    static std::shared_ptr<const Model> from_tensors(const ModelConfig& config, TensorMap&& tensors);

    const ModelConfig& config() const { return config_; }
    // The config's precision and activation, parsed when the model was built.
    Precision precision() const { return precision_; }
    Activation activation() const { return activation_; }
    // Every weight under its reference name (what save_model writes), exactly as given: copied out of
    // the layers on each call, since the model holds each weight once, as its kernels read it.
    TensorMap tensors() const;
    // The names and shapes tensors() would give, without copying a weight.
    std::map<std::string, std::vector<int64_t>> tensor_shapes() const;

    // An empty state; `sequence_seed` seeds the random feature maps' draws.
    State new_state(uint64_t sequence_seed = 0) const;

    // Throws Error unless `state` has this model's layers, heads and
    // dimensions throughout (shapes only: cheap enough for every step).
    void check_state(const State& state) const;

    // Encoder step: x (N, E) -> y (N, E). Throws Error, leaving `state` as it
    // was, when x is not d_model wide, N changed within the sequence, or the
    // model is a decoder.
    void step(const ConstMatrixRef& x, State& state, RowMatrix& y, StepObserver* observer = nullptr) const;
    // The same, observed as `options` asks and with its heads ablated; an
    // ablation naming a layer or head the model lacks throws Error too.
    void step(const ConstMatrixRef& x, State& state, RowMatrix& y, const StepOptions& options) const;

    // Decoder step with its memory. Also throws, leaving `state` unchanged,
    // for lengths outside 1..S, a memory of the wrong width or batch, or a
    // memory that differs from the one this sequence started with.
    void step(const ConstMatrixRef& x, const Memory& memory, State& state, RowMatrix& y,
              StepObserver* observer = nullptr) const;
    void step(const ConstMatrixRef& x, const Memory& memory, State& state, RowMatrix& y,
              const StepOptions& options) const;

    // `steps` steps of known inputs at once: xs (T*N, E), rows (t, n) -> ys likewise, the same outputs and
    // state as T calls of step(), bit for bit. An encoder unobserved runs its projections and feed-forward
    // blocks as one product over the block's rows, reading the weights once per block rather than once per
    // step, and advances the attention state step by step inside the block (a kind may take it whole,
    // AttentionKind::self_block); a decoder or an observed block steps one element at a time. Ablations
    // apply at each step. Throws Error, leaving `state` as it was, where step() would at any of the block's
    // steps.
    void step_block(const ConstMatrixRef& xs, int steps, State& state, RowMatrix& ys,
                    const StepOptions& options = {}) const;
    // How many steps of batch `batch` a block should hold: at most `most`, and few enough that its buffers
    // (T*N rows of the projections, the feed-forward layer and the activations) stay within
    // kBlockBufferBytes (64 MiB).
    int block_steps(long batch, int most = 64) const;

    // The checks a step makes before it touches `state`, for steppers that
    // keep the state's tensors elsewhere (device.h): the same errors, worded
    // the same. They read the state's batch, step, layer count and memory,
    // not its tensors (check_state does, where they are on the host).
    void check_step(const ConstMatrixRef& x, const State& state) const;
    void check_step(const ConstMatrixRef& x, const Memory& memory, const State& state) const;

    // The batch (parallel) encoder with a triangular causal mask, sharing
    // these weights: xs (T, N, E) as T*N rows ordered (t, n) -> ys likewise.
    // New sequence, no state; random feature maps draw as new_state(seed) would.
    RowMatrix forward_batch(const ConstMatrixRef& xs, int steps, uint64_t sequence_seed = 0) const;

    bool is_decoder() const { return decoder_ != nullptr; }
    // Every attention module, for code that handles each the same way (snapshots, devices, interventions).
    const std::vector<AttentionModule>& attention_modules() const { return modules_; }
    // The module of `role` in `layer`; throws Error naming a layer or role the model lacks.
    const AttentionModule& attention_module(int layer, AttentionRole role) const;

private:
    explicit Model(ModelConfig config);
    // Builds the layers from `tensors` (parameters.h's LayerTensors) after the caller's checks.
    template <typename Tensors>
    static std::shared_ptr<const Model> build(const ModelConfig& config, const Tensors& tensors);
    void add_module(int layer, AttentionRole role, const std::string& prefix, const InnerAttention& inner);

    ModelConfig config_;
    std::unique_ptr<RecurrentTransformerEncoder> encoder_;
    std::unique_ptr<RecurrentTransformerDecoder> decoder_;
    std::vector<AttentionModule> modules_;
    int64_t max_steps_ = 0;  // the longest sequence the self attentions' states hold
    Precision precision_ = Precision::F32;
    Activation activation_ = Activation::Relu;
};

// Reads a model saved by the reference or by save_model: the builder config
// from `__metadata__.config`, the weights under the reference's names. A file
// with a token head is refused with a message that says so (token_model.h
// opens it).
std::shared_ptr<const Model> load_model(const std::string& path);
// The same for a caller that asked for a model: the file's config must describe the same
// architecture as `requested` (architecture_difference, config.h), else Error names the first
// difference; the weights are then held at the requested precision and cache precision.
std::shared_ptr<const Model> load_model(const std::string& path, const ModelConfig& requested);
void save_model(const std::string& path, const Model& model);

}  // namespace stepscope
