// resample_plan.cpp — builds the per-axis tables of an operation and orders the passes.
#include "plan/resample_plan.hpp"

#include <algorithm>

#include "plan/axis_taps.hpp"

namespace tessera::plan {
namespace {

// Passes that shrink most come first (out/in compared exactly by cross-multiplication). Between passes
// that scale alike, a pass along an inner dim costs more per output than one along an outer dim (its
// samples are not contiguous across outputs), so it runs where the data is smallest: first when they
// enlarge, last when they shrink. On a GPU this also keeps the first pass's reads coalesced.
template <typename T>
void order_passes(std::vector<AxisPass<T>>& passes) {
  std::stable_sort(passes.begin(), passes.end(), [](const AxisPass<T>& a, const AxisPass<T>& b) {
    const __int128 lhs = static_cast<__int128>(a.table.out_len) * b.table.in_len;
    const __int128 rhs = static_cast<__int128>(b.table.out_len) * a.table.in_len;
    if (lhs != rhs) return lhs < rhs;
    const bool enlarging = a.table.out_len > a.table.in_len;
    return enlarging ? a.dim > b.dim : a.dim < b.dim;
  });
}

template <typename T>
std::vector<AxisPass<T>> build_passes(const ResizeSpec& spec) {
  std::vector<AxisPass<T>> passes;
  for (std::size_t i = 0; i < spec.axes.size(); ++i) {
    TapTable<T> table = build_axis_taps<T>(spec.axes[i], spec.mode, spec.align_corners, spec.antialias,
                                                 nearest_index_rule(spec));
    if (!table.is_identity()) passes.push_back(AxisPass<T>{static_cast<int>(i) + 2, std::move(table)});
  }
  return passes;
}

}  // namespace

template <typename T>
ResamplePlan<T> make_forward_plan(const ResizeSpec& spec) {
  ResamplePlan<T> plan;
  plan.in_shape = spec.input_shape();
  plan.out_shape = spec.output_shape();
  plan.passes = build_passes<T>(spec);
  order_passes(plan.passes);
  return plan;
}

template <typename T>
ResamplePlan<T> make_backward_plan(const ResizeSpec& spec) {
  ResamplePlan<T> plan;
  plan.in_shape = spec.output_shape();
  plan.out_shape = spec.input_shape();
  plan.passes = build_passes<T>(spec);
  for (auto& pass : plan.passes) pass.table = transpose(pass.table);
  order_passes(plan.passes);
  return plan;
}

template ResamplePlan<float> make_forward_plan<float>(const ResizeSpec&);
template ResamplePlan<double> make_forward_plan<double>(const ResizeSpec&);
template ResamplePlan<float> make_backward_plan<float>(const ResizeSpec&);
template ResamplePlan<double> make_backward_plan<double>(const ResizeSpec&);

}  // namespace tessera::plan
