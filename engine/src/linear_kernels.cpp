// Which panel kernels this process runs: the widest instruction set the CPU has, or STEPSCOPE_ISA's.
#include "linear_kernels.h"

#include <cstdlib>
#include <string>

#include "stepscope/error.h"

namespace stepscope::kernels {

namespace {

bool cpu_runs(const LinearKernels& kernels) {
    __builtin_cpu_init();
    const std::string isa = kernels.isa;
    if (isa == "avx512") return __builtin_cpu_supports("x86-64-v4") && __builtin_cpu_supports("avx512vnni");
    if (isa == "avx2") return __builtin_cpu_supports("x86-64-v3");
    return true;
}

const LinearKernels& choose() {
    const LinearKernels* sets[] = {&avx512_kernels(), &avx2_kernels(), &baseline_kernels()};
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
    throw Error("STEPSCOPE_ISA must be baseline, avx2 or avx512, got '" + std::string(requested) + "'");
}

}  // namespace

const LinearKernels& linear_kernels() {
    static const LinearKernels& chosen = choose();
    return chosen;
}

}  // namespace stepscope::kernels
