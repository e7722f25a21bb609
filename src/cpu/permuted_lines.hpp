// permuted_lines.hpp — the along pass of contiguous float32 lines by in-register permutes (AVX-512),
// over a table cut into groups (permute_groups.hpp): a group's samples of one line are two vector loads,
// and tap k of its 16 outputs is one two-source permute of them, so lines go straight from input to
// output, with no interleaved scratch block and no transposes. An output with fewer taps than the
// group's most keeps its sum through masked adds (a zero-weight tap would turn -0 into +0 and 0 * inf
// into NaN), and one without taps is +0: every output is the scalar code's sum, operation for operation.
// Included by axis_pass.cpp only, inside each CPU target's namespace.
#pragma once

#include <cstdint>

#include "cpu/permute_groups.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>

namespace tessera::cpu::TESSERA_CPU_TARGET {

// out[l][j] for every output j of lines l < lines, from in[l]; Taps = groups.taps.
template <int Taps>
void permute_lines(const PermuteGroups& p, const float* const* in, float* const* out, std::int64_t lines) {
  constexpr std::int64_t W = PermuteGroups::kWidth;
  // Line by line: each line's input and its output are one sequential stream; the groups stay in L1.
  for (std::int64_t l = 0; l < lines; ++l) {
    const float* line_in = in[l];
    float* line_out = out[l];
    for (std::int64_t g = 0; g < p.groups; ++g) {
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
        const __m512 product = _mm512_mul_ps(
            _mm512_permutex2var_ps(low, _mm512_loadu_si512(p.index.data() + tap), high), _mm512_loadu_ps(p.weight.data() + tap));
        acc = _mm512_mask_add_ps(acc, mask[k], acc, product);
      }
      if (j0 + W <= p.out_len) {
        _mm512_storeu_ps(line_out + j0, acc);
      } else {
        _mm512_mask_storeu_ps(line_out + j0, static_cast<__mmask16>((1u << (p.out_len - j0)) - 1u), acc);
      }
    }
  }
}

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
#endif
