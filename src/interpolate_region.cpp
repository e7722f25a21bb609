// interpolate_region.cpp — regions of interpolate and of its backward, from boxes of their inputs.
#include <algorithm>
#include <memory>
#include <string>

#include "execute.hpp"
#include "plan/plan_cache.hpp"
#include "plan/region_plan.hpp"
#include "plan/resample_plan.hpp"
#include "plan/resize_spec.hpp"
#include "tessera/error.hpp"
#include "tessera/region.hpp"

namespace tessera {
namespace {

struct Names {
  const char* part;
  const char* region;
};

void check_part(const TensorView& part, const std::vector<std::int64_t>& whole_shape,
                const std::vector<std::int64_t>& part_start, const Names& names) {
  check_view(part, names.part);
  if (part.ndim() != static_cast<int>(whole_shape.size()) || part.shape[0] != whole_shape[0] ||
      part.shape[1] != whole_shape[1]) {
    fail(names.part, "expected shape (" + std::to_string(whole_shape[0]) + ", " + std::to_string(whole_shape[1]) +
                         ", *box) with " + std::to_string(whole_shape.size() - 2) + " spatial dims, got " +
                         plan::shape_string(part.shape));
  }
  if (part_start.size() != whole_shape.size() - 2) {
    fail("part_start", "expected one start per spatial dim (" + std::to_string(whole_shape.size() - 2) + "), got " +
                           std::to_string(part_start.size()));
  }
  for (std::size_t a = 0; a < part_start.size(); ++a) {
    if (part_start[a] < 0 || part_start[a] + part.shape[a + 2] > whole_shape[a + 2]) {
      fail("part_start", "the box along spatial dim " + std::to_string(a) + " starts at " +
                             std::to_string(part_start[a]) + " with length " + std::to_string(part.shape[a + 2]) +
                             ", outside [0, " + std::to_string(whole_shape[a + 2]) + ")");
    }
  }
}

template <typename T>
const plan::ResamplePlan<T>& whole_plan(const plan::ResizeSpec& spec, bool backward,
                                        std::shared_ptr<const plan::ResamplePlan<T>>& holder) {
  holder = plan::cached_plan<T>(spec, backward);
  return *holder;
}

template <typename T>
void run_region(const plan::ResizeSpec& spec, bool backward, const TensorView& part,
                const std::vector<std::int64_t>& part_start, const Region& region, const TensorView& out,
                void* cuda_stream, const Names& names) {
  std::shared_ptr<const plan::ResamplePlan<T>> holder;
  const plan::ResamplePlan<T>& whole = whole_plan<T>(spec, backward, holder);
  check_part(part, whole.in_shape, part_start, names);
  const std::vector<std::int64_t> lengths(part.shape.begin() + 2, part.shape.end());
  std::vector<std::int64_t> crop_start;
  const plan::ResamplePlan<T> restricted =
      plan::restrict_to_region(whole, region, part_start, lengths, names.region, names.part, crop_start);
  // Axes that are not resampled are cropped by moving the view, without copying.
  TensorView cropped = part;
  for (std::size_t a = 0; a < crop_start.size(); ++a) {
    const std::int64_t offset = crop_start[a] * part.strides[a + 2] * static_cast<std::int64_t>(dtype_size(part.dtype));
    cropped.data = static_cast<char*>(cropped.data) + offset;
    cropped.shape[a + 2] = restricted.in_shape[a + 2];
  }
  check_view(out, "output");
  if (out.shape != restricted.out_shape) {
    fail("output", "expected shape " + plan::shape_string(restricted.out_shape) + ", got " +
                       plan::shape_string(out.shape));
  }
  if (out.dtype != part.dtype) fail("output", std::string("must have the dtype of ") + names.part);
  check_output(out, "output", part, names.part);
  execute<T>(restricted, cropped, out, cuda_stream);
}

void dispatch_region(const plan::ResizeSpec& spec, bool backward, const TensorView& part,
                     const std::vector<std::int64_t>& part_start, const Region& region, const TensorView& out,
                     void* cuda_stream, const Names& names) {
  if (part.dtype == DType::float64) {
    run_region<double>(spec, backward, part, part_start, region, out, cuda_stream, names);
  } else {
    run_region<float>(spec, backward, part, part_start, region, out, cuda_stream, names);
  }
}

// The box that serves every variant of the tables: float and double coordinate arithmetic, and both of
// PyTorch's nearest index rules (chosen by memory format), so that one answer holds for any dtype and layout.
Region required_for_any_dtype(plan::ResizeSpec spec, bool backward, const Region& region, const char* region_name) {
  Region united;
  for (bool channels_last : {false, true}) {
    spec.channels_last = channels_last;
    std::shared_ptr<const plan::ResamplePlan<double>> double_plan;
    std::shared_ptr<const plan::ResamplePlan<float>> float_plan;
    for (const Region& r : {plan::required_region(whole_plan<double>(spec, backward, double_plan), region, region_name),
                            plan::required_region(whole_plan<float>(spec, backward, float_plan), region, region_name)}) {
      if (united.empty()) {
        united = r;
        continue;
      }
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (r[i].start >= r[i].stop) continue;
        united[i] = united[i].start >= united[i].stop
                        ? r[i]
                        : Range{std::min(united[i].start, r[i].start), std::max(united[i].stop, r[i].stop)};
      }
    }
  }
  return united;
}

}  // namespace

Region required_input_region(const std::vector<std::int64_t>& input_shape, const Region& output_region,
                             const InterpolateOptions& options) {
  const plan::ResizeSpec spec = plan::resolve_resize(input_shape, options, "input_size");
  return required_for_any_dtype(spec, false, output_region, "output_region");
}

void interpolate_region(const TensorView& part, const std::vector<std::int64_t>& input_shape,
                        const std::vector<std::int64_t>& part_start, const Region& output_region,
                        const TensorView& out, const InterpolateOptions& options, void* cuda_stream) {
  plan::ResizeSpec spec = plan::resolve_resize(input_shape, options, "input_size");
  spec.channels_last = is_channels_last(part.shape, part.strides);
  dispatch_region(spec, false, part, part_start, output_region, out, cuda_stream, Names{"x_part", "output_region"});
}

Region required_grad_output_region(const std::vector<std::int64_t>& input_shape, const Region& input_region,
                                   const InterpolateOptions& options) {
  const plan::ResizeSpec spec = plan::resolve_resize(input_shape, options, "input_size");
  return required_for_any_dtype(spec, true, input_region, "input_region");
}

void interpolate_backward_region(const TensorView& grad_output_part, const std::vector<std::int64_t>& input_shape,
                                 const std::vector<std::int64_t>& part_start, const Region& input_region,
                                 const TensorView& grad_input, const InterpolateOptions& options, void* cuda_stream) {
  plan::ResizeSpec spec = plan::resolve_resize(input_shape, options, "input_size");
  spec.channels_last = is_channels_last(grad_output_part.shape, grad_output_part.strides);
  dispatch_region(spec, true, grad_output_part, part_start, input_region, grad_input, cuda_stream,
                  Names{"grad_output_part", "input_region"});
}

}  // namespace tessera
