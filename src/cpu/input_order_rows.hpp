// input_order_rows.hpp — the "across" loop for rows too wide for the cache, in the order of the input
// rows: each input row is read once and added into every output that has a tap on it, instead of each
// output reading all of its rows (consecutive outputs of a shrinking pass share most of them, e.g. 32 of
// the 64 rows of an x32 upsampling's backward). Every output still sums its taps in table order: the
// first tap multiplied, then acc = acc + x * w tap by tap, with acc held in the output row between taps
// in the compute type, so the bits are those of the per-output loop. Included by axis_pass.cpp only,
// inside each CPU target's namespace.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/half_float.hpp"
#include "cpu/tap_rows.hpp"

#if defined(__F16C__) && defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tessera::cpu::TESSERA_CPU_TARGET {

// Whether the nonempty rows have non-decreasing first inputs and ends, as every mode's tables do: then
// the outputs a given input row feeds are consecutive, and the loop below finds them.
template <typename T>
bool taps_move_forward(const TapRows<T>& table) {
  std::int64_t first = 0, end = 0;
  for (std::int64_t j = 0; j < table.out_len; ++j) {
    if (table.taps(j) == 0) continue;
    if (table.first(j) < first || table.first(j) + table.taps(j) < end) return false;
    first = table.first(j);
    end = first + table.taps(j);
  }
  return true;
}

// y[i] = (y[i] or, when `start`, nothing) + x[0][i] * w[0] + x[in_step][i] * w[1] + ... over Taps rows,
// left to right, for i in [i0, i1).
template <int Taps, typename Src, typename T>
void add_rows(const Src* x, std::int64_t in_step, const T* w, bool start, std::int64_t i0, std::int64_t i1, T* y) {
  T wk[Taps];
  const Src* xk[Taps];
  for (int k = 0; k < Taps; ++k) {
    wk[k] = w[k];
    xk[k] = x + k * in_step;
  }
#if defined(__F16C__) && defined(__AVX2__)
  if constexpr (std::is_same_v<Src, Float16> && std::is_same_v<T, float>) {
    // float16 widened eight at a time by the hardware (the software conversion bounded this loop at
    // twice bfloat16's time). It quiets a signalling NaN, which the multiply after it does anyway.
    const auto widen = [](const Float16* p) {
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    };
    for (; i0 + 8 <= i1; i0 += 8) {
      __m256 acc = _mm256_mul_ps(widen(xk[0] + i0), _mm256_set1_ps(wk[0]));
      if (!start) acc = _mm256_add_ps(_mm256_loadu_ps(y + i0), acc);
      for (int k = 1; k < Taps; ++k) acc = _mm256_add_ps(acc, _mm256_mul_ps(widen(xk[k] + i0), _mm256_set1_ps(wk[k])));
      _mm256_storeu_ps(y + i0, acc);
    }
  }
#endif
  if (start) {
    for (std::int64_t i = i0; i < i1; ++i) {
      T acc = load_as<T>(xk[0][i]) * wk[0];
#pragma GCC unroll 8
      for (int k = 1; k < Taps; ++k) acc = acc + load_as<T>(xk[k][i]) * wk[k];
      y[i] = acc;
    }
  } else {
    for (std::int64_t i = i0; i < i1; ++i) {
      T acc = y[i];
#pragma GCC unroll 8
      for (int k = 0; k < Taps; ++k) acc = acc + load_as<T>(xk[k][i]) * wk[k];
      y[i] = acc;
    }
  }
}

template <typename Src, typename T>
void add_rows(const Src* x, std::int64_t in_step, const T* w, std::int64_t n, bool start, std::int64_t i0,
              std::int64_t i1, T* y) {
  switch (n) {
    case 1: return add_rows<1>(x, in_step, w, start, i0, i1, y);
    case 2: return add_rows<2>(x, in_step, w, start, i0, i1, y);
    case 3: return add_rows<3>(x, in_step, w, start, i0, i1, y);
    case 4: return add_rows<4>(x, in_step, w, start, i0, i1, y);
    case 5: return add_rows<5>(x, in_step, w, start, i0, i1, y);
    case 6: return add_rows<6>(x, in_step, w, start, i0, i1, y);
    case 7: return add_rows<7>(x, in_step, w, start, i0, i1, y);
    default: return add_rows<8>(x, in_step, w, start, i0, i1, y);
  }
}

// y[j * out_step + i] = sum_k x[(first(j) + k) * in_step + i] * w_j[k] for outputs j in [j0, j1) and
// contiguous columns i < len, T accumulators stored in y (so y holds T). Requires taps_move_forward().
// The input rows go by in groups of kGroupRows, read side by side in blocks of kBlock columns: the
// hardware prefetchers follow eight streams at once, where one row at a time left a core waiting on
// memory (1.6x the time for the x32 channels-last backward on an Intel Xeon), and a block stays in the
// L1 cache for the outputs it feeds.
template <typename Src, typename T>
void combine_in_input_order(const Src* x, std::int64_t in_step, const TapRows<T>& table, std::int64_t j0,
                            std::int64_t j1, std::int64_t len, T* y, std::int64_t out_step) {
  constexpr std::int64_t kGroupRows = 8, kBlock = 1024;
  std::int64_t r0 = INT64_MAX, r1 = 0;
  for (std::int64_t j = j0; j < j1; ++j) {
    if (table.taps(j) == 0) {
      std::fill(y + j * out_step, y + j * out_step + len, T(0));
    } else {
      r0 = std::min(r0, table.first(j));
      r1 = std::max(r1, table.first(j) + table.taps(j));
    }
  }
  std::int64_t live = j0;  // the first output whose taps do not all lie before row r
  for (std::int64_t r = r0; r < r1; r += kGroupRows) {
    const std::int64_t r_end = std::min(r1, r + kGroupRows);
    while (live < j1 && (table.taps(live) == 0 || table.first(live) + table.taps(live) <= r)) ++live;
    std::int64_t fed = live;  // outputs [live, fed) have taps on rows [r, r_end)
    while (fed < j1 && (table.taps(fed) == 0 || table.first(fed) < r_end)) ++fed;
    for (std::int64_t i0 = 0; i0 < len; i0 += kBlock) {
      const std::int64_t i1 = std::min(len, i0 + kBlock);
      for (std::int64_t j = live; j < fed; ++j) {
        if (table.taps(j) == 0) continue;
        const std::int64_t a = std::max(r, table.first(j)), b = std::min(r_end, table.first(j) + table.taps(j));
        if (a < b) {
          add_rows(x + a * in_step, in_step, table.row(j) + (a - table.first(j)), b - a, a == table.first(j), i0, i1,
                   y + j * out_step);
        }
      }
    }
  }
}

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
