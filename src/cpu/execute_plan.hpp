// execute_plan.hpp — runs a resampling plan's passes on the CPU, through intermediate buffers.
#pragma once

#include "plan/resample_plan.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera::cpu {

// out = plan(in). Shapes must equal plan.in_shape / plan.out_shape; dtypes may differ (16-bit data is
// computed in float). Intermediates are laid out in the input's memory order (e.g. channels-last).
template <typename T>
void execute_plan(const plan::ResamplePlan<T>& plan, const TensorView& in, const TensorView& out);

}  // namespace tessera::cpu
