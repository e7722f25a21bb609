// interpolate.cpp — the public interpolate API: validate views, build the plan, run it on a backend.
#include "tessera/interpolate.hpp"

#include <string>

#include "cpu/axis_pass.hpp"
#include "cpu/thread_pool.hpp"
#include "execute.hpp"
#include "plan/plan_cache.hpp"
#include "plan/resize_spec.hpp"
#include "tessera/error.hpp"

#ifdef TESSERA_WITH_CUDA
#include "cuda/backend.hpp"
#endif

namespace tessera {
namespace {

struct ModeName {
  Mode mode;
  const char* name;
};
constexpr ModeName kModeNames[] = {
    {Mode::nearest, "nearest"}, {Mode::nearest_exact, "nearest-exact"}, {Mode::linear, "linear"},
    {Mode::bilinear, "bilinear"}, {Mode::trilinear, "trilinear"},        {Mode::bicubic, "bicubic"},
    {Mode::cubic, "cubic"},      {Mode::area, "area"},                   {Mode::lanczos, "lanczos"},
};

// Shared by forward and backward: `from` has shape plan.in_shape, `to` has plan.out_shape. Tables are
// computed in PyTorch's arithmetic type for the dtype: double for float64, float otherwise.
void resample(const plan::ResizeSpec& spec, bool backward, const TensorView& from, const TensorView& to,
              void* cuda_stream) {
  if (from.dtype == DType::float64) {
    execute<double>(*plan::cached_plan<double>(spec, backward), from, to, cuda_stream);
  } else {
    execute<float>(*plan::cached_plan<float>(spec, backward), from, to, cuda_stream);
  }
}

}  // namespace

Mode parse_mode(std::string_view name) {
  for (const auto& m : kModeNames) {
    if (name == m.name) return m.mode;
  }
  fail("mode", "unknown mode '" + std::string(name) +
                   "'; expected one of nearest, nearest-exact, linear, bilinear, trilinear, bicubic, cubic, "
                   "area, lanczos");
}

const char* mode_name(Mode mode) {
  for (const auto& m : kModeNames) {
    if (m.mode == mode) return m.name;
  }
  return "unknown";
}

std::vector<std::int64_t> interpolate_output_shape(const std::vector<std::int64_t>& input_shape,
                                                   const InterpolateOptions& options) {
  return plan::resolve_resize(input_shape, options).output_shape();
}

void interpolate(const TensorView& input, const TensorView& output, const InterpolateOptions& options,
                 void* cuda_stream) {
  check_view(input, "input");
  check_view(output, "output");
  plan::ResizeSpec spec = plan::resolve_resize(input.shape, options, "input");
  spec.channels_last = is_channels_last(input.shape, input.strides);
  if (output.shape != spec.output_shape()) {
    fail("output", "expected shape " + plan::shape_string(spec.output_shape()) + ", got " + plan::shape_string(output.shape));
  }
  if (output.dtype != input.dtype) fail("output", "must have the input's dtype");
  check_output(output, "output", input, "input");
  resample(spec, false, input, output, cuda_stream);
}

void interpolate_backward(const TensorView& grad_output, const TensorView& grad_input,
                          const InterpolateOptions& options, void* cuda_stream) {
  check_view(grad_output, "grad_output");
  check_view(grad_input, "grad_input");
  plan::ResizeSpec spec = plan::resolve_resize(grad_input.shape, options, "input_size");
  spec.channels_last = is_channels_last(grad_output.shape, grad_output.strides);
  if (grad_output.shape != spec.output_shape()) {
    fail("grad_output", "expected shape " + plan::shape_string(spec.output_shape()) + " (the forward output for input_size " +
                            plan::shape_string(grad_input.shape) + "), got " + plan::shape_string(grad_output.shape));
  }
  if (grad_output.dtype != grad_input.dtype) fail("grad_input", "must have grad_output's dtype");
  check_output(grad_input, "grad_input", grad_output, "grad_output");
  resample(spec, true, grad_output, grad_input, cuda_stream);
}

bool built_with_cuda() {
#ifdef TESSERA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef TESSERA_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

const char* cpu_target() { return cpu::cpu_target(); }

void set_num_threads(int num_threads) { cpu::set_num_threads(num_threads); }
int get_num_threads() { return cpu::get_num_threads(); }

}  // namespace tessera
