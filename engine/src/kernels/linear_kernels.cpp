// Which panel kernels this process runs: the widest instruction set the CPU has, or STEPSCOPE_ISA's.
#include "kernels/linear_kernels.h"

#include <cstdlib>
#include <string>

#include "stepscope/error.h"

namespace stepscope::kernels {

namespace {

// The x86-64-v3 and -v4 levels the kernel units are compiled for, by features both GCC and clang
// name (clang 14 knows no "x86-64-v3"); every CPU with these also has the level's smaller ones.
bool has_v3() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2");
}

bool has_v4_vnni() {
    return has_v3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512vnni");
}

bool cpu_runs(const LinearKernels& kernels) {
    __builtin_cpu_init();
    const std::string isa = kernels.isa;
    if (isa == "avx512bf16") return has_v4_vnni() && __builtin_cpu_supports("avx512bf16");
    if (isa == "avx512") return has_v4_vnni();
    if (isa == "avx2") return has_v3();
    return true;
}

const LinearKernels& choose() {
    const LinearKernels* sets[] = {&avx512_bf16_kernels(), &avx512_kernels(), &avx2_kernels(), &baseline_kernels()};
    const char* requested = std::getenv("STEPSCOPE_ISA");
    if (!requested || !*requested) {
        for (const LinearKernels* kernels : sets)
            if (cpu_runs(*kernels)) return *kernels;
    }
    for (const LinearKernels* kernels : sets) {
        if (requested != std::string(kernels->isa)) continue;
        if (!cpu_runs(*kernels))
            throw Error("STEPSCOPE_ISA=" + std::string(requested) + ": this CPU lacks those instructions");
        return *kernels;
    }
    throw Error("STEPSCOPE_ISA must be baseline, avx2, avx512 or avx512bf16, got '" + std::string(requested) + "'");
}

}  // namespace

const LinearKernels& linear_kernels() {
    static const LinearKernels& chosen = choose();
    return chosen;
}

}  // namespace stepscope::kernels
