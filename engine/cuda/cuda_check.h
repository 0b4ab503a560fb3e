// CUDA runtime error checks that throw stepscope::Error naming the call and cudaGetErrorString.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "stepscope/error.h"

namespace stepscope::cuda {

inline void check(cudaError_t status, const char* call) {
    if (status != cudaSuccess) throw Error(std::string("CUDA: ") + call + " failed: " + cudaGetErrorString(status));
}

// After a kernel launch: a bad configuration shows here, a fault at the next synchronising call.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace stepscope::cuda

#define STEPSCOPE_CUDA_CHECK(call) ::stepscope::cuda::check((call), #call)
