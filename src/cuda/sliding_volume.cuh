// sliding_volume.cuh — the cols, rows, then depth passes of a 3-D plan whose three tables have at most
// 2 taps per row (trilinear or nearest upsampling) without shared intermediates: each thread owns a
// run of V output elements of one output row and walks down R output planes, keeping the cols and rows
// passes of the 2 input planes its current output plane reads in registers (a window that slides down
// the depth axis, as sliding_pair.cuh's slides down the rows). The ring kernel of fused_volume_kernels.cuh
// computes each input plane of a tile into shared memory behind two barriers per plane. The sums are
// the same, term for term: cols pass x0*w0 (+ x1*w1), rows pass over those, depth pass over those.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/arithmetic.cuh"
#include "cuda/axis_pass.cuh"
#include "cuda/fused_pair_kernels.cuh"
#include "cuda/sliding_pair.cuh"
#include "cuda/vector_io.cuh"

namespace tessera::cuda::sliding {

// The depth axis of a volume (the planes of PlaneGeometry are its other outer dims).
struct SlideDepth {
  std::int64_t src_depth = 0, dst_depth = 0;  // strides
  int planes_per_thread = 0;  // output planes one thread walks down (R)
  unsigned depth_blocks = 0;  // blocks along the depth axis
};

// The rows pass at one output row of input plane `plane` (its rows `g.src_row` apart): the row's taps
// over the cols pass of the input rows they read.
template <typename Src, typename T, int K, int V, bool OneCol>
__device__ inline void rows_of_cols(const Src* plane, std::int64_t src_row, const RowTaps<T, K>& row,
                                    const ColTaps<OneCol, Src, T, K, V>& taps, T (&h)[V]) {
  if (row.n == 0) {
#pragma unroll
    for (int i = 0; i < V; ++i) h[i] = T(0);
    return;
  }
  T c[V];
  taps.apply(plane + row.first * src_row, c);
#pragma unroll
  for (int i = 0; i < V; ++i) h[i] = mul_rn(c[i], row.w[0]);
#pragma unroll
  for (int k = 1; k < K; ++k) {
    if (k < row.n) {
      taps.apply(plane + (row.first + k) * src_row, c);
#pragma unroll
      for (int i = 0; i < V; ++i) h[i] = add_rn(h[i], mul_rn(c[i], row.w[k]));
    }
  }
}

// Output planes [depth_block * R, + R) of one volume, output row `block_row0 + group`, elements
// [e0, e0 + V) of it. 16-bit plain layouts (8 elements, each with its own staged col taps) get 80
// registers (3 blocks per multiprocessor): at 64 they spilled.
template <typename Data, typename T, int V, bool OneCol>
__global__ void __launch_bounds__(kThreads, sizeof(Data) == 2 && !OneCol ? 3 : kMinBlocks)
    slide_cols_rows_then_depth(const Data* __restrict__ src, Data* __restrict__ dst, PlaneGeometry g,
                               SlideGeometry s, SlideDepth sd, DeviceTaps<T> cols, DeviceTaps<T> rows,
                               DeviceTaps<T> depth) {
  constexpr int K = 2;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  const unsigned chunk = blockIdx.x % s.chunks;
  unsigned rest = blockIdx.x / s.chunks;
  const unsigned row_block = rest % s.row_blocks;
  rest /= s.row_blocks;
  const unsigned depth_block = rest % sd.depth_blocks;
  const std::int64_t volume = rest / sd.depth_blocks;
  const std::int64_t elems = g.out_cols * g.inner;
  const std::int64_t chunk_e0 = stage_chunk<OneCol, Data, T, K, V>(cols, chunk, s.lanes, elems, g.inner, shared_bytes);
  const int lane = threadIdx.x % s.lanes, group = threadIdx.x / s.lanes;
  const std::int64_t e0 = chunk_e0 + lane * V;
  const std::int64_t r = static_cast<std::int64_t>(row_block) * s.rows_per_block + group;
  const std::int64_t d_begin = static_cast<std::int64_t>(depth_block) * sd.planes_per_thread;
  const std::int64_t d_end = min(depth.out_len, d_begin + sd.planes_per_thread);
  if (e0 >= elems || r >= g.out_rows) return;
  const ColTaps<OneCol, Data, T, K, V> taps =
      run_col_taps<OneCol, Data, T, K, V>(cols, e0, lane, s.lanes, g.inner, shared_bytes);
  const RowTaps<T, K> row = load_row<T, K>(rows.first, rows.offset, rows.weights, r);
  const Data* in = src + volume * g.src_plane;
  Data* out = dst + volume * g.dst_plane + r * g.dst_row + e0;
  const bool whole_run = s.dst_aligned && e0 + V <= elems;
  const int count = static_cast<int>(min(static_cast<std::int64_t>(V), elems - e0));
  T h[K][V];  // the cols and rows passes of input planes a, a + 1
  std::int64_t a = -(std::int64_t{1} << 62);
  for (std::int64_t d = d_begin; d < d_end; ++d) {
    const RowTaps<T, K> plane_taps = load_row<T, K>(depth.first, depth.offset, depth.weights, d);
    T acc[V];
    if (plane_taps.n == 0) {
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] = T(0);
    } else {
      const std::int64_t shift = plane_taps.first - a;
      if (shift != 0) {
        // slide_window's rule for a window of 2 planes, written out (slide_window itself compiles to
        // other code here, not measured): a slide by one plane keeps the input plane this output
        // plane shares with the previous one; any other move computes both.
        const bool keep = shift == 1;
        if (keep) {
#pragma unroll
          for (int i = 0; i < V; ++i) h[0][i] = h[1][i];
        }
        a = plane_taps.first;
#pragma unroll
        for (int k = 0; k < K; ++k) {
          if ((k > 0 || !keep) && a + k < depth.in_len) rows_of_cols(in + (a + k) * sd.src_depth, g.src_row, row, taps, h[k]);
        }
      }
      window_sum(h, plane_taps.w, plane_taps.n, acc);
    }
    store_run<Data>(out + d * sd.dst_depth, whole_run, count, acc);
  }
}

// Launches the sliding kernel for a cols, rows, depth plan whose three tables have at most 2 taps per
// row; false where it does not apply (the caller then takes the ring kernel). The caller checks the
// launch.
template <typename Data, typename T>
bool launch_sliding_volume(const DeviceArray& src, const DeviceArray& dst, const PlaneGeometry& g, SlideDepth sd,
                           std::int64_t taps, const DeviceTaps<T>& cols, const DeviceTaps<T>& rows,
                           const DeviceTaps<T>& depth, cudaStream_t stream) {
  constexpr int K = 2;
  if (taps > K) return false;
  // first source elements of a row fit the staged col taps' meta word
  if (g.in_cols * g.inner >= (std::int64_t{1} << (31 - kMetaShift))) return false;
  constexpr int V = kSlideRun<Data, K>;
  SlideGeometry s;
  const std::int64_t elems = g.out_cols * g.inner;
  const std::int64_t chunks = row_chunks(elems, V, s);
  s.rows_per_thread = 1;
  s.rows_per_block = kThreads / s.lanes;
  const std::int64_t row_blocks = (g.out_rows + s.rows_per_block - 1) / s.rows_per_block;
  std::int64_t depth_blocks = 0;
  sd.planes_per_thread = walk_length(depth.out_len, 1, g.planes * row_blocks * chunks, depth_blocks);
  const std::int64_t blocks = g.planes * depth_blocks * row_blocks * chunks;
  if (blocks >= (std::int64_t{1} << 31) || chunks * row_blocks * depth_blocks >= (std::int64_t{1} << 31)) return false;
  s.chunks = static_cast<unsigned>(chunks);
  s.row_blocks = static_cast<unsigned>(row_blocks);
  sd.depth_blocks = static_cast<unsigned>(depth_blocks);
  s.dst_aligned = run_aligned<Data>(dst.data, V, g.dst_row) && (g.planes == 1 || g.dst_plane % V == 0) &&
                  (depth.out_len == 1 || sd.dst_depth % V == 0) && elems % V == 0;
  // One col per run, loaded as runs: channels-last rows whose channels fill whole runs, every run aligned.
  const bool one_col = g.inner % V == 0 && run_aligned<Data>(src.data, V, g.src_row) &&
                       (g.planes == 1 || g.src_plane % V == 0) && (depth.in_len == 1 || sd.src_depth % V == 0);
  const Data* in = static_cast<const Data*>(src.data);
  Data* out = static_cast<Data*>(dst.data);
  if (one_col) {
    slide_cols_rows_then_depth<Data, T, V, true>
        <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(in, out, g, s, sd, cols, rows, depth);
  } else {
    const std::size_t shared = static_cast<std::size_t>(staged_col_bytes<T, K>(s.lanes * V));
    slide_cols_rows_then_depth<Data, T, V, false>
        <<<static_cast<unsigned>(blocks), kThreads, shared, stream>>>(in, out, g, s, sd, cols, rows, depth);
  }
  return true;
}

}  // namespace tessera::cuda::sliding
