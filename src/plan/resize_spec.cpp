// resize_spec.cpp — argument validation and output-size resolution (PyTorch's rules, clear errors).
#include "plan/resize_spec.hpp"

#include <cmath>
#include <limits>
#include <cstdio>
#include <string>

#include "tessera/error.hpp"

namespace tessera::plan {

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string number_string(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

namespace {

bool takes_align_corners(Mode mode) {
  return mode != Mode::nearest && mode != Mode::nearest_exact && mode != Mode::area;
}

// Rank rules of PyTorch's mode names; 'cubic' (our extension) and the nearest/area modes take any.
void check_rank(Mode mode, int spatial_dims, const char* input_name) {
  int required = 0;
  switch (mode) {
    case Mode::linear: required = 1; break;
    case Mode::bilinear:
    case Mode::bicubic:
    case Mode::lanczos: required = 2; break;
    case Mode::trilinear: required = 3; break;
    default: return;
  }
  if (spatial_dims != required) {
    std::string msg = std::string("mode '") + mode_name(mode) + "' needs a " + std::to_string(required + 2) +
                      "-D input (N, C" + (required == 1 ? ", W" : required == 2 ? ", H, W" : ", D, H, W") +
                      "), got a " + std::to_string(spatial_dims + 2) + "-D input";
    if (mode == Mode::bicubic) msg += " (mode 'cubic' resamples 1, 2 or 3 spatial dims)";
    fail("mode", msg);
  }
  (void)input_name;
}

void check_antialias(Mode mode, bool antialias) {
  if (mode == Mode::lanczos && !antialias) fail("antialias", "mode 'lanczos' requires antialias=True");
  if (!antialias) return;
  if (mode == Mode::nearest || mode == Mode::nearest_exact || mode == Mode::area) {
    fail("antialias", std::string("antialias=True is not defined for mode '") + mode_name(mode) +
                          "' (it applies to linear, bilinear, trilinear, bicubic, cubic and lanczos)");
  }
}

}  // namespace

std::int64_t checked_numel(const std::vector<std::int64_t>& shape, const char* argument) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) {
      throw Error(ErrorKind::memory, argument,
                  "the result of shape " + shape_string(shape) + " would have more than 2**63 elements");
    }
    n *= d;
  }
  return n;
}

std::vector<std::int64_t> ResizeSpec::input_shape() const {
  std::vector<std::int64_t> shape{batch, channels};
  for (const auto& a : axes) shape.push_back(a.in_len);
  return shape;
}

std::vector<std::int64_t> ResizeSpec::output_shape() const {
  std::vector<std::int64_t> shape{batch, channels};
  for (const auto& a : axes) shape.push_back(a.out_len);
  return shape;
}

ResizeSpec resolve_resize(const std::vector<std::int64_t>& input_shape, const InterpolateOptions& options,
                          const char* input_name) {
  const int ndim = static_cast<int>(input_shape.size());
  if (ndim < 3 || ndim > 5) {
    fail(input_name, "expected a 3-D, 4-D or 5-D array (N, C, *spatial), got " + std::to_string(ndim) +
                         "-D with shape " + shape_string(input_shape));
  }
  for (std::int64_t d : input_shape) {
    if (d < 0) fail(input_name, "negative dimension in shape " + shape_string(input_shape));
  }
  const int spatial = ndim - 2;
  for (int i = 0; i < spatial; ++i) {
    if (input_shape[2 + i] == 0) {
      fail(input_name, "spatial dimensions must be non-empty, got shape " + shape_string(input_shape));
    }
  }

  ResizeSpec spec;
  spec.mode = options.mode;
  spec.antialias = options.antialias;
  spec.batch = input_shape[0];
  spec.channels = input_shape[1];

  if (options.align_corners.has_value() && !takes_align_corners(options.mode)) {
    fail("align_corners", std::string("align_corners can only be set with the interpolating modes "
                                      "(linear, bilinear, trilinear, bicubic, cubic), not '") +
                              mode_name(options.mode) + "'");
  }
  spec.align_corners = options.align_corners.value_or(false);
  if (options.mode == Mode::lanczos && spec.align_corners) {
    fail("align_corners", "mode 'lanczos' does not support align_corners=True");
  }
  check_antialias(options.mode, options.antialias);

  const bool has_size = !options.size.empty();
  const bool has_scale = !options.scale_factor.empty();
  if (has_size && has_scale) fail("size", "only one of size or scale_factor should be given, not both");
  if (!has_size && !has_scale) fail("size", "either size or scale_factor must be given");

  bool recompute = options.recompute_scale_factor.value_or(false);
  if (options.recompute_scale_factor.value_or(false) && has_size) {
    fail("recompute_scale_factor", "recompute_scale_factor=True is not meaningful with an explicit size");
  }
  // PyTorch: 'area' always works from an explicit size, so a scale factor is recomputed.
  if (options.mode == Mode::area) recompute = true;

  spec.axes.resize(spatial);
  if (has_size) {
    if (static_cast<int>(options.size.size()) != spatial) {
      fail("size", "expected " + std::to_string(spatial) + " values (one per spatial dim of the input of shape " +
                       shape_string(input_shape) + "), got " + std::to_string(options.size.size()));
    }
    for (int i = 0; i < spatial; ++i) {
      if (options.size[i] <= 0) {
        fail("size", "output sizes must be positive, got " + shape_string(options.size));
      }
      spec.axes[i] = AxisSpec{input_shape[2 + i], options.size[i], std::nullopt};
    }
  } else {
    if (static_cast<int>(options.scale_factor.size()) != spatial) {
      fail("scale_factor", "expected " + std::to_string(spatial) +
                               " values (one per spatial dim of the input of shape " + shape_string(input_shape) +
                               "), got " + std::to_string(options.scale_factor.size()));
    }
    for (int i = 0; i < spatial; ++i) {
      const double s = options.scale_factor[i];
      if (!std::isfinite(s) || s <= 0.0) {
        fail("scale_factor", "scale factors must be finite and positive, got " + number_string(s));
      }
      const std::int64_t in_len = input_shape[2 + i];
      // PyTorch: floor(float(in) * scale) in double precision.
      const double out = std::floor(static_cast<double>(in_len) * s);
      if (out < 1.0) {
        fail("scale_factor", "scale factor " + number_string(s) + " turns spatial dim " + std::to_string(i) +
                                 " of length " + std::to_string(in_len) + " into an empty output");
      }
      if (out >= 9.2e18) {
        throw Error(ErrorKind::memory, "scale_factor", "the output would have more than 2**63 elements");
      }
      spec.axes[i] = AxisSpec{in_len, static_cast<std::int64_t>(out),
                              recompute ? std::nullopt : std::optional<double>(s)};
    }
  }
  check_rank(options.mode, spatial, input_name);
  checked_numel(spec.output_shape(), has_size ? "size" : "scale_factor");
  return spec;
}

}  // namespace tessera::plan
