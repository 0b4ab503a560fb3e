// The CUDA stepper: the layer step of encoder.cpp, decoder.cpp and attention_layer.cpp on the device, state kept there.
#include "cuda_stepper.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cache_capacity.h"
#include "cublas_library.h"
#include "cuda_check.h"
#include "device_model.h"
#include "full_attention.cuh"
#include "layer_norm_activation.cuh"
#include "layers/layer_norm_activation.h"
#include "linear_attention.cuh"
#include "state_norms.cuh"
#include "stepscope/error.h"

namespace stepscope {

namespace {

using namespace cuda;

// A stream and a cuBLAS handle bound to it: all of a stepper's work is ordered on one stream.
class Context {
public:
    Context() {
        STEPSCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        try {
            const CublasLibrary& library = cublas_library();
            STEPSCOPE_CUBLAS_CHECK(library.create(&cublas));
            STEPSCOPE_CUBLAS_CHECK(library.set_stream(cublas, stream));
            // Plain float32 products: TF32 tensor cores round operands to 10
            // mantissa bits, far outside the 1e-4 agreement with the CPU.
            STEPSCOPE_CUBLAS_CHECK(library.set_math_mode(cublas, CUBLAS_DEFAULT_MATH));
        } catch (...) {
            if (cublas) cublas_library().destroy(cublas);
            cudaStreamDestroy(stream);
            throw;
        }
    }
    ~Context() {
        cublas_library().destroy(cublas);
        cudaStreamDestroy(stream);
    }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    void synchronize() const { STEPSCOPE_CUDA_CHECK(cudaStreamSynchronize(stream)); }

    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
};

// One attention module's tensors on the device. Its small host parts
// (started, the memory and its lengths) live in the stepper's shell State.
struct ModuleState {
    DeviceBuffer<float> sums;        // linear: S (N*H*D, M)
    DeviceBuffer<float> normalizer;  // linear: Z (N*H, D)
    DeviceBuffer<float> keys;        // full: (N*H, capacity*D)
    DeviceBuffer<float> values;      // full: (N*H, capacity*M)
    int capacity = 0;
    int length = 0;

    DeviceCache cache() { return {keys.data(), values.data(), capacity, length}; }
};

struct LayerStates {
    ModuleState self_attention;
    ModuleState cross_attention;  // decoders only
};

// A step's buffers, sized for batch N when N changes.
struct Scratch {
    int batch = 0;
    DeviceBuffer<float> x;          // (N, E) the running activation
    DeviceBuffer<float> projected;  // (N, H*D + H*D + H*M) self attention, or (N, H*D) a cross query
    DeviceBuffer<float> heads;      // (N, H*M) attention output per head
    DeviceBuffer<float> product;    // (N, E) the out projection or linear2, before its bias
    DeviceBuffer<float> hidden;     // (N, d_ff)
    DeviceBuffer<float> norms;      // (2*N*H) state norms for an observer
    DeviceBuffer<float> weights;    // (N*H, weights_stride) softmax weights
    int weights_stride = 0;
    DeviceBuffer<float> memory;         // (N*S, E_mem) a decoder's memory, on a sequence's first step
    DeviceBuffer<float> memory_keys;    // (N*S, H*D) its projection by one layer
    DeviceBuffer<float> memory_values;  // (N*S, H*M)
};

// Widest per-row sizes over the layers, to size the scratch once per batch.
struct Widths {
    size_t projected = 0, heads = 0, hidden = 0, memory_keys = 0, memory_values = 0;
    int max_heads = 0;
};

Widths widths_of(const DeviceModel& model) {
    Widths w;
    for (const DeviceLayer& layer : model.layers) {
        for (const DeviceAttention* a : {&layer.self_attention, &layer.cross_attention}) {
            if (!a->heads) continue;  // an encoder's empty cross attention
            w.projected = std::max(w.projected, size_t(a->projection.out));
            w.heads = std::max(w.heads, size_t(a->heads) * a->value_dims);
            w.max_heads = std::max(w.max_heads, a->heads);
        }
        w.hidden = std::max(w.hidden, size_t(layer.linear1.out));
        w.memory_keys = std::max(w.memory_keys, size_t(layer.cross_attention.key_projection.out));
        w.memory_values = std::max(w.memory_values, size_t(layer.cross_attention.value_projection.out));
    }
    return w;
}

class CudaStepper final : public Stepper {
public:
    explicit CudaStepper(std::shared_ptr<const Model> model)
        : model_(std::move(model)),
          weights_(upload_model(*model_, context_.stream)),
          widths_(widths_of(weights_)),
          states_(model_->config().n_layers),
          shell_(model_->new_state()) {}

    ~CudaStepper() override {
        cudaStreamSynchronize(context_.stream);  // nothing queued may outlive the buffers; no throw from here
    }

    Device device() const override { return Device::Cuda; }
    const Model& model() const override { return *model_; }

    void reset(uint64_t sequence_seed) override {
        context_.synchronize();  // a failed step may have left work queued on the buffers freed here
        states_ = std::vector<LayerStates>(model_->config().n_layers);
        shell_ = model_->new_state(sequence_seed);
        broken_ = false;
    }

    using Stepper::step;  // the StepOptions overloads: observer only, on this device
    void step(const ConstMatrixRef& x, RowMatrix& y, StepObserver* observer) override {
        model_->check_step(x, shell_);
        forward(x, nullptr, y, observer);
    }

    void step(const ConstMatrixRef& x, const Memory& memory, RowMatrix& y, StepObserver* observer) override {
        model_->check_step(x, memory, shell_);
        forward(x, &memory, y, observer);
    }

    int64_t step_count() const override { return shell_.step; }
    std::size_t state_bytes() const override;

    State state() const override {
        if (broken_)
            throw Error("the CUDA state is incomplete after a step that failed midway: reset or set a state first");
        State state = shell_;
        for (size_t i = 0; i < states_.size(); ++i) {
            const DeviceLayer& layer = weights_.layers[i];
            if (shell_.layers[i].self_attention.started)
                download(layer.self_attention, states_[i].self_attention, state.layers[i].self_attention);
            if (shell_.layers[i].cross_attention.started)
                download(layer.cross_attention, states_[i].cross_attention, state.layers[i].cross_attention);
        }
        return state;
    }

    void set_state(State state) override;

private:
    void forward(const ConstMatrixRef& x, const Memory* memory, RowMatrix& y, StepObserver* observer);
    void self_attention(int layer, int batch, StepObserver* observer);
    void cross_attention(int layer, int batch, const Memory& memory, const std::vector<int>& lengths,
                         StepObserver* observer);
    void start_cross_attention(int layer, const Memory& memory, const std::vector<int>& lengths);
    void feed_forward(const DeviceLayer& layer, const DeviceNorm& norm, int batch);
    void prepare(int batch);
    std::vector<int> upload_memory(const Memory& memory);
    void reserve_weights(int steps);
    void grow_cache(ModuleState& state, int rows, int key_dims, int value_dims);
    void report_norms(StepObserver* observer, int layer, AttentionRole role, const DeviceAttention& attention,
                      const ModuleState& state, int batch);
    RowMatrix download_rows(const float* device, long rows, long cols, long pitch) const;
    void download(const DeviceAttention& attention, const ModuleState& state, AttentionState& out) const;
    void upload(const DeviceAttention& attention, const AttentionState& state, int batch, ModuleState& out) const;

    std::shared_ptr<const Model> model_;
    Context context_;
    DeviceModel weights_;
    Widths widths_;
    std::vector<LayerStates> states_;
    DeviceBuffer<int> memory_lengths_;  // (N) the valid memory elements, shared by every cross attention
    State shell_;                       // the state's host parts: batch, step, seed, started, memory; no tensors
    Scratch scratch_;
    bool broken_ = false;  // a step failed midway: some layers stepped, others not
};

// The CPU's RecurrentTransformerEncoder/DecoderLayer::forward, layer by layer:
//   x = norm1(x + attn(x));  [x = norm2(x + cross_attn(x, memory));]  x = norm(x + ff(x))
void CudaStepper::forward(const ConstMatrixRef& x, const Memory* memory, RowMatrix& y, StepObserver* observer) {
    if (broken_)
        throw Error("the CUDA state is incomplete after a step that failed midway: reset or set a state first");
    const int batch = static_cast<int>(x.rows()), width = static_cast<int>(x.cols());
    prepare(batch);
    const long pitch = x.rows() > 1 ? x.outerStride() : x.cols();
    STEPSCOPE_CUDA_CHECK(cudaMemcpy2DAsync(scratch_.x.data(), width * sizeof(float), x.data(), pitch * sizeof(float),
                                           width * sizeof(float), batch, cudaMemcpyHostToDevice, context_.stream));
    const bool starts_cross = memory && std::any_of(shell_.layers.begin(), shell_.layers.end(),
                                                    [](const LayerState& l) { return !l.cross_attention.started; });
    const std::vector<int> lengths = starts_cross ? upload_memory(*memory) : std::vector<int>();

    broken_ = true;  // until this step completes: the layers below change the state one by one
    for (size_t i = 0; i < weights_.layers.size(); ++i) {
        const DeviceLayer& layer = weights_.layers[i];
        self_attention(int(i), batch, observer);
        residual_layer_norm(scratch_.x.data(), scratch_.product.data(), layer.self_attention.out_projection.bias.data(),
                            layer.norm1.weight.data(), layer.norm1.bias.data(), LayerNorm::kEps, batch, width,
                            context_.stream);
        if (memory) {
            cross_attention(int(i), batch, *memory, lengths, observer);
            residual_layer_norm(scratch_.x.data(), scratch_.product.data(),
                                layer.cross_attention.out_projection.bias.data(), layer.norm2.weight.data(),
                                layer.norm2.bias.data(), LayerNorm::kEps, batch, width, context_.stream);
        }
        feed_forward(layer, memory ? layer.norm3 : layer.norm2, batch);
        if (observer) observer->layer_output(int(i), download_rows(scratch_.x.data(), batch, width, width));
    }
    if (weights_.norm)
        residual_layer_norm(scratch_.x.data(), nullptr, nullptr, weights_.norm->weight.data(),
                            weights_.norm->bias.data(), LayerNorm::kEps, batch, width, context_.stream);
    if (y.rows() != batch || y.cols() != width) y.resize(batch, width);
    scratch_.x.download(y.data(), size_t(batch) * width, context_.stream);
    context_.synchronize();
    shell_.batch = batch;
    ++shell_.step;
    broken_ = false;
}

// RecurrentAttentionLayer::forward: fused projection, inner attention, out projection (its bias left to norm1).
void CudaStepper::self_attention(int layer, int batch, StepObserver* observer) {
    const DeviceAttention& a = weights_.layers[layer].self_attention;
    ModuleState& state = states_[layer].self_attention;
    AttentionState& host = shell_.layers[layer].self_attention;
    const int rows = batch * a.heads, D = a.query_dims, M = a.value_dims;
    a.projection.multiply(context_.cublas, scratch_.x.data(), batch, scratch_.projected.data());
    const ProjectedHeads in{
        scratch_.projected.data(), a.projection.bias.data(), a.projection.out, 0, a.heads * D, 2 * a.heads * D};
    if (a.kernel == CudaKernel::LinearSums) {
        if (!host.started) {
            state.sums.allocate_zeros(size_t(rows) * D * M, context_.stream);
            state.normalizer.allocate_zeros(size_t(rows) * D, context_.stream);
        }
        linear_attention_step(in, a.shape(batch), a.feature_map, a.eps, state.sums.data(), state.normalizer.data(),
                              scratch_.heads.data(), context_.stream);
    } else {
        if (!host.started) {
            state.capacity = cache_capacity(1);
            state.length = 0;
            state.keys.allocate(size_t(rows) * state.capacity * D);
            state.values.allocate(size_t(rows) * state.capacity * M);
        }
        if (state.length == state.capacity) grow_cache(state, rows, D, M);
        ++state.length;  // the kernel appends this step's key and value as step length - 1
        reserve_weights(state.length);
        full_attention_step(in, a.shape(batch), a.temperature, state.cache(), nullptr, scratch_.weights.data(),
                            scratch_.weights_stride, scratch_.heads.data(), context_.stream);
        if (observer)
            observer->attention_weights(layer, AttentionRole::Self,
                                        download_rows(scratch_.weights.data(), rows, state.length,
                                                      scratch_.weights_stride));
    }
    host.started = true;
    a.out_projection.multiply(context_.cublas, scratch_.heads.data(), batch, scratch_.product.data());
    if (observer) report_norms(observer, layer, AttentionRole::Self, a, state, batch);
}

// RecurrentCrossAttentionLayer::forward: the memory's state built on the first step, then a query per step.
void CudaStepper::cross_attention(int layer, int batch, const Memory& memory, const std::vector<int>& lengths,
                                  StepObserver* observer) {
    const DeviceAttention& a = weights_.layers[layer].cross_attention;
    ModuleState& state = states_[layer].cross_attention;
    if (!shell_.layers[layer].cross_attention.started) start_cross_attention(layer, memory, lengths);
    a.projection.multiply(context_.cublas, scratch_.x.data(), batch, scratch_.projected.data());
    const ProjectedHeads in{scratch_.projected.data(), a.projection.bias.data(), a.projection.out, 0, -1, -1};
    if (a.kernel == CudaKernel::LinearSums) {
        linear_attention_step(in, a.shape(batch), a.feature_map, a.eps, state.sums.data(), state.normalizer.data(),
                              scratch_.heads.data(), context_.stream);
    } else {
        reserve_weights(state.length);
        full_attention_step(in, a.shape(batch), a.temperature, state.cache(), memory_lengths_.data(),
                            scratch_.weights.data(), scratch_.weights_stride, scratch_.heads.data(), context_.stream);
        if (observer)
            observer->attention_weights(layer, AttentionRole::Cross,
                                        download_rows(scratch_.weights.data(), long(batch) * a.heads, state.length,
                                                      scratch_.weights_stride));
    }
    a.out_projection.multiply(context_.cublas, scratch_.heads.data(), batch, scratch_.product.data());
    if (observer) report_norms(observer, layer, AttentionRole::Cross, a, state, batch);
}

// RecurrentCrossAttentionLayer::start: keys and values of the memory projected once, kept as S and Z or a cache.
void CudaStepper::start_cross_attention(int layer, const Memory& memory, const std::vector<int>& lengths) {
    const DeviceAttention& a = weights_.layers[layer].cross_attention;
    ModuleState& state = states_[layer].cross_attention;
    AttentionState& host = shell_.layers[layer].cross_attention;
    const int batch = memory.batch, length = memory.length, rows = batch * a.heads;
    const int D = a.query_dims, M = a.value_dims;
    host.memory = memory.values;
    host.memory_lengths = lengths;
    a.key_projection.multiply(context_.cublas, scratch_.memory.data(), batch * length, scratch_.memory_keys.data());
    a.value_projection.multiply(context_.cublas, scratch_.memory.data(), batch * length, scratch_.memory_values.data());
    if (a.kernel == CudaKernel::LinearSums) {
        state.sums.allocate(size_t(rows) * D * M);
        state.normalizer.allocate(size_t(rows) * D);
        linear_attention_memory(scratch_.memory_keys.data(), a.key_projection.bias.data(),
                                scratch_.memory_values.data(), a.value_projection.bias.data(), memory_lengths_.data(),
                                length, a.shape(batch), a.feature_map, state.sums.data(), state.normalizer.data(),
                                context_.stream);
    } else {
        state.capacity = cache_capacity(length);
        state.length = length;
        state.keys.allocate(size_t(rows) * state.capacity * D);
        state.values.allocate(size_t(rows) * state.capacity * M);
        memory_to_cache(scratch_.memory_keys.data(), a.key_projection.bias.data(), batch, length, a.heads, D,
                        state.capacity, state.keys.data(), context_.stream);
        memory_to_cache(scratch_.memory_values.data(), a.value_projection.bias.data(), batch, length, a.heads, M,
                        state.capacity, state.values.data(), context_.stream);
    }
    host.started = true;
}

// FeedForward::residual: x = norm(x + linear2(act(linear1(x)))), each bias added by the kernel after its product.
void CudaStepper::feed_forward(const DeviceLayer& layer, const DeviceNorm& norm, int batch) {
    layer.linear1.multiply(context_.cublas, scratch_.x.data(), batch, scratch_.hidden.data());
    bias_activation(scratch_.hidden.data(), layer.linear1.bias.data(), weights_.activation, batch, layer.linear1.out,
                    context_.stream);
    layer.linear2.multiply(context_.cublas, scratch_.hidden.data(), batch, scratch_.product.data());
    residual_layer_norm(scratch_.x.data(), scratch_.product.data(), layer.linear2.bias.data(), norm.weight.data(),
                        norm.bias.data(), LayerNorm::kEps, batch, weights_.d_model, context_.stream);
}

// Called at the start of a step, when no work is queued, so freeing old buffers here is safe.
void CudaStepper::prepare(int batch) {
    if (scratch_.batch == batch) return;
    const size_t n = batch;
    scratch_.x.allocate(n * weights_.d_model);
    scratch_.projected.allocate(n * widths_.projected);
    scratch_.heads.allocate(n * widths_.heads);
    scratch_.product.allocate(n * weights_.d_model);
    scratch_.hidden.allocate(n * widths_.hidden);
    scratch_.norms.allocate(2 * n * widths_.max_heads);
    scratch_.weights = DeviceBuffer<float>();
    scratch_.weights_stride = 0;
    scratch_.batch = batch;
}

// The memory (N*S, E_mem) and its lengths (N) on the device, before the layer loop; returns the lengths.
std::vector<int> CudaStepper::upload_memory(const Memory& memory) {
    std::vector<int> lengths(memory.batch, memory.length);
    for (size_t n = 0; n < memory.lengths.size(); ++n) lengths[n] = static_cast<int>(memory.lengths[n]);
    const size_t rows = size_t(memory.batch) * memory.length;
    memory_lengths_.upload(lengths.data(), lengths.size(), context_.stream);
    scratch_.memory.upload(memory.values.data(), size_t(memory.values.size()), context_.stream);
    scratch_.memory_keys.allocate(rows * widths_.memory_keys);
    scratch_.memory_values.allocate(rows * widths_.memory_values);
    return lengths;
}

// Room for `steps` softmax weights per head row; grows geometrically, as the cache does.
void CudaStepper::reserve_weights(int steps) {
    if (steps <= scratch_.weights_stride) return;
    context_.synchronize();  // the old buffer may still be read by queued kernels
    scratch_.weights_stride = cache_capacity(std::max(steps, 2 * scratch_.weights_stride));
    scratch_.weights.allocate(size_t(scratch_.batch) * widths_.max_heads * scratch_.weights_stride);
}

// KeyValueCache::append's growth: doubled capacity, the valid steps of each row copied over.
void CudaStepper::grow_cache(ModuleState& state, int rows, int key_dims, int value_dims) {
    const int capacity = grown_cache_capacity(state.capacity);
    auto grown = [&](const DeviceBuffer<float>& old, int width) {
        DeviceBuffer<float> buffer(size_t(rows) * capacity * width);
        if (state.length)
            STEPSCOPE_CUDA_CHECK(cudaMemcpy2DAsync(buffer.data(), size_t(capacity) * width * sizeof(float), old.data(),
                                                   size_t(state.capacity) * width * sizeof(float),
                                                   size_t(state.length) * width * sizeof(float), rows,
                                                   cudaMemcpyDeviceToDevice, context_.stream));
        return buffer;
    };
    DeviceBuffer<float> keys = grown(state.keys, key_dims), values = grown(state.values, value_dims);
    context_.synchronize();  // the copies and earlier kernels are done with the old buffers
    state.keys = std::move(keys);
    state.values = std::move(values);
    state.capacity = capacity;
}

// AttentionKind::norms (kinds/) on the device: 2*N*H floats come back instead of the state.
void CudaStepper::report_norms(StepObserver* observer, int layer, AttentionRole role, const DeviceAttention& a,
                               const ModuleState& state, int batch) {
    const int rows = batch * a.heads, D = a.query_dims, M = a.value_dims;
    float* norms = scratch_.norms.data();
    StateNorms out;
    out.batch = batch;
    out.heads = a.heads;
    if (a.kernel == CudaKernel::LinearSums) {
        row_norms(state.sums.data(), rows, long(D) * M, long(D) * M, norms, context_.stream);
        row_norms(state.normalizer.data(), rows, D, D, norms + rows, context_.stream);
    } else {
        row_norms(state.keys.data(), rows, long(state.capacity) * D, long(state.length) * D, norms, context_.stream);
        row_norms(state.values.data(), rows, long(state.capacity) * M, long(state.length) * M, norms + rows,
                  context_.stream);
        out.cache_length = state.length;
    }
    std::vector<float> both(2 * size_t(rows));
    scratch_.norms.download(both.data(), both.size(), context_.stream);
    context_.synchronize();
    // Both kernels keep two components: S and Z, or K and V.
    out.components = {std::vector<float>(both.begin(), both.begin() + rows),
                      std::vector<float>(both.begin() + rows, both.end())};
    observer->state_norms(layer, role, out);
}

// rows x cols floats whose rows start `pitch` floats apart on the device.
RowMatrix CudaStepper::download_rows(const float* device, long rows, long cols, long pitch) const {
    RowMatrix host(rows, cols);
    if (host.size())
        STEPSCOPE_CUDA_CHECK(cudaMemcpy2DAsync(host.data(), cols * sizeof(float), device, pitch * sizeof(float),
                                               cols * sizeof(float), rows, cudaMemcpyDeviceToHost, context_.stream));
    context_.synchronize();
    return host;
}

void CudaStepper::download(const DeviceAttention& a, const ModuleState& state, AttentionState& out) const {
    const long rows = long(shell_.batch) * a.heads, D = a.query_dims, M = a.value_dims;
    if (a.kernel == CudaKernel::LinearSums) {
        out.linear().sums = download_rows(state.sums.data(), rows * D, M, M);
        out.linear().normalizer = download_rows(state.normalizer.data(), rows, D, D);
        return;
    }
    const long pitch = state.capacity, length = state.length;
    out.cache().assign(download_rows(state.keys.data(), rows, length * D, pitch * D),
                       download_rows(state.values.data(), rows, length * M, pitch * M), int(D), int(M), int(length));
}

// What an upload relies on: every tensor the shape the model and batch give it.
void CudaStepper::upload(const DeviceAttention& a, const AttentionState& s, int batch, ModuleState& out) const {
    const size_t rows = size_t(batch) * a.heads, D = a.query_dims, M = a.value_dims;
    if (a.kernel == CudaKernel::LinearSums) {
        out.sums.upload(s.linear().sums.data(), size_t(s.linear().sums.size()), context_.stream);
        out.normalizer.upload(s.linear().normalizer.data(), size_t(s.linear().normalizer.size()), context_.stream);
        return;
    }
    // The device kernel attends from step 0 in every head: a cleared head's start would be ignored.
    if (s.cache().has_starts())
        throw Error("the CUDA backend cannot step a state with a cleared head's key/value cache; use the CPU");
    out.length = s.cache().length;
    out.capacity = cache_capacity(out.length);
    out.keys.allocate(rows * out.capacity * D);
    out.values.allocate(rows * out.capacity * M);
    if (!out.length) return;
    STEPSCOPE_CUDA_CHECK(cudaMemcpy2DAsync(out.keys.data(), out.capacity * D * sizeof(float), s.cache().keys.data(),
                                           s.cache().keys.cols() * sizeof(float), out.length * D * sizeof(float), rows,
                                           cudaMemcpyHostToDevice, context_.stream));
    STEPSCOPE_CUDA_CHECK(cudaMemcpy2DAsync(out.values.data(), out.capacity * M * sizeof(float), s.cache().values.data(),
                                           s.cache().values.cols() * sizeof(float), out.length * M * sizeof(float),
                                           rows, cudaMemcpyHostToDevice, context_.stream));
}

// The host shell holds the memory; the sums and caches are counted as allocated on the device.
std::size_t CudaStepper::state_bytes() const {
    std::size_t total = shell_.bytes();
    for (const LayerStates& layer : states_)
        for (const ModuleState* module : {&layer.self_attention, &layer.cross_attention})
            total += (module->sums.size() + module->normalizer.size() + module->keys.size() + module->values.size()) *
                     sizeof(float);
    return total;
}

// The model's own check, then uploads into new buffers, and only then replaces the
// current state: a state that does not fit leaves the stepper as it was.
void CudaStepper::set_state(State state) {
    model_->check_state(state);
    const int batch = state.batch;
    std::vector<LayerStates> states(state.layers.size());
    DeviceBuffer<int> memory_lengths;
    State shell = state;
    // The shell keeps the host parts; the tensors go to the device.
    auto take = [&](const DeviceAttention& attention, AttentionState& host, ModuleState& module) {
        if (host.started) upload(attention, host, batch, module);
        host.kept = std::monostate();
    };
    for (size_t i = 0; i < state.layers.size(); ++i) {
        take(weights_.layers[i].self_attention, shell.layers[i].self_attention, states[i].self_attention);
        take(weights_.layers[i].cross_attention, shell.layers[i].cross_attention, states[i].cross_attention);
    }
    // check_state made every layer's lengths equal: layer 0's serve all cross attentions.
    const AttentionState& cross = state.layers.front().cross_attention;
    if (cross.started) memory_lengths.upload(cross.memory_lengths.data(), cross.memory_lengths.size(), context_.stream);
    context_.synchronize();  // the uploads read `state`, and the old buffers are released below
    states_ = std::move(states);
    memory_lengths_ = std::move(memory_lengths);
    shell_ = std::move(shell);
    broken_ = false;
}

}  // namespace

std::unique_ptr<Stepper> make_cuda_stepper(std::shared_ptr<const Model> model) {
    cuda::require_device_support(*model);  // before the device is touched
    return std::make_unique<CudaStepper>(std::move(model));
}

// Asked once per process: the answer does not change while it runs, and the
// first CUDA call (driver load, context) costs up to a second.
DeviceStatus cuda_status() {
    static const DeviceStatus status = [] {
        int count = 0;
        const cudaError_t error = cudaGetDeviceCount(&count);
        if (error != cudaSuccess) {
            cudaGetLastError();  // clear it, so a later call does not report it again
            return DeviceStatus{false, std::string("no CUDA device found (cudaGetDeviceCount: ") +
                                           cudaGetErrorString(error) + ")"};
        }
        if (count == 0) return DeviceStatus{false, "no CUDA device found (cudaGetDeviceCount: 0 devices)"};
        if (const cudaError_t image = cuda::kernel_image_status(); image != cudaSuccess) {
            cudaGetLastError();
            cudaDeviceProp properties{};
            cudaGetDeviceProperties(&properties, 0);
            return DeviceStatus{false, std::string("CUDA device 0 (") + properties.name + ", compute capability " +
                                           std::to_string(properties.major) + "." + std::to_string(properties.minor) +
                                           ") cannot run this build's kernels (" + cudaGetErrorString(image) +
                                           "); it was built for CUDA architectures " STEPSCOPE_CUDA_ARCHITECTURES
                                           ": rebuild with the device's in CMAKE_CUDA_ARCHITECTURES"};
        }
        return DeviceStatus{true, ""};
    }();
    return status;
}

}  // namespace stepscope
