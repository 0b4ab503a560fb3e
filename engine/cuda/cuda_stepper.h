// The CUDA stepper: a model's weights and recurrent state on an NVIDIA GPU, stepped by cuBLAS and our kernels.
#pragma once

#include <memory>

#include "stepscope/stepper.h"

namespace stepscope {

// Uploads the weights once; the state then lives on the device between steps
// and is copied back only by state() and for an observer. Throws Error for
// what the device path does not implement (random feature maps), naming it.
// The caller has checked cuda_status().
std::unique_ptr<Stepper> make_cuda_stepper(std::shared_ptr<const Model> model);

}  // namespace stepscope
