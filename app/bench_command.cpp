// stepscope bench: time the recurrent step of the seed example (or a smaller model) with random weights.
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <limits>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "arguments.h"
#include "stepscope/arithmetic_probe.h"
#include "commands.h"
#include "stepscope/attention_kind.h"
#include "stepscope/cpu_kernels.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/model.h"
#include "stepscope/read_bandwidth.h"
#include "stepscope/stepper.h"
#include "view_options.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope bench [--attention KIND] [--batch N] [--steps N] [--threads N]\n"
    "                       [--precision f32|bf16|q8] [--cache-precision f32|bf16] [--device cpu|cuda]\n"
    "                       [--repeats N] [--bandwidth] [--json] [--block T]\n"
    "                       [--layers N] [--heads N] [--head-dimensions N] [--feed-forward N]\n"
    "                       [--observe attention,spectrum [--observe-layer L] [--observe-element N]]\n"
    "  Builds the seed example (8 layers, 12 heads of 32 query and value dimensions, d_model 384,\n"
    "  1536 feed-forward dimensions; default batch 10, 100 steps) with random weights and the attention\n"
    "  KIND (default linear; an unknown one is refused with the list of kinds), warms up,\n"
    "  then runs the sequence --repeats times (default 5) from an empty state, each output fed back\n"
    "  as the next input, and prints the best and median ms per step over the repeats, steps per\n"
    "  second, the state bytes after the last step, and the bytes a step reads (weights, and the\n"
    "  state or the cache of the average step) with the rate that is read at the best time.\n"
    "  --bandwidth also measures the machine's read bandwidth between the runs (a streaming read\n"
    "  of 256 MiB on as many threads as the step) and its float32 arithmetic rate (a cache-resident\n"
    "  product through the dense layers' kernels), prints the step's rate as a ratio of the bandwidth,\n"
    "  and the roofline: the lower of the bandwidth times the step's operations per byte and the\n"
    "  arithmetic rate, with the share of it the step reached.\n"
    "  --threads limits oneTBB (default: all cores). --cache-precision keeps full attention's key/value\n"
    "  cache in bfloat16 (default f32).\n"
    "  --block T also times a known sequence of --steps random inputs (as replay and eval run one), stepped\n"
    "  one at a time and in blocks of T steps (each block's products over all its rows), alternating, and\n"
    "  prints both, their ratio and the largest difference of their outputs.\n"
    "  --json prints one JSON object instead. --observe also times the same steps observing layer L\n"
    "  (default 0) for all batch elements or only element N, the plain and observed runs\n"
    "  alternating, and prints both with their ratio (CPU only).\n";

struct BenchOptions {
    ModelConfig config;
    Device device = Device::Cpu;
    int batch = 10;
    int steps = 100;
    int repeats = 5;
    bool json = false;
    bool bandwidth = false;      // --bandwidth: probe the machine's read bandwidth between the runs
    int block = 0;               // --block T: also a known sequence, stepped and in blocks of T
    ObservationOptions observe;  // nothing observed unless --observe
};

bool observing(const BenchOptions& options) { return options.observe.attention || options.observe.spectrum; }

BenchOptions options_from(const cli::Arguments& args) {
    BenchOptions options;
    ModelConfig& config = options.config;
    config.kind = ModelKind::Encoder;
    config.attention_type = args.choice("attention", "linear", attention_kind_names());
    config.precision = args.choice("precision", "f32", precision_names());
    config.cache_precision = args.choice("cache-precision", "f32", cache_precision_names());
    options.device = args.device();
    config.n_layers = static_cast<int>(args.integer("layers", 8, 1, 64));
    config.n_heads = static_cast<int>(args.integer("heads", 12, 1, 64));
    config.query_dimensions = config.value_dimensions = static_cast<int>(args.integer("head-dimensions", 32, 1, 512));
    config.feed_forward_dimensions = static_cast<int>(args.integer("feed-forward", 1536, 1, 1 << 16));
    config.activation = "relu";
    config.final_normalization = true;
    options.batch = static_cast<int>(args.integer("batch", 10, 1, 4096));
    options.steps = static_cast<int>(args.integer("steps", 100, 1, 1 << 20));
    options.repeats = static_cast<int>(args.integer("repeats", 5, 1, 1000));
    options.json = args.has("json");
    options.bandwidth = args.has("bandwidth");
    options.block = static_cast<int>(args.integer("block", 0, 1, 4096));
    options.observe = cli::observe_option(args);
    if (!observing(options) && (args.has("observe-layer") || args.has("observe-element")))
        throw cli::UsageError{"options --observe-layer and --observe-element need --observe"};
    options.observe.layers = {static_cast<int>(args.integer("observe-layer", 0, 0, config.n_layers - 1))};
    options.observe.batch_element = static_cast<int>(args.integer("observe-element", -1, 0, options.batch - 1));
    return options;
}

// Bytes one stored weight takes as the step streams it: q8 adds a float scale to every 32 bytes.
double bytes_per_weight(const std::string& precision) {
    return precision == "bf16" ? 2 : precision == "q8" ? 1.125 : 4;
}

// The bytes a step reads, averaged over a sequence of `steps` steps.
struct StepBytes {
    double weights = 0;  // every matrix, in the precision the step streams; vectors as float32
    double state = 0;    // linear attention's sums, or full attention's cache up to the step
    double total() const { return weights + state; }
};

// The state is the one after the sequence: linear attention's stays the same size, full attention's
// cache holds t steps at step t, so the average step reads it at (steps + 1) / 2 steps.
// Whether the model's attention keeps a key/value cache, which a step reads whole, rather than S and Z.
bool cached(const ModelConfig& config) { return state_grows(attention_capabilities(config.attention_type)); }

// Floating-point operations of a step, a multiply-add counting two: every matrix's weights once per batch
// element, and attention's passes over its state (S read and written per head, or the average step's cache).
double step_flops(const Model& model, int batch, int steps) {
    const ModelConfig& config = model.config();
    double weights = 0;
    for (const auto& [name, shape] : model.tensor_shapes())
        if (shape.size() == 2) weights += double(numel_of(shape));
    const double heads = double(batch) * config.n_heads * config.n_layers;
    const double attention = cached(config)
                                 ? 2.0 * heads * (steps + 1) / 2.0 * (config.query_dimensions + config.value_dimensions)
                                 : 4.0 * heads * config.query_dimensions * config.value_dimensions;
    return 2.0 * batch * weights + attention;
}

StepBytes step_bytes(const Model& model, const State& state, int batch, int steps) {
    const ModelConfig& config = model.config();
    StepBytes bytes;
    for (const auto& [name, shape] : model.tensor_shapes())
        bytes.weights +=
            double(numel_of(shape)) * (shape.size() == 2 ? bytes_per_weight(config.precision) : sizeof(float));
    const double cache_element_bytes =
        cache_precision_from_name(config.cache_precision) == CachePrecision::Bf16 ? 2 : sizeof(float);
    if (cached(config))
        bytes.state = cache_element_bytes * config.n_layers * batch * config.n_heads *
                      (config.query_dimensions + config.value_dimensions) * (steps + 1) / 2.0;
    else bytes.state = double(state.bytes());
    return bytes;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

// One sequence of `steps` steps from an empty state; returns the mean ms per
// step, each step timed alone as the GUI's latency plot times it.
// With `observation`, each step is observed by an observer that keeps nothing.
double run_sequence(Stepper& stepper, const RowMatrix& first_input, int steps, RowMatrix& x, RowMatrix& y,
                    Observation* observation = nullptr) {
    StepObserver ignoring;
    const StepOptions observed{&ignoring, observation};
    stepper.reset(0);
    x = first_input;
    double total_ms = 0;
    for (int t = 0; t < steps; ++t) {
        const auto start = std::chrono::steady_clock::now();
        if (observation) stepper.step(x, y, observed);
        else stepper.step(x, y);
        total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        x.swap(y);  // the output is the next input
    }
    return total_ms / steps;
}

// A known sequence xs (T*N, E) from an empty state, stepped one at a time (block 1) or in blocks of `block`
// steps (Stepper::step_block); ys receives the outputs. Returns the mean ms per step over the whole sequence.
double run_known(Stepper& stepper, const RowMatrix& xs, int steps, int block, RowMatrix& ys) {
    const long batch = xs.rows() / steps;
    stepper.reset(0);
    RowMatrix y;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < steps; t += block) {
        const int count = std::min(block, steps - t);
        const auto inputs = xs.middleRows(long(t) * batch, long(count) * batch);
        if (count == 1) stepper.step(inputs, y);
        else stepper.step_block(inputs, count, y);
        ys.middleRows(long(t) * batch, long(count) * batch) = y;
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / steps;
}

// The known sequence both ways, alternating over the repeats: the best ms per step of each and the largest
// difference of their outputs.
struct KnownRun {
    double stepped_ms = 0, block_ms = 0, deviation = 0;
};

KnownRun time_known(Stepper& stepper, const BenchOptions& options) {
    std::srand(2);
    const long rows = long(options.steps) * options.batch;
    const RowMatrix xs = RowMatrix::Random(rows, options.config.d_model());
    RowMatrix stepped(rows, xs.cols()), blocked(rows, xs.cols());
    KnownRun run{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), 0};
    for (int r = 0; r < options.repeats; ++r) {
        run.stepped_ms = std::min(run.stepped_ms, run_known(stepper, xs, options.steps, 1, stepped));
        run.block_ms = std::min(run.block_ms, run_known(stepper, xs, options.steps, options.block, blocked));
    }
    run.deviation = double((stepped - blocked).cwiseAbs().maxCoeff());
    return run;
}

int bench(const cli::Arguments& args) {
    const BenchOptions options = options_from(args);
    const long threads = args.integer("threads", tbb::info::default_concurrency(), 1, 1024);
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    // Full attention's cache grows with every step of every batch element: refused before it is built.
    RunShape run;
    run.batch = options.batch;
    run.steps = options.steps;
    // --block's known sequence: its inputs and two sets of outputs.
    if (options.block) run.kept_bytes = 3.0 * sizeof(float) * options.steps * options.batch * options.config.d_model();
    validate(options.config);

    const double probe_bytes = options.bandwidth ? double(ReadBandwidthProbe::kDefaultBytes) : 0;
    require_memory(estimate_model_bytes(options.config) + estimate_run_bytes(options.config, run) + probe_bytes,
                   "this benchmark");
    const auto model = Model::create_random(options.config, /*seed=*/1);
    const auto stepper = make_stepper(model, options.device);
    std::srand(1);
    const RowMatrix first_input = RowMatrix::Random(options.batch, options.config.d_model());
    RowMatrix x, y;

    // Warm-up: page the weights in, start the worker threads, size the scratch.
    run_sequence(*stepper, first_input, std::min(options.steps, 20), x, y);
    Observation observation(options.observe);
    if (observing(options)) run_sequence(*stepper, first_input, std::min(options.steps, 20), x, y, &observation);
    std::unique_ptr<ReadBandwidthProbe> probe;
    std::unique_ptr<ArithmeticProbe> arithmetic;
    if (options.bandwidth) {
        probe = std::make_unique<ReadBandwidthProbe>();
        arithmetic = std::make_unique<ArithmeticProbe>();
    }
    // Plain and observed runs and the probe alternate, so all meet the same load of a shared machine.
    std::vector<double> ms_per_step, observed_ms;
    double probe_bytes_per_second = 0, probe_flops_per_second = 0;
    for (int r = 0; r < options.repeats; ++r) {
        ms_per_step.push_back(run_sequence(*stepper, first_input, options.steps, x, y));
        if (observing(options))
            observed_ms.push_back(run_sequence(*stepper, first_input, options.steps, x, y, &observation));
        if (probe) probe_bytes_per_second = std::max(probe_bytes_per_second, probe->measure());
        if (arithmetic) probe_flops_per_second = std::max(probe_flops_per_second, arithmetic->measure());
    }
    const KnownRun known = options.block ? time_known(*stepper, options) : KnownRun{};
    const double best = *std::min_element(ms_per_step.begin(), ms_per_step.end());
    const double middle = median(ms_per_step);
    const double observed_best = observing(options) ? *std::min_element(observed_ms.begin(), observed_ms.end()) : 0;
    const double observed_middle = observing(options) ? median(observed_ms) : 0;
    const std::string views = std::string(options.observe.attention ? "attention" : "") +
                              (options.observe.attention && options.observe.spectrum ? "," : "") +
                              (options.observe.spectrum ? "spectrum" : "");
    const std::size_t state_bytes = stepper->state().bytes();
    const ModelConfig& config = options.config;
    const StepBytes read = step_bytes(*model, stepper->state(), options.batch, options.steps);
    const double gb_per_second = read.total() / best * 1e-6;  // bytes per ms to GB/s
    const double probe_gb_per_second = probe_bytes_per_second * 1e-9;
    // The roofline: what the step's operations per byte allow at the probe's bandwidth, capped by its arithmetic.
    const double flops = step_flops(*model, options.batch, options.steps);
    const double gflops = flops / best * 1e-6;
    const double probe_gflops = probe_flops_per_second * 1e-9;
    const double roofline_gflops = std::min(probe_gb_per_second * flops / read.total(), probe_gflops);

    if (options.json) {
        std::printf(
            "{\"attention\": \"%s\", \"batch\": %d, \"steps\": %d, \"threads\": %ld, \"precision\": \"%s\", "
            "\"cache_precision\": \"%s\", \"device\": \"%s\", \"repeats\": %d, \"ms_per_step\": %.6g, "
            "\"ms_per_step_median\": %.6g, \"steps_per_second\": %.6g, \"state_bytes\": %zu, \"kernels\": \"%s\"",
            config.attention_type.c_str(), options.batch, options.steps, threads, config.precision.c_str(),
            config.cache_precision.c_str(), device_name(options.device), options.repeats, best, middle, 1000.0 / best,
            state_bytes, linear_kernel_isa());
        std::printf(
            ", \"weight_bytes\": %.0f, \"state_read_bytes\": %.0f, \"bytes_per_step\": %.0f, "
            "\"gb_per_second\": %.6g",
            read.weights, read.state, read.total(), gb_per_second);
        std::printf(", \"gflops_per_second\": %.6g", gflops);
        if (probe)
            std::printf(
                ", \"probe_gb_per_second\": %.6g, \"bandwidth_ratio\": %.6g, \"probe_gflops_per_second\": %.6g, "
                "\"roofline_gflops_per_second\": %.6g, \"roofline_ratio\": %.6g",
                probe_gb_per_second, gb_per_second / probe_gb_per_second, probe_gflops, roofline_gflops,
                gflops / roofline_gflops);
        if (observing(options))
            std::printf(
                ", \"observe\": \"%s\", \"observed_layer\": %d, \"observed_element\": %d, "
                "\"observed_ms_per_step\": %.6g, \"observed_ms_per_step_median\": %.6g, "
                "\"observed_ratio\": %.6g",
                views.c_str(), options.observe.layers.front(), options.observe.batch_element, observed_best,
                observed_middle, observed_best / best);
        if (options.block)
            std::printf(
                ", \"block\": %d, \"known_ms_per_step\": %.6g, \"block_ms_per_step\": %.6g, "
                "\"block_speedup\": %.6g, \"block_max_deviation\": %.3g",
                options.block, known.stepped_ms, known.block_ms, known.stepped_ms / known.block_ms, known.deviation);
        std::printf("}\n");
        return 0;
    }
    std::printf("%s attention, %d layers, %d heads x %d dims, d_ff %d, batch %d, %d steps, %ld threads, %s%s, %s\n",
                config.attention_type.c_str(), config.n_layers, config.n_heads, config.query_dimensions,
                config.feed_forward_dimensions, options.batch, options.steps, threads, config.precision.c_str(),
                cached(config) ? (", cache " + config.cache_precision).c_str() : "", device_name(options.device));
    std::printf("  kernels:        %s (STEPSCOPE_ISA=baseline|avx2|avx512|avx512bf16 chooses another)\n",
                linear_kernel_isa());
    std::printf("  ms per step:    %.4g best, %.4g median of %d runs\n", best, middle, options.repeats);
    std::printf("  steps per sec:  %.1f\n", 1000.0 / best);
    std::printf("  state bytes:    %zu\n", state_bytes);
    std::printf("  bytes per step: %s (weights %s, %s %s), %.1f GB/s at the best time\n",
                byte_text(read.total()).c_str(), byte_text(read.weights).c_str(), cached(config) ? "cache" : "state",
                byte_text(read.state).c_str(), gb_per_second);
    std::printf("  arithmetic:     %.3g GFLOP per step, %.1f GFLOP/s at the best time (%.2f FLOP per byte read)\n",
                flops * 1e-9, gflops, flops / read.total());
    if (probe) {
        std::printf("  read bandwidth: %.1f GB/s (probe, best of %d): the step reads at %.2fx of it\n",
                    probe_gb_per_second, options.repeats, gb_per_second / probe_gb_per_second);
        std::printf(
            "  roofline:       %.1f GFLOP/s (the lower of %.1f GB/s x %.2f FLOP/byte and the probe's %.1f "
            "GFLOP/s): the step reached %.0f%% of it\n",
            roofline_gflops, probe_gb_per_second, flops / read.total(), probe_gflops, 100.0 * gflops / roofline_gflops);
    }
    if (options.block)
        std::printf(
            "  known inputs:   %.4g ms per step stepped, %.4g in blocks of %d: %.2fx faster, outputs within %.2g\n",
            known.stepped_ms, known.block_ms, options.block, known.stepped_ms / known.block_ms, known.deviation);
    if (observing(options)) {
        const int element = options.observe.batch_element;
        const std::string which = element < 0 ? "every batch element" : "batch element " + std::to_string(element);
        std::printf("  observing %s of layer %d, %s:\n", views.c_str(), options.observe.layers.front(), which.c_str());
        std::printf("  ms per step:    %.4g best, %.4g median of %d runs (%.2fx the plain step's best)\n",
                    observed_best, observed_middle, options.repeats, observed_best / best);
    }
    return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
    return stepscope::cli::run_guarded("bench", bench, argc, argv,
                                       {"attention", "batch", "steps", "threads", "precision", "cache-precision",
                                        "device", "repeats", "layers", "heads", "head-dimensions", "feed-forward",
                                        "observe", "observe-layer", "observe-element", "block"},
                                       {"json", "bandwidth"}, kUsage);
}
