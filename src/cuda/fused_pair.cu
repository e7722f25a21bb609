// fused_pair.cu — see fused_pair.cuh.
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half_float.hpp"
#include "cuda/arithmetic.cuh"
#include "cuda/fused_pair.cuh"

namespace tessera::cuda {
namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kSharedBytes = 48 * 1024;

// The output viewed as [planes][rows][cols], cols contiguous in both arrays.
struct PlaneGeometry {
  std::int64_t planes = 0;
  std::int64_t src_plane = 0, dst_plane = 0;  // plane strides
  std::int64_t src_row = 0, dst_row = 0;      // row strides (cols have stride 1)
  std::int64_t in_rows = 0, in_cols = 0, out_rows = 0, out_cols = 0;
};

struct TileGeometry {
  int tile_rows = 0, tile_cols = 0;
  std::int64_t tiles_r = 0, tiles_c = 0;
  const std::int64_t* range = nullptr;  // per tile along the first pass's axis: [begin, end) of its input
};

// The output tile of this block: plane, tile indices, first row and column, and its extent.
struct Tile {
  std::int64_t plane, tr, tc, r0, c0;
  int row_count, width;
};

__device__ inline Tile block_tile(const PlaneGeometry& g, const TileGeometry& tiles) {
  Tile t;
  std::int64_t flat = blockIdx.x;
  t.tc = flat % tiles.tiles_c;
  flat /= tiles.tiles_c;
  t.tr = flat % tiles.tiles_r;
  t.plane = flat / tiles.tiles_r;
  t.r0 = t.tr * tiles.tile_rows;
  t.c0 = t.tc * tiles.tile_cols;
  t.row_count = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_rows), g.out_rows - t.r0));
  t.width = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_cols), g.out_cols - t.c0));
  return t;
}

// Threads are laid out as blockDim.x output columns by blockDim.y rows, so per-column table entries are
// loaded once per thread and per-row entries are the same for a whole warp; no index needs a division.

// K > 0: every row of both tables has at most K taps, which then live in registers (loops unrolled).
// First pass along cols, then rows: the block computes t[a][c] = cols pass of input row a for the
// rows a the output tile needs, then the rows pass from t.
template <typename Src, typename Dst, typename T, int K>
__global__ void fused_cols_then_rows(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g,
                                     TileGeometry tiles, DeviceTaps<T> cols, DeviceTaps<T> rows) {
  extern __shared__ unsigned char shared_bytes[];
  T* t = reinterpret_cast<T*>(shared_bytes);
  const Tile tile = block_tile(g, tiles);
  const std::int64_t p = tile.plane, r0 = tile.r0, c0 = tile.c0;
  const int row_count = tile.row_count, width = tile.width;
  const std::int64_t a0 = tiles.range[2 * tile.tr];
  const int a_count = static_cast<int>(tiles.range[2 * tile.tr + 1] - a0);
  const int c = threadIdx.x;
  if (c < width) {
    const RowTaps<T, K> col = load_row<T, K>(cols.first, cols.offset, cols.weights, c0 + c);
    const Src* x = src + p * g.src_plane + a0 * g.src_row + col.first;
    for (int a = threadIdx.y; a < a_count; a += blockDim.y) t[a * width + c] = gather_row<Src, T, K>(x + a * g.src_row, 1, col);
  }
  __syncthreads();
  if (c >= width) return;
  Dst* out = dst + p * g.dst_plane + c0 + c;
  for (int r = threadIdx.y; r < row_count; r += blockDim.y) {
    const RowTaps<T, K> row = load_row<T, K>(rows.first, rows.offset, rows.weights, r0 + r);
    const T acc = gather_row<T, T, K>(t + static_cast<int>(row.first - a0) * width + c, width, row);
    out[(r0 + r) * g.dst_row] = store_as<Dst>(acc);
  }
}

// First pass along rows, then cols: the block computes t[r][b] = rows pass at input col b for the tile's
// output rows r and the input cols b its output cols need (loads coalesced across b), then the cols pass
// from t.
template <typename Src, typename Dst, typename T, int K>
__global__ void fused_rows_then_cols(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g,
                                     TileGeometry tiles, DeviceTaps<T> rows, DeviceTaps<T> cols) {
  extern __shared__ unsigned char shared_bytes[];
  T* t = reinterpret_cast<T*>(shared_bytes);
  const Tile tile = block_tile(g, tiles);
  const std::int64_t p = tile.plane, r0 = tile.r0, c0 = tile.c0;
  const int row_count = tile.row_count, width = tile.width;
  const std::int64_t b0 = tiles.range[2 * tile.tc];
  const int span = static_cast<int>(tiles.range[2 * tile.tc + 1] - b0);
  const Src* plane = src + p * g.src_plane + b0;
  for (int r = threadIdx.y; r < row_count; r += blockDim.y) {
    const RowTaps<T, K> row = load_row<T, K>(rows.first, rows.offset, rows.weights, r0 + r);
    const Src* x = plane + row.first * g.src_row;
    for (int b = threadIdx.x; b < span; b += blockDim.x) t[r * span + b] = gather_row<Src, T, K>(x + b, g.src_row, row);
  }
  __syncthreads();
  const int c = threadIdx.x;
  if (c >= width) return;
  const RowTaps<T, K> col = load_row<T, K>(cols.first, cols.offset, cols.weights, c0 + c);
  const T* base = t + static_cast<int>(col.first - b0);
  Dst* out = dst + p * g.dst_plane + r0 * g.dst_row + c0 + c;
  for (int r = threadIdx.y; r < row_count; r += blockDim.y) {
    out[r * g.dst_row] = store_as<Dst>(gather_row<T, T, K>(base + r * span, 1, col));
  }
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("tessera CUDA: ") + what + ": " + cudaGetErrorString(status));
}

// Input range [begin, end) read by each tile of `tile` consecutive outputs of a table (rows reading
// nothing are skipped; an all-empty tile gets an empty range).
template <typename T>
std::vector<std::int64_t> tile_ranges(const plan::TapTable<T>& table, int tile, std::int64_t& widest) {
  std::vector<std::int64_t> ranges;
  widest = 0;
  for (std::int64_t j0 = 0; j0 < table.out_len; j0 += tile) {
    std::int64_t begin = table.in_len, end = 0;
    for (std::int64_t j = j0; j < std::min<std::int64_t>(j0 + tile, table.out_len); ++j) {
      if (table.taps(j) == 0) continue;
      begin = std::min(begin, table.first[j]);
      end = std::max(end, table.first[j] + table.taps(j));
    }
    if (begin >= end) begin = end = 0;
    ranges.push_back(begin);
    ranges.push_back(end);
    widest = std::max(widest, end - begin);
  }
  return ranges;
}

// Views src/dst as [planes][rows][cols] with cols = `col_axis` (stride 1) and rows = `row_axis`.
bool plane_geometry(const DeviceArray& src, const DeviceArray& dst, int row_axis, int col_axis, PlaneGeometry& g) {
  if (src.strides[col_axis] != 1 || dst.strides[col_axis] != 1) return false;
  std::vector<int> outer;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d != row_axis && d != col_axis && dst.shape[d] > 1) outer.push_back(d);
  }
  std::stable_sort(outer.begin(), outer.end(),
                   [&](int a, int b) { return std::llabs(dst.strides[a]) > std::llabs(dst.strides[b]); });
  g.planes = 1;
  g.src_plane = g.dst_plane = 0;
  if (!outer.empty()) {
    g.src_plane = src.strides[outer.back()];
    g.dst_plane = dst.strides[outer.back()];
    for (auto it = outer.rbegin(); it != outer.rend(); ++it) {
      if (src.strides[*it] != g.src_plane * g.planes || dst.strides[*it] != g.dst_plane * g.planes) return false;
      g.planes *= dst.shape[*it];
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

struct FusedConfig {
  bool cols_first = false;
  PlaneGeometry geometry;
  TileGeometry tiles;
  std::vector<std::int64_t> ranges;
  std::int64_t shared_bytes = 0;
  std::int64_t blocks = 0;
  std::int64_t max_taps = 0;
};

// Chooses the tiling for a pass pair, or returns false when the layout or shared memory does not allow it.
template <typename T>
bool configure(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
               int second_axis, const plan::TapTable<T>& second, FusedConfig& config) {
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.shape[d] == 0) return false;
  }
  // The col axis is whichever of the two is contiguous.
  config.cols_first = src.strides[first_axis] == 1;
  const int col_axis = config.cols_first ? first_axis : second_axis;
  const int row_axis = config.cols_first ? second_axis : first_axis;
  PlaneGeometry& g = config.geometry;
  if (!plane_geometry(src, dst, row_axis, col_axis, g)) return false;
  const plan::TapTable<T>& col_table = config.cols_first ? first : second;
  const plan::TapTable<T>& row_table = config.cols_first ? second : first;
  if (g.in_cols != col_table.in_len || g.out_cols != col_table.out_len || g.in_rows != row_table.in_len ||
      g.out_rows != row_table.out_len) {
    return false;
  }
  config.max_taps = std::max(first.max_taps(), second.max_taps());
  TileGeometry& tiles = config.tiles;
  tiles.tile_cols = static_cast<int>(std::min<std::int64_t>(128, g.out_cols));
  for (int tile_rows = 64; tile_rows >= 1; tile_rows /= 2) {
    std::int64_t widest = 0;
    if (config.cols_first) {
      config.ranges = tile_ranges(row_table, tile_rows, widest);  // input rows per output row tile
      config.shared_bytes = widest * tiles.tile_cols * static_cast<std::int64_t>(sizeof(T));
    } else {
      config.ranges = tile_ranges(col_table, tiles.tile_cols, widest);  // input cols per output col tile
      config.shared_bytes = widest * tile_rows * static_cast<std::int64_t>(sizeof(T));
    }
    tiles.tile_rows = tile_rows;
    if (config.shared_bytes <= kSharedBytes) break;
  }
  if (config.shared_bytes > kSharedBytes) return false;
  tiles.tiles_r = (g.out_rows + tiles.tile_rows - 1) / tiles.tile_rows;
  tiles.tiles_c = (g.out_cols + tiles.tile_cols - 1) / tiles.tile_cols;
  config.blocks = g.planes * tiles.tiles_r * tiles.tiles_c;
  return config.blocks < (std::int64_t{1} << 31);
}

template <typename Src, typename Dst, typename T>
void launch_typed(const DeviceArray& src, const DeviceArray& dst, FusedConfig& config, const DeviceTaps<T>& first_taps,
                  const DeviceTaps<T>& second_taps, cudaStream_t stream) {
  // The tile ranges travel with the launch; freed on the stream after it.
  std::int64_t* device_ranges = nullptr;
  const std::size_t range_bytes = config.ranges.size() * sizeof(std::int64_t);
  check(cudaMallocAsync(reinterpret_cast<void**>(&device_ranges), range_bytes, stream), "tile ranges");
  check(cudaMemcpyAsync(device_ranges, config.ranges.data(), range_bytes, cudaMemcpyHostToDevice, stream),
        "tile range upload");
  config.tiles.range = device_ranges;
  const Src* in = static_cast<const Src*>(src.data);
  Dst* out = static_cast<Dst*>(dst.data);
  const unsigned blocks = static_cast<unsigned>(config.blocks);
  const int threads_x = (config.tiles.tile_cols + 31) / 32 * 32;
  const dim3 threads(threads_x, kThreads / threads_x);
  auto launch = [&](auto taps_bound) {
    constexpr int K = decltype(taps_bound)::value;
    if (config.cols_first) {
      fused_cols_then_rows<Src, Dst, T, K><<<blocks, threads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, first_taps, second_taps);
    } else {
      fused_rows_then_cols<Src, Dst, T, K><<<blocks, threads, config.shared_bytes, stream>>>(
          in, out, config.geometry, config.tiles, first_taps, second_taps);
    }
  };
  // Common tap counts get register-resident, unrolled rows; long rows (antialias, area, backward of
  // large factors) read their weights from the table.
  if (config.max_taps <= 2) {
    launch(std::integral_constant<int, 2>{});
  } else if (config.max_taps <= 4) {
    launch(std::integral_constant<int, 4>{});
  } else if (config.max_taps <= 8) {
    launch(std::integral_constant<int, 8>{});
  } else {
    launch(std::integral_constant<int, 0>{});
  }
  check(cudaGetLastError(), "fused pass launch");
  check(cudaFreeAsync(device_ranges, stream), "tile ranges");
}

// The pairs that occur: data to data, data to the compute-type buffer, and buffer to data.
template <typename T, typename Data>
void dispatch_pair(const DeviceArray& src, const DeviceArray& dst, FusedConfig& config, const DeviceTaps<T>& d1,
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
  FusedConfig config;
  return configure(src, dst, first_axis, first, second_axis, second, config);
}

template <typename T>
bool launch_fused_pair(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
                       const DeviceTaps<T>& first_taps, int second_axis, const plan::TapTable<T>& second,
                       const DeviceTaps<T>& second_taps, cudaStream_t stream) {
  FusedConfig config;
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
