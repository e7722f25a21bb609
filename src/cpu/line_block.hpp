// line_block.hpp — a block of contiguous float32 lines in and out of the interleaved scratch layout of the
// "along" pass (sample k of line l at k * LineBlock::count + l). With AVX2 (8 lines) or AVX-512 (16
// lines) each count x count block moves by one register transpose instead of count^2 scalar moves, and a
// block of count outputs of all lines is computed in registers and stored the same way; without AVX2,
// plain loops over 8 lines. The arithmetic is the scalar code's, operation for operation, so all give the
// same bits. Included by axis_pass.cpp only, inside each CPU target's namespace
// (TESSERA_CPU_TARGET), so the copies compiled for different ISAs never mix.
#pragma once

#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tessera::cpu::TESSERA_CPU_TARGET {

#if defined(__AVX512F__)
struct LineBlock {
  static constexpr std::int64_t count = 16;
  using Vector = __m512;
  static Vector load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vector v) { _mm512_storeu_ps(p, v); }
  // Stores the first n lanes of v.
  static void store_first(float* p, Vector v, std::int64_t n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
  }
  static Vector broadcast(float w) { return _mm512_set1_ps(w); }
  static Vector add(Vector a, Vector b) { return _mm512_add_ps(a, b); }
  static Vector mul(Vector a, Vector b) { return _mm512_mul_ps(a, b); }
  static Vector zero() { return _mm512_setzero_ps(); }

  // r[i][j] <- r[j][i] for a 16 x 16 block held in sixteen registers: pairs of rows interleave, then
  // quadruples, then 128-bit lanes twice.
  static void transpose(Vector r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // r[4q + m] now holds, in 128-bit lane c, elements 4c + m of rows 4q .. 4q + 3.
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], _MM_SHUFFLE(2, 0, 2, 0));
      t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], _MM_SHUFFLE(3, 1, 3, 1));
      t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], _MM_SHUFFLE(2, 0, 2, 0));
      t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], _MM_SHUFFLE(3, 1, 3, 1));
    }
    for (int i = 0; i < 8; ++i) {
      const int m = i % 4, half = i / 4;  // element m (+ 4 for the second half) of each 128-bit lane
      r[m + 4 * half] = _mm512_shuffle_f32x4(t[i], t[i + 8], _MM_SHUFFLE(2, 0, 2, 0));
      r[m + 4 * half + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], _MM_SHUFFLE(3, 1, 3, 1));
    }
  }
};
#elif defined(__AVX2__)
struct LineBlock {
  static constexpr std::int64_t count = 8;
  using Vector = __m256;
  static Vector load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vector v) { _mm256_storeu_ps(p, v); }
  // Stores the first n lanes of v.
  static void store_first(float* p, Vector v, std::int64_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane), v);
  }
  static Vector broadcast(float w) { return _mm256_set1_ps(w); }
  static Vector add(Vector a, Vector b) { return _mm256_add_ps(a, b); }
  static Vector mul(Vector a, Vector b) { return _mm256_mul_ps(a, b); }
  static Vector zero() { return _mm256_setzero_ps(); }

  // r[i][j] <- r[j][i] for an 8 x 8 block held in eight registers.
  static void transpose(Vector r[8]) {
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
};
#else
struct LineBlock {
  static constexpr std::int64_t count = 8;
};
#endif

// x[k * count + l] = line[l][k] for k < len (contiguous lines).
inline void interleave_lines(const float* const line[LineBlock::count], std::int64_t len, float* x) {
  constexpr std::int64_t count = LineBlock::count;
  std::int64_t k = 0;
#if defined(__AVX2__)
  for (; k + count <= len; k += count) {
    LineBlock::Vector r[count];
    for (int l = 0; l < count; ++l) r[l] = LineBlock::load(line[l] + k);
    LineBlock::transpose(r);
    for (int m = 0; m < count; ++m) LineBlock::store(x + (k + m) * count, r[m]);
  }
#endif
  for (; k < len; ++k) {
    for (std::int64_t l = 0; l < count; ++l) x[k * count + l] = line[l][k];
  }
}

#if defined(__AVX2__)
// Output j of all lines from the interleaved samples x, which start at sample x_start:
// acc = x[first] * w[0], then acc = acc + x[first + k] * w[k], each product and sum rounded on its own
// (no FMA), as everywhere.
template <typename Rows>
inline LineBlock::Vector line_outputs(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j) {
  const std::int64_t n = rows.taps(j);
  if (n == 0) return LineBlock::zero();
  const float* w = rows.row(j);
  const float* xj = x + (rows.first(j) - x_start) * LineBlock::count;
  using V = LineBlock;
  V::Vector acc = V::mul(V::load(xj), V::broadcast(w[0]));
  constexpr std::int64_t tap_step = Rows::step * V::count;  // taps are Rows::step samples apart
  for (std::int64_t k = 1; k < n; ++k) acc = V::add(acc, V::mul(V::load(xj + k * tap_step), V::broadcast(w[k])));
  return acc;
}

// Outputs j0 .. j0 + count - 1 of all lines, computed in registers: r[l] holds line l's.
template <typename Rows>
inline void line_output_values(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j0,
                               LineBlock::Vector r[LineBlock::count]) {
#pragma GCC unroll 16
  for (int m = 0; m < LineBlock::count; ++m) r[m] = line_outputs(x, x_start, rows, j0 + m);
  LineBlock::transpose(r);
}

// The same outputs of the first `lines` lines, stored as one transposed block.
template <typename Rows>
inline void line_output_block(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j0,
                              float* const line[LineBlock::count], std::int64_t lines) {
  LineBlock::Vector r[LineBlock::count];
  line_output_values(x, x_start, rows, j0, r);
  for (std::int64_t l = 0; l < lines; ++l) LineBlock::store(line[l] + j0, r[l]);
}

// A line's last, short group: outputs j0 .. j0 + group - 1 (group < count) in lanes 0 .. group - 1 of
// r[l], zeros in the other lanes. Kept apart from the full groups' code, which it would slow down.
template <typename Rows>
[[gnu::noinline]] void short_group_values(const float* x, std::int64_t x_start, const Rows& rows, std::int64_t j0,
                                          std::int64_t group, LineBlock::Vector r[LineBlock::count]) {
  for (int m = 0; m < LineBlock::count; ++m) {
    r[m] = m < group ? line_outputs(x, x_start, rows, j0 + m) : LineBlock::zero();
  }
  LineBlock::transpose(r);
}
#endif

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
