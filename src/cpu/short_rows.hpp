// short_rows.hpp — the "across" loop with the accumulators in registers. When every row holds at most 64
// contiguous float32 values (channels-last data with few channels, RGB say), with AVX2 a row is one to
// eight masked vectors held in registers across all taps, and a whole run of outputs is one tight loop
// (without AVX2 such rows take the general loop). The lanes compute the scalar loop's sequence (acc = x0*w0;
// acc = acc + xk*wk, each rounded on its own), so the bits are the same. Included by axis_pass.cpp only,
// inside each CPU target's namespace.
#pragma once

#include <cstdint>

#include "cpu/tap_rows.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tessera::cpu::TESSERA_CPU_TARGET {

#if defined(__AVX2__)
// The widest row combine_short_rows takes: eight AVX2 vectors (their accumulators fill half the
// registers).
constexpr std::int64_t kShortRowMax = 64;

// Lanes [0, count) of a vector of eight floats: AVX-512 mask registers where the target has them
// (one instruction per masked load or store), else AVX2's vector masks.
#if defined(__AVX512VL__)
using LaneMask = __mmask8;
inline LaneMask lane_mask(std::int64_t count) {
  return count >= 8 ? LaneMask(0xff) : count <= 0 ? LaneMask(0) : LaneMask((1u << count) - 1);
}
inline __m256 masked_load(const float* p, LaneMask m) { return _mm256_maskz_loadu_ps(m, p); }
inline void masked_store(float* p, LaneMask m, __m256 v) { _mm256_mask_storeu_ps(p, m, v); }
#else
// AVX2's masked stores are slow on some CPUs (microcoded on AMD Zen: tens of cycles each), so a mask
// with all eight lanes set loads and stores the whole vector.
struct LaneMask {
  __m256i lanes;
  bool all;
};
inline LaneMask lane_mask(std::int64_t count) {
  const int lanes = count >= 8 ? 8 : count <= 0 ? 0 : static_cast<int>(count);
  return {_mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), lanes == 8};
}
inline __m256 masked_load(const float* p, LaneMask m) {
  return m.all ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m.lanes);
}
inline void masked_store(float* p, LaneMask m, __m256 v) {
  if (m.all) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, m.lanes, v);
  }
}
#endif

// acc = x0*w[0] + x1*w[1] + ... over n taps (rows in_step apart), left to right. Taps > 0 fixes n at
// compile time, so the tap loop unrolls away.
template <int Taps, int Vectors>
inline void accumulate_taps(const float* x, std::int64_t in_step, const float* w, std::int64_t n,
                            const LaneMask mask[Vectors], __m256 acc[Vectors]) {
  const std::int64_t taps = Taps > 0 ? Taps : n;
  for (int v = 0; v < Vectors; ++v) acc[v] = _mm256_mul_ps(masked_load(x + 8 * v, mask[v]), _mm256_set1_ps(w[0]));
#pragma GCC unroll 4
  for (std::int64_t k = 1; k < taps; ++k) {
    const __m256 wk = _mm256_set1_ps(w[k]);
    for (int v = 0; v < Vectors; ++v) {
      acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(masked_load(x + k * in_step + 8 * v, mask[v]), wk));
    }
  }
}

// Outputs j0 .. j1-1 of one line, rows of `Vectors` x 8 floats with the first `len` lanes used:
// y[j * out_step + i] = sum_k x[(first(j) + k) * in_step + i] * w[k] for i < len.
template <int Vectors>
[[gnu::noinline]] void combine_short_rows_of(const float* x, std::int64_t in_step, const TapRows<float>& table,
                                             std::int64_t j0, std::int64_t j1, float* y, std::int64_t out_step,
                                             std::int64_t len) {
  const TapRows<float> rows = table;  // a local copy: the stores below cannot change it, so it stays in registers
  LaneMask mask[Vectors];
  for (int v = 0; v < Vectors; ++v) mask[v] = lane_mask(len - 8 * v);
  // Rows narrower than a vector whose outputs are adjacent (RGB pixels): outputs before `whole_until`
  // store the whole vector, its extra lanes landing on the next outputs of this range, which are
  // stored after it; the last few take the masked store, which writes nothing past the range.
  const bool adjacent = Vectors == 1 && len > 0 && len < 8 && out_step == len;
  const std::int64_t whole_until = adjacent ? j1 - (8 + len - 1) / len + 1 : j0;
  for (std::int64_t j = j0; j < j1; ++j) {
    const std::int64_t n = rows.taps(j);
    const float* w = rows.row(j);
    const float* xj = x + rows.first(j) * in_step;
    __m256 acc[Vectors];
    // The common tap counts run without a tap loop: 2 (linear) and 4 (cubic, and linear x2's transpose).
    if (n == 2) {
      accumulate_taps<2, Vectors>(xj, in_step, w, n, mask, acc);
    } else if (n == 4) {
      accumulate_taps<4, Vectors>(xj, in_step, w, n, mask, acc);
    } else if (n > 0) {
      accumulate_taps<0, Vectors>(xj, in_step, w, n, mask, acc);
    } else {
      for (int v = 0; v < Vectors; ++v) acc[v] = _mm256_setzero_ps();
    }
    if (j < whole_until) {
      _mm256_storeu_ps(y + j * out_step, acc[0]);
    } else {
      for (int v = 0; v < Vectors; ++v) masked_store(y + j * out_step + 8 * v, mask[v], acc[v]);
    }
  }
}

// The same for any len <= kShortRowMax.
inline void combine_short_rows(const float* x, std::int64_t in_step, const TapRows<float>& table, std::int64_t j0,
                               std::int64_t j1, float* y, std::int64_t out_step, std::int64_t len) {
  if (len <= 8) {
    combine_short_rows_of<1>(x, in_step, table, j0, j1, y, out_step, len);
  } else if (len <= 16) {
    combine_short_rows_of<2>(x, in_step, table, j0, j1, y, out_step, len);
  } else if (len <= 32) {
    combine_short_rows_of<4>(x, in_step, table, j0, j1, y, out_step, len);
  } else {
    combine_short_rows_of<8>(x, in_step, table, j0, j1, y, out_step, len);
  }
}

#endif

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
