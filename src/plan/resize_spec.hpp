// resize_spec.hpp — turns user options into a validated per-axis description of the resize.
//
// This is where PyTorch's argument rules live (torch/nn/functional.py::interpolate and
// aten/src/ATen/native/UpSample.cpp::compute_output_size): which modes take which ranks, how
// size/scale_factor/recompute_scale_factor become an output size and the scale the kernels use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tessera/interpolate.hpp"

namespace tessera::plan {

struct AxisSpec {
  std::int64_t in_len = 0;
  std::int64_t out_len = 0;
  // The user's scale factor when the kernels must use it (PyTorch maps coordinates with 1/scale
  // when a scale is given and not recomputed); nullopt means in_len / out_len.
  std::optional<double> scale;
};

struct ResizeSpec {
  Mode mode = Mode::nearest;
  bool align_corners = false;
  bool antialias = false;
  std::int64_t batch = 0;     // N
  std::int64_t channels = 0;  // C
  std::vector<AxisSpec> axes;  // one per spatial dim, outermost first
  // The data's memory format; PyTorch picks its 2-D nearest index rule partly by it.
  bool channels_last = false;

  std::vector<std::int64_t> input_shape() const;
  std::vector<std::int64_t> output_shape() const;
};

// Validates `options` against an input shape (N, C, *spatial) and resolves sizes and scales.
// Throws tessera::Error naming the offending argument.
ResizeSpec resolve_resize(const std::vector<std::int64_t>& input_shape, const InterpolateOptions& options,
                          const char* input_name = "input");

// "(2, 3, 4)": for error messages. (Formatting avoids iostreams: an extension module whose C++ runtime
// differs from the host process's can crash inside iostream locale code.)
std::string shape_string(const std::vector<std::int64_t>& shape);
std::string number_string(double value);

// Product of a shape; throws Error (memory kind) naming `argument` if it overflows int64.
std::int64_t checked_numel(const std::vector<std::int64_t>& shape, const char* argument);

}  // namespace tessera::plan
