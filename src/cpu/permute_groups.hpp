// permute_groups.hpp — a float32 tap table cut into groups of 16 consecutive outputs for the along pass
// by permutes (permuted_lines.hpp): per group, the first input sample it reads and, per tap, each
// output's sample relative to it, its weight and whether its row has that tap. Built once per pass (the
// band executor keeps one per pass for all its bands) where every group reads at most 32 consecutive
// samples and no row has more than 2 taps: upsampling with bilinear, linear or nearest tables. (With the
// 4 taps of bicubic the permutes measured 1.4x slower than the transposing pass.)
// Its functions are defined in permute_groups.cpp, compiled once: axis_pass.cpp, which uses them, is
// compiled once per CPU target, and an inline copy built with AVX-512 flags could be the one the
// linker keeps for every caller (it was: an illegal instruction on an AVX2 machine).
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

  PermuteGroups();
  ~PermuteGroups();
  PermuteGroups(PermuteGroups&&) noexcept;
  PermuteGroups& operator=(PermuteGroups&&) noexcept;

  // The groups of `rows`, or false (and taps 0) where they do not qualify (see above).
  bool build(const TapRows<float>& rows);

 private:
  bool cut(const TapRows<float>& rows);
};

}  // namespace tessera::cpu
