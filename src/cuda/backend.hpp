// backend.hpp — the CUDA backend's entry points (compiled only when TESSERA_WITH_CUDA is defined).
#pragma once

#include "plan/resample_plan.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera::cuda {

// Number of CUDA devices usable by this process; 0 without a driver or device.
int device_count();

// out = plan(in) on in's device, enqueued on `stream` (a cudaStream_t; nullptr = the default stream).
// Never synchronizes the device. Tables are computed on the host (the same as the CPU backend's) and
// uploaded, so both backends produce the same bits.
template <typename T>
void execute_plan(const plan::ResamplePlan<T>& plan, const TensorView& in, const TensorView& out, void* stream);

}  // namespace tessera::cuda
