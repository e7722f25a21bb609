// permuted_lines.hpp — the along pass of contiguous float32 lines by in-register permutes (AVX-512 or
// AVX2), over a table cut into groups (permute_groups.hpp): a group's samples of one line are two vector
// loads, and tap k of its outputs (one vector) is one two-source permute of them (AVX2: a permute of
// each and a blend), so lines go straight from input to output, with no interleaved scratch block and
// no transposes. An output with fewer taps than the group's most keeps its sum through masked adds (a
// zero-weight tap would turn -0 into +0 and 0 * inf into NaN), and one without taps is +0: every output
// is the scalar code's sum, operation for operation.
// Included by axis_pass.cpp only, inside each CPU target's namespace.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/permute_groups.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tessera::cpu::TESSERA_CPU_TARGET {

// The group width this target's permutes take (0: none).
#if defined(__AVX512F__)
constexpr std::int64_t kPermuteWidth = 16;
#elif defined(__AVX2__)
constexpr std::int64_t kPermuteWidth = 8;
#else
constexpr std::int64_t kPermuteWidth = 0;
#endif

#if defined(__AVX512F__)
// Outputs of group g of one line; Taps = groups.taps, groups.width 16.
template <int Taps>
inline void permute_group(const PermuteGroups& p, std::int64_t g, const float* line_in, float* line_out) {
  constexpr std::int64_t W = 16;
  const auto at = static_cast<std::size_t>(g * Taps * W);
  const std::int64_t base = p.base[static_cast<std::size_t>(g)], j0 = g * W;
  const std::uint32_t valid = p.load_mask[static_cast<std::size_t>(g)];
  // Where the 32 samples from base lie inside the line, plain loads (the permutes pick only the
  // samples the group reads); near the line's end, masked loads, which neither read nor fault on the
  // samples past those the group reads.
  __m512 low, high;
  if (base + 2 * W <= p.in_len) {
    low = _mm512_loadu_ps(line_in + base);
    high = _mm512_loadu_ps(line_in + base + W);
  } else {
    low = _mm512_maskz_loadu_ps(static_cast<__mmask16>(valid), line_in + base);
    high = _mm512_maskz_loadu_ps(static_cast<__mmask16>(valid >> 16), line_in + base + W);
  }
  const std::uint16_t* mask = p.mask.data() + g * Taps;
  __m512 acc = _mm512_maskz_mov_ps(
      mask[0], _mm512_mul_ps(_mm512_permutex2var_ps(low, _mm512_loadu_si512(p.index.data() + at), high),
                             _mm512_loadu_ps(p.weight.data() + at)));
  for (int k = 1; k < Taps; ++k) {
    const std::size_t tap = at + static_cast<std::size_t>(k * W);
    const __m512 product = _mm512_mul_ps(_mm512_permutex2var_ps(low, _mm512_loadu_si512(p.index.data() + tap), high),
                                         _mm512_loadu_ps(p.weight.data() + tap));
    acc = _mm512_mask_add_ps(acc, mask[k], acc, product);
  }
  if (j0 + W <= p.out_len) {
    _mm512_storeu_ps(line_out + j0, acc);
  } else {
    _mm512_mask_storeu_ps(line_out + j0, static_cast<__mmask16>((1u << (p.out_len - j0)) - 1u), acc);
  }
}

#elif defined(__AVX2__)
// As above with groups.width 8. AVX2 has neither two-source permutes nor mask registers: each tap
// permutes both loads and blends by bit 3 of the index, and the lane masks are vectors of all-ones lanes
// where the mask has bits (made only for the groups whose rows lack a tap).
inline __m256i lane_mask(std::uint32_t bits) {
  const __m256i to_sign = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);  // bit l to lane l's sign bit
  return _mm256_srai_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(static_cast<int>(bits)), to_sign), 31);
}

template <int Taps>
inline void permute_group(const PermuteGroups& p, std::int64_t g, const float* line_in, float* line_out) {
  constexpr std::int64_t W = 8;
  constexpr std::uint32_t kAllLanes = 0xff;
  const auto at = static_cast<std::size_t>(g * Taps * W);
  const std::int64_t base = p.base[static_cast<std::size_t>(g)], j0 = g * W;
  const std::uint32_t valid = p.load_mask[static_cast<std::size_t>(g)];
  __m256 low, high;
  if (base + 2 * W <= p.in_len) {
    low = _mm256_loadu_ps(line_in + base);
    high = _mm256_loadu_ps(line_in + base + W);
  } else {
    low = _mm256_maskload_ps(line_in + base, lane_mask(valid & kAllLanes));
    high = _mm256_maskload_ps(line_in + base + W, lane_mask(valid >> W));
  }
  const std::uint16_t* mask = p.mask.data() + g * Taps;
  const auto product = [&](std::size_t tap) {
    const __m256i index = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.index.data() + tap));
    const __m256 from_high = _mm256_castsi256_ps(_mm256_slli_epi32(index, 28));  // sign: index >= 8
    const __m256 sample =
        _mm256_blendv_ps(_mm256_permutevar8x32_ps(low, index), _mm256_permutevar8x32_ps(high, index), from_high);
    return _mm256_mul_ps(sample, _mm256_loadu_ps(p.weight.data() + tap));
  };
  __m256 acc = product(at);
  if (mask[0] != kAllLanes) acc = _mm256_and_ps(acc, _mm256_castsi256_ps(lane_mask(mask[0])));
  for (int k = 1; k < Taps; ++k) {
    const __m256 sum = _mm256_add_ps(acc, product(at + static_cast<std::size_t>(k * W)));
    acc = mask[k] == kAllLanes ? sum : _mm256_blendv_ps(acc, sum, _mm256_castsi256_ps(lane_mask(mask[k])));
  }
  if (j0 + W <= p.out_len) {
    _mm256_storeu_ps(line_out + j0, acc);
  } else {
    _mm256_maskstore_ps(line_out + j0, lane_mask((1u << (p.out_len - j0)) - 1u), acc);
  }
}
#endif

#if defined(__AVX2__)
// How many groups the lines of a block take at a time. Line by line (each line's input and output one
// sequential stream) while a line's group entries fit in kLineEntryBytes; beyond, kGroupsInCache groups
// at a time (up to 16 KB of entries, read from the L1 cache for every line). Measured on RGB bilinear
// x2: NCHW lines (64 KB of entries) lost 7% cut, channels-last ones (196 KB) took 0.83x the time with
// AVX2 cut and the same with AVX-512.
constexpr std::int64_t kLineEntryBytes = 96 * 1024, kGroupsInCache = 64;

inline std::int64_t groups_at_once(const PermuteGroups& p) {
  const auto entry_bytes = static_cast<std::int64_t>(sizeof(float) + sizeof(std::int32_t)) * p.taps * p.width;
  return p.groups * entry_bytes <= kLineEntryBytes ? p.groups : kGroupsInCache;
}

// out[l][j] for every output j of lines l < lines, from in[l]; Taps = groups.taps.
template <int Taps>
void permute_lines(const PermuteGroups& p, const float* const* in, float* const* out, std::int64_t lines) {
  const std::int64_t step = std::max<std::int64_t>(1, groups_at_once(p));
  for (std::int64_t g0 = 0; g0 < p.groups; g0 += step) {
    const std::int64_t g1 = std::min(p.groups, g0 + step);
    for (std::int64_t l = 0; l < lines; ++l) {
      for (std::int64_t g = g0; g < g1; ++g) permute_group<Taps>(p, g, in[l], out[l]);
    }
  }
}
#endif

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
