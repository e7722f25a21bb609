// resample_plan.hpp — the whole operation as an ordered list of single-axis passes.
//
// The order is a fixed function of the problem (never of threads or tiling): the pass that shrinks the
// data most runs first; among passes that scale alike, the innermost runs first when they enlarge and
// last when they shrink. Backward runs the transposed tables under the
// same rule, so a large grad_output is reduced before anything else touches it.
#pragma once

#include <cstdint>
#include <vector>

#include "plan/resize_spec.hpp"
#include "plan/tap_table.hpp"

namespace tessera::plan {

template <typename T>
struct AxisPass {
  int dim = 0;  // index in the full (N, C, *spatial) shape
  TapTable<T> table;
};

template <typename T>
struct ResamplePlan {
  std::vector<std::int64_t> in_shape;
  std::vector<std::int64_t> out_shape;
  std::vector<AxisPass<T>> passes;  // in execution order; identity axes are omitted
};

template <typename T>
ResamplePlan<T> make_forward_plan(const ResizeSpec& spec);

// Maps grad_output (spec.output_shape()) to grad_input (spec.input_shape()).
template <typename T>
ResamplePlan<T> make_backward_plan(const ResizeSpec& spec);

}  // namespace tessera::plan
