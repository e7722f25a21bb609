// fused_volume.cuh — the three passes of a 3-D plan in one kernel, so that neither intermediate travels
// through device memory. Two orders have a kernel:
// - cols (W), rows (H), then depth (D): enlarging plans (trilinear, nearest or area upsampling of N, C,
//   D, H, W, or of its channels-last layout). Each block owns an output tile of (rows, cols) and walks
//   the depth axis: every input plane its output planes read is resampled along cols and rows once, into
//   a small ring of planes in shared memory, and each output plane is the depth table's sum over the
//   ring's planes. Where all three tables have at most 2 taps per row (trilinear and nearest), the
//   kernel of sliding_volume.cuh runs instead: no shared ring, each thread walks the depth axis with
//   the passes of the two input planes its output plane reads in registers.
// - depth, rows, then cols: shrinking plans (the backward of those upsamplings, area downsampling). Each
//   block owns an output tile and a range of output planes; for each plane it sums the depth table's
//   input planes over the box its tile reads, into shared memory, then runs the rows and cols passes of
//   the rows-first pair kernel from there.
// Every value is computed and rounded as the separate passes compute it, so the result is bit for bit
// theirs and the CPU's.
#pragma once

#include <cuda_runtime.h>

#include "cuda/axis_pass.cuh"
#include "plan/tap_table.hpp"

namespace tessera::cuda {

// One pass of the plan: its dim, its host table and the table's device copy.
template <typename T>
struct VolumePass {
  int dim;
  const plan::TapTable<T>* table;
  DeviceTaps<T> taps;
};

// Tries to run the plan's three passes (in plan order) from src into dst in one launch. Returns false,
// launching nothing, where the order, the layout, the tables or shared memory do not allow it (the
// caller then runs the passes as before).
template <typename T>
bool launch_fused_volume(const DeviceArray& src, const DeviceArray& dst, const VolumePass<T> (&passes)[3],
                         cudaStream_t stream);

}  // namespace tessera::cuda
