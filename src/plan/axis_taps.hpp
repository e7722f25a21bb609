// axis_taps.hpp — fills one axis's tap table for a mode: coordinate mapping x filter x border rule.
#pragma once

#include "plan/resize_spec.hpp"
#include "plan/tap_table.hpp"

namespace tessera::plan {

// T: float for float32/float16/bfloat16 data, double for float64 (PyTorch's arithmetic types).
template <typename T>
TapTable<T> build_axis_taps(const AxisSpec& axis, Mode mode, bool align_corners, bool antialias);

}  // namespace tessera::plan
