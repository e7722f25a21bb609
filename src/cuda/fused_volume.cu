// fused_volume.cu — see fused_volume.cuh: the host side of its two kernels (fused_volume_kernels.cuh):
// which applies, the tiling, the launch.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half_float.hpp"
#include "cuda/fused_tiles.hpp"
#include "cuda/fused_volume.cuh"
#include "cuda/fused_volume_kernels.cuh"
#include "cuda/launch_buffer.hpp"
#include "cuda/sliding_volume.cuh"

namespace tessera::cuda {

namespace {

using fused::kThreads;
using fused::PlaneGeometry;
using fused::TileGeometry;

constexpr std::int64_t kSharedBytes = 48 * 1024;
// Blocks per multiprocessor under which the depth axis is cut into chunks (each chunk recomputes the
// ring's first planes).
constexpr std::int64_t kBlocksPerMultiprocessor = 12;
// Output planes of a chunk at the least.
constexpr std::int64_t kMinChunk = 8;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("tessera CUDA: ") + what + ": " + cudaGetErrorString(status));
}

// Shared bytes of the staged rows, for the kernel that `taps` (at most 8) selects.
template <typename T>
std::int64_t staged_bytes_for(std::int64_t taps, int rows) {
  switch (taps_bound(taps)) {
    case 2: return fused::staged_bytes<T, 2>(rows);
    case 4: return fused::staged_bytes<T, 4>(rows);
    default: return fused::staged_bytes<T, 8>(rows);
  }
}

// The array without dim `axis` (strides of the others unchanged).
DeviceArray drop_dim(const DeviceArray& a, int axis) {
  DeviceArray b = a;
  b.ndim = a.ndim - 1;
  for (int d = axis; d + 1 < a.ndim; ++d) {
    b.shape[d] = a.shape[d + 1];
    b.strides[d] = a.strides[d + 1];
  }
  return b;
}

// Nonempty rows monotone (first and first + taps non-decreasing) and at most kMaxDepthTaps taps.
template <typename T>
bool ring_walkable(const plan::TapTable<T>& depth) {
  std::int64_t first = 0, end = 0;
  for (std::int64_t j = 0; j < depth.out_len; ++j) {
    const std::int64_t n = depth.taps(j);
    if (n == 0) continue;
    if (n > fused::kMaxDepthTaps || depth.first[j] < first || depth.first[j] + n < end) return false;
    first = depth.first[j];
    end = depth.first[j] + n;
  }
  return true;
}

template <typename T>
struct VolumeConfig {
  bool depth_first = false;  // depth_then_rows_cols, else cols_rows_then_depth
  PlaneGeometry geometry;
  TileGeometry tiles;
  fused::DepthGeometry depth;
  // ring kernel: the input rows of each row tile; depth-first kernel: the input elements of each col
  // tile, then the input rows of each row tile (from row_ranges_at)
  std::vector<std::int64_t> ranges;
  std::size_t row_ranges_at = 0;
  std::int64_t shared_bytes = 0;
  std::int64_t blocks = 0;
  int kernel_taps = 0;
};

// The plane view of src and dst with the depth axis set aside (the pair kernels' [planes][rows][cols]
// view, the depth axis outside it), checked against the tables.
template <typename T>
bool volume_geometry(const DeviceArray& src, const DeviceArray& dst, int cols_axis, const plan::TapTable<T>& cols,
                     int rows_axis, const plan::TapTable<T>& rows, int depth_axis, const plan::TapTable<T>& depth,
                     VolumeConfig<T>& config) {
  if (src.dtype != dst.dtype || src.ndim != dst.ndim) return false;
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.shape[d] == 0 || src.shape[d] == 0) return false;
  }
  if (cols_axis == depth_axis || rows_axis == depth_axis) return false;
  if (src.shape[depth_axis] != depth.in_len || dst.shape[depth_axis] != depth.out_len) return false;
  const auto shifted = [&](int axis) { return axis > depth_axis ? axis - 1 : axis; };
  PlaneGeometry& g = config.geometry;
  if (!fused::plane_geometry(drop_dim(src, depth_axis), drop_dim(dst, depth_axis), shifted(rows_axis),
                             shifted(cols_axis), g)) {
    return false;
  }
  if (g.in_cols != cols.in_len || g.out_cols != cols.out_len || g.in_rows != rows.in_len ||
      g.out_rows != rows.out_len) {
    return false;
  }
  fused::DepthGeometry& dg = config.depth;
  dg.src_depth = src.strides[depth_axis];
  dg.dst_depth = dst.strides[depth_axis];
  dg.out_depth = depth.out_len;
  return true;
}

// The grid: the tiles of every plane, times chunks of the depth axis where those leave multiprocessors
// idle. False where a count does not fit the launch.
template <typename T>
bool configure_grid(std::int64_t out_depth, VolumeConfig<T>& config) {
  const PlaneGeometry& g = config.geometry;
  TileGeometry& tiles = config.tiles;
  fused::DepthGeometry& dg = config.depth;
  std::int64_t per_plane = 0;
  if (!fused::count_tiles(g, tiles, per_plane)) return false;
  tiles.planes_per_block = 1;
  const std::int64_t base = per_plane * g.planes;
  const std::int64_t wanted = multiprocessor_count() * kBlocksPerMultiprocessor;
  std::int64_t chunks = 1;
  if (base < wanted) {
    chunks = std::min((wanted + base - 1) / base, std::max<std::int64_t>(1, out_depth / kMinChunk));
  }
  dg.chunk = (out_depth + chunks - 1) / chunks;
  chunks = (out_depth + dg.chunk - 1) / dg.chunk;
  dg.chunks = static_cast<unsigned>(chunks);
  config.blocks = base * chunks;
  return config.blocks < (std::int64_t{1} << 31);
}

// The ring kernel (passes cols, rows, depth).
template <typename T>
bool configure_ring(const DeviceArray& src, const DeviceArray& dst, int cols_axis, const plan::TapTable<T>& cols,
                    int rows_axis, const plan::TapTable<T>& rows, int depth_axis, const plan::TapTable<T>& depth,
                    VolumeConfig<T>& config) {
  if (!ring_walkable(depth)) return false;
  const int max_kernel_taps = static_cast<int>(std::max(cols.max_taps(), rows.max_taps()));
  if (max_kernel_taps > 8) return false;
  if (!volume_geometry(src, dst, cols_axis, cols, rows_axis, rows, depth_axis, depth, config)) return false;
  config.kernel_taps = max_kernel_taps;
  const PlaneGeometry& g = config.geometry;
  fused::DepthGeometry& dg = config.depth;
  dg.slots = static_cast<int>(std::max<std::int64_t>(1, depth.max_taps()));
  const int V = run_length(dtype_size(dst.dtype), sizeof(T));
  TileGeometry& tiles = config.tiles;
  tiles.tile_cols = fused::col_tile_width(g, V);
  const std::int64_t tile_elems = static_cast<std::int64_t>(tiles.tile_cols) * g.inner;
  if ((tile_elems + V - 1) / V > kThreads) return false;
  const std::int64_t pitch = (tile_elems + V - 1) / V * V;
  bool fits = false;
  for (int tile_rows = 32; tile_rows >= 1 && !fits; tile_rows /= 2) {
    if (tile_rows > 1 && tile_rows / 2 >= g.out_rows) continue;  // no taller than the output needs
    std::int64_t widest = 0;
    config.ranges = fused::tile_ranges(rows, tile_rows, 1, 1, widest);
    tiles.tile_rows = tile_rows;
    tiles.pitch = static_cast<int>(pitch);
    config.shared_bytes = staged_bytes_for<T>(config.kernel_taps, tile_rows) +
                          (widest + static_cast<std::int64_t>(dg.slots) * tile_rows) * pitch *
                              static_cast<std::int64_t>(sizeof(T));
    fits = config.shared_bytes <= kSharedBytes;
    dg.t_rows = static_cast<int>(widest);
  }
  if (!fits) return false;
  tiles.lanes = fused::lanes_for(tile_elems);
  return configure_grid(depth.out_len, config);
}

// The depth-first kernel (passes depth, rows, cols): rows and cols of at most 8 taps (but for a few
// rows, as in the rows-first pair kernel), the depth table any.
template <typename T>
bool configure_depth_first(const DeviceArray& src, const DeviceArray& dst, int depth_axis,
                           const plan::TapTable<T>& depth, int rows_axis, const plan::TapTable<T>& rows,
                           int cols_axis, const plan::TapTable<T>& cols, VolumeConfig<T>& config) {
  config.kernel_taps = static_cast<int>(std::max(fused::bulk_taps(rows), fused::bulk_taps(cols)));
  if (taps_bound(config.kernel_taps) == 0) return false;
  if (!volume_geometry(src, dst, cols_axis, cols, rows_axis, rows, depth_axis, depth, config)) return false;
  config.depth_first = true;
  const PlaneGeometry& g = config.geometry;
  constexpr int V = kRun<T>;
  TileGeometry& tiles = config.tiles;
  // The tallest tile that fits. Channels-last layouts (whose col tiles are a few cols of many channels)
  // also try narrower tiles and take the one whose input box is the smallest per output element
  // (neighbouring tiles' boxes overlap, and the overlap is read from DRAM again), the widest on ties:
  // 8 x 4 instead of 16 x 2 for the trilinear x2 backward, 0.90x the time. Plain layouts keep their
  // 128-col tiles: 64 x 16, 64 x 32 and 128 x 16 (shared memory opted in above 48 KB) measured
  // 1.14-1.24x slower there.
  const int widths = g.inner > 1 ? 4 : 1;
  double best = 0;
  bool fits = false;
  for (int tile_cols = fused::col_tile_width(g, V), halvings = 0; tile_cols >= 1 && halvings < widths;
       tile_cols /= 2, ++halvings) {
    if (halvings > 0 && static_cast<std::int64_t>(tile_cols) * g.inner < 32) break;  // a warp of elements at least
    std::int64_t widest = 0;
    std::vector<std::int64_t> col_ranges = fused::tile_ranges(cols, tile_cols, g.inner, V, widest);
    std::int64_t pitch = (widest + V - 1) / V * V;
    if (pitch % 32 == 0) pitch += V;  // rows of t in different banks for the cols pass
    for (int tile_rows = 32; tile_rows >= 1; tile_rows /= 2) {
      if (tile_rows > 1 && tile_rows / 2 >= g.out_rows) continue;  // no taller than the output needs
      std::int64_t widest_rows = 0;
      const std::vector<std::int64_t> row_ranges = fused::tile_ranges(rows, tile_rows, 1, 1, widest_rows);
      const std::int64_t bytes = staged_bytes_for<T>(config.kernel_taps, tile_rows) +
                                 (widest_rows + tile_rows) * pitch * static_cast<std::int64_t>(sizeof(T));
      if (bytes > kSharedBytes) continue;
      const double read_per_output = static_cast<double>(widest_rows) * static_cast<double>(widest) /
                                     (static_cast<double>(tile_rows) * tile_cols * g.inner);
      if (!fits || read_per_output < best) {
        fits = true;
        best = read_per_output;
        config.ranges = col_ranges;
        config.row_ranges_at = col_ranges.size();
        config.ranges.insert(config.ranges.end(), row_ranges.begin(), row_ranges.end());
        config.shared_bytes = bytes;
        tiles.tile_cols = tile_cols;
        tiles.tile_rows = tile_rows;
        tiles.pitch = static_cast<int>(pitch);
        config.depth.t_rows = static_cast<int>(widest_rows);
      }
      break;  // shorter tiles of this width read more per output
    }
  }
  if (!fits) return false;
  tiles.lanes = fused::rows_pass_lanes(tiles.tile_rows, g.out_rows);
  tiles.out_lanes = fused::lanes_for(static_cast<std::int64_t>(tiles.tile_cols) * g.inner);
  tiles.out_row_step = kThreads / tiles.out_lanes;
  return configure_grid(depth.out_len, config);
}

template <typename Data, typename T>
void launch_typed(const DeviceArray& src, const DeviceArray& dst, VolumeConfig<T>& config, const DeviceTaps<T>& cols,
                  const DeviceTaps<T>& rows, const DeviceTaps<T>& depth, cudaStream_t stream) {
  const PlaneGeometry& g = config.geometry;
  const fused::DepthGeometry& dg = config.depth;
  if (!config.depth_first) {
    sliding::SlideDepth sd;
    sd.src_depth = dg.src_depth;
    sd.dst_depth = dg.dst_depth;
    // (dg.slots is the depth table's most taps)
    if (sliding::launch_sliding_volume<Data, T>(src, dst, g, sd, std::max(config.kernel_taps, dg.slots), cols, rows,
                                                depth, stream)) {
      check(cudaGetLastError(), "sliding volume launch");
      return;
    }
  }
  if (config.depth_first) {  // whole runs of the input
    constexpr int V = kRun<T>;
    config.tiles.aligned = run_aligned<Data>(src.data, V, g.src_row) && (g.planes == 1 || g.src_plane % V == 0) &&
                           dg.src_depth % V == 0 && (g.in_cols * g.inner) % V == 0;
  } else {  // whole runs of the output
    constexpr int V = kRunOf<Data, T>;
    config.tiles.aligned = run_aligned<Data>(dst.data, V, g.dst_row) && (g.planes == 1 || g.dst_plane % V == 0) &&
                           (dg.out_depth == 1 || dg.dst_depth % V == 0) && (g.out_cols * g.inner) % V == 0 &&
                           (config.tiles.tile_cols * g.inner) % V == 0;
  }
  LaunchBuffer buffer;
  const std::size_t ranges_at = buffer.append(config.ranges);
  buffer.upload(stream, "tile ranges");
  config.tiles.range = buffer.at<std::int64_t>(ranges_at);
  config.depth.row_range = config.tiles.range + config.row_ranges_at;
  const Data* in = static_cast<const Data*>(src.data);
  Data* out = static_cast<Data*>(dst.data);
  const unsigned blocks = static_cast<unsigned>(config.blocks);
  auto launch = [&](auto taps_bound) {
    constexpr int K = decltype(taps_bound)::value;
    if (config.depth_first) {
      fused::depth_then_rows_cols<Data, Data, T, K><<<blocks, kThreads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, config.depth, depth, rows, cols);
    } else {
      fused::cols_rows_then_depth<Data, T, K><<<blocks, kThreads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, config.depth, cols, rows, depth);
    }
  };
  switch (taps_bound(config.kernel_taps)) {
    case 2: launch(std::integral_constant<int, 2>{}); break;
    case 4: launch(std::integral_constant<int, 4>{}); break;
    default: launch(std::integral_constant<int, 8>{}); break;
  }
  check(cudaGetLastError(), "fused volume launch");
}

}  // namespace

template <typename T>
bool launch_fused_volume(const DeviceArray& src, const DeviceArray& dst, const VolumePass<T> (&passes)[3],
                         cudaStream_t stream) {
  VolumeConfig<T> config;
  const VolumePass<T>& a = passes[0];
  const VolumePass<T>& b = passes[1];
  const VolumePass<T>& c = passes[2];
  // cols, rows, depth (the ring kernel) or depth, rows, cols
  DeviceTaps<T> cols = a.taps, rows = b.taps, depth = c.taps;
  if (!configure_ring(src, dst, a.dim, *a.table, b.dim, *b.table, c.dim, *c.table, config)) {
    config = VolumeConfig<T>{};
    if (!configure_depth_first(src, dst, a.dim, *a.table, b.dim, *b.table, c.dim, *c.table, config)) return false;
    depth = a.taps;
    cols = c.taps;
  }
  if constexpr (sizeof(T) == 8) {
    launch_typed<double, T>(src, dst, config, cols, rows, depth, stream);
  } else {
    switch (dst.dtype) {
      case DType::float16: launch_typed<Float16, T>(src, dst, config, cols, rows, depth, stream); break;
      case DType::bfloat16: launch_typed<BFloat16, T>(src, dst, config, cols, rows, depth, stream); break;
      default: launch_typed<float, T>(src, dst, config, cols, rows, depth, stream); break;
    }
  }
  return true;
}

template bool launch_fused_volume<float>(const DeviceArray&, const DeviceArray&, const VolumePass<float> (&)[3],
                                         cudaStream_t);
template bool launch_fused_volume<double>(const DeviceArray&, const DeviceArray&, const VolumePass<double> (&)[3],
                                          cudaStream_t);

}  // namespace tessera::cuda
