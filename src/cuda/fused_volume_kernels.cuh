// fused_volume_kernels.cuh — the kernels of fused_volume.cu: cols, rows, then depth (each block walking
// the depth axis of one output tile with a ring of resampled input planes), and depth, rows, then cols.
#pragma once

#include <cstdint>

#include "cuda/fused_pair_kernels.cuh"

namespace tessera::cuda {
namespace fused {

// Most taps of a depth row in the ring kernel, and so the most planes of its ring; the depth-first
// kernel holds this many in registers and reads longer rows' other taps from the table.
constexpr int kMaxDepthTaps = 4;

struct DepthGeometry {
  std::int64_t src_depth = 0, dst_depth = 0;  // strides of the depth axis
  std::int64_t out_depth = 0;
  std::int64_t chunk = 0;                      // output planes per block
  unsigned chunks = 1;                         // blocks along the depth axis
  int slots = 1;                               // planes of the ring (>= the depth table's most taps)
  int t_rows = 0;                              // rows of the first-pass tile (the widest tile's input rows)
  // depth-first kernel: [begin, end) of the input rows each row tile reads
  const std::int64_t* row_range = nullptr;
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


// The output tile `tile_index` of a plane's tiles (row-major).
__device__ inline Tile tile_at(const PlaneGeometry& g, const TileGeometry& tiles, unsigned tile_index) {
  Tile t;
  t.tc = static_cast<int>(tile_index % tiles.tiles_c);
  t.tr = static_cast<int>(tile_index / tiles.tiles_c);
  t.r0 = static_cast<std::int64_t>(t.tr) * tiles.tile_rows;
  t.c0 = static_cast<std::int64_t>(t.tc) * tiles.tile_cols;
  t.row_count = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_rows), g.out_rows - t.r0));
  t.width = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_cols), g.out_cols - t.c0));
  t.plane_begin = t.plane_end = 0;
  return t;
}

// Depth first, then rows, then cols (all three shrink: the backward of trilinear upsampling, area
// downsampling). For each output plane d the block computes s[a][e] = depth row d's sum over the input
// planes, for the input rows a and elements e of a row that its output tile reads (runs of V elements,
// a run's taps loaded together), then t = the rows pass from s and the output tile = the cols pass from
// t, as rows_then_cols computes one plane. An input plane that two neighbouring depth rows read is loaded
// twice, the second time from L2 where it is still there; that measured faster than loading it once for
// both rows, and than walking the planes into two slots of sums (benchmarks/RESULTS.md).
template <typename Src, typename Dst, typename T, int K>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    depth_then_rows_cols(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g, TileGeometry tiles,
                         DepthGeometry dg, DeviceTaps<T> depth, DeviceTaps<T> rows, DeviceTaps<T> cols) {
  constexpr int V = kRun<T>;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  const int pitch = tiles.pitch;
  StagedRow<T, K>* staged = reinterpret_cast<StagedRow<T, K>*>(shared_bytes);
  T* s = reinterpret_cast<T*>(shared_bytes + staged_bytes<T, K>(tiles.tile_rows));
  T* t = s + dg.t_rows * pitch;
  const unsigned per_plane = tiles.tiles_r * tiles.tiles_c;
  const unsigned rest = blockIdx.x / per_plane, chunk = rest % dg.chunks;
  const std::int64_t p = rest / dg.chunks;
  const Tile tile = tile_at(g, tiles, blockIdx.x % per_plane);
  const std::int64_t e_begin = tiles.range[2 * tile.tc];
  const int span = static_cast<int>(tiles.range[2 * tile.tc + 1] - e_begin);
  const std::int64_t a0 = dg.row_range[2 * tile.tr];
  const int a_count = static_cast<int>(dg.row_range[2 * tile.tr + 1] - a0);
  const int runs = (span + V - 1) / V, items = a_count * runs;
  const Src* box = src + p * g.src_plane + a0 * g.src_row + e_begin;
  const std::int64_t d_begin = static_cast<std::int64_t>(chunk) * dg.chunk;
  const std::int64_t d_end = min(dg.out_depth, d_begin + dg.chunk);
  stage_rows(rows, tile.r0, tile.row_count, a0, staged);  // firsts relative to s's first row
  for (std::int64_t d = d_begin; d < d_end; ++d) {
    const RowTaps<T, kMaxDepthTaps> row = load_row<T, kMaxDepthTaps>(depth.first, depth.offset, depth.weights, d);
    const Src* x = box + row.first * dg.src_depth;
    for (int i = threadIdx.x; i < items; i += kThreads) {
      const int a = i / runs, q = i - a * runs;
      T acc[V];
      if (tiles.aligned) {
        gather_run<true, true>(x + a * g.src_row + q * V, dg.src_depth, row, span - q * V, acc);
      } else {
        gather_run<false, true>(x + a * g.src_row + q * V, dg.src_depth, row, span - q * V, acc);
      }
      store_shared_run(s + a * pitch + q * V, acc);
    }
    __syncthreads();
    rows_into_shared<true, T, T, K>(s, pitch, tiles.lanes, tile, staged, rows, span, t, pitch);
    __syncthreads();
    cols_from_shared<Dst, T, K>(t, e_begin, g, tiles, tile, cols, dst + d * dg.dst_depth, p);
    __syncthreads();  // s and t are rewritten for the next plane
  }
}

}  // namespace fused

}  // namespace tessera::cuda
