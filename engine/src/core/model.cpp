// Model: building from weights or a seed, checked steps that leave the state intact on error, file I/O.
#include "stepscope/model.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>

#include <cmath>

#include "layers/attention_layer.h"
#include "layers/decoder.h"
#include "layers/encoder.h"
#include "stepscope/error.h"
#include "stepscope/intervention.h"
#include "stepscope/observation.h"
#include "stepscope/memory_budget.h"
#include "core/parameters.h"
#include "stepscope/safetensors.h"

namespace stepscope {

namespace {

std::string shape_text(long rows, long cols) { return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")"; }

void check_layer_count(const ModelConfig& config, const State& state) {
    if (int(state.layers.size()) != config.n_layers)
        throw Error("the state has " + std::to_string(state.layers.size()) + " layers, the model " +
                    std::to_string(config.n_layers));
}

void check_input(const ModelConfig& config, const ConstMatrixRef& x, const State& state, int64_t max_steps) {
    if (x.cols() != config.d_model())
        throw Error("input has width " + std::to_string(x.cols()) + ", the model's d_model is " +
                    std::to_string(config.d_model()));
    if (x.rows() <= 0) throw Error("input has no batch elements");
    if (state.step >= max_steps)
        throw Error(config.self_attention() + " attention's cache holds at most " + std::to_string(max_steps) +
                    " steps (reset the state to start a new sequence)");
    if (!state.empty() && x.rows() != state.batch)
        throw Error("batch size changed within a sequence: " + std::to_string(state.batch) + " then " +
                    std::to_string(x.rows()) + " (reset the state to start a new sequence)");
}

// Names the first non-finite value; built only when the check fails.
Error non_finite_memory(const Memory& memory) {
    long index = 0;
    while (std::isfinite(memory.values.data()[index])) ++index;
    const long row = index / memory.values.cols();
    return Error("memory holds a value that is not finite (NaN or infinity) at sequence " +
                 std::to_string(row / memory.length) + ", element " + std::to_string(row % memory.length) +
                 ", feature " + std::to_string(index % memory.values.cols()) + "; a decoder needs a finite memory");
}

void check_memory(const ModelConfig& config, const Memory& memory, const State& state, long batch) {
    const int64_t width = config.effective_cross_model_dimensions();
    if (memory.batch != batch)
        throw Error("memory has batch " + std::to_string(memory.batch) + ", the input has " + std::to_string(batch));
    if (memory.length <= 0) throw Error("memory is empty");
    if (memory.values.rows() != long(memory.batch) * memory.length || memory.values.cols() != width)
        throw Error(
            "memory has shape " + shape_text(memory.values.rows(), memory.values.cols()) +
            ", expected (N*S, cross_model_dimensions) = " + shape_text(long(memory.batch) * memory.length, width));
    if (!memory.lengths.empty()) {
        if (long(memory.lengths.size()) != batch)
            throw Error("memory_lengths has " + std::to_string(memory.lengths.size()) + " entries for batch " +
                        std::to_string(batch));
        for (size_t n = 0; n < memory.lengths.size(); ++n)
            if (memory.lengths[n] < 1 || memory.lengths[n] > memory.length)
                throw Error("memory_lengths[" + std::to_string(n) + "] is " + std::to_string(memory.lengths[n]) +
                            ", outside 1.." + std::to_string(memory.length));
    }
    // Checked before the comparison below: NaN != NaN would report a changed memory.
    if (!memory.values.allFinite()) throw non_finite_memory(memory);
    if (state.empty() || state.layers.empty()) return;
    const AttentionState& cross = state.layers.front().cross_attention;
    // Compared in place: a steady-state step allocates nothing.
    bool same_lengths = long(cross.memory_lengths.size()) == memory.batch;
    for (int n = 0; same_lengths && n < memory.batch; ++n)
        same_lengths = cross.memory_lengths[n] == (memory.lengths.empty() ? memory.length : int(memory.lengths[n]));
    if (cross.memory.rows() != memory.values.rows() || cross.memory.cols() != memory.values.cols() ||
        cross.memory != memory.values || !same_lengths)
        throw Error("the memory changed within a sequence (reset the state to start a new sequence)");
}

// Names a module in a message; built only when a check fails, so checking allocates nothing.
struct Where {
    int layer;
    const char* module;
    std::string text() const { return "the state's layer " + std::to_string(layer) + " " + module; }
};

// Shapes only, so the check costs nothing per step; a state that passes is safe to step.
void check_module(const InnerAttention& inner, const AttentionState& s, int batch, const Where& where) {
    if (!s.started) throw Error(where.text() + " is empty in a started sequence");
    const std::string misfit = inner.kind().misfit(inner, s, batch);
    if (!misfit.empty()) throw Error(where.text() + misfit);
}

void check_cross_memory(const ModelConfig& config, const InnerAttention& inner, const AttentionState& s, int batch,
                        const Where& where) {
    const long rows = s.memory.rows();
    if (s.memory.cols() != config.effective_cross_model_dimensions() || rows < batch || rows % batch != 0)
        throw Error(where.text() + " memory does not fit the model");
    const long length = rows / batch;
    if (long(s.memory_lengths.size()) != batch)
        throw Error(where.text() + " has " + std::to_string(s.memory_lengths.size()) + " memory lengths for batch " +
                    std::to_string(batch));
    for (const int valid : s.memory_lengths)
        if (valid < 1 || valid > length)
            throw Error(where.text() + " memory length " + std::to_string(valid) + " is outside 1.." +
                        std::to_string(length));
    const std::string misfit = inner.kind().memory_misfit(s, length);
    if (!misfit.empty()) throw Error(where.text() + misfit);
}

void check_options(const Model& model, const StepOptions& options, long batch) {
    if (options.ablation) check_ablation(model, *options.ablation);
    if (!options.observation) return;
    const ObservationOptions& what = options.observation->options();
    for (const int layer : what.layers)
        if (layer < 0 || layer >= model.config().n_layers)
            throw Error("observed layer " + std::to_string(layer) + " is outside 0.." +
                        std::to_string(model.config().n_layers - 1));
    if (what.batch_element >= batch)
        throw Error("observed batch element " + std::to_string(what.batch_element) + " is outside 0.." +
                    std::to_string(batch - 1));
    // A view a kind does not declare is refused rather than computed as another kind's.
    for (const AttentionModule& module : model.attention_modules()) {
        if (!options.observation->observes(module.layer)) continue;
        const AttentionCapabilities& kind = *module.kind;
        if (what.attention && !kind.attention_map)
            throw Error("attention type '" + kind.name + "' (" + kind.description + ") has no exact attention map");
        // A cache kind observes its rows' entropy where a kind with S observes its spectrum.
        if (what.spectrum && !kind.spectrum && !kind.cache_entropy)
            throw Error("attention type '" + kind.name + "' (" + kind.description + ") has no spectrum of S");
    }
}

// The layers are built on oneTBB workers, whose malloc arenas glibc keeps at their peak (a layer's drawn
// or read tensors beside its packed copy): hand those freed pages back, tens of MB for the seed example.
void return_freed_memory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

}  // namespace

Model::Model(ModelConfig config) : config_(std::move(config)) {}
Model::~Model() = default;

template <typename Tensors>
std::shared_ptr<const Model> Model::build(const ModelConfig& config, const Tensors& tensors) {
    std::shared_ptr<Model> model(new Model(config));
    if (config.kind == ModelKind::Encoder)
        model->encoder_ = std::make_unique<RecurrentTransformerEncoder>(config, tensors);
    else model->decoder_ = std::make_unique<RecurrentTransformerDecoder>(config, tensors);
    model->precision_ = precision_from_name(config.precision);
    model->activation_ = activation_from_name(config.activation);
    for (int i = 0; i < config.n_layers; ++i) {
        const std::string prefix = self_attention_prefix(config, i);
        if (model->encoder_) {
            model->add_module(i, AttentionRole::Self, prefix, model->encoder_->layers()[size_t(i)].attention().inner());
            continue;
        }
        const auto& layer = model->decoder_->layers()[size_t(i)];
        model->add_module(i, AttentionRole::Self, prefix, layer.self_attention().inner());
        model->add_module(i, AttentionRole::Cross, cross_attention_prefix(i), layer.cross_attention().inner());
    }
    model->max_steps_ = model->modules_.front().kind->max_steps;
    return_freed_memory();
    return model;
}

std::shared_ptr<const Model> Model::create_random(const ModelConfig& config, uint64_t seed) {
    require_model_fits(config);
    const LayerTensors drawn = [&](int layer) {
        return std::make_shared<const TensorMap>(random_layer_parameters(config, seed, layer));
    };
    return build(config, drawn);
}

std::shared_ptr<const Model> Model::from_tensors(const ModelConfig& config, const TensorMap& tensors) {
    validate(config);
    check_parameters(config, tensors);
    // Every layer reads the caller's map, which outlives the build.
    const std::shared_ptr<const TensorMap> all(std::shared_ptr<const TensorMap>(), &tensors);
    return build(config, LayerTensors([&](int) { return all; }));
}

std::shared_ptr<const Model> Model::from_tensors(const ModelConfig& config, TensorMap&& tensors) {
    validate(config);
    check_parameters(config, tensors);
    std::vector<std::shared_ptr<const TensorMap>> layers = split_by_layer(std::move(tensors), config.n_layers);
    // Each layer takes its map, which is freed once the layer is built.
    return build(config, LayerTensors([&](int layer) { return std::move(layers[size_t(layer)]); }));
}

TensorMap Model::tensors() const {
    TensorMap out;
    if (encoder_) encoder_->store(config_, out);
    else decoder_->store(config_, out);
    return out;
}

std::map<std::string, std::vector<int64_t>> Model::tensor_shapes() const {
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const ParameterSpec& spec : parameter_specs(config_)) shapes[spec.name] = spec.shape;
    for (const AttentionModule& module : modules_)
        if (module.inner->has_stored_omega())
            shapes[omega_name(module.prefix)] = {module.inner->query_dims(), module.inner->omega_columns()};
    return shapes;
}

void Model::add_module(int layer, AttentionRole role, const std::string& prefix, const InnerAttention& inner) {
    modules_.push_back({layer, role, prefix, &inner.capabilities(), &inner});
}

const AttentionModule& Model::attention_module(int layer, AttentionRole role) const {
    if (layer < 0 || layer >= config_.n_layers)
        throw Error("layer " + std::to_string(layer) + " is outside 0.." + std::to_string(config_.n_layers - 1));
    if (role == AttentionRole::Cross && !decoder_) throw Error("an encoder has no cross attention");
    return modules_[decoder_ ? 2 * size_t(layer) + (role == AttentionRole::Cross) : size_t(layer)];
}

State Model::new_state(uint64_t sequence_seed) const {
    State state;
    state.layers.resize(config_.n_layers);
    state.sequence_seed = sequence_seed;
    return state;
}

void Model::check_state(const State& state) const {
    check_layer_count(config_, state);
    if (state.empty()) {
        for (const LayerState& layer : state.layers)
            if (layer.self_attention.started || layer.cross_attention.started)
                throw Error("the state's attention has started, but its step is 0");
        return;
    }
    if (state.batch < 1) throw Error("a started state needs a batch of at least 1, not " + std::to_string(state.batch));
    for (int i = 0; i < config_.n_layers; ++i) {
        const LayerState& s = state.layers[size_t(i)];
        if (encoder_) {
            check_module(encoder_->layers()[size_t(i)].attention().inner(), s.self_attention, state.batch,
                         {i, "attention"});
            continue;
        }
        const auto& layer = decoder_->layers()[size_t(i)];
        check_module(layer.self_attention().inner(), s.self_attention, state.batch, {i, "self attention"});
        check_module(layer.cross_attention().inner(), s.cross_attention, state.batch, {i, "cross attention"});
        const AttentionState& cross = s.cross_attention;
        check_cross_memory(config_, layer.cross_attention().inner(), cross, state.batch, {i, "cross attention"});
        // Every layer attends to the one memory of the sequence.
        const AttentionState& first = state.layers.front().cross_attention;
        if (cross.memory_lengths != first.memory_lengths || cross.memory.rows() != first.memory.rows())
            throw Error(Where{i, "cross attention"}.text() + " holds another memory than layer 0's");
    }
}

void Model::check_step(const ConstMatrixRef& x, const State& state) const {
    if (!encoder_) throw Error("this model is a decoder: a step needs its memory");
    check_layer_count(config_, state);
    check_input(config_, x, state, max_steps_);
}

void Model::check_step(const ConstMatrixRef& x, const Memory& memory, const State& state) const {
    if (!decoder_) throw Error("this model is an encoder: it takes no memory");
    check_layer_count(config_, state);
    check_input(config_, x, state, max_steps_);
    check_memory(config_, memory, state, x.rows());
}

void Model::step(const ConstMatrixRef& x, State& state, RowMatrix& y, StepObserver* observer) const {
    step(x, state, y, StepOptions{observer});
}

void Model::step(const ConstMatrixRef& x, const Memory& memory, State& state, RowMatrix& y,
                 StepObserver* observer) const {
    step(x, memory, state, y, StepOptions{observer});
}

void Model::step(const ConstMatrixRef& x, State& state, RowMatrix& y, const StepOptions& options) const {
    check_state(state);
    check_step(x, state);
    check_options(*this, options, x.rows());
    encoder_->forward(x, state, y, options);
    state.batch = static_cast<int>(x.rows());
    ++state.step;
}

void Model::step(const ConstMatrixRef& x, const Memory& memory, State& state, RowMatrix& y,
                 const StepOptions& options) const {
    check_state(state);
    check_step(x, memory, state);
    check_options(*this, options, x.rows());
    decoder_->forward(x, memory, state, y, options);
    state.batch = static_cast<int>(x.rows());
    ++state.step;
}

void Model::step_block(const ConstMatrixRef& xs, int steps, State& state, RowMatrix& ys,
                       const StepOptions& options) const {
    if (steps <= 0 || xs.rows() % steps != 0)
        throw Error("a block of " + std::to_string(xs.rows()) + " rows is not (T, N) for T = " + std::to_string(steps));
    const long batch = xs.rows() / steps;
    if (ys.rows() != xs.rows() || ys.cols() != xs.cols()) ys.resize(xs.rows(), xs.cols());
    if (decoder_ || options.observer || options.observation) {
        // Observers see each step whole, layer by layer, as step() shows it.
        RowMatrix y;
        for (int t = 0; t < steps; ++t) {
            step(xs.middleRows(t * batch, batch), state, y, options);
            ys.middleRows(t * batch, batch) = y;
        }
        return;
    }
    check_state(state);
    check_step(xs.topRows(batch), state);
    // Every step of the block within the longest sequence the state holds, not only the first.
    if (state.step + steps > max_steps_) {
        State at_limit;
        at_limit.step = max_steps_;
        check_input(config_, xs.topRows(batch), at_limit, max_steps_);
    }
    check_options(*this, options, batch);
    encoder_->forward_block(xs, steps, state, ys, options);
    state.batch = static_cast<int>(batch);
    state.step += steps;
}

int Model::block_steps(long batch, int most) const {
    const ModelConfig& c = config_;
    const double heads = c.n_heads, gates = double(modules_.front().kind->gates.size());
    // BlockScratch: projected, heads, attended, hidden, feed_forward, and the split heads of a kind that takes a
    // block at once (queries, keys, their features, values and outputs).
    const double row_floats = double(c.feed_forward_dimensions) + 4.0 * double(c.d_model()) +
                              heads * (2.0 * c.query_dimensions + 2.0 * c.value_dimensions + gates) +
                              heads * (4.0 * c.query_dimensions + 2.0 * c.value_dimensions);
    const double steps = kBlockBufferBytes / (sizeof(float) * row_floats * double(std::max(1L, batch)));
    return static_cast<int>(std::clamp(steps, 1.0, double(std::max(1, most))));
}

RowMatrix Model::forward_batch(const ConstMatrixRef& xs, int steps, uint64_t sequence_seed) const {
    if (!encoder_) throw Error("the batch form is implemented for encoders");
    if (steps <= 0 || xs.rows() % steps != 0)
        throw Error("a batch of " + std::to_string(xs.rows()) + " rows is not (T, N) for T = " + std::to_string(steps));
    if (xs.cols() != config_.d_model())
        throw Error("input has width " + std::to_string(xs.cols()) + ", the model's d_model is " +
                    std::to_string(config_.d_model()));
    return encoder_->forward_batch(xs, steps, sequence_seed);
}

namespace {

std::shared_ptr<const Model> load_model_as(const std::string& path, const ModelConfig* requested) {
    SafetensorsFile file = read_safetensors(path);
    const auto config = file.metadata.find("config");
    if (config == file.metadata.end()) throw Error(path + ": no builder config in __metadata__.config");
    if (file.tensors.count("embedding.weight"))
        throw Error(path + ": a token model (it has embedding.weight): use stepscope eval or generate");
    try {
        ModelConfig claimed = config_from_json(config->second);
        if (requested) claimed = stored_as_requested(claimed, *requested);
        // Cheap checks first: the file's tensors against the claim, then the memory the model takes.
        check_parameters(claimed, file.tensors);
        require_model_fits(claimed);
        return Model::from_tensors(claimed, std::move(file.tensors));
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

}  // namespace

std::shared_ptr<const Model> load_model(const std::string& path) { return load_model_as(path, nullptr); }

std::shared_ptr<const Model> load_model(const std::string& path, const ModelConfig& requested) {
    return load_model_as(path, &requested);
}

void save_model(const std::string& path, const Model& model) {
    SafetensorsFile file;
    file.tensors = model.tensors();
    file.metadata["config"] = config_to_json(model.config());
    write_safetensors(path, file);
}

}  // namespace stepscope
