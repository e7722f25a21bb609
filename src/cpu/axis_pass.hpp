// axis_pass.hpp — applies one axis's tap table to a strided array: the only CPU resampling kernel.
//
// Each output element is  acc = x[first] * w[0];  acc = acc + x[first + k] * w[k]  for k = 1.. in this
// order, in the compute type T, whatever the layout, blocking or thread. Forward and backward both use it
// (backward with transposed tables), and so does every mode.
#pragma once

#include <array>
#include <cstdint>

#include "plan/buffer_layout.hpp"
#include "plan/tap_table.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera::cpu {

using plan::kMaxDims;
using StridedArray = plan::ArrayView;

// dst = table applied along `axis` of src. src and dst agree on every dim but `axis`, where
// src.shape[axis] == table.in_len and dst.shape[axis] == table.out_len. dst must not overlap src.
// Runs the kernels compiled for the widest vector ISA the CPU has (the bits are the same for all).
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const plan::TapTable<T>& table);

// The CPU target run_axis_pass uses: "avx2" or "baseline". The environment variable
// TESSERA_CPU_TARGET=baseline forces the baseline kernels (used by the tests that compare targets).
const char* cpu_target();

// The per-target copies of the kernels.
namespace baseline {
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const plan::TapTable<T>& table);
}
namespace avx2 {
template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const plan::TapTable<T>& table);
}

}  // namespace tessera::cpu
