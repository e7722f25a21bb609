// axis_pass.cu — CUDA kernels for one axis pass.
//
// When the output's dims, taken in its memory order, split into [outer | axis | inner] blocks that are
// each dense in both arrays (always true for our buffers and for contiguous or channels-last user
// arrays), one of two kernels runs: "rows" (a block row per chunk of an output row, coalesced across the
// inner dims, 16-byte runs where aligned) or, when the axis is the innermost and contiguous, "lines"
// (whole input lines staged in shared memory).
// Otherwise a general kernel decodes every dim of each element. All compute each element exactly as the
// CPU does.
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/half_float.hpp"
#include "cuda/arithmetic.cuh"
#include "cuda/axis_pass.cuh"
#include "cuda/launch_buffer.hpp"
#include "cuda/vector_io.cuh"
#include "cuda/walk_rows.cuh"

namespace tessera::cuda {
namespace {

// Output flat index t = (o * axis_len + j) * inner + i.
struct BlockGeometry {
  std::int64_t outer, axis_len, inner;
  std::int64_t src_outer, src_axis, src_inner;
  std::int64_t dst_outer, dst_axis, dst_inner;
};

// Runs a thread of axis_pass_rows keeps in flight.
template <typename T, bool Aligned>
inline constexpr int kRowsInFlight = sizeof(T) == 8 && Aligned ? 2 : 4;

// The axis is not the innermost dim: each block row computes a chunk of one output row (o, j) of `inner`
// elements, read tap by tap from rows of the input, so every load and store is coalesced across the
// inner dim; rows are cut into chunks so that few long rows still fill the device. Aligned: the inner
// dim is contiguous in both arrays and every row starts on a run boundary, so a thread moves runs of
// kRun<T> elements with one 16-byte access. A thread keeps U runs (U * V elements) in flight (taps one
// at a time, so registers stay few and occupancy high); each element still sums its taps in table order.
template <bool Aligned, typename Src, typename Dst, typename T>
__global__ void __launch_bounds__(256, 4) axis_pass_rows(const Src* __restrict__ src, Dst* __restrict__ dst,
                                                         BlockGeometry g, DeviceTaps<T> taps, std::int64_t rows) {
  constexpr int V = Aligned ? kRun<T> : 1;
  constexpr int U = kRowsInFlight<T, Aligned>;
  const std::int64_t step = static_cast<std::int64_t>(blockDim.x);
  const std::int64_t runs = g.inner / V;
  const std::int64_t chunks = (runs + U * step - 1) / (U * step);
  for (std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * blockDim.y + threadIdx.y; item < rows * chunks;
       item += static_cast<std::int64_t>(gridDim.x) * blockDim.y) {
    const std::int64_t row = item / chunks;
    const std::int64_t j = row % g.axis_len;
    const std::int64_t o = row / g.axis_len;
    const std::int64_t begin = taps.offset[j];
    const std::int64_t n = taps.offset[j + 1] - begin;
    const T* w = taps.weights + begin;
    const Src* x = src + o * g.src_outer + taps.first[j] * g.src_axis;
    Dst* y = dst + o * g.dst_outer + j * g.dst_axis;
    const std::int64_t q0 = (item - row * chunks) * U * step + threadIdx.x;
    bool valid[U];
    T acc[U][V];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const std::int64_t i = (q0 + u * step) * V;
      valid[u] = q0 + u * step < runs;
      T v[V];
      if (valid[u] && n > 0) {
        if constexpr (Aligned) {
          load_run<true>(x + i, V, v);
        } else {
          v[0] = load<T>(x[i * g.src_inner]);
        }
      }
#pragma unroll
      for (int e = 0; e < V; ++e) acc[u][e] = (valid[u] && n > 0) ? mul_rn(v[e], w[0]) : T(0);
    }
#pragma unroll 1
    for (std::int64_t k = 1; k < n; ++k) {
      const Src* xk = x + k * g.src_axis;
      const T wk = w[k];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (!valid[u]) continue;
        const std::int64_t i = (q0 + u * step) * V;
        T v[V];
        if constexpr (Aligned) {
          load_run<true>(xk + i, V, v);
        } else {
          v[0] = load<T>(xk[i * g.src_inner]);
        }
#pragma unroll
        for (int e = 0; e < V; ++e) acc[u][e] = add_rn(acc[u][e], mul_rn(v[e], wk));
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (!valid[u]) continue;
      const std::int64_t i = (q0 + u * step) * V;
      if constexpr (Aligned) {
        store_run<Dst>(y + i, true, V, acc[u]);
      } else {
        y[i * g.dst_inner] = store<Dst>(acc[u][0]);
      }
    }
  }
}

// The axis is not the innermost dim and its table has long rows, each input row read by at most two
// output rows (walk_rows.cuh): a thread walks a run of V inner elements down the input rows of a tile of
// output rows, so each input element is loaded once (axis_pass_rows, one output row at a time, reads
// such rows twice, the second time from DRAM when the rows are long). Blocks take (outer index, row
// tile, chunk of runs), the chunk fastest, so that neighbouring blocks read neighbouring memory.
template <bool Aligned, typename Src, typename Dst, typename T>
__global__ void __launch_bounds__(walk::kWalkThreads, walk::kWalkMinBlocks)
    axis_pass_walk(const Src* __restrict__ src, Dst* __restrict__ dst, BlockGeometry g,
                   const walk::WalkTile* __restrict__ walks, const walk::WalkStep<T>* __restrict__ steps,
                   std::int64_t tile_rows, unsigned tiles, unsigned chunks) {
  constexpr int V = kRun<T>;
  const unsigned chunk = blockIdx.x % chunks, rest = blockIdx.x / chunks;
  const unsigned tile = rest % tiles;
  const std::int64_t o = rest / tiles;
  const std::int64_t i = (static_cast<std::int64_t>(chunk) * walk::kWalkThreads + threadIdx.x) * V;
  if (i >= g.inner) return;
  const walk::WalkTile w = walks[tile];
  const Src* x = src + o * g.src_outer + w.a_begin * g.src_axis + i;
  Dst* y = dst + o * g.dst_outer + tile * tile_rows * g.dst_axis + i;
  const int count = static_cast<int>(min(g.inner - i, static_cast<std::int64_t>(V)));
  const std::int64_t dst_axis = g.dst_axis;
  const auto store = [y, dst_axis, count](int r, const T (&acc)[V]) {
    store_run<Dst>(y + r * dst_axis, Aligned, count, acc);
  };
  walk::walk_run<Aligned>(x, g.src_axis, count, w.a_count, steps + w.step_begin, store);
}

// The axis is the innermost, contiguous dim: a block stages `lines` whole input lines in shared memory
// (one coalesced read), then computes their outputs from there.
template <typename Src, typename Dst, typename T>
__global__ void axis_pass_lines(const Src* __restrict__ src, Dst* __restrict__ dst, BlockGeometry g,
                                DeviceTaps<T> taps, std::int64_t lines_per_block) {
  extern __shared__ unsigned char shared_bytes[];
  T* staged = reinterpret_cast<T*>(shared_bytes);
  const std::int64_t in_len = taps.in_len, out_len = taps.out_len;
  const std::int64_t first_line = static_cast<std::int64_t>(blockIdx.x) * lines_per_block;
  // Block-local indices fit in 32 bits (a block stages at most a few thousand elements).
  const unsigned lines = static_cast<unsigned>(min(lines_per_block, g.outer - first_line));
  const unsigned in_count = static_cast<unsigned>(in_len), out_count = static_cast<unsigned>(out_len);
  for (unsigned e = threadIdx.x; e < lines * in_count; e += blockDim.x) {
    const unsigned line = e / in_count, k = e - line * in_count;
    staged[e] = load<T>(src[(first_line + line) * g.src_outer + k]);
  }
  __syncthreads();
  for (unsigned e = threadIdx.x; e < lines * out_count; e += blockDim.x) {
    const unsigned line = e / out_count, j = e - line * out_count;
    const std::int64_t begin = taps.offset[j];
    const T acc = gather<T, T>(staged + line * in_len + taps.first[j], 1, taps.weights + begin,
                               taps.offset[j + 1] - begin);
    dst[(first_line + line) * g.dst_outer + j] = store<Dst>(acc);
  }
}

struct GeneralGeometry {
  int ndim, axis;
  std::int64_t shape[kMaxDims];  // output shape, dims listed innermost first
  int dims[kMaxDims];            // the dim each entry refers to
  std::int64_t src_strides[kMaxDims];
  std::int64_t dst_strides[kMaxDims];
};

template <typename Src, typename Dst, typename T>
__global__ void axis_pass_general(const Src* __restrict__ src, Dst* __restrict__ dst, GeneralGeometry g,
                                  DeviceTaps<T> taps, std::int64_t total) {
  for (std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t rest = t, src_offset = 0, dst_offset = 0, j = 0;
    for (int e = 0; e < g.ndim; ++e) {
      const std::int64_t index = rest % g.shape[e];
      rest /= g.shape[e];
      dst_offset += index * g.dst_strides[g.dims[e]];
      if (g.dims[e] == g.axis) {
        j = index;
      } else {
        src_offset += index * g.src_strides[g.dims[e]];
      }
    }
    const std::int64_t begin = taps.offset[j];
    const std::int64_t n = taps.offset[j + 1] - begin;
    const Src* x = src + src_offset + taps.first[j] * g.src_strides[g.axis];
    dst[dst_offset] = store<Dst>(gather<Src, T>(x, g.src_strides[g.axis], taps.weights + begin, n));
  }
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("tessera CUDA: ") + what + ": " + cudaGetErrorString(status));
}

// Enough blocks to fill the current device several times over; grid-stride loops cover the rest.
std::int64_t block_limit() { return static_cast<std::int64_t>(multiprocessor_count()) * 64; }

unsigned grid_for(std::int64_t total, int threads) {
  const std::int64_t blocks = (total + threads - 1) / threads;
  return static_cast<unsigned>(std::min<std::int64_t>(blocks, std::int64_t{1} << 30));
}

// Splits the output's dims (memory order) into dense [outer | axis | inner] blocks, if possible.
bool blocked_geometry(const DeviceArray& src, const DeviceArray& dst, int axis, BlockGeometry& g) {
  int order[kMaxDims];
  int count = 0;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d == axis || dst.shape[d] > 1) order[count++] = d;
  }
  // Outermost first; equal strides (possible next to length-1 dims) keep dim order.
  std::stable_sort(order, order + count,
                   [&](int a, int b) { return std::llabs(dst.strides[a]) > std::llabs(dst.strides[b]); });
  int axis_pos = -1;
  for (int k = 0; k < count; ++k) {
    if (order[k] == axis) axis_pos = k;
  }
  // A run of dims is dense when each stride equals the next one's stride times its size, in both arrays.
  auto dense = [&](int from, int to, std::int64_t& size, std::int64_t& src_stride, std::int64_t& dst_stride) {
    size = 1;
    src_stride = dst_stride = 0;
    if (from >= to) return true;
    src_stride = src.strides[order[to - 1]];
    dst_stride = dst.strides[order[to - 1]];
    for (int k = to - 1; k >= from; --k) {
      const int d = order[k];
      if (src.strides[d] != src_stride * size || dst.strides[d] != dst_stride * size) return false;
      size *= dst.shape[d];
    }
    return true;
  };
  std::int64_t outer_size, inner_size;
  if (!dense(0, axis_pos, outer_size, g.src_outer, g.dst_outer)) return false;
  if (!dense(axis_pos + 1, count, inner_size, g.src_inner, g.dst_inner)) return false;
  g.outer = outer_size;
  g.inner = inner_size;
  g.axis_len = dst.shape[axis];
  g.src_axis = src.strides[axis];
  g.dst_axis = dst.strides[axis];
  return true;
}

// Runs axis_pass_walk where it applies (contiguous inner dims of a warp's runs at least, as narrower
// ones leave most of a block idle where axis_pass_rows packs rows into blocks; a table plan_walks
// accepts); false otherwise. Its row tiles hold all output rows, halved while that leaves too few blocks
// to fill the device (neighbouring tiles both read the input rows they share).
template <typename Src, typename Dst, typename T>
bool launch_walk(const Src* in, Dst* out, const BlockGeometry& g, bool aligned, const plan::TapTable<T>& table,
                 cudaStream_t stream) {
  if (g.src_inner != 1 || g.dst_inner != 1 || g.inner < 32 * kRun<T> || table.out_len == 0) return false;
  constexpr std::int64_t kRunsPerBlock = kRun<T> * walk::kWalkThreads;
  const std::int64_t chunks = (g.inner + kRunsPerBlock - 1) / kRunsPerBlock;
  const std::int64_t wanted = static_cast<std::int64_t>(multiprocessor_count()) * walk::kWalkMinBlocks * 2;
  std::int64_t tile_rows = table.out_len;
  while (tile_rows > 1 && g.outer * chunks * ((table.out_len + tile_rows - 1) / tile_rows) < wanted) {
    tile_rows = (tile_rows + 1) / 2;
  }
  std::vector<walk::WalkTile> walks;
  std::vector<walk::WalkStep<T>> steps;
  if (!walk::plan_walks(table, tile_rows, walks, steps)) return false;
  const std::int64_t tiles = static_cast<std::int64_t>(walks.size());
  if (g.outer * tiles * chunks >= (std::int64_t{1} << 31)) return false;
  LaunchBuffer buffer;
  const std::size_t walks_at = buffer.append(walks), steps_at = buffer.append(steps);
  buffer.upload(stream, "walk steps");
  const auto* device_walks = buffer.at<walk::WalkTile>(walks_at);
  const auto* device_steps = buffer.at<walk::WalkStep<T>>(steps_at);
  const unsigned grid = static_cast<unsigned>(g.outer * tiles * chunks);
  if (aligned) {
    axis_pass_walk<true, Src, Dst, T><<<grid, walk::kWalkThreads, 0, stream>>>(
        in, out, g, device_walks, device_steps, tile_rows, static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
  } else {
    axis_pass_walk<false, Src, Dst, T><<<grid, walk::kWalkThreads, 0, stream>>>(
        in, out, g, device_walks, device_steps, tile_rows, static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
  }
  check(cudaGetLastError(), "axis walk launch");
  return true;
}

template <typename Src, typename Dst, typename T>
void launch_typed(const DeviceArray& src, const DeviceArray& dst, int axis, const plan::TapTable<T>& table,
                  const DeviceTaps<T>& taps, cudaStream_t stream) {
  std::int64_t total = 1;
  for (int d = 0; d < dst.ndim; ++d) total *= dst.shape[d];
  if (total == 0) return;
  constexpr int kThreads = 256;
  const Src* in = static_cast<const Src*>(src.data);
  Dst* out = static_cast<Dst*>(dst.data);
  constexpr std::int64_t kStagedBytes = 48 * 1024;
  BlockGeometry blocked;
  const bool is_blocked = blocked_geometry(src, dst, axis, blocked);
  const std::int64_t line_bytes = taps.in_len * static_cast<std::int64_t>(sizeof(T));
  if (is_blocked && blocked.inner == 1 && blocked.src_axis == 1 && blocked.dst_axis == 1 && line_bytes <= kStagedBytes) {
    // Whole lines per block: at least ~4K staged inputs and ~1K outputs (so that shrinking passes keep
    // every thread busy), within the shared-memory budget.
    const std::int64_t wanted = std::max<std::int64_t>((4096 + taps.in_len - 1) / taps.in_len,
                                                       (1024 + taps.out_len - 1) / std::max<std::int64_t>(taps.out_len, 1));
    const std::int64_t per_block = std::max<std::int64_t>(1, std::min<std::int64_t>(wanted, kStagedBytes / line_bytes));
    const std::int64_t blocks = (blocked.outer + per_block - 1) / per_block;
    axis_pass_lines<Src, Dst, T><<<static_cast<unsigned>(blocks), kThreads, per_block * line_bytes, stream>>>(
        in, out, blocked, taps, per_block);
  } else if (is_blocked) {
    constexpr int V = kRun<T>;
    // (data wider than the compute type, a pairing the executor never makes, keeps element accesses)
    constexpr bool can_vectorise = sizeof(Src) <= sizeof(T) && sizeof(Dst) <= sizeof(T);
    const bool aligned = can_vectorise && blocked.src_inner == 1 && blocked.dst_inner == 1 && blocked.inner % V == 0 &&
                         run_aligned<Src>(in, V, blocked.src_outer) && blocked.src_axis % V == 0 &&
                         run_aligned<Dst>(out, V, blocked.dst_outer) && blocked.dst_axis % V == 0;
    if constexpr (can_vectorise) {
      if (launch_walk<Src, Dst, T>(in, out, blocked, aligned, table, stream)) return;
    }
    const std::int64_t runs = aligned ? blocked.inner / V : blocked.inner;
    const int threads_x = static_cast<int>(std::min<std::int64_t>(kThreads, (runs + 31) / 32 * 32));
    const int rows_per_block = kThreads / threads_x;
    const std::int64_t rows = blocked.outer * blocked.axis_len;
    const std::int64_t runs_per_chunk = threads_x * (aligned ? kRowsInFlight<T, true> : kRowsInFlight<T, false>);
    const std::int64_t items = rows * ((runs + runs_per_chunk - 1) / runs_per_chunk);
    const std::int64_t blocks = std::min<std::int64_t>((items + rows_per_block - 1) / rows_per_block, block_limit());
    const dim3 threads(threads_x, rows_per_block);
    const unsigned grid = static_cast<unsigned>(blocks);
    if constexpr (can_vectorise) {
      if (aligned) axis_pass_rows<true, Src, Dst, T><<<grid, threads, 0, stream>>>(in, out, blocked, taps, rows);
    }
    if (!aligned) axis_pass_rows<false, Src, Dst, T><<<grid, threads, 0, stream>>>(in, out, blocked, taps, rows);
  } else {
    GeneralGeometry g{};
    g.ndim = dst.ndim;
    g.axis = axis;
    int dims[kMaxDims];
    for (int d = 0; d < dst.ndim; ++d) dims[d] = d;
    std::sort(dims, dims + dst.ndim,
              [&](int a, int b) { return std::llabs(dst.strides[a]) < std::llabs(dst.strides[b]); });
    for (int e = 0; e < dst.ndim; ++e) {
      g.dims[e] = dims[e];
      g.shape[e] = dst.shape[dims[e]];
    }
    for (int d = 0; d < dst.ndim; ++d) {
      g.src_strides[d] = src.strides[d];
      g.dst_strides[d] = dst.strides[d];
    }
    axis_pass_general<Src, Dst, T><<<grid_for(total, kThreads), kThreads, 0, stream>>>(in, out, g, taps, total);
  }
  check(cudaGetLastError(), "axis pass launch");
}

template <typename T, typename Src>
void dispatch_dst(const DeviceArray& src, const DeviceArray& dst, int axis, const plan::TapTable<T>& table,
                  const DeviceTaps<T>& taps, cudaStream_t stream) {
  switch (dst.dtype) {
    case DType::float16: return launch_typed<Src, Float16, T>(src, dst, axis, table, taps, stream);
    case DType::bfloat16: return launch_typed<Src, BFloat16, T>(src, dst, axis, table, taps, stream);
    case DType::float32: return launch_typed<Src, float, T>(src, dst, axis, table, taps, stream);
    case DType::float64: return launch_typed<Src, double, T>(src, dst, axis, table, taps, stream);
  }
}

}  // namespace

int multiprocessor_count() {
  int device = 0, multiprocessors = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    return 128;
  }
  return multiprocessors;
}

template <typename T>
void launch_axis_pass(const DeviceArray& src, const DeviceArray& dst, int axis, const plan::TapTable<T>& table,
                      const DeviceTaps<T>& taps, cudaStream_t stream) {
  switch (src.dtype) {
    case DType::float16: return dispatch_dst<T, Float16>(src, dst, axis, table, taps, stream);
    case DType::bfloat16: return dispatch_dst<T, BFloat16>(src, dst, axis, table, taps, stream);
    case DType::float32: return dispatch_dst<T, float>(src, dst, axis, table, taps, stream);
    case DType::float64: return dispatch_dst<T, double>(src, dst, axis, table, taps, stream);
  }
}

template void launch_axis_pass<float>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<float>&,
                                      const DeviceTaps<float>&, cudaStream_t);
template void launch_axis_pass<double>(const DeviceArray&, const DeviceArray&, int, const plan::TapTable<double>&,
                                       const DeviceTaps<double>&, cudaStream_t);

}  // namespace tessera::cuda
