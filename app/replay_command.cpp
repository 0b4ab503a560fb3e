// stepscope replay: run a model over every step of a sequence file and write outputs and final state.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "arguments.h"
#include "commands.h"
#include "stepscope/decoder_memory.h"
#include "stepscope/stepper.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/snapshot.h"
#include "view_options.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope replay --model MODEL.safetensors --inputs IO.safetensors --output OUT.safetensors\n"
    "                        [--device cpu|cuda] [--observe attention,spectrum] [--ablate LAYER:HEAD]...\n"
    "  Runs the model over every step of x (T, N, E) from a fresh state (decoders also read\n"
    "  memory (N, S, E) and, if present, memory_lengths (N) I64) and writes y (T, N, E) and the\n"
    "  final state tensors state.{layer}.0/1. --device cuda steps on the GPU (default: cpu).\n"
    "  --observe attention adds attention.{layer} (N, H, T, T): row t the weights step t gave\n"
    "  the values of steps 0..t (softmax, or linear attention's implicit weights), zeros above\n"
    "  the diagonal; decoders add cross_attention.{layer} (N, H, T, S). --observe spectrum adds\n"
    "  spectrum.{layer} (T, N, H, min(D, M)) for linear attention: the singular values of S after\n"
    "  each step, descending. Views are limited to 2 GiB in all. --ablate L:H (repeatable) makes\n"
    "  head H of layer L's self attention contribute zero at every step: y is the ablated output.\n"
    "  --observe and --ablate run on the CPU.\n";

// The observed views are written whole, T x T per head: refuse what would not fit.
constexpr double kViewBytesLimit = 2.0 * (1 << 30);

// Collects the views of every step into the output tensors.
class ViewRecorder : public StepObserver {
public:
    ViewRecorder(long steps, TensorMap& out) : steps_(steps), out_(out) {}
    void at_step(long t) { t_ = t; }

    void attention_map(int layer, AttentionRole role, const AttentionMap& map) override {
        const long keys = role == AttentionRole::Self ? steps_ : map.weights.cols();
        const std::string name =
            (role == AttentionRole::Self ? "attention." : "cross_attention.") + std::to_string(layer);
        Tensor& tensor = tensor_of(name, {map.batch, map.heads, steps_, keys});
        for (long r = 0; r < map.weights.rows(); ++r)  // row r = n*H + h of (N, H, T, keys)
            for (long c = 0; c < map.weights.cols(); ++c)
                tensor.values[size_t(((r * steps_) + t_) * keys + map.first_key + c)] = map.weights(r, c);
    }

    void state_capacity(int layer, AttentionRole role, const StateCapacity& capacity) override {
        if (role != AttentionRole::Self || capacity.singular_values.size() == 0) return;
        const RowMatrix& sigma = capacity.singular_values;  // (N*H, rank)
        Tensor& tensor =
            tensor_of("spectrum." + std::to_string(layer), {steps_, capacity.batch, capacity.heads, sigma.cols()});
        std::copy(sigma.data(), sigma.data() + sigma.size(), tensor.values.begin() + t_ * sigma.size());
    }

private:
    Tensor& tensor_of(const std::string& name, std::vector<int64_t> shape) {
        auto found = out_.find(name);
        if (found == out_.end()) found = out_.emplace(name, Tensor::f32_zeros(std::move(shape))).first;
        return found->second;
    }

    long steps_;
    long t_ = 0;
    TensorMap& out_;
};

// An upper bound of the bytes the views take, from the config alone.
double view_bytes(const ModelConfig& config, const ObservationOptions& what, double steps, double batch,
                  double memory_length) {
    const double heads = config.n_heads, layers = config.n_layers;
    double floats = 0;
    if (what.attention) floats += layers * batch * heads * steps * steps;
    if (what.attention && config.kind == ModelKind::Decoder)
        floats += layers * batch * config.effective_cross_n_heads() * steps * memory_length;
    if (what.spectrum) floats += layers * steps * batch * heads * config.value_dimensions;
    return 4 * floats;
}

const Tensor& input_tensor(const SafetensorsFile& file, const std::string& path, const std::string& name, size_t rank) {
    const auto found = file.tensors.find(name);
    if (found == file.tensors.end()) throw Error(path + ": no tensor '" + name + "'");
    if (found->second.shape.size() != rank || found->second.dtype == DType::I64)
        throw Error(path + ": tensor '" + name + "' must be a float tensor of rank " + std::to_string(rank) + ", got " +
                    found->second.shape_string());
    return found->second;
}

int replay(const cli::Arguments& args) {
    const std::string model_path = args.text("model"), inputs_path = args.text("inputs");
    const std::string output_path = args.text("output");
    const Device device = args.device();
    const auto model = load_model(model_path);
    const SafetensorsFile inputs = read_safetensors(inputs_path);
    const Tensor& x = input_tensor(inputs, inputs_path, "x", 3);
    const long steps = x.shape[0], batch = x.shape[1], width = x.shape[2];
    if (steps == 0 || batch == 0) throw Error(inputs_path + ": tensor 'x' is empty");
    // Before anything proportional to T x N is allocated: x then fits the model, and y is x's size.
    const ModelConfig& config = model->config();
    if (width != config.d_model())
        throw Error(inputs_path + ": tensor 'x' is " + std::to_string(width) + " wide, the model's d_model is " +
                    std::to_string(config.d_model()));
    const bool decoder = config.kind == ModelKind::Decoder;
    const Memory memory = decoder ? decoder_memory(inputs.tensors, inputs_path) : Memory{};
    RunShape run;
    run.batch = batch;
    run.steps = steps;
    run.memory_length = memory.length;
    run.state_copies = 3;  // the live state, its tensors for the output, their serialised bytes
    run.kept_bytes = 3.0 * double(x.values.size()) * sizeof(float);  // x, y and y's serialised bytes
    try {
        require_memory(estimate_model_bytes(config) + estimate_run_bytes(config, run),
                       "replaying " + std::to_string(steps) + " steps of batch " + std::to_string(batch));
    } catch (const Error& e) {
        throw Error(inputs_path + ": " + e.what());
    }

    ObservationOptions what = cli::observe_option(args);
    const Ablation ablation = cli::ablate_option(args);
    check_ablation(*model, ablation);
    const bool observing = what.attention || what.spectrum;
    const double bytes = view_bytes(model->config(), what, double(steps), double(batch), double(memory.length));
    if (observing && bytes > kViewBytesLimit)
        throw Error("--observe would write " + std::to_string(long(bytes / (1 << 20))) +
                    " MiB of views (T x T per head and layer), over the 2 GiB limit: replay fewer steps");
    for (int layer = 0; layer < model->config().n_layers; ++layer) what.layers.push_back(layer);
    what.history_bytes = std::numeric_limits<std::size_t>::max();  // every step: bounded by the check above
    Observation observation(what);
    SafetensorsFile output;
    ViewRecorder recorder(steps, output.tensors);
    const StepOptions options{observing ? &recorder : nullptr, observing ? &observation : nullptr, &ablation};

    const auto stepper = make_stepper(model, device);
    RowMatrix y;
    Tensor ys = Tensor::f32_zeros({steps, batch, width});
    // The inputs are known: an encoder's steps run in blocks (Model::step_block) unless views are recorded,
    // which read each step as it is taken.
    const long block = decoder || observing ? 1 : model->block_steps(batch);
    for (long t = 0; t < steps; t += block) {
        const long count = std::min(block, steps - t);
        const Eigen::Map<const RowMatrix> xs(x.values.data() + t * batch * width, count * batch, width);
        recorder.at_step(t);
        try {
            if (decoder) stepper->step(xs, memory, y, options);
            else if (count == 1) stepper->step(xs, y, options);
            else stepper->step_block(xs, static_cast<int>(count), y, options);
        } catch (const Error& e) {
            throw Error(inputs_path + ": step " + std::to_string(t) + ": " + e.what());
        }
        std::copy(y.data(), y.data() + y.size(), ys.values.begin() + t * batch * width);
    }
    for (auto& [name, tensor] : state_tensors(*model, stepper->state())) output.tensors[name] = std::move(tensor);
    output.tensors["y"] = std::move(ys);
    output.metadata["model"] = model_path;
    output.metadata["inputs"] = inputs_path;
    write_safetensors(output_path, output);
    std::printf("replayed %ld steps of batch %ld through %s on %s; wrote %s\n", steps, batch, model_path.c_str(),
                device_name(device), output_path.c_str());
    return 0;
}

}  // namespace

int run_replay(int argc, char** argv) {
    return cli::run_guarded("replay", replay, argc, argv, {"model", "inputs", "output", "device", "observe"}, {},
                            kUsage, {"ablate"});
}
