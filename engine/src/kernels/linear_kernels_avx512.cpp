// The panel kernels for AVX-512 (x86-64-v4) with VNNI: 16 lanes; q8 sums by vpdpbusd, 64 byte
// products an instruction. Compiled with -march=x86-64-v4 -mavx512vnni (engine/CMakeLists.txt).
#include <immintrin.h>

#include "kernels/linear_kernels.h"

namespace stepscope::kernels {

namespace {

struct Ops {
    static constexpr int kLanes = 16;
    using F = __m512;
    using I = __m512i;

    static F zero() { return _mm512_setzero_ps(); }
    static F load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
    static F broadcast(float v) { return _mm512_set1_ps(v); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }

    // A bfloat16 is the top half of a float32: the low half of each 32-bit lane moves up, the high
    // half is masked in place.
    static void widen_bf16(const uint16_t* p, F& first, F& second) {
        const I pairs = _mm512_loadu_si512(p);
        first = _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16));
        second = _mm512_castsi512_ps(_mm512_and_si512(pairs, _mm512_set1_epi32(int(0xffff0000u))));
    }

    static F load_bf16(const uint16_t* p) {
        const I halves = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        // The zero-masked shift: GCC 12 warns of the plain one's undefined operand in this context.
        return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(__mmask16(0xffff), halves, 16));
    }

    static I load_quants(const uint8_t* p) { return _mm512_loadu_si512(p); }
    static I broadcast4(const int8_t* x) {
        int32_t four;
        __builtin_memcpy(&four, x, sizeof four);
        return _mm512_set1_epi32(four);
    }
    // vpdpbusd multiplies unsigned by signed bytes: the weights' +128 adds 128 x the inputs' sum,
    // which the block's offset takes away.
    static I block_start(int32_t offset) { return _mm512_set1_epi32(offset); }
    static I dot4(I sums, I weights, I x4) { return _mm512_dpbusd_epi32(sums, weights, x4); }
    static F to_float(I v) { return _mm512_cvtepi32_ps(v); }
    static F min(F a, F b) { return _mm512_min_ps(a, b); }
    static I broadcast_int(int32_t v) { return _mm512_set1_epi32(v); }
    static F exponent_bits(I v) { return _mm512_castsi512_ps(_mm512_slli_epi32(v, 23)); }

    // For quantising a block of inputs: |v|, lane-wise max, sums and maximum over the lanes,
    // rounding to int32 (to nearest even, as std::rint), int32 lanes narrowed to bytes.
    static F abs(F v) { return _mm512_abs_ps(v); }
    static F max(F a, F b) { return _mm512_max_ps(a, b); }
    static F add(F a, F b) { return _mm512_add_ps(a, b); }
    // Halving by extracts: GCC 12 warns of an uninitialised operand in its _mm512_reduce_* and casts.
    static float reduce_max(F v) {
        const __m256 h = _mm256_max_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    }
    static float reduce_add(F v) {
        const __m256 h = _mm256_add_ps(_mm512_extractf32x8_ps(v, 0), _mm512_extractf32x8_ps(v, 1));
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
    static I round(F v) { return _mm512_cvtps_epi32(v); }
    static I add(I a, I b) { return _mm512_add_epi32(a, b); }
    static int32_t reduce_add(I v) {
        const __m256i h = _mm256_add_epi32(_mm512_extracti64x4_epi64(v, 0), _mm512_extracti64x4_epi64(v, 1));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
        return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
    }
    static void store_bytes(int8_t* p, I v) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
    }
};

#include "kernels/panel_kernels.inl"

// With AVX-512 BF16 (its own kernel set, so CPUs without it run the rest): vdpbf16ps adds both
// products of a pair of bfloat16 inputs in one instruction, twice an FMA's multiply-adds.
#define STEPSCOPE_BF16_DOT __attribute__((target("avx512bf16")))

// Pairs of inputs converted at a time, into a buffer on the stack.
constexpr long kPairBlock = 128;

// n floats holding bfloat16 values (linear.cpp rounds them) -> (n + 1) / 2 pairs of their bfloat16
// bits, input 2q low and 2q + 1 high (0 past n). Exact: the values are bfloat16 already.
STEPSCOPE_BF16_DOT void bf16_pairs(const float* x, long n, uint32_t* pairs) {
    long k = 0;
    for (; k + 32 <= n; k += 32) {
        const __m512bh both = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
        _mm512_storeu_si512(pairs + k / 2, reinterpret_cast<const __m512i&>(both));
    }
    for (; k < n; k += 2) {
        uint32_t low, high = 0;
        __builtin_memcpy(&low, x + k, sizeof low);
        if (k + 1 < n) __builtin_memcpy(&high, x + k + 1, sizeof high);
        pairs[k / 2] = (low >> 16) | (high & 0xffff0000u);
    }
}

// y(r, j) = bias(j) + sum over pairs q of x(r, 2q) w(2q, j) + x(r, 2q + 1) w(2q + 1, j), pairs in order.
template <int Rows>
STEPSCOPE_BF16_DOT void bf16_dot_panel(const PanelProduct& p, const uint16_t* panel) {
    constexpr long pair_row = 2 * kPanel;  // bfloat16 values of one pair of inputs
    constexpr long rows_ahead = kPrefetchBytes / (pair_row * long(sizeof(uint16_t)));
    F acc[Rows][kVectorsPerPanel];
    load_bias(p, acc);
    const long pairs = (p.in + 1) / 2;
    alignas(64) uint32_t x_pairs[Rows][kPairBlock];
    for (long first = 0; first < pairs; first += kPairBlock) {
        const long count = pairs - first < kPairBlock ? pairs - first : kPairBlock;
        for (int r = 0; r < Rows; ++r) {
            const long inputs = p.in - 2 * first < 2 * count ? p.in - 2 * first : 2 * count;
            bf16_pairs(p.x + r * p.x_stride + 2 * first, inputs, x_pairs[r]);
        }
        for (long q = 0; q < count; ++q) {
            const uint16_t* row = panel + (first + q) * pair_row;
            prefetch_bytes(row + rows_ahead * pair_row, pair_row * long(sizeof(uint16_t)));
            __m512bh w[kVectorsPerPanel];
            for (int v = 0; v < kVectorsPerPanel; ++v)
                w[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(row + v * 2 * Ops::kLanes));
            for (int r = 0; r < Rows; ++r) {
                const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(int(x_pairs[r][q])));
                for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], w[v], x);
            }
        }
    }
    store_rows(p, acc);
}

template <int Rows>
STEPSCOPE_BF16_DOT void bf16_dot_rows(const PanelProduct& p, const uint16_t* panel) {
    if constexpr (Rows > 1)
        if (p.rows < Rows) return bf16_dot_rows<Rows - 1>(p, panel);
    bf16_dot_panel<Rows>(p, panel);
}

}  // namespace

// 32 registers: 12 rows of two accumulators, or 6 rows of two integer sums and two accumulators.
const LinearKernels& avx512_kernels() {
    static constexpr LinearKernels kernels = make_kernels<12, 6>("avx512");
    return kernels;
}

const LinearKernels& avx512_bf16_kernels() {
    static constexpr LinearKernels kernels = [] {
        LinearKernels k = make_kernels<12, 6>("avx512bf16");
        k.bf16 = &bf16_dot_rows<12>;
        return k;
    }();
    return kernels;
}

}  // namespace stepscope::kernels
