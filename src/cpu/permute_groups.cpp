// permute_groups.cpp — see permute_groups.hpp.
#include "cpu/permute_groups.hpp"

#include <algorithm>

namespace tessera::cpu {

PermuteGroups::PermuteGroups() = default;
PermuteGroups::~PermuteGroups() = default;
PermuteGroups::PermuteGroups(PermuteGroups&&) noexcept = default;
PermuteGroups& PermuteGroups::operator=(PermuteGroups&&) noexcept = default;

bool PermuteGroups::build(const TapRows<float>& rows, std::int64_t lanes, std::int64_t pixel_channels) {
  width = lanes;
  channels = pixel_channels;
  if (width <= 0 || width > kMaxWidth || !takes(channels, width) || !cut(rows)) {
    taps = 0;
    return false;
  }
  return true;
}

bool PermuteGroups::cut(const TapRows<float>& rows) {
  const std::int64_t C = channels, span = 2 * width;
  in_len = rows.in_len * C;
  out_len = rows.out_len * C;
  groups = (out_len + width - 1) / width;
  taps = 0;
  for (std::int64_t j = 0; j < rows.out_len; ++j) taps = std::max(taps, rows.taps(j));
  if (taps > kMaxTaps || taps == 0) return false;
  const auto count = static_cast<std::size_t>(groups * taps * width);
  index.assign(count, 0);
  weight.assign(count, 0.0f);
  mask.assign(static_cast<std::size_t>(groups * taps), 0);
  base.assign(static_cast<std::size_t>(groups), 0);
  load_mask.assign(static_cast<std::size_t>(groups), 0);
  // Output element e is channel e % C of pixel e / C; its tap k is element (first + k) * C + e % C.
  const auto first_element = [&](std::int64_t e) { return rows.first(e / C) * C + e % C; };
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t e0 = g * width, e1 = std::min(e0 + width, out_len);
    std::int64_t lo = in_len, hi = 0;
    for (std::int64_t e = e0; e < e1; ++e) {
      const std::int64_t n = rows.taps(e / C);
      if (n == 0) continue;  // reads nothing (and its `first` means nothing)
      lo = std::min(lo, first_element(e));
      hi = std::max(hi, first_element(e) + (n - 1) * C + 1);
    }
    if (hi <= lo) lo = hi = 0;
    if (hi - lo > span) return false;
    base[static_cast<std::size_t>(g)] = lo;
    std::uint32_t valid = 0;  // samples of the two loads that the group reads (all inside the line)
    for (std::int64_t i = 0; i < hi - lo; ++i) valid |= 1u << i;
    load_mask[static_cast<std::size_t>(g)] = valid;
    for (std::int64_t e = e0; e < e1; ++e) {
      const std::int64_t lane = e - e0, j = e / C;
      for (std::int64_t k = 0; k < rows.taps(j); ++k) {
        const auto at = static_cast<std::size_t>((g * taps + k) * width + lane);
        index[at] = static_cast<std::int32_t>(first_element(e) + k * C - lo);
        weight[at] = rows.row(j)[k];
        mask[static_cast<std::size_t>(g * taps + k)] |= static_cast<std::uint16_t>(1u << lane);
      }
    }
  }
  return true;
}

}  // namespace tessera::cpu
