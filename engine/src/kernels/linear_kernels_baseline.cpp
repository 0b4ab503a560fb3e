// The panel kernels for x86-64-v2 (SSE4.2, no FMA): 4 lanes, what every x86-64 CPU of the last
// fifteen years runs. Compiled with -march=x86-64-v2 (engine/CMakeLists.txt).
#include <immintrin.h>

#include "kernels/linear_kernels.h"

namespace stepscope::kernels {

namespace {

struct Ops {
    static constexpr int kLanes = 4;
    using F = __m128;
    using I = __m128i;

    static F zero() { return _mm_setzero_ps(); }
    static F load(const float* p) { return _mm_loadu_ps(p); }
    static void store(float* p, F v) { _mm_storeu_ps(p, v); }
    static F broadcast(float v) { return _mm_set1_ps(v); }
    static F mul(F a, F b) { return _mm_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }

    static void widen_bf16(const uint16_t* p, F& first, F& second) {
        const I pairs = _mm_loadu_si128(reinterpret_cast<const I*>(p));
        first = _mm_castsi128_ps(_mm_slli_epi32(pairs, 16));
        second = _mm_castsi128_ps(_mm_and_si128(pairs, _mm_set1_epi32(int(0xffff0000u))));
    }

    static F load_bf16(const uint16_t* p) {
        const I halves = _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const I*>(p)));
        return _mm_castsi128_ps(_mm_slli_epi32(halves, 16));
    }

    static I load_quants(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const I*>(p)); }
    static I broadcast4(const int8_t* x) {
        int32_t four;
        __builtin_memcpy(&four, x, sizeof four);
        return _mm_set1_epi32(four);
    }
    // As the AVX2 set: signed weights, |w| times x with w's sign, pairs summed to 32 bits.
    static I block_start(int32_t) { return _mm_setzero_si128(); }
    static I dot4(I sums, I weights, I x4) {
        const I w = _mm_xor_si128(weights, _mm_set1_epi8(char(0x80)));
        const I pairs = _mm_maddubs_epi16(_mm_abs_epi8(w), _mm_sign_epi8(x4, w));
        return _mm_add_epi32(sums, _mm_madd_epi16(pairs, _mm_set1_epi16(1)));
    }
    static F to_float(I v) { return _mm_cvtepi32_ps(v); }
    static F min(F a, F b) { return _mm_min_ps(a, b); }
    static I broadcast_int(int32_t v) { return _mm_set1_epi32(v); }
    static F exponent_bits(I v) { return _mm_castsi128_ps(_mm_slli_epi32(v, 23)); }

    // For quantising a block of inputs (see the AVX-512 set).
    static F abs(F v) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), v); }
    static F max(F a, F b) { return _mm_max_ps(a, b); }
    static F add(F a, F b) { return _mm_add_ps(a, b); }
    static float reduce_max(F v) {
        const F m = _mm_max_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    }
    static float reduce_add(F v) {
        const F s = _mm_add_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
    static I round(F v) { return _mm_cvtps_epi32(v); }
    static I add(I a, I b) { return _mm_add_epi32(a, b); }
    static int32_t reduce_add(I v) {
        const I s = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
        return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
    }
    static void store_bytes(int8_t* p, I v) {
        const I words = _mm_packs_epi32(v, v);
        const int32_t four = _mm_cvtsi128_si32(_mm_packs_epi16(words, words));
        __builtin_memcpy(p, &four, sizeof four);
    }
};

#include "kernels/panel_kernels.inl"

}  // namespace

// 16 registers: 6 rows of two accumulators, or 3 rows of two integer sums and two accumulators.
const LinearKernels& baseline_kernels() {
    static constexpr LinearKernels kernels = make_kernels<6, 3>("baseline");
    return kernels;
}

}  // namespace stepscope::kernels
