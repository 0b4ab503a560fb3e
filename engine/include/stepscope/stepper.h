// Where a model steps: the CPU engine or, when built with STEPSCOPE_CUDA and a GPU is present, CUDA.
//
//   auto stepper = make_stepper(model, Device::Cuda);  // throws Error with the reason if unavailable
//   stepper->reset(seed);
//   stepper->step(x, y);           // the state stays on the device between steps
//   State state = stepper->state();  // copied back only when asked
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "stepscope/model.h"

namespace stepscope {

enum class Device { Cpu, Cuda };

Device device_from_name(const std::string& name);  // "cpu" | "cuda"; throws Error naming the value
const char* device_name(Device device);

struct DeviceStatus {
    bool available = false;
    std::string reason;  // why not, in words a user can act on; empty when available
};

// CUDA availability: built with STEPSCOPE_CUDA, and a device present at run time.
DeviceStatus cuda_status();

// A model stepping on one device, owning its state there.
class Stepper {
public:
    virtual ~Stepper() = default;
    virtual Device device() const = 0;
    virtual const Model& model() const = 0;

    // A new sequence: empty state, random feature maps drawn from `sequence_seed`.
    virtual void reset(uint64_t sequence_seed) = 0;
    // Encoder step, x (N, E) -> y (N, E). Same checks and errors as Model::step;
    // on error the state is unchanged.
    virtual void step(const ConstMatrixRef& x, RowMatrix& y, StepObserver* observer = nullptr) = 0;
    // Decoder step.
    virtual void step(const ConstMatrixRef& x, const Memory& memory, RowMatrix& y,
                      StepObserver* observer = nullptr) = 0;
    // Steps observed and ablated as `options` asks (model.h). Devices that
    // cannot look inside or ablate take only options.observer and throw Error
    // for the rest; the CPU does it all.
    virtual void step(const ConstMatrixRef& x, RowMatrix& y, const StepOptions& options);
    virtual void step(const ConstMatrixRef& x, const Memory& memory, RowMatrix& y, const StepOptions& options);

    // `steps` encoder steps of known inputs, xs (T*N, E) rows (t, n) -> ys likewise (Model::step_block): the
    // CPU runs the block's products at once; other devices step one element at a time.
    virtual void step_block(const ConstMatrixRef& xs, int steps, RowMatrix& ys, const StepOptions& options = {});

    // Steps taken in this sequence, and the bytes its state holds: cheap, nothing is copied.
    virtual int64_t step_count() const = 0;
    virtual std::size_t state_bytes() const = 0;

    // The state as a host value (a copy from the device for CUDA).
    virtual State state() const = 0;
    // Continues from `state` (uploaded for CUDA); throws Error if it does not fit the model.
    virtual void set_state(State state) = 0;
};

// Why `device` cannot step `model` whatever the machine has: the first attention module whose kind does
// not declare the device (AttentionCapabilities::cuda), named in a sentence; empty when it can.
std::string device_refusal(const Model& model, Device device);

// Throws Error with device_refusal() first, then with cuda_status().reason when CUDA is unavailable.
std::unique_ptr<Stepper> make_stepper(std::shared_ptr<const Model> model, Device device);

}  // namespace stepscope
