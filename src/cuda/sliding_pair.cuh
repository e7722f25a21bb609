// sliding_pair.cuh — the cols-first pass pair of few taps (upsampling by bilinear or bicubic tables)
// without shared intermediates: each thread owns a run of V output elements of a row and walks down
// R output rows, keeping the cols pass of the K input rows its current output row reads in registers
// (a window that slides down the input as the output rows advance). The cols-first kernel of
// fused_pair_kernels.cuh stages those rows in shared memory behind a barrier; here there is no barrier
// and no shared round trip, and each input row's cols pass is computed once per thread and reused by
// every output row that reads it. The sums are the same, term for term: cols pass acc = x0*w0, then
// acc + xk*wk upwards; rows pass over the window likewise.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/arithmetic.cuh"
#include "cuda/axis_pass.cuh"
#include "cuda/fused_pair_kernels.cuh"
#include "cuda/vector_io.cuh"

namespace tessera::cuda::sliding {

using fused::kMinBlocks;
using fused::kThreads;
using fused::PlaneGeometry;

// A rows-pass table row staged in shared memory for the block.
template <typename T, int K>
struct StagedRow {
  std::int64_t first;
  int n;
  T w[K];
};

template <typename T, int K>
__host__ __device__ constexpr std::int64_t staged_row_bytes(int rows) {
  return (rows * static_cast<std::int64_t>(sizeof(StagedRow<T, K>)) + 15) / 16 * 16;
}

struct SlideGeometry {
  int lanes = 0;             // threads along a row (a power of two, at most kThreads)
  int rows_per_thread = 0;   // output rows one thread walks down (R)
  int rows_per_block = 0;    // (kThreads / lanes) * R
  unsigned chunks = 0;       // blocks along a row
  unsigned row_blocks = 0;   // blocks along the rows of a plane
  bool dst_aligned = false;  // every whole output run aligned (vector stores)
};

// Elements per thread: 16 bytes of the output, at most 4 with 4-tap tables (registers: the window is
// K x V values).
template <typename Dst, int K>
inline constexpr int kSlideRun = std::min(16 / static_cast<int>(sizeof(Dst)), K == 4 ? 4 : 8);

// The cols pass of one input row for a thread's V elements. Per-element taps (plain layouts, where the
// V elements are V cols) are staged in shared memory for the block's elements, V x K weights being
// more registers than the window leaves; OneCol (channels-last rows whose channels fill whole runs):
// one col for all V elements, its K weights in registers and its input loaded as runs.
template <bool OneCol, typename Src, typename T, int K, int V>
struct ColTaps;

// Staged col taps of a block's elements: meta = tap count | first source element << kMetaShift, and
// the weights as w[k][element] (a thread's V weights of tap k are one vector load).
inline constexpr int kMetaShift = 3;

// Where the weights start: after the meta words, 16-byte aligned.
__host__ __device__ constexpr std::int64_t staged_weights_at(int elements) {
  return (static_cast<std::int64_t>(elements) * 4 + 15) / 16 * 16;
}

template <typename T, int K>
__host__ __device__ constexpr std::int64_t staged_col_bytes(int elements) {
  return staged_weights_at(elements) + (static_cast<std::int64_t>(elements) * K * sizeof(T) + 15) / 16 * 16;
}

template <typename Src, typename T, int K, int V>
struct ColTaps<false, Src, T, K, V> {
  int meta[V];
  const T* w;  // this thread's weights of tap 0 in shared memory; tap k is `stride` elements further
  int stride, inner;

  // Stages the taps of elements [chunk_e0, chunk_e0 + count) (all threads; a barrier must follow).
  __device__ static void stage(const DeviceTaps<T>& cols, std::int64_t chunk_e0, int count, std::int64_t elems,
                               int inner, unsigned char* shared) {
    int* meta = reinterpret_cast<int*>(shared);
    T* w = reinterpret_cast<T*>(shared + staged_weights_at(count));
    for (int e = threadIdx.x; e < count; e += kThreads) {
      const std::int64_t element = chunk_e0 + e;
      int m = 0;
      T wk[K] = {};
      if (element < elems) {
        const std::int64_t col = element / inner, channel = element - col * inner;
        const RowTaps<T, K> r = load_row<T, K>(cols.first, cols.offset, cols.weights, col);
        if (r.n > 0) m = r.n | static_cast<int>(r.first * inner + channel) << kMetaShift;
#pragma unroll
        for (int k = 0; k < K; ++k) wk[k] = r.w[k];
      }
      meta[e] = m;
#pragma unroll
      for (int k = 0; k < K; ++k) w[k * count + e] = wk[k];
    }
  }

  __device__ void fetch(int local_e0, int count, int inner_, const unsigned char* shared) {
    inner = inner_;
    stride = count;
    load_words(reinterpret_cast<const int*>(shared) + local_e0, reinterpret_cast<unsigned(&)[V]>(meta));
    w = reinterpret_cast<const T*>(shared + staged_weights_at(count)) + local_e0;
  }

  __device__ void apply(const Src* row, T (&h)[V]) const {
    T wk[K][V];
#pragma unroll
    for (int k = 0; k < K; ++k) load_run<true>(w + k * stride, V, wk[k]);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int n = meta[i] & ((1 << kMetaShift) - 1);
      const Src* x = row + (meta[i] >> kMetaShift);
      T acc = T(0);
      if (n > 0) {
        acc = mul_rn(load<T>(x[0]), wk[0][i]);
#pragma unroll
        for (int k = 1; k < K; ++k) {
          if (k < n) acc = add_rn(acc, mul_rn(load<T>(x[k * inner]), wk[k][i]));
        }
      }
      h[i] = acc;
    }
  }
};

template <typename Src, typename T, int K, int V>
struct ColTaps<true, Src, T, K, V> {
  RowTaps<T, K> col;
  std::int64_t base;
  int inner;

  __device__ void fetch(const DeviceTaps<T>& cols, std::int64_t e0, int inner_) {
    inner = inner_;
    const std::int64_t c = e0 / inner;
    col = load_row<T, K>(cols.first, cols.offset, cols.weights, c);
    base = col.first * inner + (e0 - c * inner);
  }

  __device__ void apply(const Src* row, T (&h)[V]) const {
    fused::gather_run<true, false>(row + base, inner, col, V, h);
  }
};

// The first element of the block's chunk of a row (lanes runs of V elements). Plain layouts stage the
// chunk's col taps here; the barrier also covers what the block staged before.
template <bool OneCol, typename Src, typename T, int K, int V>
__device__ inline std::int64_t stage_chunk(const DeviceTaps<T>& cols, unsigned chunk, int lanes, std::int64_t elems,
                                           int inner, unsigned char* col_shared) {
  const std::int64_t chunk_e0 = static_cast<std::int64_t>(chunk) * lanes * V;
  if constexpr (!OneCol) ColTaps<false, Src, T, K, V>::stage(cols, chunk_e0, lanes * V, elems, inner, col_shared);
  __syncthreads();
  return chunk_e0;
}

// The col taps of the run at `lane` of a chunk (first element e0).
template <bool OneCol, typename Src, typename T, int K, int V>
__device__ inline ColTaps<OneCol, Src, T, K, V> run_col_taps(const DeviceTaps<T>& cols, std::int64_t e0, int lane,
                                                             int lanes, int inner, const unsigned char* col_shared) {
  ColTaps<OneCol, Src, T, K, V> taps;
  if constexpr (OneCol) {
    taps.fetch(cols, e0, inner);
  } else {
    taps.fetch(lane * V, lanes * V, inner, col_shared);
  }
  return taps;
}

// Moves the window h (the passes of input rows a, a + 1, ..., a + K - 1) to start at input row
// `first`: rows it shares with the old window (a slide down by fewer than K rows) are kept, the others
// computed by compute(row, h[k]) where they exist (below `rows`).
template <typename T, int K, int V, typename Compute>
__device__ inline void slide_window(T (&h)[K][V], std::int64_t& a, std::int64_t first, std::int64_t rows,
                                    const Compute& compute) {
  const std::int64_t shift = first - a;
  if (shift == 0) return;
  const int keep = (shift > 0 && shift < K) ? K - static_cast<int>(shift) : 0;
#pragma unroll
  for (int step = 1; step < K; ++step) {
    if (step <= K - keep && keep > 0) {
#pragma unroll
      for (int k = 0; k + 1 < K; ++k) {
#pragma unroll
        for (int i = 0; i < V; ++i) h[k][i] = h[k + 1][i];
      }
    }
  }
  a = first;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    if (k >= keep && a + k < rows) compute(a + k, h[k]);
  }
}

// acc = h[0] * w[0] + h[1] * w[1] ... over the first n (> 0) rows of the window, in that order.
template <typename T, int K, int V>
__device__ inline void window_sum(const T (&h)[K][V], const T (&w)[K], int n, T (&acc)[V]) {
#pragma unroll
  for (int i = 0; i < V; ++i) acc[i] = mul_rn(h[0][i], w[0]);
#pragma unroll
  for (int k = 1; k < K; ++k) {
    if (k < n) {
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] = add_rn(acc[i], mul_rn(h[k][i], w[k]));
    }
  }
}

// Output rows [block_r0 + group * R, + R) of one plane, elements [e0, e0 + V) of each. 4-tap kernels
// get 80 registers (3 blocks per multiprocessor): at 64 their window spilled.
template <typename Src, typename Dst, typename T, int K, int V, bool OneCol>
__global__ void __launch_bounds__(kThreads, K == 4 ? 3 : kMinBlocks)
    slide_cols_then_rows(const Src* __restrict__ src, Dst* __restrict__ dst, PlaneGeometry g, SlideGeometry s,
                         DeviceTaps<T> cols, DeviceTaps<T> rows) {
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  StagedRow<T, K>* staged = reinterpret_cast<StagedRow<T, K>*>(shared_bytes);
  unsigned char* col_shared = shared_bytes + staged_row_bytes<T, K>(s.rows_per_block);
  const unsigned chunk = blockIdx.x % s.chunks, rest = blockIdx.x / s.chunks;
  const unsigned row_block = rest % s.row_blocks;
  const std::int64_t plane = rest / s.row_blocks;
  const std::int64_t block_r0 = static_cast<std::int64_t>(row_block) * s.rows_per_block;
  const int block_rows = static_cast<int>(min(static_cast<std::int64_t>(s.rows_per_block), g.out_rows - block_r0));
  for (int r = threadIdx.x; r < block_rows; r += kThreads) {
    const RowTaps<T, K> row = load_row<T, K>(rows.first, rows.offset, rows.weights, block_r0 + r);
    StagedRow<T, K> sr;
    sr.first = row.first;
    sr.n = row.n;
#pragma unroll
    for (int k = 0; k < K; ++k) sr.w[k] = row.w[k];
    staged[r] = sr;
  }
  const std::int64_t elems = g.out_cols * g.inner;
  const std::int64_t chunk_e0 = stage_chunk<OneCol, Src, T, K, V>(cols, chunk, s.lanes, elems, g.inner, col_shared);
  const int lane = threadIdx.x % s.lanes, group = threadIdx.x / s.lanes;
  const std::int64_t e0 = chunk_e0 + lane * V;
  const int r_begin = group * s.rows_per_thread;
  const int r_end = min(r_begin + s.rows_per_thread, block_rows);
  if (e0 >= elems || r_begin >= r_end) return;
  const ColTaps<OneCol, Src, T, K, V> taps =
      run_col_taps<OneCol, Src, T, K, V>(cols, e0, lane, s.lanes, g.inner, col_shared);
  const Src* in = src + plane * g.src_plane;
  Dst* out = dst + plane * g.dst_plane + block_r0 * g.dst_row + e0;
  const bool whole_run = s.dst_aligned && e0 + V <= elems;
  const int count = static_cast<int>(min(static_cast<std::int64_t>(V), elems - e0));
  T h[K][V];  // the cols pass of input rows a, a + 1, ..., a + K - 1
  std::int64_t a = -(std::int64_t{1} << 62);
  for (int r = r_begin; r < r_end; ++r) {
    const StagedRow<T, K> row = staged[r];
    T acc[V];
    if (row.n == 0) {
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] = T(0);
    } else {
      slide_window(h, a, row.first, g.in_rows, [&](std::int64_t at, T(&hk)[V]) { taps.apply(in + at * g.src_row, hk); });
      window_sum(h, row.w, row.n, acc);
    }
    store_run<Dst>(out + r * g.dst_row, whole_run, count, acc);
  }
}

// The blocks along an output row of `elems` elements, runs of V per thread (sets s.lanes, the threads
// of a block along the row).
inline std::int64_t row_chunks(std::int64_t elems, int V, SlideGeometry& s) {
  const std::int64_t threads_per_row = (elems + V - 1) / V;
  s.lanes = fused::lanes_for(threads_per_row);
  return (threads_per_row + s.lanes - 1) / s.lanes;
}

// Output rows (or planes) one thread walks down, for `length` of them shared among the `groups` of a
// block's threads along that axis and `blocks` blocks for each such run (sets `blocks_along`, the
// blocks along the axis): up to 64, so that the window's first rows are a small part of a walk (64
// measured 0.87-0.95x the time of 16 on x2 upsamplings and the bfloat16 x32 one, but 1.03-1.08x on the
// float32 x32 one), evened out over the blocks (the x32 upsampling's 480 rows in 4 blocks of 2 x 60,
// not 3 of 2 x 64 and one half empty), fewer where the grid would have under four waves of blocks.
inline int walk_length(std::int64_t length, int groups, std::int64_t blocks, std::int64_t& blocks_along) {
  const std::int64_t wanted_blocks = 4LL * multiprocessor_count() * kMinBlocks;
  std::int64_t most = 64, R = 0;
  for (;; most /= 2) {
    blocks_along = (length + groups * most - 1) / (groups * most);
    R = (length + blocks_along * groups - 1) / (blocks_along * groups);
    if (most <= 2 || blocks * blocks_along >= wanted_blocks) break;
  }
  return static_cast<int>(R);
}

// Launches the sliding kernel for a cols-first pair whose tables have at most 4 taps per row; false
// where it does not apply (the caller then takes the staged cols-first kernel). The caller checks the
// launch.
template <typename Src, typename Dst, typename T>
bool launch_sliding_pair(const DeviceArray& src, const DeviceArray& dst, const PlaneGeometry& g, std::int64_t taps,
                         const DeviceTaps<T>& cols, const DeviceTaps<T>& rows, cudaStream_t stream) {
  const int K = taps_bound(taps);
  if (K != 2 && K != 4) return false;
  // first source elements of a row fit the staged col taps' meta word
  if (g.in_cols * g.inner >= (std::int64_t{1} << (31 - kMetaShift))) return false;
  auto run = [&](auto k_value, auto one_col) {
    constexpr int KK = decltype(k_value)::value;
    constexpr bool OneCol = decltype(one_col)::value;
    constexpr int V = kSlideRun<Dst, KK>;
    SlideGeometry s;
    const std::int64_t elems = g.out_cols * g.inner;
    const std::int64_t chunks = row_chunks(elems, V, s);
    const int groups = kThreads / s.lanes;
    std::int64_t row_blocks = 0;
    s.rows_per_thread = walk_length(g.out_rows, groups, g.planes * chunks, row_blocks);
    s.rows_per_block = groups * s.rows_per_thread;
    const std::int64_t blocks = g.planes * row_blocks * chunks;
    if (blocks >= (std::int64_t{1} << 31) || chunks * row_blocks >= (std::int64_t{1} << 31)) return false;
    s.chunks = static_cast<unsigned>(chunks);
    s.row_blocks = static_cast<unsigned>(row_blocks);
    s.dst_aligned = run_aligned<Dst>(dst.data, V, g.dst_row) && (g.planes == 1 || g.dst_plane % V == 0) && elems % V == 0;
    const std::size_t shared = static_cast<std::size_t>(
        staged_row_bytes<T, KK>(s.rows_per_block) + (OneCol ? 0 : staged_col_bytes<T, KK>(s.lanes * V)));
    slide_cols_then_rows<Src, Dst, T, KK, V, OneCol><<<static_cast<unsigned>(blocks), kThreads, shared, stream>>>(
        static_cast<const Src*>(src.data), static_cast<Dst*>(dst.data), g, s, cols, rows);
    return true;
  };
  // One col per run, loaded as runs: channels-last rows whose channels fill whole runs, every run aligned.
  auto one_col = [&](auto k_value) {
    constexpr int V = kSlideRun<Dst, decltype(k_value)::value>;
    return g.inner % V == 0 && run_aligned<Src>(src.data, V, g.src_row) && (g.planes == 1 || g.src_plane % V == 0);
  };
  if (K == 2) {
    return one_col(std::integral_constant<int, 2>{}) ? run(std::integral_constant<int, 2>{}, std::true_type{})
                                                     : run(std::integral_constant<int, 2>{}, std::false_type{});
  }
  // 4-tap runs of several cols (V x K weights, 80 registers) measured slower than the staged kernel.
  return one_col(std::integral_constant<int, 4>{}) && run(std::integral_constant<int, 4>{}, std::true_type{});
}

}  // namespace tessera::cuda::sliding
