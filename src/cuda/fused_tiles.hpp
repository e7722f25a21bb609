// fused_tiles.hpp — host-side tiling shared by the fused kernels' launchers (fused_pair.cu,
// fused_volume.cu): the [planes][rows][cols][inner] view of two arrays, the input range each output tile
// reads, and the threads along one row of a pass.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <vector>

#include "cuda/fused_pair_kernels.cuh"
#include "plan/tap_table.hpp"

namespace tessera::cuda::fused {

// Input range [begin, end) read by each tile of `tile` consecutive outputs of a table (rows reading
// nothing are skipped; an all-empty tile gets an empty range), in units of `unit` elements, widened to
// multiples of `run` within [0, in_len * unit).
template <typename T>
std::vector<std::int64_t> tile_ranges(const plan::TapTable<T>& table, int tile, std::int64_t unit, int run,
                                      std::int64_t& widest) {
  std::vector<std::int64_t> ranges;
  widest = 0;
  const std::int64_t limit = table.in_len * unit;
  for (std::int64_t j0 = 0; j0 < table.out_len; j0 += tile) {
    auto [begin, end] = table.input_span(j0, std::min<std::int64_t>(j0 + tile, table.out_len));
    if (begin < end) {
      begin = begin * unit / run * run;
      end = std::min(limit, (end * unit + run - 1) / run * run);
    }
    ranges.push_back(begin);
    ranges.push_back(end);
    widest = std::max(widest, end - begin);
  }
  return ranges;
}

// The most taps of a table's rows once its longest 1/16 are set aside: the tap count a rows-first
// kernel is unrolled for (those few rows read their extra taps from the table). Transposed tables have
// a few longer border rows: the backward of bilinear x2 has 4 taps per row but one or two of 5
// (zero-weight taps of the forward table, which must stay: 0 * inf is NaN on the CPU too).
template <typename T>
std::int64_t bulk_taps(const plan::TapTable<T>& table) {
  if (table.out_len == 0) return 0;
  std::vector<std::int64_t> taps(static_cast<std::size_t>(table.out_len));
  for (std::int64_t j = 0; j < table.out_len; ++j) taps[static_cast<std::size_t>(j)] = table.taps(j);
  const std::size_t longer = taps.size() / 16;  // rows allowed above the bound
  std::nth_element(taps.begin(), taps.begin() + static_cast<std::ptrdiff_t>(longer), taps.end(), std::greater<>());
  return taps[longer];
}

// Views src/dst as [planes][rows][cols][inner]: cols = `col_axis`, rows = `row_axis` outside it, the dims
// inside the col axis (in memory) dense with stride 1, and the dims outside the row axis one plane index.
inline bool plane_geometry(const DeviceArray& src, const DeviceArray& dst, int row_axis, int col_axis, PlaneGeometry& g) {
  std::vector<int> order;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d == row_axis || d == col_axis || dst.shape[d] > 1) order.push_back(d);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return std::llabs(dst.strides[a]) > std::llabs(dst.strides[b]); });
  const auto row_pos = std::find(order.begin(), order.end(), row_axis) - order.begin();
  const auto col_pos = std::find(order.begin(), order.end(), col_axis) - order.begin();
  if (col_pos != row_pos + 1) return false;
  // inner dims: dense in both arrays, innermost stride 1, the col axis directly outside them
  std::int64_t inner = 1;
  for (auto k = static_cast<std::ptrdiff_t>(order.size()) - 1; k > col_pos; --k) {
    const int d = order[k];
    if (src.strides[d] != inner || dst.strides[d] != inner) return false;
    inner *= dst.shape[d];
  }
  if (src.strides[col_axis] != inner || dst.strides[col_axis] != inner || inner > (1 << 20)) return false;
  g.inner = static_cast<int>(inner);
  g.planes = 1;
  g.src_plane = g.dst_plane = 0;
  if (row_pos > 0) {
    g.src_plane = src.strides[order[row_pos - 1]];
    g.dst_plane = dst.strides[order[row_pos - 1]];
    for (auto k = row_pos - 1; k >= 0; --k) {
      const int d = order[k];
      if (src.strides[d] != g.src_plane * g.planes || dst.strides[d] != g.dst_plane * g.planes) return false;
      g.planes *= dst.shape[d];
    }
  }
  g.src_row = src.strides[row_axis];
  g.dst_row = dst.strides[row_axis];
  g.in_rows = src.shape[row_axis];
  g.in_cols = src.shape[col_axis];
  g.out_rows = dst.shape[row_axis];
  g.out_cols = dst.shape[col_axis];
  return true;
}

// Output cols per tile: 128 elements of a row, one warp of runs, for plain layouts; 512 for channels-last,
// where a narrow tile would read its neighbours' cols again.
// A last col tile under half the width costs its blocks nearly a full tile's time (18 of 146 cols for
// the /3.5 antialias): then the tiles get equal widths, multiples of the run of V elements where the
// full width was one. (Evening out a wider last tile measured slower: 480 cols as 4 x 120, not
// 3 x 128 + 96.)
inline int col_tile_width(const PlaneGeometry& g, int V) {
  constexpr std::int64_t kTileElements = 128, kTileElementsInner = 512;
  const std::int64_t target = g.inner == 1 ? kTileElements : kTileElementsInner;
  int width = static_cast<int>(std::clamp<std::int64_t>(target / g.inner, 1, g.out_cols));
  if (const std::int64_t last = g.out_cols % width; last > 0 && 2 * last < width) {
    const std::int64_t count = (g.out_cols + width - 1) / width;
    const std::int64_t step = V / std::gcd<std::int64_t>(V, g.inner);
    const std::int64_t even = ((g.out_cols + count - 1) / count + step - 1) / step * step;
    width = static_cast<int>(std::min<std::int64_t>(even, width));
  }
  return width;
}

// Output cols per tile of the rows-first kernel for long-tap tables (antialias, area), whose rows pass
// takes a tile row's runs a warp's 32 lanes at a time: `width`, or the whole row where that leaves fewer
// lane slots per output row over a plane's col tiles and 8 rows of its input span fit in `row_bytes`
// (the /3.5 antialias of 512 cols: tiles of 76 of the 146 output cols span 70 runs, three rounds with
// 26 lanes idle in the last, twice per row; the whole row spans 128 runs, four full rounds, and no
// input col is read by two tiles).
template <typename T>
int long_tap_col_width(const PlaneGeometry& g, const plan::TapTable<T>& cols, int V, int width,
                       std::int64_t row_bytes) {
  if (width >= g.out_cols || (g.out_cols * g.inner + V - 1) / V > kThreads) return width;
  const auto lane_slots = [&](int w, std::int64_t& widest) {
    const std::vector<std::int64_t> ranges = tile_ranges(cols, w, g.inner, V, widest);
    std::int64_t slots = 0;
    for (std::size_t i = 0; i < ranges.size(); i += 2) slots += (ranges[i + 1] - ranges[i] + 32 * V - 1) / (32 * V);
    return slots;
  };
  std::int64_t widest = 0;
  const std::int64_t tiled = lane_slots(width, widest);
  const int whole = static_cast<int>(g.out_cols);
  const std::int64_t untiled = lane_slots(whole, widest);
  const std::int64_t pitch = (widest + V - 1) / V * V + V;
  return untiled < tiled && 8 * pitch * static_cast<std::int64_t>(sizeof(T)) <= row_bytes ? whole : width;
}

// tiles.tiles_r / tiles_c: the output tiles along rows and cols of a plane, and `per_plane`, their
// count; false where the count does not fit a launch.
inline bool count_tiles(const PlaneGeometry& g, TileGeometry& tiles, std::int64_t& per_plane) {
  const std::int64_t tiles_r = (g.out_rows + tiles.tile_rows - 1) / tiles.tile_rows;
  const std::int64_t tiles_c = (g.out_cols + tiles.tile_cols - 1) / tiles.tile_cols;
  per_plane = tiles_r * tiles_c;
  if (per_plane >= (std::int64_t{1} << 31)) return false;
  tiles.tiles_r = static_cast<unsigned>(tiles_r);
  tiles.tiles_c = static_cast<unsigned>(tiles_c);
  return true;
}

// Smallest power of two >= n, at least 32 and at most kThreads: threads along one row of a pass.
inline int lanes_for(std::int64_t n) {
  int lanes = 32;
  while (lanes < kThreads && lanes < n) lanes *= 2;
  return lanes;
}

// Threads per row group of the rows-first pass: a warp per group when a tile has 8 rows or more, else
// wider groups so that all warps work.
inline int rows_pass_lanes(std::int64_t tile_rows, std::int64_t out_rows) {
  int groups = 1;
  while (groups * 2 <= std::min<std::int64_t>({8, tile_rows, out_rows})) groups *= 2;
  return kThreads / groups;
}

}  // namespace tessera::cuda::fused
