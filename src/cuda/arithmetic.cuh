// arithmetic.cuh — the per-element arithmetic every CUDA kernel shares with the CPU backend: load in the
// compute type, multiply and add rounded separately (never fused), taps summed in table order, results
// rounded once to the storage type.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/half_float.hpp"
#include "cuda/half_convert.cuh"

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
__device__ inline T load(Float16 v) { return static_cast<T>(float16_to_float(v)); }
template <typename T>
__device__ inline T load(BFloat16 v) { return static_cast<T>(to_float(v)); }

// core's store_as on the device: the same bits, through the convert instructions.
template <typename S, typename T>
__device__ inline S store(T v) {
  if constexpr (std::is_same_v<S, Float16>) {
    return float_to_float16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    return float_to_bfloat16(static_cast<float>(v));
  } else {
    return static_cast<S>(v);
  }
}

// sum_k x[k * step] * w[k], accumulated from k = 0 upwards; 0 for no taps.
template <typename Src, typename T>
__device__ inline T gather(const Src* x, std::int64_t step, const T* w, std::int64_t n) {
  if (n == 0) return T(0);
  T acc = mul_rn(load<T>(x[0]), w[0]);
  // Unrolled so that several independent loads are in flight; the additions stay in order.
#pragma unroll 4
  for (std::int64_t k = 1; k < n; ++k) acc = add_rn(acc, mul_rn(load<T>(x[k * step]), w[k]));
  return acc;
}

// The compile-time tap bound K of a kernel for tables whose rows have at most `taps` taps (but for a few
// rows in rows-first pairs): K taps of a row are register-resident and unrolled; the rows-first kernel
// reads the taps of its few longer rows beyond K from the table (so a border row of 5 taps keeps a
// 4-tap table on the 4-tap kernel); long rows (antialias, area, backward of large factors), 0, read all
// their weights from the table.
constexpr int taps_bound(std::int64_t taps) {
  return taps <= 2 ? 2 : taps <= 4 ? 4 : taps <= 8 ? 8 : 0;
}

// One table row: its first K taps in registers (K > 0), and a pointer to all of them in the table.
template <typename T, int K>
struct RowTaps {
  std::int64_t first;
  int n;
  T w[K > 0 ? K : 1];
  const T* weights;

  __device__ T w0() const {
    if constexpr (K > 0) {
      return w[0];
    } else {
      return weights[0];
    }
  }
};

template <typename T, int K>
__device__ inline RowTaps<T, K> load_row(const std::int64_t* first, const std::int64_t* offset, const T* weights,
                                         std::int64_t j) {
  RowTaps<T, K> r;
  const std::int64_t begin = offset[j];
  r.n = static_cast<int>(offset[j + 1] - begin);
  r.first = first[j];
  r.weights = weights + begin;
  if constexpr (K > 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) r.w[k] = k < r.n ? r.weights[k] : T(0);
  }
  return r;
}

// The same sum as gather(), for a row already loaded (taps beyond K from the table).
template <typename Src, typename T, int K>
__device__ inline T gather_row(const Src* x, std::int64_t step, const RowTaps<T, K>& r) {
  if constexpr (K == 0) {
    return gather<Src, T>(x, step, r.weights, r.n);
  } else {
    if (r.n == 0) return T(0);
    T acc = mul_rn(load<T>(x[0]), r.w[0]);
#pragma unroll
    for (int k = 1; k < K; ++k) {
      if (k < r.n) acc = add_rn(acc, mul_rn(load<T>(x[k * step]), r.w[k]));
    }
#pragma unroll 1
    for (int k = K; k < r.n; ++k) acc = add_rn(acc, mul_rn(load<T>(x[k * step]), r.weights[k]));
    return acc;
  }
}

}  // namespace tessera::cuda
