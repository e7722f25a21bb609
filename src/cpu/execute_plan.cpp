// execute_plan.cpp — chains single-axis passes: input -> buffer -> ... -> output.
#include "cpu/execute_plan.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "cpu/axis_pass.hpp"
#include "plan/buffer_layout.hpp"
#include "plan/resize_spec.hpp"
#include "tessera/error.hpp"

namespace tessera::cpu {
namespace {

template <typename T>
struct Buffer {
  std::unique_ptr<T[]> data;
  StridedArray array;
};

template <typename T>
Buffer<T> allocate_buffer(const std::vector<std::int64_t>& shape, const std::vector<int>& order) {
  Buffer<T> buffer;
  const std::int64_t n = plan::checked_numel(shape, "input");
  try {
    buffer.data.reset(new T[static_cast<std::size_t>(n)]);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::memory, "input", "not enough memory for an intermediate buffer of " +
                                                std::to_string(n) + " elements");
  }
  buffer.array = plan::dense_array_view(shape, order, sizeof(T) == 8 ? DType::float64 : DType::float32);
  buffer.array.data = buffer.data.get();
  return buffer;
}

}  // namespace

template <typename T>
void execute_plan(const plan::ResamplePlan<T>& plan, const TensorView& in, const TensorView& out) {
  const StridedArray src = plan::array_view(in);
  const StridedArray dst = plan::array_view(out);
  if (plan::checked_numel(plan.out_shape, "output") == 0) return;
  if (plan.passes.empty()) {
    // Nothing to resample: an exact copy (x * 1 is exact), converting the dtype if needed.
    plan::TapTableBuilder<T> identity(in.shape[0], in.shape[0]);
    const T one(1);
    for (std::int64_t j = 0; j < in.shape[0]; ++j) identity.add_row(j, &one, 1);
    run_axis_pass<T>(src, dst, 0, identity.finish());
    return;
  }
  const std::vector<int> order = plan::memory_order(in.strides);
  std::vector<std::int64_t> shape = plan.in_shape;
  Buffer<T> current;
  for (std::size_t p = 0; p < plan.passes.size(); ++p) {
    const auto& pass = plan.passes[p];
    shape[pass.dim] = pass.table.out_len;
    const StridedArray& from = (p == 0) ? src : current.array;
    if (p + 1 == plan.passes.size()) {
      run_axis_pass<T>(from, dst, pass.dim, pass.table);
    } else {
      Buffer<T> next = allocate_buffer<T>(shape, order);
      run_axis_pass<T>(from, next.array, pass.dim, pass.table);
      current = std::move(next);
    }
  }
}

template void execute_plan<float>(const plan::ResamplePlan<float>&, const TensorView&, const TensorView&);
template void execute_plan<double>(const plan::ResamplePlan<double>&, const TensorView&, const TensorView&);

}  // namespace tessera::cpu
