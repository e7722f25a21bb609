// permute_groups.hpp — a float32 tap table cut into groups of 16 consecutive outputs for the along pass
// by permutes (permuted_lines.hpp): per group, the first input sample it reads and, per tap, each
// output's sample relative to it, its weight and whether its row has that tap. Built once per pass (the
// band executor keeps one per pass for all its bands) where every group reads at most 32 consecutive
// samples and no row has more than 2 taps: upsampling with bilinear, linear or nearest tables. (With the
// 4 taps of bicubic the permutes measured 1.4x slower than the transposing pass.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/tap_rows.hpp"

namespace tessera::cpu {

struct PermuteGroups {
  static constexpr std::int64_t kWidth = 16;  // outputs per group
  static constexpr std::int64_t kSpan = 32;   // input samples a group may read
  static constexpr std::int64_t kMaxTaps = 2;

  std::int64_t in_len = 0, out_len = 0, groups = 0, taps = 0;  // taps: the most of any row
  std::vector<std::int32_t> index;        // [group][tap][lane]: the tap's sample, from the group's base
  std::vector<float> weight;              // [group][tap][lane]
  std::vector<std::uint16_t> mask;        // [group][tap]: lanes whose row has the tap
  std::vector<std::int64_t> base;         // [group]: first sample the group reads
  std::vector<std::uint32_t> load_mask;   // [group]: which of the 32 samples from base it reads

  // The groups of `rows`, or false (and taps 0) where they do not qualify (see above).
  bool build(const TapRows<float>& rows) {
    if (!cut(rows)) {
      taps = 0;
      return false;
    }
    return true;
  }

 private:
  bool cut(const TapRows<float>& rows) {
    in_len = rows.in_len;
    out_len = rows.out_len;
    groups = (out_len + kWidth - 1) / kWidth;
    taps = 0;
    for (std::int64_t j = 0; j < out_len; ++j) taps = std::max(taps, rows.taps(j));
    if (taps > kMaxTaps || taps == 0) return false;
    const auto count = static_cast<std::size_t>(groups * taps * kWidth);
    index.assign(count, 0);
    weight.assign(count, 0.0f);
    mask.assign(static_cast<std::size_t>(groups * taps), 0);
    base.assign(static_cast<std::size_t>(groups), 0);
    load_mask.assign(static_cast<std::size_t>(groups), 0);
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t j0 = g * kWidth, j1 = std::min(j0 + kWidth, out_len);
      std::int64_t lo = rows.in_len, hi = 0;
      for (std::int64_t j = j0; j < j1; ++j) {
        if (rows.taps(j) == 0) continue;  // reads nothing (and its `first` means nothing)
        lo = std::min(lo, rows.first(j));
        hi = std::max(hi, rows.first(j) + rows.taps(j));
      }
      if (hi <= lo) lo = hi = 0;
      if (hi - lo > kSpan) return false;
      base[static_cast<std::size_t>(g)] = lo;
      std::uint32_t valid = 0;  // samples of the two loads that the group reads (all inside the line)
      for (std::int64_t i = 0; i < hi - lo; ++i) valid |= 1u << i;
      load_mask[static_cast<std::size_t>(g)] = valid;
      for (std::int64_t j = j0; j < j1; ++j) {
        const std::int64_t lane = j - j0;
        for (std::int64_t k = 0; k < rows.taps(j); ++k) {
          const auto at = static_cast<std::size_t>((g * taps + k) * kWidth + lane);
          index[at] = static_cast<std::int32_t>(rows.first(j) + k - lo);
          weight[at] = rows.row(j)[k];
          mask[static_cast<std::size_t>(g * taps + k)] |= static_cast<std::uint16_t>(1u << lane);
        }
      }
    }
    return true;
  }
};

}  // namespace tessera::cpu
