// bfloat16: the upper half of a float32. One conversion for the CPU packing (linear.cpp) and the CUDA upload
// (cuda/device_model.cpp), so both devices multiply the same weights.
#pragma once

#include <cstdint>
#include <cstring>

namespace stepscope {

// Round to nearest, ties to even. A NaN stays a (quiet) NaN: rounding would carry its payload into the
// exponent or the sign and make it -0 or an infinity.
inline uint16_t to_bf16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((bits >> 16) | 0x40);
    const uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

inline float from_bf16(uint16_t value) {
    const uint32_t bits = static_cast<uint32_t>(value) << 16;
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

// The float a weight becomes when stored as bfloat16.
inline float round_to_bf16(float value) { return from_bf16(to_bf16(value)); }

}  // namespace stepscope
