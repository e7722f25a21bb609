// axis_pass.hpp — applies one axis's tap table to a strided array: the only CPU resampling kernel.
//
// Each output element is  acc = x[first] * w[0];  acc = acc + x[first + k] * w[k]  for k = 1.. in this
// order, in the compute type T, whatever the layout, blocking or thread. Forward and backward both use it
// (backward with transposed tables), and so does every mode.
#pragma once

#include <array>
#include <cstdint>

#include "cpu/tap_rows.hpp"
#include "plan/buffer_layout.hpp"
#include "plan/tap_table.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera::cpu {

using plan::kMaxDims;
using StridedArray = plan::ArrayView;

// Who runs a pass: the thread pool (splitting the output), or the calling thread alone (used when the
// caller already runs independent parts of the output on the pool's threads).
enum class Threads { pool, caller };

// How a pass stores its output: ordinary stores, or streaming (non-temporal) stores, which skip reading
// each output line first and suit large outputs that are mapped but not in cache (see output_stores.hpp).
// A hint: it applies to rows of contiguous float32 values written by the "across" loop; the bits are the
// same either way.
enum class Stores { cached, streaming };

// Whether a pass along the dim just outside a contiguous innermost dim of `channels` elements (the
// channels of channels-last pixels), whose rows have at most `taps` taps, runs in the loop order of
// passes along the contiguous axis. Measured: that order wins for 2-4 channels with 3 taps or more
// (RGB bicubic x2 0.74x the time); with 2 taps it lost 4-11% inside bands, whose rings it makes larger.
inline bool pixels_run_along(std::int64_t channels, std::int64_t taps) {
  return channels >= 2 && channels <= 4 && taps >= 3;
}

// dst = rows applied along `axis` of src. src and dst agree on every dim but `axis`, where
// src.shape[axis] == rows.in_len and dst.shape[axis] == rows.out_len. dst must not overlap src.
// Runs the kernels compiled for the widest vector ISA the CPU has (the bits are the same for all).
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& rows,
                   Threads threads = Threads::pool, Stores stores = Stores::cached);

// The whole table, on the thread pool.
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const plan::TapTable<T>& table) {
  run_axis_pass<T>(src, dst, axis, tap_rows(table), Threads::pool);
}

// The CPU target run_axis_pass uses: "avx512", "avx2" or "baseline", the widest the CPU has. The
// environment variable TESSERA_CPU_TARGET=baseline or =avx2 caps it (the tests that compare targets use it).
const char* cpu_target();

// How many lines the kernel along a contiguous axis resamples together on that target (8 or 16).
std::int64_t along_lines();
// The group width of that target's along pass by permutes (permute_groups.hpp): 16, 8, or 0 for none.
std::int64_t permute_width();

// The per-target copies of the kernels.
namespace baseline {
std::int64_t along_lines();
std::int64_t permute_width();
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& rows, Threads threads,
                   Stores stores);
}
namespace avx2 {
std::int64_t along_lines();
std::int64_t permute_width();
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& rows, Threads threads,
                   Stores stores);
}
namespace avx512 {
std::int64_t along_lines();
std::int64_t permute_width();
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& rows, Threads threads,
                   Stores stores);
}

}  // namespace tessera::cpu
