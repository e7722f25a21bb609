// short_rows.hpp — the "across" loop when every row holds at most eight contiguous float32 values
// (channels-last data with few channels, RGB say): with AVX2 a row is one masked vector, and a whole
// run of outputs is one tight loop (without AVX2 such rows take the general loop). The lanes compute the scalar loop's sequence (acc = x0*w0;
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
// Outputs j0 .. j1-1 of one line: y[j * out_step + i] = sum_k x[(first(j) + k) * in_step + i] * w[k] for
// i < len <= 8.
[[gnu::noinline]] inline void combine_short_rows(const float* x, std::int64_t in_step, const TapRows<float>& table,
                                                 std::int64_t j0, std::int64_t j1, float* y, std::int64_t out_step,
                                                 std::int64_t len) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(len)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (std::int64_t j = j0; j < j1; ++j) {
    const std::int64_t n = table.taps(j);
    const float* w = table.row(j);
    const float* xj = x + table.first(j) * in_step;
    __m256 acc = _mm256_setzero_ps();
    if (n > 0) {
      acc = _mm256_mul_ps(_mm256_maskload_ps(xj, mask), _mm256_set1_ps(w[0]));
      for (std::int64_t k = 1; k < n; ++k) {
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_maskload_ps(xj + k * in_step, mask), _mm256_set1_ps(w[k])));
      }
    }
    _mm256_maskstore_ps(y + j * out_step, mask, acc);
  }
}
#endif

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
