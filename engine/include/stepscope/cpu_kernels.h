// Which instruction set the CPU's step kernels use in this process (the dense layers, linear
// attention's step, the elu map, full attention's passes over the cache).
#pragma once

namespace stepscope {

// "avx512bf16" (AVX-512 with BF16's dot products), "avx512", "avx2" or "baseline" (x86-64-v2):
// the widest the CPU has unless the environment
// variable STEPSCOPE_ISA names another. Throws Error when STEPSCOPE_ISA names an unknown set or one
// the CPU lacks.
const char* linear_kernel_isa();

}  // namespace stepscope
