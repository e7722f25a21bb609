// half_float.hpp — IEEE float16 and bfloat16 storage types with round-to-nearest-even conversions.
// 16-bit data is computed in float32 and rounded once, when the result is stored.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

// Usable from host and CUDA device code alike, so both backends round 16-bit results identically.
#if defined(__CUDACC__)
#define TESSERA_HOST_DEVICE __host__ __device__
#else
#define TESSERA_HOST_DEVICE
#endif

namespace tessera {

struct Float16 {
  std::uint16_t bits;
};
struct BFloat16 {
  std::uint16_t bits;
};

TESSERA_HOST_DEVICE inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
TESSERA_HOST_DEVICE inline float bits_float(std::uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

TESSERA_HOST_DEVICE inline float to_float(BFloat16 h) { return bits_float(static_cast<std::uint32_t>(h.bits) << 16); }

TESSERA_HOST_DEVICE inline BFloat16 to_bfloat16(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return BFloat16{static_cast<std::uint16_t>((u >> 16) | 0x0040u)};  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return BFloat16{static_cast<std::uint16_t>((u + rounding) >> 16)};
}

// All ones when `condition` holds, else zero: the float16 conversions below compute every case and pick
// one with such masks, without branches, so that loops over many values vectorise.
TESSERA_HOST_DEVICE inline std::uint32_t all_ones_if(bool condition) { return 0u - static_cast<std::uint32_t>(condition); }

TESSERA_HOST_DEVICE inline float to_float(Float16 h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (h.bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = h.bits & 0x3ffu;
  // zero or subnormal: mantissa * 2^-24, exact in float
  const std::uint32_t subnormal = float_bits(static_cast<float>(static_cast<std::int32_t>(mantissa)) * 5.9604644775390625e-08f);
  // normal, or infinity / NaN (exponent 31 becomes 255)
  const std::uint32_t rebiased = exponent + 112u + (112u & all_ones_if(exponent == 31u));
  const std::uint32_t other = (rebiased << 23) | (mantissa << 13);
  const std::uint32_t is_subnormal = all_ones_if(exponent == 0u);
  return bits_float(sign | (subnormal & is_subnormal) | (other & ~is_subnormal));
}

TESSERA_HOST_DEVICE inline Float16 to_float16(float f) {
  const std::uint32_t bits = float_bits(f);
  const std::uint32_t sign = bits & 0x80000000u;
  const std::uint32_t u = bits ^ sign;
  // at or above 2^16: overflow to infinity, or NaN
  const std::uint32_t huge = 0x7c00u | (0x0200u & all_ones_if(u > 0x7f800000u));
  // below 2^-14, a float16 subnormal or zero: adding 0.5 shifts the value's bits so that the float adder
  // rounds it to a float16 subnormal
  constexpr std::uint32_t kMagic = 126u << 23;
  const std::uint32_t tiny = float_bits(bits_float(u) + bits_float(kMagic)) - kMagic;
  // normal: rebias the exponent and round the mantissa to nearest even
  const std::uint32_t normal = (u + (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + ((u >> 13) & 1u)) >> 13;
  const std::uint32_t is_huge = all_ones_if(u >= (143u << 23));
  const std::uint32_t is_tiny = all_ones_if(u < (113u << 23));
  const std::uint32_t out = (huge & is_huge) | (tiny & is_tiny) | (normal & ~(is_huge | is_tiny));
  return Float16{static_cast<std::uint16_t>(out | (sign >> 16))};
}

// Loading any storage type into the compute type T and storing back.
template <typename T>
TESSERA_HOST_DEVICE inline T load_as(float v) { return static_cast<T>(v); }
template <typename T>
TESSERA_HOST_DEVICE inline T load_as(double v) { return static_cast<T>(v); }
template <typename T>
TESSERA_HOST_DEVICE inline T load_as(Float16 v) { return static_cast<T>(to_float(v)); }
template <typename T>
TESSERA_HOST_DEVICE inline T load_as(BFloat16 v) { return static_cast<T>(to_float(v)); }

template <typename S, typename T>
TESSERA_HOST_DEVICE inline S store_as(T v) {
  if constexpr (std::is_same_v<S, Float16>) {
    return to_float16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    return to_bfloat16(static_cast<float>(v));
  } else {
    return static_cast<S>(v);
  }
}

}  // namespace tessera
