// fused_volume.cu — see fused_volume.cuh: the kernel (cols, rows, then depth, each block walking the
// depth axis of one output tile) and its host side.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "core/half_float.hpp"
#include "cuda/fused_pair_kernels.cuh"
#include "cuda/fused_tiles.hpp"
#include "cuda/fused_volume.cuh"

namespace tessera::cuda {
namespace fused {

// Most taps of a depth row, and so the most planes of the ring.
constexpr int kMaxDepthTaps = 4;

struct DepthGeometry {
  std::int64_t src_depth = 0, dst_depth = 0;  // strides of the depth axis
  std::int64_t out_depth = 0;
  std::int64_t chunk = 0;                      // output planes per block
  unsigned chunks = 1;                         // blocks along the depth axis
  int slots = 1;                               // planes of the ring (>= the depth table's most taps)
  int t_rows = 0;                              // rows of the first-pass tile t (the widest tile's input rows)
};

// p[i] = v[i] for i < V in shared memory (p aligned to the run), 16 bytes at a time.
template <typename T, int V>
__device__ inline void store_shared(T* p, const T (&v)[V]) {
  constexpr int R = kRun<T> < V ? kRun<T> : V;
#pragma unroll
  for (int h = 0; h < V / R; ++h) {
    T part[R];
#pragma unroll
    for (int i = 0; i < R; ++i) part[i] = v[h * R + i];
    store_shared_run(p + h * R, part);
  }
}

// Output plane d of a tile is depth row d's sum over the ring, in table order; the ring's input plane z
// (cols then rows pass of input plane z for the tile) sits in slot z % slots. The planes a row reads
// are computed when first needed: depth rows are monotone (first and first + taps non-decreasing) and
// read at most `slots` planes, so a plane leaves the ring only once no later row reads it. A thread
// writes the ring's runs that it reads again itself (the same (row, run) of every plane), so only the
// shared first-pass tile t needs barriers.
template <typename Data, typename T, int K>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    cols_rows_then_depth(const Data* __restrict__ src, Data* __restrict__ dst, PlaneGeometry g, TileGeometry tiles,
                         DepthGeometry dg, DeviceTaps<T> cols, DeviceTaps<T> rows, DeviceTaps<T> depth) {
  constexpr int V = kRunOf<Data, T>;
  constexpr int U = K == 2 || K == 4 ? 4 : 2;  // input rows per thread in flight in the first pass
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  StagedRow<T, K>* staged = reinterpret_cast<StagedRow<T, K>*>(shared_bytes);
  T* t = reinterpret_cast<T*>(shared_bytes + staged_bytes<T, K>(tiles.tile_rows));
  const unsigned per_plane = tiles.tiles_r * tiles.tiles_c;
  const unsigned tile_index = blockIdx.x % per_plane, rest = blockIdx.x / per_plane;
  const unsigned chunk = rest % dg.chunks;
  const std::int64_t p = rest / dg.chunks;
  const int tc = static_cast<int>(tile_index % tiles.tiles_c), tr = static_cast<int>(tile_index / tiles.tiles_c);
  const std::int64_t r0 = static_cast<std::int64_t>(tr) * tiles.tile_rows;
  const std::int64_t c0 = static_cast<std::int64_t>(tc) * tiles.tile_cols;
  const int row_count = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_rows), g.out_rows - r0));
  const int width = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_cols), g.out_cols - c0));
  const std::int64_t d_begin = static_cast<std::int64_t>(chunk) * dg.chunk;
  const std::int64_t d_end = min(dg.out_depth, d_begin + dg.chunk);
  const std::int64_t a0 = tiles.range[2 * tr];
  const int a_count = static_cast<int>(tiles.range[2 * tr + 1] - a0);
  const int inner = g.inner, pitch = tiles.pitch;
  const int elems = width * inner;
  const int slot_elems = tiles.tile_rows * pitch;
  T* ring = t + dg.t_rows * pitch;
  const int tid = threadIdx.x;
  for (int r = tid; r < row_count; r += kThreads) {
    const RowTaps<T, K> row = load_row<T, K>(rows.first, rows.offset, rows.weights, r0 + r);
    StagedRow<T, K> s;
    s.n = row.n;
    s.rel = row.n > 0 ? static_cast<int>(row.first - a0) : 0;
#pragma unroll
    for (int k = 0; k < K; ++k) s.w[k] = row.w[k];
    staged[r] = s;
  }
  const int lanes = tiles.lanes, ay = tid / lanes, a_step = kThreads / lanes;
  const std::int64_t ustep = a_step * g.src_row;
  const int groups = pitch / V, row_step = kThreads / groups;
  const int e0 = (tid % groups) * V;
  const bool writes = tid < row_step * groups && e0 < elems;
  const Data* volume = src + p * g.src_plane + a0 * g.src_row;
  Data* out = dst + p * g.dst_plane + r0 * g.dst_row + c0 * inner + e0;
  std::int64_t next = 0;  // input planes below it are computed (or never read)
  for (std::int64_t d = d_begin; d < d_end; ++d) {
    const std::int64_t begin = depth.offset[d];
    const int n = static_cast<int>(depth.offset[d + 1] - begin);
    const std::int64_t f = depth.first[d];
    // The ring's missing planes of this row: cols pass into t, then rows pass from t into the ring.
    for (std::int64_t z = max(next, n > 0 ? f : next); z < f + n; ++z) {
      const Data* plane = volume + z * dg.src_depth;
      for (int e = tid % lanes; e < elems; e += lanes) {
        int c, channel;
        split_element(e, inner, c, channel);
        const RowTaps<T, K> col = load_row<T, K>(cols.first, cols.offset, cols.weights, c0 + c);
        const Data* x = plane + col.first * inner + channel;
        for (int a = ay; a < a_count; a += U * a_step) {
          bool valid[U];
#pragma unroll
          for (int u = 0; u < U; ++u) valid[u] = a + u * a_step < a_count;
          T acc[U];
          gather_lines<Data, T, K, U>(x + a * g.src_row, ustep, inner, col, valid, acc);
#pragma unroll
          for (int u = 0; u < U; ++u) {
            if (valid[u]) t[(a + u * a_step) * pitch + e] = acc[u];
          }
        }
      }
      __syncthreads();
      if (writes) {
        T* slot = ring + static_cast<int>(z % dg.slots) * slot_elems + e0;
        for (int r = tid / groups; r < row_count; r += row_step) {
          const StagedRow<T, K> staged_row = staged[r];
          RowTaps<T, K> row;
          row.first = 0;
          row.n = staged_row.n;
          row.weights = nullptr;
#pragma unroll
          for (int k = 0; k < K; ++k) row.w[k] = staged_row.w[k];
          T acc[V];
          gather_run<true, false>(t + staged_row.rel * pitch + e0, pitch, row, V, acc);
          store_shared(slot + r * pitch, acc);
        }
      }
      __syncthreads();  // t is rewritten for the next plane
    }
    if (n > 0) next = max(next, f + n);
    if (writes) {
      T w[kMaxDepthTaps];
      int at[kMaxDepthTaps];
#pragma unroll
      for (int k = 0; k < kMaxDepthTaps; ++k) {
        w[k] = k < n ? depth.weights[begin + k] : T(0);
        at[k] = k < n ? static_cast<int>((f + k) % dg.slots) * slot_elems + e0 : e0;
      }
      Data* out_plane = out + d * dg.dst_depth;
      for (int r = tid / groups; r < row_count; r += row_step) {
        T acc[V];
        if (n == 0) {
#pragma unroll
          for (int i = 0; i < V; ++i) acc[i] = T(0);
        } else {
          T v[V];
          load_run<true>(ring + at[0] + r * pitch, V, v);
#pragma unroll
          for (int i = 0; i < V; ++i) acc[i] = mul_rn(v[i], w[0]);
#pragma unroll
          for (int k = 1; k < kMaxDepthTaps; ++k) {
            if (k < n) {
              load_run<true>(ring + at[k] + r * pitch, V, v);
#pragma unroll
              for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(v[i], w[k]));
            }
          }
        }
        store_run<Data>(out_plane + r * g.dst_row, tiles.aligned, elems - e0, acc);
      }
    }
  }
}

}  // namespace fused

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
  switch (fused::taps_bound(taps)) {
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
  PlaneGeometry geometry;
  TileGeometry tiles;
  fused::DepthGeometry depth;
  std::vector<std::int64_t> ranges;
  std::int64_t shared_bytes = 0;
  std::int64_t blocks = 0;
  int kernel_taps = 0;
};

template <typename T>
bool configure(const DeviceArray& src, const DeviceArray& dst, int cols_axis, const plan::TapTable<T>& cols,
               int rows_axis, const plan::TapTable<T>& rows, int depth_axis, const plan::TapTable<T>& depth,
               VolumeConfig<T>& config) {
  if (src.dtype != dst.dtype || src.ndim != dst.ndim) return false;
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.shape[d] == 0 || src.shape[d] == 0) return false;
  }
  if (cols_axis == depth_axis || rows_axis == depth_axis) return false;
  if (src.shape[depth_axis] != depth.in_len || dst.shape[depth_axis] != depth.out_len) return false;
  if (!ring_walkable(depth)) return false;
  const int max_kernel_taps = static_cast<int>(std::max(cols.max_taps(), rows.max_taps()));
  if (max_kernel_taps > 8) return false;
  config.kernel_taps = max_kernel_taps;
  // rows and cols with the depth axis set aside: the pair's cols-first view, the depth axis outside it
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
  const std::int64_t tiles_r = (g.out_rows + tiles.tile_rows - 1) / tiles.tile_rows;
  const std::int64_t tiles_c = (g.out_cols + tiles.tile_cols - 1) / tiles.tile_cols;
  const std::int64_t per_plane = tiles_r * tiles_c;
  if (per_plane >= (std::int64_t{1} << 31)) return false;
  tiles.tiles_r = static_cast<unsigned>(tiles_r);
  tiles.tiles_c = static_cast<unsigned>(tiles_c);
  tiles.planes_per_block = 1;
  // Chunks along the depth axis only where the tiles of all planes leave multiprocessors idle.
  const std::int64_t base = per_plane * g.planes;
  const std::int64_t wanted = multiprocessor_count() * kBlocksPerMultiprocessor;
  std::int64_t chunks = 1;
  if (base < wanted) {
    chunks = std::min((wanted + base - 1) / base, std::max<std::int64_t>(1, depth.out_len / kMinChunk));
  }
  dg.chunk = (depth.out_len + chunks - 1) / chunks;
  chunks = (depth.out_len + dg.chunk - 1) / dg.chunk;
  dg.chunks = static_cast<unsigned>(chunks);
  config.blocks = base * chunks;
  return config.blocks < (std::int64_t{1} << 31);
}

template <typename Data, typename T>
void launch_typed(const DeviceArray& src, const DeviceArray& dst, VolumeConfig<T>& config, const DeviceTaps<T>& cols,
                  const DeviceTaps<T>& rows, const DeviceTaps<T>& depth, cudaStream_t stream) {
  constexpr int V = kRunOf<Data, T>;
  const PlaneGeometry& g = config.geometry;
  config.tiles.aligned = run_aligned<Data>(dst.data, V, g.dst_row) && (g.planes == 1 || g.dst_plane % V == 0) &&
                         (config.depth.out_depth == 1 || config.depth.dst_depth % V == 0) &&
                         (g.out_cols * g.inner) % V == 0 && (config.tiles.tile_cols * g.inner) % V == 0;
  std::int64_t* range = nullptr;
  const std::size_t bytes = config.ranges.size() * sizeof(std::int64_t);
  check(cudaMallocAsync(reinterpret_cast<void**>(&range), bytes, stream), "tile ranges");
  // Pageable source: the call returns once the ranges have been staged.
  check(cudaMemcpyAsync(range, config.ranges.data(), bytes, cudaMemcpyHostToDevice, stream), "tile range upload");
  config.tiles.range = range;
  const Data* in = static_cast<const Data*>(src.data);
  Data* out = static_cast<Data*>(dst.data);
  const unsigned blocks = static_cast<unsigned>(config.blocks);
  auto launch = [&](auto taps_bound) {
    constexpr int K = decltype(taps_bound)::value;
    fused::cols_rows_then_depth<Data, T, K><<<blocks, kThreads, config.shared_bytes, stream>>>(
        in, out, config.geometry, config.tiles, config.depth, cols, rows, depth);
  };
  switch (fused::taps_bound(config.kernel_taps)) {
    case 2: launch(std::integral_constant<int, 2>{}); break;
    case 4: launch(std::integral_constant<int, 4>{}); break;
    default: launch(std::integral_constant<int, 8>{}); break;
  }
  check(cudaGetLastError(), "fused volume launch");
  check(cudaFreeAsync(range, stream), "tile ranges");
}

}  // namespace

template <typename T>
bool launch_fused_volume(const DeviceArray& src, const DeviceArray& dst, int cols_axis, const plan::TapTable<T>& cols,
                         const DeviceTaps<T>& cols_taps, int rows_axis, const plan::TapTable<T>& rows,
                         const DeviceTaps<T>& rows_taps, int depth_axis, const plan::TapTable<T>& depth,
                         const DeviceTaps<T>& depth_taps, cudaStream_t stream) {
  VolumeConfig<T> config;
  if (!configure(src, dst, cols_axis, cols, rows_axis, rows, depth_axis, depth, config)) return false;
  if constexpr (sizeof(T) == 8) {
    launch_typed<double, T>(src, dst, config, cols_taps, rows_taps, depth_taps, stream);
  } else {
    switch (dst.dtype) {
      case DType::float16: launch_typed<Float16, T>(src, dst, config, cols_taps, rows_taps, depth_taps, stream); break;
      case DType::bfloat16: launch_typed<BFloat16, T>(src, dst, config, cols_taps, rows_taps, depth_taps, stream); break;
      default: launch_typed<float, T>(src, dst, config, cols_taps, rows_taps, depth_taps, stream); break;
    }
  }
  return true;
}

template bool launch_fused_volume<float>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<float>&,
                                         const DeviceTaps<float>&, int, const plan::TapTable<float>&,
                                         const DeviceTaps<float>&, int, const plan::TapTable<float>&,
                                         const DeviceTaps<float>&, cudaStream_t);
template bool launch_fused_volume<double>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<double>&,
                                          const DeviceTaps<double>&, int, const plan::TapTable<double>&,
                                          const DeviceTaps<double>&, int, const plan::TapTable<double>&,
                                          const DeviceTaps<double>&, cudaStream_t);

}  // namespace tessera::cuda
