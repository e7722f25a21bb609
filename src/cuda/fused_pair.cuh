// fused_pair.cuh — two consecutive axis passes over two adjacent dims of a dense layout (H and W of
// NCHW, or of NHWC, whose channels ride along with each W) in one kernel: each block computes a tile of
// the output from an intermediate tile held in shared memory, so the intermediate array never travels
// through device memory. The intermediate values are computed and rounded exactly as the separate passes
// compute them, so the result is bit for bit the same as two passes (and as the CPU).
#pragma once

#include <cuda_runtime.h>

#include "cuda/axis_pass.cuh"
#include "plan/tap_table.hpp"

namespace tessera::cuda {

// Whether the pair can run fused from src into dst (dst.data may still be unset).
template <typename T>
bool fused_pair_fits(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
                     int second_axis, const plan::TapTable<T>& second);

// Tries to run `first` then `second` (host tables plus their device copies) from src into dst in one
// launch. Returns false, launching nothing, when the geometry does not fit (the caller then runs the
// passes one by one).
template <typename T>
bool launch_fused_pair(const DeviceArray& src, const DeviceArray& dst, int first_axis, const plan::TapTable<T>& first,
                       const DeviceTaps<T>& first_taps, int second_axis, const plan::TapTable<T>& second,
                       const DeviceTaps<T>& second_taps, cudaStream_t stream);

}  // namespace tessera::cuda
