// The panel kernels for AVX2 with FMA (x86-64-v3): 8 lanes. Compiled with -march=x86-64-v3
// (engine/CMakeLists.txt).
#include <immintrin.h>

#include "kernels/linear_kernels.h"

namespace stepscope::kernels {

namespace {

struct Ops {
    static constexpr int kLanes = 8;
    using F = __m256;
    using I = __m256i;

    static F zero() { return _mm256_setzero_ps(); }
    static F load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
    static F broadcast(float v) { return _mm256_set1_ps(v); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }

    static void widen_bf16(const uint16_t* p, F& first, F& second) {
        const I pairs = _mm256_loadu_si256(reinterpret_cast<const I*>(p));
        first = _mm256_castsi256_ps(_mm256_slli_epi32(pairs, 16));
        second = _mm256_castsi256_ps(_mm256_and_si256(pairs, _mm256_set1_epi32(int(0xffff0000u))));
    }

    static F load_bf16(const uint16_t* p) {
        const I halves = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(halves, 16));
    }

    static I load_quants(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const I*>(p)); }
    static I broadcast4(const int8_t* x) {
        int32_t four;
        __builtin_memcpy(&four, x, sizeof four);
        return _mm256_set1_epi32(four);
    }
    // Without VNNI: back to signed weights, then |w| times x with w's sign (pmaddubsw's pairs stay
    // within int16 since quants are within +-127), pairs summed to 32 bits. No offset to cancel.
    static I block_start(int32_t) { return _mm256_setzero_si256(); }
    static I dot4(I sums, I weights, I x4) {
        const I w = _mm256_xor_si256(weights, _mm256_set1_epi8(char(0x80)));
        const I pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x4, w));
        return _mm256_add_epi32(sums, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    static F to_float(I v) { return _mm256_cvtepi32_ps(v); }
    static F min(F a, F b) { return _mm256_min_ps(a, b); }
    static I broadcast_int(int32_t v) { return _mm256_set1_epi32(v); }
    static F exponent_bits(I v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 23)); }

    // For quantising a block of inputs (see the AVX-512 set).
    static F abs(F v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
    static F max(F a, F b) { return _mm256_max_ps(a, b); }
    static F add(F a, F b) { return _mm256_add_ps(a, b); }
    static float reduce_max(F v) {
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    }
    static float reduce_add(F v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
    static I round(F v) { return _mm256_cvtps_epi32(v); }
    static I add(I a, I b) { return _mm256_add_epi32(a, b); }
    static int32_t reduce_add(I v) {
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
        return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
    }
    static void store_bytes(int8_t* p, I v) {
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(words, words));
    }
};

#include "kernels/panel_kernels.inl"

}  // namespace

// 16 registers: 6 rows of two accumulators, or 3 rows of two integer sums and two accumulators.
const LinearKernels& avx2_kernels() {
    static constexpr LinearKernels kernels = make_kernels<6, 3>("avx2");
    return kernels;
}

}  // namespace stepscope::kernels
