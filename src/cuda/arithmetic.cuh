// arithmetic.cuh — the per-element arithmetic every CUDA kernel shares with the CPU backend: load in the
// compute type, multiply and add rounded separately (never fused), taps summed in table order.
#pragma once

#include <cstdint>

#include "core/half_float.hpp"

namespace tessera::cuda {

__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }

template <typename T>
__device__ inline T load(float v) { return static_cast<T>(v); }
template <typename T>
__device__ inline T load(double v) { return static_cast<T>(v); }
template <typename T>
__device__ inline T load(Float16 v) { return static_cast<T>(to_float(v)); }
template <typename T>
__device__ inline T load(BFloat16 v) { return static_cast<T>(to_float(v)); }

// sum_k x[k * step] * w[k], accumulated from k = 0 upwards; 0 for no taps.
template <typename Src, typename T>
__device__ inline T gather(const Src* x, std::int64_t step, const T* w, std::int64_t n) {
  if (n == 0) return T(0);
  T acc = mul_rn(load<T>(x[0]), w[0]);
  for (std::int64_t k = 1; k < n; ++k) acc = add_rn(acc, mul_rn(load<T>(x[k * step]), w[k]));
  return acc;
}

}  // namespace tessera::cuda
