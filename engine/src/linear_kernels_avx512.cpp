// The panel kernels for AVX-512 (x86-64-v4) with VNNI: 16 lanes; q8 sums by vpdpbusd, 64 byte
// products an instruction. Compiled with -march=x86-64-v4 -mavx512vnni (engine/CMakeLists.txt).
#include <immintrin.h>

#include "linear_kernels.h"

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

#include "panel_kernels.inl"

}  // namespace

// 32 registers: 12 rows of two accumulators, or 6 rows of two integer sums and two accumulators.
const LinearKernels& avx512_kernels() {
    static constexpr LinearKernels kernels = make_kernels<12, 6>("avx512");
    return kernels;
}

}  // namespace stepscope::kernels
