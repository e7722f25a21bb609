// axis_pass.cpp — the strided single-axis gather, in two loop orders that compute identical bits:
// "along" when the resampled axis is the innermost of the output (8 or 16 lines at a time, interleaved in a
// scratch block, long lines in cache-sized chunks; line_block.hpp moves float32 lines with AVX2 or AVX-512;
// channels-last pixels of 2-4 channels and 3 or more taps take this order too, as PixelRows) and "across" otherwise (whole
// rows of the innermost dim accumulate tap by tap; short_rows.hpp holds rows of at most 64 floats, and
// input_order_rows.hpp takes shrinking passes with many taps in the order of their input rows).
#include "cpu/axis_pass.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "core/half_float.hpp"
#include "cpu/thread_pool.hpp"
#include "cpu/tap_rows.hpp"

// This file is compiled once per CPU target (see CMakeLists.txt): TESSERA_CPU_TARGET names the namespace
// of each copy, and axis_pass_dispatch.cpp picks one at run time. The copies differ only in vector width;
// every element is computed with the same operations, so all targets give the same bits.
#ifndef TESSERA_CPU_TARGET
#define TESSERA_CPU_TARGET baseline
#endif

#include "cpu/input_order_rows.hpp"
#include "cpu/line_block.hpp"
#include "cpu/permuted_lines.hpp"
#include "cpu/short_rows.hpp"
#include "cpu/streaming_rows.hpp"

namespace tessera::cpu::TESSERA_CPU_TARGET {
namespace {

// Offsets of a flat index over a subset of dims (last listed dim fastest).
struct DimWalker {
  int count = 0;
  std::array<int, kMaxDims> dims{};
  std::array<std::int64_t, kMaxDims> sizes{};

  std::int64_t total() const {
    std::int64_t n = 1;
    for (int i = 0; i < count; ++i) n *= sizes[i];
    return n;
  }
  void offsets(std::int64_t flat, const StridedArray& src, const StridedArray& dst, std::int64_t& src_offset,
               std::int64_t& dst_offset) const {
    src_offset = 0;
    dst_offset = 0;
    for (int i = count - 1; i >= 0; --i) {
      const std::int64_t index = flat % sizes[i];
      flat /= sizes[i];
      src_offset += index * src.strides[dims[i]];
      dst_offset += index * dst.strides[dims[i]];
    }
  }
};

// Splits [0, count) over the pool's threads, or runs it on the calling thread alone.
template <typename Body>
void run_parts(Threads threads, std::int64_t count, std::int64_t cost_per_item, const Body& body) {
  if (threads == Threads::caller) {
    if (count > 0) body(std::int64_t{0}, count);
  } else {
    parallel_for(count, cost_per_item, body);
  }
}

// Lines resampled together (kLines of them, line_block.hpp): their samples are interleaved in a scratch
// block (sample k of line l at k * kLines + l), so each tap is one multiply and one add over kLines
// adjacent values, which the compiler vectorises. Every output is still its own sum of taps in table
// order. Contiguous float32 lines move in and out of the block by kLines x kLines transposes.
constexpr std::int64_t kLines = LineBlock::count;

// A run of outputs [j0, j1) of an along pass and the input samples [k0, k1) they read.
struct LineChunk {
  std::int64_t j0, j1, k0, k1;
};

// A pass along W of channels-last data with C channels (pixels_run_along), seen as a pass along the merged (W, C)
// axis of C times as many elements: output j is channel j % C of pixel j / C, and its taps are C input
// elements apart. Each output element keeps its taps, weights and order, so the bits are those of the
// pass across pixel rows; the gain is the along loop order, which fills vector lanes with 8 or 16 lines
// where rows of C floats would fill only C lanes.
template <typename T, int C>
struct PixelRows {
  TapRows<T> pixels;
  std::int64_t in_len, out_len;
  static constexpr std::int64_t step = C;

  explicit PixelRows(const TapRows<T>& rows) : pixels(rows), in_len(rows.in_len * C), out_len(rows.out_len * C) {}
  std::int64_t first(std::int64_t j) const { return pixels.first(j / C) * C + j % C; }
  std::int64_t taps(std::int64_t j) const { return pixels.taps(j / C); }
  const T* row(std::int64_t j) const { return pixels.row(j / C); }
  std::int64_t max_taps() const { return pixels.max_taps(); }
};

// The kLines lines of block `block` of an along pass: their starts in src and dst, and how many are real
// (a short last block repeats its last line; only real lines are stored).
template <typename Src, typename Dst>
std::int64_t block_lines(const DimWalker& lines, std::int64_t block, const StridedArray& src, const StridedArray& dst,
                         const Src* in, Dst* out, const Src* (&line_in)[kLines], Dst* (&line_out)[kLines]) {
  const std::int64_t first_line = block * kLines;
  const std::int64_t count = std::min(kLines, lines.total() - first_line);
  for (std::int64_t l = 0; l < kLines; ++l) {
    std::int64_t src_offset, dst_offset;
    lines.offsets(first_line + std::min(l, count - 1), src, dst, src_offset, dst_offset);
    line_in[l] = in + src_offset;
    line_out[l] = out + dst_offset;
  }
  return count;
}

// Cuts a line's outputs into runs of whole groups of kLines whose inputs span at most kMaxSpan samples
// (at least one group each), so that the interleaved samples of a run stay in the cache.
template <typename Rows>
std::vector<LineChunk> line_chunks(const Rows& table) {
  constexpr std::int64_t kMaxSpan = 1024;
  if (table.in_len <= kMaxSpan) return {LineChunk{0, table.out_len, 0, table.in_len}};
  std::vector<LineChunk> chunks;
  for (std::int64_t j = 0; j < table.out_len;) {
    LineChunk c{j, j, table.in_len, 0};
    while (c.j1 < table.out_len) {
      const std::int64_t j_end = std::min(c.j1 + kLines, table.out_len);
      std::int64_t k0 = c.k0, k1 = c.k1;
      for (std::int64_t i = c.j1; i < j_end; ++i) {
        if (table.taps(i) == 0) continue;  // reads nothing (and its `first` means nothing)
        k0 = std::min(k0, table.first(i));
        k1 = std::max(k1, table.first(i) + (table.taps(i) - 1) * Rows::step + 1);
      }
      if (c.j1 > c.j0 && k1 - k0 > kMaxSpan) break;
      c.j1 = j_end;
      c.k0 = k0;
      c.k1 = k1;
    }
    if (c.k1 <= c.k0) c.k0 = c.k1 = 0;
    chunks.push_back(c);
    j = c.j1;
  }
  return chunks;
}

// contiguous: float32 compute, float32 or 16-bit data, unit steps along the axis in both arrays. 16-bit
// lines are converted to float32 a chunk at a time (a loop that vectorises) before they are interleaved,
// and outputs are rounded to 16 bits after the transposed block is computed.
template <typename Src, typename Dst, typename T, bool contiguous, typename Rows>
void gather_along_lines(const StridedArray& src, const StridedArray& dst, int axis, const Rows& table,
                        const DimWalker& lines, Threads threads) {
  const Src* in = static_cast<const Src*>(src.data);
  Dst* out = static_cast<Dst*>(dst.data);
  const std::int64_t in_step = src.strides[axis];
  const std::int64_t out_step = dst.strides[axis];
  const std::int64_t out_len = table.out_len;
  const std::vector<LineChunk> chunks = line_chunks(table);
  std::int64_t widest = 1;
  for (const LineChunk& c : chunks) widest = std::max(widest, c.k1 - c.k0);
  const std::int64_t blocks = (lines.total() + kLines - 1) / kLines;
  run_parts(threads, blocks, kLines * out_len * table.max_taps(), [&](std::int64_t begin, std::int64_t end) {
    // Aligned to a cache line, so that a sample row of 16 floats is one line and no load splits.
    constexpr std::size_t kSlack = 64 / sizeof(T);
    std::unique_ptr<T[]> samples(new T[static_cast<std::size_t>(widest * kLines) + kSlack]);
    T* x = samples.get() + (kSlack - reinterpret_cast<std::uintptr_t>(samples.get()) % 64 / sizeof(T)) % kSlack;
    constexpr bool stage = contiguous && !std::is_same_v<Src, float>;
    std::unique_ptr<float[]> staged(stage ? new float[static_cast<std::size_t>(widest * kLines)] : nullptr);
    const Src* line_in[kLines];
    Dst* line_out[kLines];
    for (std::int64_t block = begin; block < end; ++block) {
      const std::int64_t count = block_lines(lines, block, src, dst, in, out, line_in, line_out);
      for (const LineChunk& c : chunks) {
        const Src* chunk_in[kLines];
        for (std::int64_t l = 0; l < kLines; ++l) chunk_in[l] = line_in[l] + c.k0 * in_step;
        if constexpr (stage) {
          const float* staged_line[kLines];
          for (std::int64_t l = 0; l < kLines; ++l) {
            float* line = staged.get() + l * widest;
            for (std::int64_t k = 0; k < c.k1 - c.k0; ++k) line[k] = load_as<float>(chunk_in[l][k]);
            staged_line[l] = line;
          }
          interleave_lines(staged_line, c.k1 - c.k0, x);
        } else if constexpr (contiguous) {
          interleave_lines(chunk_in, c.k1 - c.k0, x);
        } else {
          for (std::int64_t k = 0; k < c.k1 - c.k0; ++k) {
            for (std::int64_t l = 0; l < kLines; ++l) x[k * kLines + l] = load_as<T>(chunk_in[l][k * in_step]);
          }
        }
        // Outputs in groups of kLines, so that a group can leave as one transposed block.
        for (std::int64_t j0 = c.j0; j0 < c.j1; j0 += kLines) {
          const std::int64_t group = std::min(kLines, c.j1 - j0);
#if defined(__AVX2__)
          if constexpr (contiguous) {
            if constexpr (std::is_same_v<Dst, float>) {
              if (group == kLines) {
                line_output_block(x, c.k0, table, j0, line_out, count);
              } else {
                LineBlock::Vector r[kLines];
                short_group_values(x, c.k0, table, j0, group, r);
                for (std::int64_t l = 0; l < count; ++l) LineBlock::store_first(line_out[l] + j0, r[l], group);
              }
            } else {
              LineBlock::Vector r[kLines];
              if (group == kLines) {
                line_output_values(x, c.k0, table, j0, r);
              } else {
                short_group_values(x, c.k0, table, j0, group, r);
              }
              float values[kLines];
              for (std::int64_t l = 0; l < count; ++l) {
                LineBlock::store(values, r[l]);
                for (std::int64_t m = 0; m < group; ++m) line_out[l][j0 + m] = store_as<Dst>(values[m]);
              }
            }
            continue;
          }
#endif
          alignas(64) T acc[kLines * kLines];
          for (std::int64_t m = 0; m < group; ++m) {
            const std::int64_t j = j0 + m;
            const std::int64_t n = table.taps(j);
            const T* w = table.row(j);
            const T* xj = x + (table.first(j) - c.k0) * kLines;
            T* a = acc + m * kLines;
            if (n == 0) {
              for (std::int64_t l = 0; l < kLines; ++l) a[l] = T(0);
            } else {
              for (std::int64_t l = 0; l < kLines; ++l) a[l] = xj[l] * w[0];
              for (std::int64_t k = 1; k < n; ++k) {
                const T wk = w[k];
                for (std::int64_t l = 0; l < kLines; ++l) a[l] = a[l] + xj[k * Rows::step * kLines + l] * wk;
              }
            }
          }
          for (std::int64_t m = 0; m < group; ++m) {
            for (std::int64_t l = 0; l < count; ++l) line_out[l][(j0 + m) * out_step] = store_as<Dst>(acc[m * kLines + l]);
          }
        }
      }
    }
  });
}

#if defined(__AVX2__)
// The along pass by permutes (permuted_lines.hpp) for contiguous float32 lines, kLines lines a block.
template <int Taps>
void gather_along_permuted(const StridedArray& src, const StridedArray& dst, const PermuteGroups& groups,
                           const DimWalker& lines, Threads threads) {
  const float* in = static_cast<const float*>(src.data);
  float* out = static_cast<float*>(dst.data);
  const std::int64_t blocks = (lines.total() + kLines - 1) / kLines;
  run_parts(threads, blocks, kLines * groups.out_len * Taps, [&](std::int64_t begin, std::int64_t end) {
    const float* line_in[kLines];
    float* line_out[kLines];
    for (std::int64_t block = begin; block < end; ++block) {
      const std::int64_t count = block_lines(lines, block, src, dst, in, out, line_in, line_out);
      permute_lines<Taps>(groups, line_in, line_out, count);
    }
  });
}

// Runs the pass by permutes where it applies: float32 contiguous lines (pixels of `channels` elements
// merged into them, or plain lines) whose table qualifies (permute_groups.hpp; the groups the caller
// built for it, else built here).
template <typename Src, typename Dst, typename T, typename Rows>
bool gather_along_by_permutes(const StridedArray& src, const StridedArray& dst, int axis, const Rows& table,
                              const DimWalker& lines, Threads threads, std::int64_t channels = 1) {
  if constexpr (std::is_same_v<Src, float> && std::is_same_v<Dst, float> && std::is_same_v<Rows, TapRows<float>>) {
    if (src.strides[axis] != 1 || dst.strides[axis] != 1) return false;
    PermuteGroups local;
    const PermuteGroups* groups = table.permute;
    if (groups == nullptr || !groups->built_for(kPermuteWidth, channels)) {
      if (!local.build(table, kPermuteWidth, channels)) return false;
      groups = &local;
    }
    if (groups->taps == 0) return false;  // built, and does not qualify
    if (groups->taps == 1) {
      gather_along_permuted<1>(src, dst, *groups, lines, threads);
    } else {
      gather_along_permuted<2>(src, dst, *groups, lines, threads);
    }
    return true;
  } else {
    return false;
  }
}
#endif

template <typename Src, typename Dst, typename T, typename Rows>
void gather_along(const StridedArray& src, const StridedArray& dst, int axis, const Rows& table,
                  const DimWalker& lines, Threads threads) {
#if defined(__AVX2__)
  if (gather_along_by_permutes<Src, Dst, T>(src, dst, axis, table, lines, threads)) return;
#endif
  constexpr bool vectorised = std::is_same_v<T, float> && !std::is_same_v<Src, double> && !std::is_same_v<Dst, double>;
  if (vectorised && src.strides[axis] == 1 && dst.strides[axis] == 1) {
    gather_along_lines<Src, Dst, T, vectorised>(src, dst, axis, table, lines, threads);
  } else {
    gather_along_lines<Src, Dst, T, false>(src, dst, axis, table, lines, threads);
  }
}

// y[i] = sum_k x[i + k * in_step] * w[k] (k upwards) for i < len: one output row of the "across" loop
// order. Up to eight taps on contiguous rows are one expression per element, evaluated left to right
// ((x0*w0 + x1*w1) + x2*w2 ...), which rounds exactly as the accumulating loop below does.
template <int Taps, typename Src, typename Dst, typename T>
void combine_fixed_taps(const Src* x, std::int64_t in_step, const T* w, std::int64_t len, Dst* y) {
  T wk[Taps];
  const Src* xk[Taps];
  for (int k = 0; k < Taps; ++k) {
    wk[k] = w[k];
    xk[k] = x + k * in_step;
  }
  for (std::int64_t i = 0; i < len; ++i) {
    T acc = load_as<T>(xk[0][i]) * wk[0];
#pragma GCC unroll 8
    for (int k = 1; k < Taps; ++k) acc = acc + load_as<T>(xk[k][i]) * wk[k];
    y[i] = store_as<Dst>(acc);
  }
}

template <typename Src, typename Dst, typename T>
__attribute__((always_inline)) inline void combine_rows(const Src* x, std::int64_t in_step, std::int64_t in_inner, const T* w, std::int64_t n,
                  std::int64_t len, Dst* y, std::int64_t out_inner, bool streaming) {
  if (n == 0) {
    for (std::int64_t i = 0; i < len; ++i) y[i * out_inner] = store_as<Dst>(T(0));
    return;
  }
#ifdef TESSERA_HAS_STREAMING_STORES
  constexpr bool floats = std::is_same_v<Src, float> && std::is_same_v<Dst, float> && std::is_same_v<T, float>;
  if constexpr (floats) {
    streaming = streaming && len >= kStreamMinRow;
    if (streaming && in_inner == 1 && out_inner == 1 && n <= 4) return stream_combine(x, in_step, w, n, len, y);
  }
#else
  (void)streaming;
#endif
  if (in_inner == 1 && out_inner == 1 && n <= 8) {
    switch (n) {
      case 1: return combine_fixed_taps<1>(x, in_step, w, len, y);
      case 2: return combine_fixed_taps<2>(x, in_step, w, len, y);
      case 3: return combine_fixed_taps<3>(x, in_step, w, len, y);
      case 4: return combine_fixed_taps<4>(x, in_step, w, len, y);
      case 5: return combine_fixed_taps<5>(x, in_step, w, len, y);
      case 6: return combine_fixed_taps<6>(x, in_step, w, len, y);
      case 7: return combine_fixed_taps<7>(x, in_step, w, len, y);
      default: return combine_fixed_taps<8>(x, in_step, w, len, y);
    }
  }
  // Blocks of the row small enough for the accumulators to stay in the L1 cache while the taps stream
  // past; the loops vectorise when the rows are contiguous.
  constexpr std::int64_t kBlock = 4096;
  T acc[kBlock];
  for (std::int64_t b0 = 0; b0 < len; b0 += kBlock) {
    const std::int64_t count = std::min(kBlock, len - b0);
    const Src* xb = x + b0 * in_inner;
    if (in_inner == 1) {
      for (std::int64_t i = 0; i < count; ++i) acc[i] = load_as<T>(xb[i]) * w[0];
      for (std::int64_t k = 1; k < n; ++k) {
        const Src* xk = xb + k * in_step;
        const T wk = w[k];
        for (std::int64_t i = 0; i < count; ++i) acc[i] = acc[i] + load_as<T>(xk[i]) * wk;
      }
    } else {
      for (std::int64_t i = 0; i < count; ++i) acc[i] = load_as<T>(xb[i * in_inner]) * w[0];
      for (std::int64_t k = 1; k < n; ++k) {
        const Src* xk = xb + k * in_step;
        const T wk = w[k];
        for (std::int64_t i = 0; i < count; ++i) acc[i] = acc[i] + load_as<T>(xk[i * in_inner]) * wk;
      }
    }
    Dst* yb = y + b0 * out_inner;
#ifdef TESSERA_HAS_STREAMING_STORES
    if constexpr (floats) {
      if (streaming && out_inner == 1) {
        stream_copy(acc, count, yb);
        continue;
      }
    }
#endif
    for (std::int64_t i = 0; i < count; ++i) yb[i * out_inner] = store_as<Dst>(acc[i]);
  }
}

// The columns of a row that the across loop computes for all of its outputs before it moves on to the
// next columns. An output reads max_taps input rows, and the next output most of the same ones: when
// that many whole rows do not fit in the L2 cache (channels-last rows of W x C values, e.g. the H pass of
// an x32 upsampling), the shared rows would come from memory once for each output, so the rows are cut
// into columns whose taps fit. Only the loop order changes.
template <typename Src>
std::int64_t across_columns(std::int64_t row_len, std::int64_t max_taps) {
  constexpr std::int64_t kReuseBytes = 512 * 1024, kMinColumns = 1024;
  const std::int64_t tap_bytes = std::max<std::int64_t>(max_taps, 1) * static_cast<std::int64_t>(sizeof(Src));
  if (row_len * tap_bytes <= kReuseBytes) return std::max<std::int64_t>(row_len, 1);
  return std::max(kMinColumns, kReuseBytes / tap_bytes / kMinColumns * kMinColumns);
}

// A shrinking pass with many taps takes the rows in input order instead (input_order_rows.hpp): each
// output would read max_taps rows (or column blocks of them), most shared with the next output, a short
// run from each, where in input order each row is read once, and rows that lie one after another in
// memory are read in that order. Measured on an Intel Xeon: the x32 backward 0.49x the time
// channels-last, 0.87x NCHW; with 3-8 taps (bicubic x2 backward, antialias /3) it lost 2-11%. It goes
// through pieces of kInputOrderColumns columns, so that the outputs being summed stay in the L2 cache.
constexpr std::int64_t kInputOrderColumns = 65536;

template <typename Src, typename Dst, typename T>
void gather_across(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& table,
                   const DimWalker& outer, int inner, Threads threads, Stores stores) {
  const Src* in = static_cast<const Src*>(src.data);
  Dst* out = static_cast<Dst*>(dst.data);
  const std::int64_t in_step = src.strides[axis];
  const std::int64_t out_step = dst.strides[axis];
  const std::int64_t out_len = table.out_len;
  const std::int64_t row_len = dst.shape[inner];
  const std::int64_t in_inner = src.strides[inner];
  const std::int64_t out_inner = dst.strides[inner];
  const std::int64_t items = outer.total() * out_len;
  const bool streaming = stores == Stores::streaming;
  const std::int64_t columns = across_columns<Src>(row_len, table.max_taps());
  const bool input_order = std::is_same_v<Dst, T> && in_inner == 1 && out_inner == 1 && table.shrinks &&
                           table.max_taps() > 8 && taps_move_forward(table);
  run_parts(threads, items, row_len * table.max_taps(), [&](std::int64_t begin, std::int64_t end) {
    // Item = (outer index, j), j fastest: runs of consecutive j within one outer slice, whose offsets
    // are decoded once per run.
    std::int64_t o = begin / out_len, j = begin % out_len, src_offset = 0, dst_offset = 0;
    for (std::int64_t item = begin; item < end; item += out_len - j, j = 0, ++o) {
      const std::int64_t j_end = std::min(out_len, j + (end - item));
      outer.offsets(o, src, dst, src_offset, dst_offset);
#if defined(__AVX2__)
      if constexpr (std::is_same_v<Src, float> && std::is_same_v<Dst, float> && std::is_same_v<T, float>) {
        if (row_len <= kShortRowMax && in_inner == 1 && out_inner == 1) {
          combine_short_rows(in + src_offset, in_step, table, j, j_end, out + dst_offset, out_step, row_len);
          continue;
        }
      }
#endif
      if constexpr (std::is_same_v<Dst, T>) {
        if (input_order) {
          for (std::int64_t c0 = 0; c0 < row_len; c0 += kInputOrderColumns) {
            combine_in_input_order(in + src_offset + c0, in_step, table, j, j_end,
                                   std::min(kInputOrderColumns, row_len - c0), out + dst_offset + c0, out_step);
          }
          continue;
        }
      }
      for (std::int64_t c0 = 0; c0 < row_len; c0 += columns) {
        const std::int64_t len = std::min(columns, row_len - c0);
        const Src* x = in + src_offset + c0 * in_inner;
        Dst* y = out + dst_offset + c0 * out_inner;
        for (std::int64_t i = j; i < j_end; ++i) {
          combine_rows<Src, Dst, T>(x + table.first(i) * in_step, in_step, in_inner, table.row(i), table.taps(i), len,
                                    y + i * out_step, out_inner, streaming);
        }
      }
    }
#ifdef TESSERA_HAS_STREAMING_STORES
    if (streaming) finish_streaming_stores();
#endif
  });
}

// Merges the dims that lie inside the axis in dst's memory order into one dim when they form a dense
// block in both arrays (e.g. W and C of channels-last data when resampling H), so that the row loop runs
// over long contiguous rows. Element values and their order of operations are unchanged.
void merge_inner_block(StridedArray& src, StridedArray& dst, int& axis) {
  std::array<int, kMaxDims> inner{};
  int count = 0;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d != axis && dst.shape[d] > 1 && std::llabs(dst.strides[d]) < std::llabs(dst.strides[axis])) inner[count++] = d;
  }
  if (count < 2) return;
  // Innermost first (insertion sort of at most kMaxDims entries).
  for (int k = 1; k < count; ++k) {
    for (int m = k; m > 0 && std::llabs(dst.strides[inner[m]]) < std::llabs(dst.strides[inner[m - 1]]); --m) {
      std::swap(inner[m], inner[m - 1]);
    }
  }
  std::int64_t length = 1;
  for (int k = 0; k < count; ++k) {
    const int d = inner[k];
    if (dst.strides[d] != dst.strides[inner[0]] * length || src.strides[d] != src.strides[inner[0]] * length) return;
    length *= dst.shape[d];
  }
  StridedArray s2 = src, d2 = dst;
  s2.ndim = d2.ndim = 0;
  int new_axis = -1;
  for (int d = 0; d < dst.ndim; ++d) {
    if (std::find(inner.begin(), inner.begin() + count, d) != inner.begin() + count) continue;
    if (d == axis) new_axis = d2.ndim;
    s2.shape[s2.ndim] = src.shape[d];
    s2.strides[s2.ndim++] = src.strides[d];
    d2.shape[d2.ndim] = dst.shape[d];
    d2.strides[d2.ndim++] = dst.strides[d];
  }
  s2.shape[s2.ndim] = d2.shape[d2.ndim] = length;
  s2.strides[s2.ndim++] = src.strides[inner[0]];
  d2.strides[d2.ndim++] = dst.strides[inner[0]];
  src = s2;
  dst = d2;
  axis = new_axis;
}

// Whether `inner` holds pixels of contiguous elements and `axis` steps by whole pixels, in both arrays.
bool dense_pixels(const StridedArray& src, const StridedArray& dst, int axis, int inner) {
  const std::int64_t channels = dst.shape[inner];
  return src.strides[inner] == 1 && dst.strides[inner] == 1 && src.strides[axis] == channels &&
         dst.strides[axis] == channels;
}

// Makes views of dense pixels in which (axis, inner) are one contiguous axis (at `axis`; inner's dims
// after it move down by one).
void merge_pixel_axis(StridedArray& src, StridedArray& dst, int& axis, int inner) {
  const std::int64_t channels = dst.shape[inner];
  for (StridedArray* a : {&src, &dst}) {
    a->shape[axis] *= channels;
    a->strides[axis] = 1;
    for (int d = inner; d + 1 < a->ndim; ++d) {
      a->shape[d] = a->shape[d + 1];
      a->strides[d] = a->strides[d + 1];
    }
    --a->ndim;
  }
  if (inner < axis) --axis;
}

// The lines of an along pass: every dim but `axis`.
DimWalker lines_outside(const StridedArray& dst, int axis) {
  DimWalker lines;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d == axis) continue;
    lines.dims[lines.count] = d;
    lines.sizes[lines.count] = dst.shape[d];
    ++lines.count;
  }
  return lines;
}

// For PixelRows: when `inner` holds dense pixels that pixels_run_along() accepts and there are at least
// kLines lines, merges (axis, inner) and returns the channel count; else returns 0.
int merge_pixels(StridedArray& src, StridedArray& dst, int& axis, int inner, std::int64_t taps) {
  const std::int64_t channels = dst.shape[inner];
  if (!pixels_run_along(channels, taps) || !dense_pixels(src, dst, axis, inner)) return 0;
  std::int64_t lines = 1;  // fewer than a block's worth would leave most vector lanes empty
  for (int d = 0; d < dst.ndim; ++d) lines *= (d == axis || d == inner) ? 1 : dst.shape[d];
  if (lines < kLines) return 0;
  merge_pixel_axis(src, dst, axis, inner);
  return static_cast<int>(channels);
}

#if defined(__AVX2__)
// Dense pixels of fewer channels than a vector has lanes, through a table of at most 2 taps: the merged
// (axis, inner) lines by permutes, where the groups qualify (a vector then spans several pixels, where
// the across order would fill only `channels` lanes). Measured on RGB bilinear x2 channels-last
// forward: 0.85-0.89x the time with AVX-512, 0.69-0.81x with AVX2.
template <typename Src, typename Dst, typename T>
bool pixels_by_permutes(StridedArray src, StridedArray dst, int axis, int inner, const TapRows<T>& table,
                        Threads threads) {
  const std::int64_t channels = dst.shape[inner];
  if (channels < 2 || !PermuteGroups::takes(channels, kPermuteWidth) || table.max_taps() > PermuteGroups::kMaxTaps ||
      !dense_pixels(src, dst, axis, inner)) {
    return false;
  }
  merge_pixel_axis(src, dst, axis, inner);
  return gather_along_by_permutes<Src, Dst, T>(src, dst, axis, table, lines_outside(dst, axis), threads, channels);
}
#endif

template <typename Src, typename Dst, typename T>
void run_typed(StridedArray src, StridedArray dst, int axis, const TapRows<T>& table, Threads threads, Stores stores) {
  merge_inner_block(src, dst, axis);
  // The innermost other dim of the output (smallest stride among dims longer than 1).
  int inner = -1;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d == axis || dst.shape[d] <= 1) continue;
    if (inner < 0 || std::llabs(dst.strides[d]) < std::llabs(dst.strides[inner])) inner = d;
  }
  const bool along = inner < 0 || std::llabs(dst.strides[axis]) < std::llabs(dst.strides[inner]);
  constexpr bool vectorised = std::is_same_v<T, float> && !std::is_same_v<Src, double> && !std::is_same_v<Dst, double>;
  if constexpr (vectorised) {
    if (!along) {
#if defined(__AVX2__)
      if (pixels_by_permutes<Src, Dst, T>(src, dst, axis, inner, table, threads)) return;
#endif
      if (const int channels = merge_pixels(src, dst, axis, inner, table.max_taps())) {
        const DimWalker pixel_lines = lines_outside(dst, axis);
        switch (channels) {
          case 2: return gather_along<Src, Dst, T>(src, dst, axis, PixelRows<T, 2>(table), pixel_lines, threads);
          case 3: return gather_along<Src, Dst, T>(src, dst, axis, PixelRows<T, 3>(table), pixel_lines, threads);
          default: return gather_along<Src, Dst, T>(src, dst, axis, PixelRows<T, 4>(table), pixel_lines, threads);
        }
      }
    }
  }
  DimWalker walker;
  for (int d = 0; d < dst.ndim; ++d) {
    if (d == axis || (!along && d == inner)) continue;
    walker.dims[walker.count] = d;
    walker.sizes[walker.count] = dst.shape[d];
    ++walker.count;
  }
  if (along) {
    gather_along<Src, Dst, T>(src, dst, axis, table, walker, threads);
  } else {
    gather_across<Src, Dst, T>(src, dst, axis, table, walker, inner, threads, stores);
  }
}

template <typename T, typename Src>
void dispatch_dst(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& table,
                  Threads threads, Stores stores) {
  switch (dst.dtype) {
    case DType::float16: return run_typed<Src, Float16, T>(src, dst, axis, table, threads, stores);
    case DType::bfloat16: return run_typed<Src, BFloat16, T>(src, dst, axis, table, threads, stores);
    case DType::float32: return run_typed<Src, float, T>(src, dst, axis, table, threads, stores);
    case DType::float64: return run_typed<Src, double, T>(src, dst, axis, table, threads, stores);
  }
}

}  // namespace

std::int64_t along_lines() { return kLines; }
std::int64_t permute_width() { return kPermuteWidth; }

template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& table, Threads threads,
                   Stores stores) {
  if (src.shape[axis] != table.in_len || dst.shape[axis] != table.out_len) {
    throw std::logic_error("axis pass: array and tap table lengths differ");
  }
  for (int d = 0; d < dst.ndim; ++d) {
    if (dst.shape[d] == 0) return;
  }
  switch (src.dtype) {
    case DType::float16: return dispatch_dst<T, Float16>(src, dst, axis, table, threads, stores);
    case DType::bfloat16: return dispatch_dst<T, BFloat16>(src, dst, axis, table, threads, stores);
    case DType::float32: return dispatch_dst<T, float>(src, dst, axis, table, threads, stores);
    case DType::float64: return dispatch_dst<T, double>(src, dst, axis, table, threads, stores);
  }
}

template void run_axis_pass<float>(const StridedArray&, const StridedArray&, int, const TapRows<float>&, Threads, Stores);
template void run_axis_pass<double>(const StridedArray&, const StridedArray&, int, const TapRows<double>&, Threads,
                                    Stores);

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
