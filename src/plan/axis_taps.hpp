// axis_taps.hpp — fills one axis's tap table for a mode: coordinate mapping x filter x border rule.
#pragma once

#include "plan/resize_spec.hpp"
#include "plan/tap_table.hpp"

namespace tessera::plan {

// PyTorch 2.13 computes nearest indices with one of two rules. Its vectorized 2-D kernel, which it runs
// for 4-D inputs that are channels-last with more than 3 channels or whose output H + W <= 128
// (UpSampleKernel.cpp, _use_channels_last_kernel_2d), uses a float32 scale and shortcuts; every other
// case uses the generic helper. We select the rule as PyTorch does, so indices match it exactly.
enum class NearestIndexRule { generic, vectorized };
NearestIndexRule nearest_index_rule(const ResizeSpec& spec);

// T: float for float32/float16/bfloat16 data, double for float64 (PyTorch's arithmetic types).
template <typename T>
TapTable<T> build_axis_taps(const AxisSpec& axis, Mode mode, bool align_corners, bool antialias,
                            NearestIndexRule nearest_rule = NearestIndexRule::generic);

}  // namespace tessera::plan
