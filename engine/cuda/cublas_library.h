// cuBLAS, opened by the first CUDA stepper instead of linked: a linked libcublas maps its libcublasLt into
// every process at start (62 MB resident in the explorer), with or without a GPU.
#pragma once

#include <cublas_v2.h>

namespace stepscope::cuda {

// The entry points the stepper calls.
struct CublasLibrary {
    decltype(&cublasCreate_v2) create = nullptr;
    decltype(&cublasDestroy_v2) destroy = nullptr;
    decltype(&cublasSetStream_v2) set_stream = nullptr;
    decltype(&cublasGetStream_v2) get_stream = nullptr;
    decltype(&cublasSetMathMode) set_math_mode = nullptr;
    decltype(&cublasSgemm_v2) sgemm = nullptr;
    decltype(&cublasGetStatusString) status_string = nullptr;
};

// The cuBLAS of the major version this build compiled against, opened on the first call. Throws Error
// naming the library and the loader's reason where it cannot be opened (then the next call tries again).
const CublasLibrary& cublas_library();

}  // namespace stepscope::cuda
