// Opens cuBLAS with the dynamic loader and resolves the stepper's entry points.
#include "cublas_library.h"

#include <dlfcn.h>

#include <string>

#include "stepscope/error.h"

namespace stepscope::cuda {

namespace {

#define STEPSCOPE_VERSION_TEXT(major) #major
#define STEPSCOPE_SONAME(major) "libcublas.so." STEPSCOPE_VERSION_TEXT(major)
constexpr const char* kLibrary = STEPSCOPE_SONAME(CUBLAS_VER_MAJOR);

template <typename Function>
void resolve(void* handle, const char* name, Function& function) {
    function = reinterpret_cast<Function>(dlsym(handle, name));
    if (!function) throw Error(std::string("CUDA: ") + kLibrary + " has no " + name);
}

CublasLibrary open_library() {
    void* handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* reason = dlerror();
        throw Error(std::string("CUDA: cannot open ") + kLibrary + ": " + (reason ? reason : "unknown reason"));
    }
    CublasLibrary library;
    resolve(handle, "cublasCreate_v2", library.create);
    resolve(handle, "cublasDestroy_v2", library.destroy);
    resolve(handle, "cublasSetStream_v2", library.set_stream);
    resolve(handle, "cublasGetStream_v2", library.get_stream);
    resolve(handle, "cublasSetMathMode", library.set_math_mode);
    resolve(handle, "cublasSgemm_v2", library.sgemm);
    resolve(handle, "cublasGetStatusString", library.status_string);
    return library;  // the handle stays open for the process: steppers come and go
}

}  // namespace

const CublasLibrary& cublas_library() {
    static const CublasLibrary library = open_library();
    return library;
}

}  // namespace stepscope::cuda
