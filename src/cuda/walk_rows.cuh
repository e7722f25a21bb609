// walk_rows.cuh — the walking rows pass, shared by the fused rows-first pair kernel and the single-axis
// rows kernel: for tables of long rows (large shrinking factors, e.g. the backward of a x32 bilinear
// upsample) where each input row is read by at most two output rows. Gathering each output row on its
// own reads an input row shared by two output rows twice, the second time usually from DRAM again;
// walking, a thread takes a run of V elements down a tile's input rows in increasing order and adds each
// row to the output rows that read it, so each input element is loaded once. Output row r of a tile
// accumulates in slot r % 2 (plan_walks takes this path only where no two rows of one slot read a
// common input row), and still receives its taps in increasing input order, the first as a plain
// product: the same sums, bit for bit.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>

#include "cuda/arithmetic.cuh"
#include "cuda/vector_io.cuh"
#include "plan/tap_table.hpp"

namespace tessera::cuda::walk {

constexpr int kWalkThreads = 128;
// Blocks per multiprocessor the walking kernels are compiled for (caps registers at 72 per thread).
constexpr int kWalkMinBlocks = 7;
// Input rows a thread loads before using them: enough bytes in flight that a few blocks per
// multiprocessor (the last wave) still keep memory busy.
constexpr int kWalkRowsInFlight = 6;

// A walk's op bits for one slot: 0 (the slot's row does not read this input row) or kTap, plus
// kFirstTap / kLastTap and the tile row above kRowShift.
constexpr int kTap = 1, kFirstTap = 2, kLastTap = 4, kRowShift = 3;

// What input row a of a row tile contributes: its weight in the output row of each slot.
template <typename T>
struct alignas(16) WalkStep {
  T w[2];
  int op[2];
};

// A row tile's walk: input rows [a_begin, a_begin + a_count), whose steps start at step_begin.
struct WalkTile {
  std::int64_t a_begin;
  int a_count;
  int step_begin;
};

// The walks of a table's tiles of `tile_rows` output rows, or false where walking does not apply: rows
// of at most 8 taps (the unrolled gathering kernels serve those), a row reading nothing, or two rows of
// one slot (tile rows r and r + 2, ...) reading a common input row.
template <typename T>
bool plan_walks(const plan::TapTable<T>& rows, std::int64_t tile_rows, std::vector<WalkTile>& walks,
                std::vector<WalkStep<T>>& steps) {
  if (taps_bound(rows.max_taps()) != 0) return false;
  walks.clear();
  steps.clear();
  for (std::int64_t r0 = 0; r0 < rows.out_len; r0 += tile_rows) {
    const std::int64_t r1 = std::min<std::int64_t>(rows.out_len, r0 + tile_rows);
    std::int64_t begin = rows.in_len, end = 0;
    for (std::int64_t r = r0; r < r1; ++r) {
      if (rows.taps(r) == 0) return false;
      begin = std::min(begin, rows.first[r]);
      end = std::max(end, rows.first[r] + rows.taps(r));
    }
    const std::size_t base = steps.size();
    if (base + static_cast<std::size_t>(end - begin) > INT_MAX || r1 - r0 > (INT_MAX >> kRowShift)) return false;
    walks.push_back({begin, static_cast<int>(end - begin), static_cast<int>(base)});
    steps.resize(base + static_cast<std::size_t>(end - begin));  // zeros: no taps yet
    for (std::int64_t r = r0; r < r1; ++r) {
      const int slot = static_cast<int>((r - r0) % 2);
      const std::int64_t n = rows.taps(r);
      for (std::int64_t k = 0; k < n; ++k) {
        WalkStep<T>& s = steps[base + static_cast<std::size_t>(rows.first[r] + k - begin)];
        if (s.op[slot] != 0) return false;
        s.w[slot] = rows.row(r)[k];
        s.op[slot] = kTap | (k == 0 ? kFirstTap : 0) | (k == n - 1 ? kLastTap : 0) | static_cast<int>(r - r0)
                                                                                         << kRowShift;
      }
    }
  }
  return true;
}

// The walk of one run of V elements at x down a tile's `a_count` input rows (`step` elements apart;
// `count` elements of the run exist): store(r, acc) receives tile row r's sums once its last tap is in.
template <bool Aligned, typename Src, typename T, typename Store>
__device__ inline void walk_run(const Src* x, std::int64_t step, int count, int a_count,
                                const WalkStep<T>* __restrict__ steps, const Store& store) {
  constexpr int V = kRun<T>, U = kWalkRowsInFlight;
  T acc[2][V] = {};
  for (int a0 = 0; a0 < a_count; a0 += U) {
    const Src* xa = x + a0 * step;
#pragma unroll
    for (int u = U; u < 2 * U; ++u) {  // the next U rows into L2 while these are used
      if (a0 + u < a_count) prefetch_l2(xa + u * step);
    }
    T v[U][V];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (a0 + u < a_count) load_run<Aligned>(xa + u * step, count, v[u]);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (a0 + u < a_count) {
        const WalkStep<T> s = steps[a0 + u];
#pragma unroll
        for (int slot = 0; slot < 2; ++slot) {
          const int op = s.op[slot];
          if (op != 0) {
#pragma unroll
            for (int i = 0; i < V; ++i) {
              const T product = mul_rn(v[u][i], s.w[slot]);
              acc[slot][i] = (op & kFirstTap) ? product : add_rn(acc[slot][i], product);
            }
            if (op & kLastTap) store(op >> kRowShift, acc[slot]);
          }
        }
      }
    }
  }
}

}  // namespace tessera::cuda::walk
