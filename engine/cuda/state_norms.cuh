// State norms reduced on the device, so an observer costs a download of 2*N*H floats rather than the whole state.
#pragma once

#include <cuda_runtime_api.h>

namespace stepscope::cuda {

// out[r] = || data[r*stride, r*stride + count) ||_2 for r < rows.
// CPU reference: each attention kind's norms() (engine/src/attention_kinds/), whose rows are the same
// spans: S[r] (D*M), Z[r] (D), or a cache row's first T keys (T*D) or values (T*M).
void row_norms(const float* data, int rows, long stride, long count, float* out, cudaStream_t stream);

}  // namespace stepscope::cuda
