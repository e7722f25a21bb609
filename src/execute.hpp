// execute.hpp — runs a plan on the backend where the data lives (CPU, or CUDA in CUDA builds).
#pragma once

#include "plan/resample_plan.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera {

template <typename T>
void execute(const plan::ResamplePlan<T>& plan, const TensorView& from, const TensorView& to, void* cuda_stream);

// Throws Error naming `name` for malformed views or CUDA views in a build without CUDA.
void check_view(const TensorView& view, const char* name);

}  // namespace tessera
