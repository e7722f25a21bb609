// permute_groups.hpp — a float32 tap table cut into groups of consecutive outputs (16 for AVX-512, 8 for
// AVX2: one vector) for the along pass by permutes (permuted_lines.hpp): per group, the first input
// sample it reads and, per tap, each output's sample relative to it, its weight and whether its row has
// that tap. Built once per pass (the band executor keeps one per pass for all its bands) where every
// group reads at most two vectors of consecutive samples and no row has more than 2 taps: upsampling
// with bilinear, linear or nearest tables. (With the 4 taps of bicubic the permutes measured 1.4x slower
// than the transposing pass.)
// A table can also be cut for channels-last pixels of a few channels: the lines are then the merged
// (W, C) rows, output element j * C + c reads elements (first(j) + k) * C + c, and a group of one vector
// covers several pixels, where a pass across rows of C floats would fill only C lanes.
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
  static constexpr std::int64_t kMaxWidth = 16;
  static constexpr std::int64_t kMaxTaps = 2;

  std::int64_t width = 0;     // outputs per group (a vector's lanes); a group may read 2 * width samples
  std::int64_t channels = 1;  // elements per pixel the table was cut for (1: plain lines)
  std::int64_t in_len = 0, out_len = 0, groups = 0, taps = 0;  // in elements; taps: the most of any row
  std::vector<std::int32_t> index;        // [group][tap][lane]: the tap's sample, from the group's base
  std::vector<float> weight;              // [group][tap][lane]
  std::vector<std::uint16_t> mask;        // [group][tap]: lanes whose row has the tap
  std::vector<std::int64_t> base;         // [group]: first sample the group reads
  std::vector<std::uint32_t> load_mask;   // [group]: which of the 2 * width samples from base it reads

  PermuteGroups();
  ~PermuteGroups();
  PermuteGroups(PermuteGroups&&) noexcept;
  PermuteGroups& operator=(PermuteGroups&&) noexcept;

  // The groups of `rows` for vectors of `width` lanes (8 or 16) over pixels of `channels` elements, or
  // false (and taps 0) where they do not qualify (see above), or takes() refuses the channels (width
  // 0: no permutes on this CPU).
  bool build(const TapRows<float>& rows, std::int64_t width, std::int64_t channels = 1);
  // Whether a table over pixels of `pixel_channels` elements is cut for vectors of `lanes` lanes: plain
  // lines, or fewer channels than lanes (with as many or more, rows of a pixel fill whole vectors).
  static bool takes(std::int64_t pixel_channels, std::int64_t lanes) {
    return pixel_channels == 1 || (pixel_channels > 1 && pixel_channels < lanes);
  }
  // Whether these groups were built for that width and channel count (taps 0: they do not qualify).
  bool built_for(std::int64_t lanes, std::int64_t pixel_channels) const {
    return width == lanes && channels == pixel_channels;
  }

 private:
  bool cut(const TapRows<float>& rows);
};

}  // namespace tessera::cpu
