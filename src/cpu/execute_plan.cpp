// execute_plan.cpp — runs a plan: a single pass directly, several passes band by band.
#include "cpu/execute_plan.hpp"

#include "cpu/axis_pass.hpp"
#include "cpu/band_executor.hpp"
#include "cpu/output_stores.hpp"
#include "plan/buffer_layout.hpp"
#include "plan/resize_spec.hpp"

namespace tessera::cpu {

template <typename T>
void execute_plan(const plan::ResamplePlan<T>& plan, const TensorView& in, const TensorView& out) {
  const StridedArray src = plan::array_view(in);
  const StridedArray dst = plan::array_view(out);
  if (plan::checked_numel(plan.out_shape, "output") == 0) return;
  const Stores stores = output_stores(out);
  if (plan.passes.empty()) {
    // Nothing to resample: an exact copy (x * 1 is exact), converting the dtype if needed.
    plan::TapTableBuilder<T> identity(in.shape[0], in.shape[0]);
    const T one(1);
    for (std::int64_t j = 0; j < in.shape[0]; ++j) identity.add_row(j, &one, 1);
    run_axis_pass<T>(src, dst, 0, tap_rows(identity.finish()), Threads::pool, stores);
  } else if (plan.passes.size() == 1) {
    run_axis_pass<T>(src, dst, plan.passes[0].dim, tap_rows(plan.passes[0].table), Threads::pool, stores);
  } else {
    // Intermediates live in small per-thread buffers laid out in the input's memory order.
    execute_in_bands<T>(plan, src, dst, plan::memory_order(in.strides), stores);
  }
}

template void execute_plan<float>(const plan::ResamplePlan<float>&, const TensorView&, const TensorView&);
template void execute_plan<double>(const plan::ResamplePlan<double>&, const TensorView&, const TensorView&);

}  // namespace tessera::cpu
