// The dense layers' panel kernels, linear attention's per-head step and elu feature map, and full
// attention's passes over the cache: one set per instruction set, chosen at run time.
//
// A portable build compiles the engine for x86-64-v2 and each kernel set in its
// own translation unit for its own instruction set (linear_kernels_avx2.cpp,
// linear_kernels_avx512.cpp). Those units include neither Eigen nor the standard
// library's templates and keep everything but their table in an anonymous
// namespace: an inline function compiled there for AVX-512 could otherwise be
// the copy the linker keeps for the whole program, and fault on older CPUs.
//
// A panel is `panel` consecutive outputs of a weight (out, in), stored so that
// one kernel call reads it as one contiguous stream (linear.cpp packs it):
//   f32   (in, panel) floats
//   bf16  (in/2 rounded up, panel) pairs of bfloat16: the 32-bit lane of pair q and
//         output j holds j's weights of inputs 2q (low half) and 2q + 1 (high half, 0
//         past the last input), so a vector widens to two by a shift and a mask, and
//         is what bfloat16 dot-product instructions take
//   q8    per block of kQ8Block inputs: `panel` float scales, then the block's
//         quants (kQ8Block/4, panel, 4) as unsigned bytes (quant + 128), so four
//         inputs of one output are one 32-bit lane, as integer dot products read them
#pragma once

#include <cstdint>

namespace stepscope::kernels {

// q8: llama.cpp's q8_0 block, 32 weights of one output and one scale.
constexpr int kQ8Block = 32;
// The widest key full attention's passes take: config.h's kMaxHeadDimensions.
constexpr int kMaxCacheWidth = 8192;

// y (rows, >= valid) = x (rows, in) panel + bias (panel), for the first `valid` outputs;
// x and y with row strides. rows is 1..max_rows.
struct PanelProduct {
    const float* x;
    long x_stride;
    int rows;
    long in;
    const float* bias;
    float* y;
    long y_stride;
    int valid;
};

// The input of a q8 product, quantised as the weights are: per row and block of
// kQ8Block inputs, quants (signed bytes), a float scale, and -128 * (sum of the
// block's quants), which cancels the +128 of the weights' unsigned bytes.
struct QuantisedRows {
    const int8_t* quants;    // (rows, blocks * kQ8Block), row stride `stride`
    const float* scales;     // (rows, blocks)
    const int32_t* offsets;  // (rows, blocks)
    long stride;
    long blocks;
};

struct LinearKernels {
    const char* isa;  // "baseline", "avx2", "avx512"
    int panel;        // outputs per panel
    int max_rows;     // rows one f32 or bf16 call takes
    int max_rows_q8;  // rows one q8 call takes
    void (*f32)(const PanelProduct& product, const float* panel);
    // bf16: x holds bfloat16 values (rounded by the caller), so every set computes the same products.
    void (*bf16)(const PanelProduct& product, const uint16_t* panel);
    void (*q8)(const PanelProduct& product, const QuantisedRows& x, const uint8_t* panel);
    // One head of linear attention, f = 0, 1, ... in order (recurrent_attention.cpp):
    //   sums(f, :) += phi_k[f] values;  out += phi_q[f] sums(f, :)
    // sums (features, width) with rows `width` apart, values and out (width); out is overwritten.
    void (*linear_attention_head)(const float* phi_k, const float* phi_q, const float* values, long features,
                                  long width, float* sums, float* out);
    // q8_0 of kQ8Block inputs, bit for bit as linear.cpp's reference: scale = max |v| / 127,
    // quants = rint(v * (127 / max |v|)), sum = their sum. false, writing nothing, where a value
    // is not finite.
    bool (*quantise_block)(const float* values, int8_t* quants, float* scale, int32_t* sum);
    // The elu feature map of linear attention (feature_map.cpp): out = v + 1 for v > 0, exp(v)
    // otherwise, for n values.
    void (*elu_plus_one)(const float* x, long n, float* out);
    // Full attention's softmax in place over count >= 1 scores: exp(s - max) / sum, exp as
    // elu_plus_one's (within 2 ulp of std::exp), the sum in one fixed order.
    void (*softmax)(float* scores, int count);
    // Full attention's passes over a head's cache (recurrent_attention.cpp), each sum in one fixed
    // order wherever the data lies: scores[t] = scale * (query . keys(t, :)) for keys (count, dims);
    // out (width) = sum_t a[t] rows(t, :) for rows (count, width).
    void (*scaled_dots)(const float* query, const float* keys, int count, int dims, float scale, float* scores);
    void (*weighted_rows)(const float* a, const float* rows, int count, int width, float* out);
    // The same passes over a bfloat16 cache (keys and rows as bfloat16 bits), summed in floats as above.
    void (*scaled_dots_bf16)(const float* query, const uint16_t* keys, int count, int dims, float scale, float* scores);
    void (*weighted_rows_bf16)(const float* a, const uint16_t* rows, int count, int width, float* out);
};

const LinearKernels& baseline_kernels();     // x86-64-v2: SSE4.1, no FMA
const LinearKernels& avx2_kernels();         // x86-64-v3: AVX2 and FMA
const LinearKernels& avx512_kernels();       // x86-64-v4 and AVX-512 VNNI
const LinearKernels& avx512_bf16_kernels();  // and AVX-512 BF16: bf16 products by vdpbf16ps

// The best set this CPU runs, or the one STEPSCOPE_ISA names (baseline, avx2, avx512, avx512bf16) where the
// CPU runs it. Chosen once per process.
const LinearKernels& linear_kernels();

}  // namespace stepscope::kernels
