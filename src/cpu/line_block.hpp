// line_block.hpp — eight contiguous float32 lines in and out of the interleaved scratch layout of the
// "along" pass (sample k of line l at k * 8 + l). With AVX2 each 8 x 8 block moves by one register
// transpose instead of 64 scalar moves, and a block of eight outputs of all eight lines is computed in
// registers and stored the same way; without AVX2, plain loops. The arithmetic is the scalar code's,
// operation for operation, so both give the same bits. Included by axis_pass.cpp only, inside each CPU
// target's namespace (TESSERA_CPU_TARGET), so the copies compiled with and without AVX2 never mix.
#pragma once

#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tessera::cpu::TESSERA_CPU_TARGET {

constexpr std::int64_t kLines = 8;

#if defined(__AVX2__)
// r[i][j] <- r[j][i] for an 8 x 8 block held in eight registers.
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}
#endif

// x[k * 8 + l] = line[l][k] for k < len (contiguous lines).
inline void interleave_lines(const float* const line[kLines], std::int64_t len, float* x) {
  std::int64_t k = 0;
#if defined(__AVX2__)
  for (; k + 8 <= len; k += 8) {
    __m256 r[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(line[l] + k);
    transpose8x8(r);
    for (int m = 0; m < 8; ++m) _mm256_storeu_ps(x + (k + m) * kLines, r[m]);
  }
#endif
  for (; k < len; ++k) {
    for (std::int64_t l = 0; l < kLines; ++l) x[k * kLines + l] = line[l][k];
  }
}

#if defined(__AVX2__)
// Output j of all eight lines from the interleaved samples x, which start at sample x_start:
// acc = x[first] * w[0], then acc = acc + x[first + k] * w[k], each product and sum rounded on its own
// (no FMA), as everywhere.
template <typename Rows>
inline __m256 line_outputs(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j) {
  const std::int64_t n = rows.taps(j);
  if (n == 0) return _mm256_setzero_ps();
  const float* w = rows.row(j);
  const float* xj = x + (rows.first(j) - x_start) * kLines;
  __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(xj), _mm256_set1_ps(w[0]));
  for (std::int64_t k = 1; k < n; ++k) {
    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(xj + k * kLines), _mm256_set1_ps(w[k])));
  }
  return acc;
}

// Outputs j0 .. j0 + 7 of all eight lines, computed in registers: r[l] holds line l's.
template <typename Rows>
inline void line_output_values(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j0, __m256 r[8]) {
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m) r[m] = line_outputs(x, x_start, rows, j0 + m);
  transpose8x8(r);
}

// The same outputs of the first `count` lines, stored as one transposed block.
template <typename Rows>
inline void line_output_block(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j0,
                              float* const line[kLines], std::int64_t count) {
  __m256 r[8];
  line_output_values(x, x_start, rows, j0, r);
  for (std::int64_t l = 0; l < count; ++l) _mm256_storeu_ps(line[l] + j0, r[l]);
}
#endif

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
