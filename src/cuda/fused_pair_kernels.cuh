// fused_pair_kernels.cuh — the kernels of fused_pair.cu (cols pass first, rows pass first, and rows
// pass first by walking down the input rows) and the geometry they share with its host side.
//
// Both arrays are viewed as [planes][rows][cols][inner]: `inner` is 1 for NCHW-like layouts and the
// channel count of a channels-last one, whose channels then simply ride along with each col. Along a row
// the flat index e = col * inner + channel is contiguous, so the passes that read along rows work on runs
// of V consecutive elements (one 16-byte access where aligned). A block owns one output tile of a
// plane and computes it for a range of planes, so the tile's set-up (its input range, its staged table
// rows) is paid once per block, not per plane.
#pragma once

#include <cstdint>

#include "core/half_float.hpp"
#include "cuda/arithmetic.cuh"
#include "cuda/axis_pass.cuh"
#include "cuda/vector_io.cuh"
#include "cuda/walk_rows.cuh"

namespace tessera::cuda::fused {

constexpr int kThreads = 256;
// Blocks per multiprocessor the kernels are compiled for (caps registers at 64 per thread).
constexpr int kMinBlocks = 4;

struct PlaneGeometry {
  std::int64_t planes = 0;
  std::int64_t src_plane = 0, dst_plane = 0;  // plane strides
  std::int64_t src_row = 0, dst_row = 0;      // row strides (a col is `inner` elements)
  std::int64_t in_rows = 0, in_cols = 0, out_rows = 0, out_cols = 0;
  int inner = 1;
};

struct TileGeometry {
  int tile_rows = 0, tile_cols = 0;  // output tile extent in rows and cols
  unsigned tiles_r = 0, tiles_c = 0;
  unsigned planes_per_block = 1;
  int pitch = 0;         // elements per row of the shared intermediate (a multiple of the run length)
  int lanes = 0;         // threads that share one row of the first pass
  int out_lanes = 0;     // threads that share one row of the second pass (rows-first kernel)
  // rows between one thread's rows in that pass (threads / out_lanes): a kernel parameter, since the
  // compiler, short of registers, recomputed the division for every output element
  int out_row_step = 0;
  bool aligned = false;  // rows of the big side (input of rows-first, output of cols-first) take whole runs
  // per tile along the first pass's axis: [begin, end) of its input (rows, or elements of a row)
  const std::int64_t* range = nullptr;
};

// The output tile of this block and its planes.
struct Tile {
  std::int64_t r0, c0;
  int tr, tc;
  int row_count, width;
  std::int64_t plane_begin, plane_end;
};

__device__ inline Tile block_tile(const PlaneGeometry& g, const TileGeometry& tiles) {
  Tile t;
  const unsigned per_plane = tiles.tiles_r * tiles.tiles_c;
  const unsigned tile = blockIdx.x % per_plane, group = blockIdx.x / per_plane;
  t.tc = static_cast<int>(tile % tiles.tiles_c);
  t.tr = static_cast<int>(tile / tiles.tiles_c);
  t.r0 = static_cast<std::int64_t>(t.tr) * tiles.tile_rows;
  t.c0 = static_cast<std::int64_t>(t.tc) * tiles.tile_cols;
  t.row_count = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_rows), g.out_rows - t.r0));
  t.width = static_cast<int>(min(static_cast<std::int64_t>(tiles.tile_cols), g.out_cols - t.c0));
  t.plane_begin = static_cast<std::int64_t>(group) * tiles.planes_per_block;
  t.plane_end = min(g.planes, t.plane_begin + tiles.planes_per_block);
  return t;
}

// The col and channel of flat element e of a row.
__device__ inline void split_element(int e, int inner, int& col, int& channel) {
  col = inner == 1 ? e : e / inner;
  channel = e - col * inner;
}

// One table row, staged in shared memory for a whole block: its first input relative to the block's
// first staged input, its tap count and (K > 0) its weights padded with zeros.
template <typename T, int K>
struct StagedRow {
  int rel;
  int n;
  T w[K > 0 ? K : 1];
};

// Bytes of `rows` staged rows, rounded up so that what follows them is 16-byte aligned.
template <typename T, int K>
__host__ __device__ constexpr std::int64_t staged_bytes(int rows) {
  return (rows * static_cast<std::int64_t>(sizeof(StagedRow<T, K>)) + 15) / 16 * 16;
}

// Stages table rows [r0, r0 + count) for the block (all threads; a barrier must follow): first inputs
// relative to `base` (the caller makes sure they fit an int).
template <typename T, int K>
__device__ inline void stage_rows(const DeviceTaps<T>& rows, std::int64_t r0, int count, std::int64_t base,
                                  StagedRow<T, K>* staged) {
  for (int r = threadIdx.x; r < count; r += blockDim.x) {
    const RowTaps<T, K> row = load_row<T, K>(rows.first, rows.offset, rows.weights, r0 + r);
    StagedRow<T, K> s;
    s.n = row.n;
    s.rel = row.n > 0 ? static_cast<int>(row.first - base) : 0;
#pragma unroll
    for (int k = 0; k < (K > 0 ? K : 0); ++k) s.w[k] = row.w[k];
    staged[r] = s;
  }
}

// acc[u] = sum_k x[u * ustep + k * kstep] * w[k] for the rows u < U with valid[u], k upwards.
template <typename Src, typename T, int K, int U>
__device__ inline void gather_lines(const Src* x, std::int64_t ustep, int kstep, const RowTaps<T, K>& col,
                                    const bool (&valid)[U], T (&acc)[U]) {
#pragma unroll
  for (int u = 0; u < U; ++u) acc[u] = (valid[u] && col.n > 0) ? mul_rn(load<T>(x[u * ustep]), col.w0()) : T(0);
  if constexpr (K > 0) {
#pragma unroll
    for (int k = 1; k < K; ++k) {
      if (k < col.n) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
          if (valid[u]) acc[u] = add_rn(acc[u], mul_rn(load<T>(x[u * ustep + k * kstep]), col.w[k]));
        }
      }
    }
  } else {
    for (int k = 1; k < col.n; ++k) {
      const T wk = col.weights[k];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (valid[u]) acc[u] = add_rn(acc[u], mul_rn(load<T>(x[u * ustep + k * kstep]), wk));
      }
    }
  }
}

// acc[i] = sum_k x[k * step + i] * w[k] for a run of V consecutive elements, k upwards. K > 0: the
// row's first K taps in registers and, where rows may have more (Longer: rows-first tables, whose
// longest 1/16 of rows may), the rest from the table; K == 0: weights from the table, four taps' loads
// issued before their (still ordered) additions.
template <bool Aligned, bool Longer, typename Src, typename T, int K, int V, typename Step>
__device__ inline void gather_run(const Src* x, Step step, const RowTaps<T, K>& row, int count, T (&acc)[V]) {
  if (row.n == 0) {
#pragma unroll
    for (int i = 0; i < V; ++i) acc[i] = T(0);
    return;
  }
  T v[V];
  load_run<Aligned>(x, count, v);
#pragma unroll
  for (int i = 0; i < V; ++i) acc[i] = mul_rn(v[i], row.w0());
  if constexpr (K > 0) {
#pragma unroll
    for (int k = 1; k < K; ++k) {
      if (k < row.n) {
        load_run<Aligned>(x + k * step, count, v);
#pragma unroll
        for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(v[i], row.w[k]));
      }
    }
    if constexpr (Longer) {
#pragma unroll 1
      for (int k = K; k < row.n; ++k) {
        load_run<Aligned>(x + k * step, count, v);
        const T wk = row.weights[k];
#pragma unroll
        for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(v[i], wk));
      }
    }
  } else {
    constexpr int kDepth = 4;
    int k = 1;
    for (; k + kDepth <= row.n; k += kDepth) {
      T vs[kDepth][V];
#pragma unroll
      for (int d = 0; d < kDepth; ++d) load_run<Aligned>(x + (k + d) * step, count, vs[d]);
#pragma unroll
      for (int d = 0; d < kDepth; ++d) {
        const T wk = row.weights[k + d];
#pragma unroll
        for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(vs[d][i], wk));
      }
    }
    for (; k < row.n; ++k) {
      load_run<Aligned>(x + k * step, count, v);
      const T wk = row.weights[k];
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(v[i], wk));
    }
  }
}

// gather_run for a row of exactly K taps, all in registers: the same sum with no tap predicated.
template <bool Aligned, typename Src, typename T, int K, int V>
__device__ inline void gather_run_full(const Src* x, int step, const T (&w)[K], int count, T (&acc)[V]) {
  T v[V];
  load_run<Aligned>(x, count, v);
#pragma unroll
  for (int i = 0; i < V; ++i) acc[i] = mul_rn(v[i], w[0]);
#pragma unroll
  for (int k = 1; k < K; ++k) {
    load_run<Aligned>(x + k * step, count, v);
#pragma unroll
    for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(v[i], w[k]));
  }
}

// The sum of a run for a staged row: gather_run_full where Full allows it and the row has exactly K
// taps (the bulk of the rows), else gather_run over the staged taps and, where the row has more or
// K == 0, the row's weights in the table, `weights()`, read only then.
template <bool Aligned, bool Longer, bool Full, typename Src, typename T, int K, int V, typename Weights>
__device__ inline void staged_run_sum(const Src* x, int step, const StagedRow<T, K>& s, int count,
                                      const Weights& weights, T (&acc)[V]) {
  if constexpr (Full && K > 0) {
    if (s.n == K) {
      gather_run_full<Aligned>(x, step, s.w, count, acc);
      return;
    }
  }
  RowTaps<T, K> row;
  row.first = 0;
  row.n = s.n;
#pragma unroll
  for (int k = 0; k < (K > 0 ? K : 0); ++k) row.w[k] = s.w[k];
  row.weights = (Longer || K == 0) ? weights() : nullptr;
  gather_run<Aligned, Longer>(x, step, row, count, acc);
}

// First pass along cols, then rows (typically both enlarge). For each plane the block computes
// t[a][e] = cols pass of input row a0 + a for the rows the output tile needs, then each output row from
// rows of t, a run of V elements per thread: 16 bytes of the output (8 elements of 16-bit data; runs of
// 4 measured slower), so one store per run and one or two 16-byte shared loads per tap.
template <typename Src, typename Dst, typename T, int K>
__global__ void __launch_bounds__(kThreads, K == 2 ? 6 : kMinBlocks)
    cols_then_rows(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g, TileGeometry tiles,
                   DeviceTaps<T> cols, DeviceTaps<T> rows) {
  constexpr int V = kRunOf<Dst, T>;
  constexpr int U = K == 2 || K == 4 ? 4 : 2;  // input rows per thread in flight in the first pass
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  StagedRow<T, K>* staged = reinterpret_cast<StagedRow<T, K>*>(shared_bytes);
  T* t = reinterpret_cast<T*>(shared_bytes + staged_bytes<T, K>(tiles.tile_rows));
  const Tile tile = block_tile(g, tiles);
  const std::int64_t a0 = tiles.range[2 * tile.tr];
  const int a_count = static_cast<int>(tiles.range[2 * tile.tr + 1] - a0);
  const int inner = g.inner, pitch = tiles.pitch;
  const int elems = tile.width * inner;
  const int tid = threadIdx.x;
  stage_rows(rows, tile.r0, tile.row_count, a0, staged);
  const int lanes = tiles.lanes, ay = tid / lanes, a_step = kThreads / lanes;
  const std::int64_t ustep = a_step * g.src_row;
  const int groups = pitch / V, row_step = kThreads / groups;
  const int e0 = (tid % groups) * V;
  const bool writes = tid < row_step * groups && e0 < elems;
  for (std::int64_t p = tile.plane_begin; p < tile.plane_end; ++p) {
    const Src* plane = src + p * g.src_plane + a0 * g.src_row;
    for (int e = tid % lanes; e < elems; e += lanes) {
      int c, channel;
      split_element(e, inner, c, channel);
      const RowTaps<T, K> col = load_row<T, K>(cols.first, cols.offset, cols.weights, tile.c0 + c);
      const Src* x = plane + col.first * inner + channel;
      for (int a = ay; a < a_count; a += U * a_step) {
        bool valid[U];
#pragma unroll
        for (int u = 0; u < U; ++u) valid[u] = a + u * a_step < a_count;
        T acc[U];
        gather_lines<Src, T, K, U>(x + a * g.src_row, ustep, inner, col, valid, acc);
#pragma unroll
        for (int u = 0; u < U; ++u) {
          if (valid[u]) t[(a + u * a_step) * pitch + e] = acc[u];
        }
      }
    }
    __syncthreads();
    // While this plane's output rows are computed, the next plane's input box travels into L2 (not in
    // the 2-tap kernel: within its 40 registers the prefetch measured slower).
    if constexpr (K != 2) {
      if (p + 1 < tile.plane_end) {
        const std::int64_t last = tile.c0 + tile.width - 1;
        const std::int64_t begin = cols.first[tile.c0] * inner;
        const std::int64_t end = (cols.first[last] + cols.offset[last + 1] - cols.offset[last]) * inner;
        prefetch_box(src + (p + 1) * g.src_plane + a0 * g.src_row, a_count, g.src_row, max(begin, std::int64_t{0}),
                     min(end, g.in_cols * inner));
      }
    }
    if (writes) {
      Dst* out = dst + p * g.dst_plane + tile.r0 * g.dst_row + tile.c0 * inner + e0;
      for (int r = tid / groups; r < tile.row_count; r += row_step) {
        const StagedRow<T, K> staged_row = staged[r];
        T acc[V];
        // cols-first tables have no row longer than K: the staged taps are all of them (K > 0). (2-tap
        // rows have one predicated tap, and the unpredicated copy of the sum cost the 2-tap and float64
        // 8-tap kernels spills.)
        staged_run_sum<true, false, (K >= 4 && K * sizeof(T) <= 32)>(
            t + staged_row.rel * pitch + e0, pitch, staged_row, V,
            [&] { return rows.weights + rows.offset[tile.r0 + r]; }, acc);
        store_run<Dst>(out + r * g.dst_row, tiles.aligned, elems - e0, acc);
      }
    }
    __syncthreads();  // t is rewritten for the next plane
  }
}

// The rows-first kernels' first pass: t[r][e] for the tile's output rows r and the input elements
// [0, span) of a row starting at `rows_at` (where input row staged[r].rel + k of output row r starts at
// rows_at + (staged[r].rel + k) * row_stride), a run of V elements per thread and tap. The block's
// threads form groups of `lanes`; group g takes rows g, g + groups, ..., so that neighbouring rows,
// which read common input rows, are summed at the same time. A group deals the (row, run) items of
// its rows to its lanes in turn, so that no lane idles while a row's last runs are done (rows of 65
// runs took three rounds of a warp's 32 lanes), and a lane steps to its next item without a division.
// Taps beyond K of a longer row come from the table. Offsets from rows_at are ints (the host checks
// that a plane's fit): 64-bit address arithmetic took more instructions than the sums.
template <bool Aligned, typename Src, typename T, int K>
__device__ inline void rows_into_shared(const Src* rows_at, int row_stride, int lanes, const Tile& tile,
                                        const StagedRow<T, K>* staged, const DeviceTaps<T>& rows, int span, T* t,
                                        int pitch) {
  constexpr int V = kRun<T>;
  const int runs = (span + V - 1) / V;
  if (runs == 0) return;
  const int groups = kThreads / lanes, lane = threadIdx.x % lanes;
  if constexpr (K == 0) {
    // Long rows (antialias, area): a group's lanes walk the runs of one row at a time, the row's table
    // entry loaded once; dealing their items as below measured 1.05-1.14x the time of this loop.
    for (int r = threadIdx.x / lanes; r < tile.row_count; r += groups) {
      const RowTaps<T, 0> row = load_row<T, 0>(rows.first, rows.offset, rows.weights, tile.r0 + r);
      const Src* x = rows_at + staged[r].rel * row_stride;
      for (int q = lane; q < runs; q += lanes) {
        T acc[V];
        gather_run<Aligned, true>(x + q * V, row_stride, row, span - q * V, acc);
        store_shared_run(t + r * pitch + q * V, acc);
      }
    }
    return;
  }
  const int j_step = lanes / runs, q_step = lanes - j_step * runs;
  // the group's j-th row is group + j * groups
  int j = lane / runs, q = lane - j * runs;
  for (int r = threadIdx.x / lanes + j * groups; r < tile.row_count; r = threadIdx.x / lanes + j * groups) {
    const StagedRow<T, K> s = staged[r];
    T acc[V];
    // (not for 8 taps of float64: the unpredicated copy of the sum cost the kernel spills)
    staged_run_sum<Aligned, true, (K * sizeof(T) <= 32)>(
        rows_at + (s.rel * row_stride + q * V), row_stride, s, span - q * V,
        [&] { return rows.weights + rows.offset[tile.r0 + r]; }, acc);
    store_shared_run(t + r * pitch + q * V, acc);
    q += q_step;
    j += j_step;
    if (q >= runs) {
      q -= runs;
      ++j;
    }
  }
}

// Output rows the long-tap cols pass sums at once.
constexpr int kColRows = 4;

// gather()'s sum for R rows of t `row_step` elements apart, each weight loaded once for all R: the same
// sums, each in increasing tap order from a plain first product.
template <int R, typename T>
__device__ inline void gather_rows(const T* x, int step, int row_step, const T* w, int n, T (&acc)[R]) {
  if (n == 0) {
#pragma unroll
    for (int i = 0; i < R; ++i) acc[i] = T(0);
    return;
  }
  const T w0 = w[0];
#pragma unroll
  for (int i = 0; i < R; ++i) acc[i] = mul_rn(x[i * row_step], w0);
#pragma unroll 2
  for (int k = 1; k < n; ++k) {
    const T wk = w[k];
    const T* xk = x + k * step;
#pragma unroll
    for (int i = 0; i < R; ++i) acc[i] = add_rn(acc[i], mul_rn(xk[i * row_step], wk));
  }
}

// The rows-first kernels' second pass: each output element of the tile's rows from the rows of t (input
// elements from e_begin of a row), one output element column per thread with its taps in registers.
template <typename Dst, typename T, int K>
__device__ inline void cols_from_shared(const T* t, std::int64_t e_begin, const PlaneGeometry& g,
                                        const TileGeometry& tiles, const Tile& tile, const DeviceTaps<T>& cols,
                                        Dst* dst, std::int64_t p) {
  const int tid = threadIdx.x;
  const int inner = g.inner, out_lanes = tiles.out_lanes, r_begin = tid / out_lanes;
  const int elems = tile.width * inner;
  if (r_begin >= tile.row_count) return;
  // pointers stepped from row to row: computing each address anew took more instructions than the sum
  const int t_step = tiles.out_row_step * tiles.pitch;
  const std::int64_t out_step = tiles.out_row_step * g.dst_row;
  Dst* out = dst + p * g.dst_plane + (tile.r0 + r_begin) * g.dst_row + tile.c0 * inner;
  for (int e = tid % out_lanes; e < elems; e += out_lanes) {
    int c, channel;
    split_element(e, inner, c, channel);
    const RowTaps<T, K> col = load_row<T, K>(cols.first, cols.offset, cols.weights, tile.c0 + c);
    const T* x = t + static_cast<int>(col.first * inner + channel - e_begin) + r_begin * tiles.pitch;
    Dst* o = out + e;
    if (K > 0 && col.n == K) {  // the bulk of the cols: no tap predicated
      for (int r = r_begin; r < tile.row_count; r += tiles.out_row_step, x += t_step, o += out_step) {
        T acc = mul_rn(x[0], col.w0());
#pragma unroll
        for (int k = 1; k < K; ++k) acc = add_rn(acc, mul_rn(x[k * inner], col.w[k]));
        *o = store<Dst>(acc);
      }
      continue;
    }
    int r = r_begin;
    if constexpr (K == 0) {
      // Long cols (antialias, area, x32 backward): kColRows output rows at a time, each tap's weight
      // loaded once for all of them (one row at a time loaded it again for every row).
      for (; r + (kColRows - 1) * tiles.out_row_step < tile.row_count;
           r += kColRows * tiles.out_row_step, x += kColRows * t_step, o += kColRows * out_step) {
        T acc[kColRows];
        gather_rows<kColRows>(x, inner, t_step, col.weights, col.n, acc);
#pragma unroll
        for (int i = 0; i < kColRows; ++i) o[i * out_step] = store<Dst>(acc[i]);
      }
    }
    for (; r < tile.row_count; r += tiles.out_row_step, x += t_step, o += out_step) {
      *o = store<Dst>(gather_row<T, T, K>(x, inner, col));
    }
  }
}

// First pass along rows, then cols (typically both shrink). For each plane the block computes
// t[r][e] = rows pass at input element e of a row for the tile's output rows r and the input elements
// its output cols need (runs of V elements: 16-byte loads where aligned), then the cols pass from t, one
// output element column per thread with its taps in registers. The tile's rows-pass table rows are
// staged once for all its planes.
template <typename Src, typename Dst, typename T, int K>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    rows_then_cols(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g, TileGeometry tiles,
                   DeviceTaps<T> rows, DeviceTaps<T> cols) {
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  StagedRow<T, K>* staged = reinterpret_cast<StagedRow<T, K>*>(shared_bytes);
  T* t = reinterpret_cast<T*>(shared_bytes + staged_bytes<T, K>(tiles.tile_rows));
  const Tile tile = block_tile(g, tiles);
  const std::int64_t e_begin = tiles.range[2 * tile.tc];
  const int span = static_cast<int>(tiles.range[2 * tile.tc + 1] - e_begin);
  // staged firsts relative to the tile's first row's (the host checks that the input rows fit an int)
  const std::int64_t base = rows.first[tile.r0];
  stage_rows(rows, tile.r0, tile.row_count, base, staged);
  __syncthreads();
  for (std::int64_t p = tile.plane_begin; p < tile.plane_end; ++p) {
    std::int64_t at = p * g.src_plane + base * g.src_row + e_begin;
    // kept in a register: the compiler otherwise rebuilt it from p for every (row, run) item
    asm("" : "+l"(at));
    const Src* rows_at = src + at;
    if (tiles.aligned) {
      rows_into_shared<true, Src, T, K>(rows_at, static_cast<int>(g.src_row), tiles.lanes, tile, staged, rows, span,
                                        t, tiles.pitch);
    } else {
      rows_into_shared<false, Src, T, K>(rows_at, static_cast<int>(g.src_row), tiles.lanes, tile, staged, rows,
                                         span, t, tiles.pitch);
    }
    __syncthreads();
    cols_from_shared<Dst, T, K>(t, e_begin, g, tiles, tile, cols, dst, p);
    __syncthreads();  // t is rewritten for the next plane
  }
}

// Rows pass by walking (walk_rows.cuh), then the cols pass from t.
template <typename Src, typename Dst, typename T>
__global__ void __launch_bounds__(walk::kWalkThreads, walk::kWalkMinBlocks)
    walk_rows_then_cols(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g, TileGeometry tiles,
                        const walk::WalkTile* __restrict__ walks, const walk::WalkStep<T>* __restrict__ steps,
                        DeviceTaps<T> cols) {
  constexpr int V = kRun<T>;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  T* t = reinterpret_cast<T*>(shared_bytes);
  const Tile tile = block_tile(g, tiles);
  const std::int64_t e_begin = tiles.range[2 * tile.tc];
  const int span = static_cast<int>(tiles.range[2 * tile.tc + 1] - e_begin);
  const walk::WalkTile row_walk = walks[tile.tr];
  const walk::WalkStep<T>* tile_steps = steps + row_walk.step_begin;
  const int tid = threadIdx.x, pitch = tiles.pitch;
  for (std::int64_t p = tile.plane_begin; p < tile.plane_end; ++p) {
    const Src* plane = src + p * g.src_plane + row_walk.a_begin * g.src_row + e_begin;
    for (int q = tid; q * V < span; q += walk::kWalkThreads) {
      T* at = t + q * V;
      const auto store = [at, pitch](int r, const T (&acc)[V]) { store_shared_run(at + r * pitch, acc); };
      if (tiles.aligned) {
        walk::walk_run<true>(plane + q * V, g.src_row, span - q * V, row_walk.a_count, tile_steps, store);
      } else {
        walk::walk_run<false>(plane + q * V, g.src_row, span - q * V, row_walk.a_count, tile_steps, store);
      }
    }
    __syncthreads();
    cols_from_shared<Dst, T, 0>(t, e_begin, g, tiles, tile, cols, dst, p);
    __syncthreads();  // t is rewritten for the next plane
  }
}

}  // namespace tessera::cuda::fused
