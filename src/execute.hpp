// execute.hpp — runs a plan on the backend where the data lives (CPU, or CUDA in CUDA builds).
#pragma once

#include "plan/resample_plan.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera {

template <typename T>
void execute(const plan::ResamplePlan<T>& plan, const TensorView& from, const TensorView& to, void* cuda_stream);

// Throws Error naming `name` for malformed views or CUDA views in a build without CUDA.
void check_view(const TensorView& view, const char* name);

// Throws Error naming `out_name` when `out` could not be written safely: two of its elements share an
// address (threads would race and the result would depend on their order), or its memory overlaps
// `in`'s (the result would read values it has already overwritten). The overlap test compares address
// ranges, so interleaved views of one buffer are refused too.
void check_output(const TensorView& out, const char* out_name, const TensorView& in, const char* in_name);

}  // namespace tessera
