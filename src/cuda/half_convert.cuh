// half_convert.cuh — float16 / bfloat16 conversions on the device through the hardware's convert
// instructions, with the bits of the software conversions in core/half_float.hpp (which the CPU runs)
// for every input: tests/cuda/half_convert_exhaustive.cu compares them on all 2^32 floats and all 2^16
// float16 values.
//
// Round to nearest even, subnormals and infinities: the instructions (without .ftz) and the software
// agree. NaN: the software keeps the sign (and, except for float -> float16, the payload), which the
// instructions need not, so each conversion patches NaNs with the software's bits. One value:
// the instruction and a select, 4 to 6 instructions (sm_90) where the software takes 7 (float ->
// bfloat16) to 17 (float16 -> float).
// A run of values: pairs in one instruction each, and one branch for the whole run to the software
// conversions where any value is NaN (rare in data).
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/half_float.hpp"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "tessera's CUDA kernels need compute capability 8.0 or newer (the bfloat16 convert instructions)"
#endif

namespace tessera::cuda {

__device__ inline float float16_to_float(Float16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
  // NaN: sign, all-ones exponent, the payload moved up unchanged (exponent 31 + 224 = 255)
  const std::uint32_t b = h.bits;
  const std::uint32_t nan = ((b << 13) + ((b << 16) & 0x80000000u)) | 0x70000000u;
  return f != f ? bits_float(nan) : f;
}

__device__ inline Float16 float_to_float16(float f) {
  std::uint16_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  const std::uint16_t nan = static_cast<std::uint16_t>(((float_bits(f) >> 16) & 0x8000u) | 0x7e00u);
  return Float16{f != f ? nan : h};
}

__device__ inline BFloat16 float_to_bfloat16(float f) {
  std::uint16_t h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  const std::uint16_t nan = static_cast<std::uint16_t>((float_bits(f) >> 16) | 0x40u);
  return BFloat16{f != f ? nan : h};
}

// w[i] = the 16-bit values of v[2i] (low half) and v[2i + 1] (high half).
template <typename S, int V>
__device__ inline void floats_to_16bit_pairs(const float (&v)[V], std::uint32_t (&w)[V / 2]) {
  static_assert(std::is_same_v<S, Float16> || std::is_same_v<S, BFloat16>, "16-bit storage types only");
  bool any_nan = false;
#pragma unroll
  for (int i = 0; i < V / 2; ++i) {
    if constexpr (std::is_same_v<S, Float16>) {
      asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(w[i]) : "f"(v[2 * i + 1]), "f"(v[2 * i]));
    } else {
      asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w[i]) : "f"(v[2 * i + 1]), "f"(v[2 * i]));
    }
    any_nan |= v[2 * i] != v[2 * i] || v[2 * i + 1] != v[2 * i + 1];
  }
  if (__builtin_expect(any_nan, 0)) {
#pragma unroll
    for (int i = 0; i < V / 2; ++i) {
      w[i] = static_cast<std::uint32_t>(store_as<S>(v[2 * i]).bits) |
             (static_cast<std::uint32_t>(store_as<S>(v[2 * i + 1]).bits) << 16);
    }
  }
}

}  // namespace tessera::cuda
