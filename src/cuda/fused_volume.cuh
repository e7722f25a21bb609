// fused_volume.cuh — the three passes of a 3-D plan whose passes run cols (W), rows (H), then depth (D)
// (enlarging: trilinear, nearest or area upsampling of N, C, D, H, W, or of its channels-last layout) in
// one kernel. Each block owns an output tile of (rows, cols) and walks the depth axis: every input plane
// its output planes read is resampled along cols and rows once, into a small ring of planes in shared
// memory, and each output plane is the depth table's sum over the ring's planes. Neither intermediate
// travels through device memory, and every value is computed and rounded as the separate passes compute
// it (the cols-then-rows kernel of fused_pair.cu, then the depth pass), so the result is bit for bit
// theirs and the CPU's.
#pragma once

#include <cuda_runtime.h>

#include "cuda/axis_pass.cuh"
#include "plan/tap_table.hpp"

namespace tessera::cuda {

// Tries to run cols, rows then depth (host tables plus their device copies) from src into dst in one
// launch. Returns false, launching nothing, where the layout, the tables or shared memory do not allow it
// (the caller then runs the passes as before).
template <typename T>
bool launch_fused_volume(const DeviceArray& src, const DeviceArray& dst, int cols_axis, const plan::TapTable<T>& cols,
                         const DeviceTaps<T>& cols_taps, int rows_axis, const plan::TapTable<T>& rows,
                         const DeviceTaps<T>& rows_taps, int depth_axis, const plan::TapTable<T>& depth,
                         const DeviceTaps<T>& depth_taps, cudaStream_t stream);

}  // namespace tessera::cuda
