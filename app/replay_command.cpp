// stepscope replay: run a model over every step of a sequence file and write outputs and final state.
#include <cstdio>
#include <limits>

#include "arguments.h"
#include "commands.h"
#include "stepscope/decoder_memory.h"
#include "stepscope/device.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/snapshot.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope replay --model MODEL.safetensors --inputs IO.safetensors --output OUT.safetensors\n"
    "                        [--device cpu|cuda]\n"
    "  Runs the model over every step of x (T, N, E) from a fresh state (decoders also read\n"
    "  memory (N, S, E) and, if present, memory_lengths (N) I64) and writes y (T, N, E) and the\n"
    "  final state tensors state.{layer}.0/1. --device cuda steps on the GPU (default: cpu).\n";

const Tensor& input_tensor(const SafetensorsFile& file, const std::string& path, const std::string& name,
                           size_t rank) {
    const auto found = file.tensors.find(name);
    if (found == file.tensors.end()) throw Error(path + ": no tensor '" + name + "'");
    if (found->second.shape.size() != rank || found->second.dtype == DType::I64)
        throw Error(path + ": tensor '" + name + "' must be a float tensor of rank " + std::to_string(rank) +
                    ", got " + found->second.shape_string());
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
        require_memory(estimate_model_bytes(config) + estimate_run_bytes(config, run), "replaying " + std::to_string(steps) + " steps of batch " +
                                                            std::to_string(batch));
    } catch (const Error& e) {
        throw Error(inputs_path + ": " + e.what());
    }

    const auto stepper = make_stepper(model, device);
    RowMatrix y;
    Tensor ys = Tensor::f32_zeros({steps, batch, width});
    for (long t = 0; t < steps; ++t) {
        const Eigen::Map<const RowMatrix> x_t(x.values.data() + t * batch * width, batch, width);
        try {
            if (decoder) stepper->step(x_t, memory, y);
            else stepper->step(x_t, y);
        } catch (const Error& e) {
            throw Error(inputs_path + ": step " + std::to_string(t) + ": " + e.what());
        }
        std::copy(y.data(), y.data() + y.size(), ys.values.begin() + t * y.size());
    }
    SafetensorsFile output;
    output.tensors = state_tensors(*model, stepper->state());
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
    return cli::run_guarded("replay", replay, argc, argv, {"model", "inputs", "output", "device"}, {}, kUsage);
}
