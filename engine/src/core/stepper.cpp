// Device selection and the CPU stepper, which wraps Model::step around a host State.
#include "stepscope/stepper.h"

#include "stepscope/error.h"
#include "stepscope/intervention.h"

#ifdef STEPSCOPE_HAVE_CUDA
#include "cuda_stepper.h"
#endif

namespace stepscope {

namespace {

class CpuStepper final : public Stepper {
public:
    explicit CpuStepper(std::shared_ptr<const Model> model) : model_(std::move(model)), state_(model_->new_state()) {}

    Device device() const override { return Device::Cpu; }
    const Model& model() const override { return *model_; }
    void reset(uint64_t sequence_seed) override { state_ = model_->new_state(sequence_seed); }
    void step(const ConstMatrixRef& x, RowMatrix& y, StepObserver* observer) override {
        model_->step(x, state_, y, observer);
    }
    void step(const ConstMatrixRef& x, const Memory& memory, RowMatrix& y, StepObserver* observer) override {
        model_->step(x, memory, state_, y, observer);
    }
    void step(const ConstMatrixRef& x, RowMatrix& y, const StepOptions& options) override {
        model_->step(x, state_, y, options);
    }
    void step(const ConstMatrixRef& x, const Memory& memory, RowMatrix& y, const StepOptions& options) override {
        model_->step(x, memory, state_, y, options);
    }
    void step_block(const ConstMatrixRef& xs, int steps, RowMatrix& ys, const StepOptions& options) override {
        model_->step_block(xs, steps, state_, ys, options);
    }
    int64_t step_count() const override { return state_.step; }
    std::size_t state_bytes() const override { return state_.bytes(); }
    State state() const override { return state_; }
    void set_state(State state) override {
        model_->check_state(state);
        state_ = std::move(state);
    }

private:
    std::shared_ptr<const Model> model_;
    State state_;
};

void refuse_options_beyond_observer(Device device, const StepOptions& options) {
    if (options.observation || (options.ablation && !options.ablation->empty()))
        throw Error(std::string("observing attention maps and spectra and ablating heads run on the CPU, not on ") +
                    device_name(device));
}

}  // namespace

void Stepper::step(const ConstMatrixRef& x, RowMatrix& y, const StepOptions& options) {
    refuse_options_beyond_observer(device(), options);
    step(x, y, options.observer);
}

void Stepper::step(const ConstMatrixRef& x, const Memory& memory, RowMatrix& y, const StepOptions& options) {
    refuse_options_beyond_observer(device(), options);
    step(x, memory, y, options.observer);
}

void Stepper::step_block(const ConstMatrixRef& xs, int steps, RowMatrix& ys, const StepOptions& options) {
    if (steps <= 0 || xs.rows() % steps != 0)
        throw Error("a block of " + std::to_string(xs.rows()) + " rows is not (T, N) for T = " + std::to_string(steps));
    const long batch = xs.rows() / steps;
    if (ys.rows() != xs.rows() || ys.cols() != xs.cols()) ys.resize(xs.rows(), xs.cols());
    RowMatrix y;
    for (int t = 0; t < steps; ++t) {
        step(xs.middleRows(t * batch, batch), y, options);
        ys.middleRows(t * batch, batch) = y;
    }
}

Device device_from_name(const std::string& name) {
    if (name == "cpu") return Device::Cpu;
    if (name == "cuda") return Device::Cuda;
    throw Error("device '" + name + "' is not one of: cpu, cuda");
}

const char* device_name(Device device) { return device == Device::Cpu ? "cpu" : "cuda"; }

#ifndef STEPSCOPE_HAVE_CUDA
DeviceStatus cuda_status() { return {false, "this build of Stepscope has no CUDA support (STEPSCOPE_CUDA=OFF)"}; }
#endif

std::string device_refusal(const Model& model, Device device) {
    if (device == Device::Cpu) return {};
    for (const AttentionModule& module : model.attention_modules())
        if (module.kind->cuda == CudaKernel::None)
            return "attention type '" + module.kind->name + "' (" + module.kind->description +
                   ") has no CUDA kernels yet; step this model with --device cpu";
    return {};
}

std::unique_ptr<Stepper> make_stepper(std::shared_ptr<const Model> model, Device device) {
    if (device == Device::Cpu) return std::make_unique<CpuStepper>(std::move(model));
    if (const std::string refusal = device_refusal(*model, device); !refusal.empty()) throw Error(refusal);
    const DeviceStatus status = cuda_status();
    if (!status.available) throw Error("CUDA is not available: " + status.reason);
#ifdef STEPSCOPE_HAVE_CUDA
    return make_cuda_stepper(std::move(model));
#else
    throw Error("CUDA is not available");
#endif
}

}  // namespace stepscope
