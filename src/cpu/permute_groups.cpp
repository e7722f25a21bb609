// permute_groups.cpp — see permute_groups.hpp.
#include "cpu/permute_groups.hpp"

#include <algorithm>

namespace tessera::cpu {

PermuteGroups::PermuteGroups() = default;
PermuteGroups::~PermuteGroups() = default;
PermuteGroups::PermuteGroups(PermuteGroups&&) noexcept = default;
PermuteGroups& PermuteGroups::operator=(PermuteGroups&&) noexcept = default;

bool PermuteGroups::build(const TapRows<float>& rows) {
  if (!cut(rows)) {
    taps = 0;
    return false;
  }
  return true;
}

bool PermuteGroups::cut(const TapRows<float>& rows) {
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

}  // namespace tessera::cpu
