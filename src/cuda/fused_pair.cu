// fused_pair.cu — see fused_pair.cuh: the host side (layout checks, tiling, launch); the kernels are in
// fused_pair_kernels.cuh.
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half_float.hpp"
#include "cuda/fused_pair.cuh"
#include "cuda/fused_pair_kernels.cuh"
#include "cuda/fused_tiles.hpp"
#include "cuda/launch_buffer.hpp"
#include "cuda/sliding_pair.cuh"
#include "cuda/walk_rows.cuh"

namespace tessera::cuda {
namespace {

using fused::kThreads;
using fused::lanes_for;
using fused::plane_geometry;
using fused::tile_ranges;
using fused::PlaneGeometry;
using fused::TileGeometry;

constexpr std::int64_t kSharedBytes = 48 * 1024;
// Blocks per multiprocessor the grid aims at (several waves, so the last one is short), each covering
// as many planes of its tile as that leaves.
constexpr std::int64_t kBlocksPerMultiprocessor = 32;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("tessera CUDA: ") + what + ": " + cudaGetErrorString(status));
}

template <typename T>
struct FusedConfig {
  bool cols_first = false;
  PlaneGeometry geometry;
  TileGeometry tiles;
  std::vector<std::int64_t> ranges;
  std::int64_t shared_bytes = 0;
  std::int64_t blocks = 0;
  std::int64_t kernel_taps = 0;  // selects the kernel's tap bound (taps_bound)
  int run = 0;                   // elements per run of the big side
  // Rows-first pairs that walk their rows pass (walk_rows_then_cols): one walk per row tile.
  std::vector<walk::WalkTile> walks;
  std::vector<walk::WalkStep<T>> walk_steps;
};

// Shared bytes of the staged rows of a cols-first tile, for the kernel that `taps` selects.
template <typename T>
std::int64_t staged_bytes_for(std::int64_t taps, int rows) {
  switch (taps_bound(taps)) {
    case 2: return fused::staged_bytes<T, 2>(rows);
    case 4: return fused::staged_bytes<T, 4>(rows);
    case 8: return fused::staged_bytes<T, 8>(rows);
    default: return fused::staged_bytes<T, 0>(rows);
  }
}

// Chooses the tiling for a pass pair, or returns false when the layout or shared memory does not allow it.
template <typename T>
bool configure(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
               int second_axis, const plan::TapTable<T>& second, FusedConfig<T>& config) {
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.shape[d] == 0) return false;
  }
  // The col axis is whichever of the two is inner in memory (tried both ways: length-1 dims can make
  // strides equal).
  PlaneGeometry& g = config.geometry;
  config.cols_first = std::llabs(src.strides[first_axis]) <= std::llabs(src.strides[second_axis]);
  if (!plane_geometry(src, dst, config.cols_first ? second_axis : first_axis,
                      config.cols_first ? first_axis : second_axis, g)) {
    config.cols_first = !config.cols_first;
    if (!plane_geometry(src, dst, config.cols_first ? second_axis : first_axis,
                        config.cols_first ? first_axis : second_axis, g)) {
      return false;
    }
  }
  // The kernels' run length: 16 bytes of the output data in the cols-first kernel (kRunOf), 16 bytes of
  // the compute type in the rows-first ones (with 16-bit input, 16-byte loads measured slower there).
  config.run = config.cols_first ? run_length(dtype_size(dst.dtype), sizeof(T)) : kRun<T>;
  const int V = config.run;
  const plan::TapTable<T>& col_table = config.cols_first ? first : second;
  const plan::TapTable<T>& row_table = config.cols_first ? second : first;
  if (g.in_cols != col_table.in_len || g.out_cols != col_table.out_len || g.in_rows != row_table.in_len ||
      g.out_rows != row_table.out_len) {
    return false;
  }
  // the rows-first kernel's offsets within a plane are ints
  if (!config.cols_first && g.in_rows * std::llabs(g.src_row) >= INT_MAX) return false;
  // (the cols-first kernel has no path for rows longer than its bound: its registers are too few)
  config.kernel_taps = config.cols_first ? std::max(first.max_taps(), second.max_taps())
                                         : std::max(fused::bulk_taps(first), fused::bulk_taps(second));
  TileGeometry& tiles = config.tiles;
  tiles.tile_cols = fused::col_tile_width(g, V);
  if (!config.cols_first && taps_bound(config.kernel_taps) == 0) {
    // (leaving room for the staged rows of a tile of 8)
    tiles.tile_cols = fused::long_tap_col_width(g, col_table, V, tiles.tile_cols, kSharedBytes * 3 / 4);
  }
  const std::int64_t tile_elems = static_cast<std::int64_t>(tiles.tile_cols) * g.inner;
  // runs of the output tile's row: at most kThreads of them
  if ((tile_elems + V - 1) / V > kThreads) return false;
  for (int tile_rows = 64; tile_rows >= 1; tile_rows /= 2) {
    std::int64_t widest = 0;
    std::int64_t pitch = 0, rows_held = 0, staged = 0;
    if (config.cols_first) {
      config.ranges = tile_ranges(row_table, tile_rows, 1, 1, widest);  // input rows per output row tile
      pitch = (tile_elems + V - 1) / V * V;
      rows_held = widest;
      staged = staged_bytes_for<T>(config.kernel_taps, tile_rows);
    } else {
      config.ranges = tile_ranges(col_table, tiles.tile_cols, g.inner, V, widest);  // input elements per col tile
      pitch = (widest + V - 1) / V * V;
      if (pitch % 32 == 0) pitch += V;  // rows of t in different banks for the cols pass
      rows_held = tile_rows;
      staged = staged_bytes_for<T>(config.kernel_taps, tile_rows);
    }
    tiles.tile_rows = tile_rows;
    tiles.pitch = static_cast<int>(pitch);
    config.shared_bytes = staged + rows_held * pitch * static_cast<std::int64_t>(sizeof(T));
    if (config.shared_bytes <= kSharedBytes) {
      tiles.lanes = config.cols_first ? lanes_for(tile_elems) : fused::rows_pass_lanes(tile_rows, g.out_rows);
      tiles.out_lanes = lanes_for(tile_elems);
      break;
    }
  }
  if (config.shared_bytes > kSharedBytes) return false;
  // Walk where the input is read in the compute type or as bfloat16 (the x32 backward: 0.92-0.98 of the
  // gathering kernel's time); float16 sources, whose conversion costs more, measured 1.16-1.19x slower
  // walking.
  const bool walk_source = dtype_size(src.dtype) == sizeof(T) || src.dtype == DType::bfloat16;
  if (config.cols_first || !walk_source || !walk::plan_walks(row_table, tiles.tile_rows, config.walks, config.walk_steps)) {
    config.walks.clear();
    config.walk_steps.clear();
  } else {
    tiles.out_lanes = std::min(tiles.out_lanes, walk::kWalkThreads);
    // the walk reads its steps, not staged rows (and more blocks fit without them)
    config.shared_bytes -= staged_bytes_for<T>(config.kernel_taps, tiles.tile_rows);
  }
  tiles.out_row_step = (config.walks.empty() ? kThreads : walk::kWalkThreads) / tiles.out_lanes;
  std::int64_t per_plane = 0;
  if (!fused::count_tiles(g, tiles, per_plane)) return false;
  const std::int64_t wanted_blocks = multiprocessor_count() * kBlocksPerMultiprocessor;
  const std::int64_t wanted_groups = std::max<std::int64_t>(1, wanted_blocks / per_plane);
  const std::int64_t planes_per_block = (g.planes + wanted_groups - 1) / wanted_groups;
  if (planes_per_block >= (std::int64_t{1} << 31)) return false;
  tiles.planes_per_block = static_cast<unsigned>(planes_per_block);
  config.blocks = per_plane * ((g.planes + planes_per_block - 1) / planes_per_block);
  return config.blocks < (std::int64_t{1} << 31);
}

template <typename Src, typename Dst, typename T>
void launch_typed(const DeviceArray& src, const DeviceArray& dst, FusedConfig<T>& config, const DeviceTaps<T>& first_taps,
                  const DeviceTaps<T>& second_taps, cudaStream_t stream) {
  const int V = config.run;
  const PlaneGeometry& g = config.geometry;
  if (config.cols_first && sliding::launch_sliding_pair<Src, Dst, T>(src, dst, g, config.kernel_taps, first_taps,
                                                                     second_taps, stream)) {
    check(cudaGetLastError(), "sliding pass launch");
    return;
  }
  // Whole runs on the big side: every row of it starts on a run boundary, and so does every tile.
  if (config.cols_first) {
    config.tiles.aligned = run_aligned<Dst>(dst.data, V, g.dst_row) && (g.planes == 1 || g.dst_plane % V == 0) &&
                           (g.out_cols * g.inner) % V == 0 && (config.tiles.tile_cols * g.inner) % V == 0;
  } else {
    config.tiles.aligned = run_aligned<Src>(src.data, V, g.src_row) && (g.planes == 1 || g.src_plane % V == 0) &&
                           (g.in_cols * g.inner) % V == 0;
  }
  // The tile ranges and walks travel with the launch.
  LaunchBuffer buffer;
  const std::size_t ranges_at = buffer.append(config.ranges);
  const std::size_t walks_at = buffer.append(config.walks);
  const std::size_t steps_at = buffer.append(config.walk_steps);
  buffer.upload(stream, "tile ranges");
  config.tiles.range = buffer.at<std::int64_t>(ranges_at);
  const Src* in = static_cast<const Src*>(src.data);
  Dst* out = static_cast<Dst*>(dst.data);
  const unsigned blocks = static_cast<unsigned>(config.blocks);
  auto launch = [&](auto taps_bound) {
    constexpr int K = decltype(taps_bound)::value;
    if (config.cols_first) {
      fused::cols_then_rows<Src, Dst, T, K><<<blocks, kThreads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, first_taps, second_taps);
    } else {
      fused::rows_then_cols<Src, Dst, T, K><<<blocks, kThreads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, first_taps, second_taps);
    }
  };
  const bool walking = !config.walks.empty();
  if constexpr (sizeof(Src) == sizeof(T) || std::is_same_v<Src, BFloat16>) {  // the only sources configure walks
    if (walking) {
      fused::walk_rows_then_cols<Src, Dst, T><<<blocks, walk::kWalkThreads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, buffer.at<walk::WalkTile>(walks_at),
          buffer.at<walk::WalkStep<T>>(steps_at), second_taps);
    }
  }
  if (!walking) {
    switch (taps_bound(config.kernel_taps)) {
      case 2: launch(std::integral_constant<int, 2>{}); break;
      case 4: launch(std::integral_constant<int, 4>{}); break;
      case 8: launch(std::integral_constant<int, 8>{}); break;
      default: launch(std::integral_constant<int, 0>{}); break;
    }
  }
  check(cudaGetLastError(), "fused pass launch");
}

// The pairs that occur: data to data, data to the compute-type buffer, and buffer to data.
template <typename T, typename Data>
void dispatch_pair(const DeviceArray& src, const DeviceArray& dst, FusedConfig<T>& config, const DeviceTaps<T>& d1,
                   const DeviceTaps<T>& d2, cudaStream_t stream) {
  const DType buffer = sizeof(T) == 8 ? DType::float64 : DType::float32;
  if (src.dtype == dst.dtype) {
    launch_typed<Data, Data, T>(src, dst, config, d1, d2, stream);
  } else if (dst.dtype == buffer) {
    launch_typed<Data, T, T>(src, dst, config, d1, d2, stream);
  } else {
    launch_typed<T, Data, T>(src, dst, config, d1, d2, stream);
  }
}

}  // namespace

template <typename T>
bool fused_pair_fits(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
                     int second_axis, const plan::TapTable<T>& second) {
  FusedConfig<T> config;
  return configure(src, dst, first_axis, first, second_axis, second, config);
}

template <typename T>
bool launch_fused_pair(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
                       const DeviceTaps<T>& first_taps, int second_axis, const plan::TapTable<T>& second,
                       const DeviceTaps<T>& second_taps, cudaStream_t stream) {
  FusedConfig<T> config;
  if (!configure(src, dst, first_axis, first, second_axis, second, config)) return false;
  // The data dtype is whichever side is not the compute-type buffer.
  const DType data = (src.dtype == DType::float32 || src.dtype == DType::float64) ? dst.dtype : src.dtype;
  if constexpr (sizeof(T) == 8) {
    launch_typed<double, double, T>(src, dst, config, first_taps, second_taps, stream);
  } else {
    switch (data) {
      case DType::float16: dispatch_pair<T, Float16>(src, dst, config, first_taps, second_taps, stream); break;
      case DType::bfloat16: dispatch_pair<T, BFloat16>(src, dst, config, first_taps, second_taps, stream); break;
      default: launch_typed<float, float, T>(src, dst, config, first_taps, second_taps, stream); break;
    }
  }
  return true;
}

template bool fused_pair_fits<float>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<float>&, int,
                                     const plan::TapTable<float>&);
template bool fused_pair_fits<double>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<double>&, int,
                                      const plan::TapTable<double>&);
template bool launch_fused_pair<float>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<float>&,
                                       const DeviceTaps<float>&, int, const plan::TapTable<float>&,
                                       const DeviceTaps<float>&, cudaStream_t);
template bool launch_fused_pair<double>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<double>&,
                                        const DeviceTaps<double>&, int, const plan::TapTable<double>&,
                                        const DeviceTaps<double>&, cudaStream_t);

}  // namespace tessera::cuda
