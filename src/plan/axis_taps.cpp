// axis_taps.cpp — tap tables for every interpolate mode, following PyTorch's CPU kernels
// (aten/src/ATen/native/cpu/UpSampleKernel.cpp and AdaptiveAveragePooling) formula by formula.
#include "plan/axis_taps.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "plan/coordinates.hpp"

namespace tessera::plan {
namespace {

template <typename T>
TapTable<T> identity_taps(std::int64_t len) {
  TapTableBuilder<T> builder(len, len);
  const T one(1);
  for (std::int64_t j = 0; j < len; ++j) builder.add_row(j, &one, 1);
  return builder.finish();
}

// PyTorch 2.13 has two nearest index rules. Its vectorized 2-D kernel (see NearestIndexRule) uses the
// UpSample.h helpers nearest_idx / nearest_exact_idx: a float32 scale for every dtype and, for 'nearest',
// shortcuts when the size is kept or doubled (whatever the scale factor says).
std::int64_t nearest_index_vectorized(const AxisSpec& axis, std::int64_t j, bool exact) {
  if (!exact && axis.out_len == axis.in_len) return j;
  if (!exact && axis.out_len == 2 * axis.in_len) return j >> 1;
  const float scale = scale_from<float>(axis.scale, axis.in_len, axis.out_len);
  const float src = exact ? static_cast<float>((static_cast<double>(j) + 0.5) * static_cast<double>(scale))
                          : static_cast<float>(j) * scale;
  return std::min(static_cast<std::int64_t>(std::floor(src)), axis.in_len - 1);
}

// Everywhere else PyTorch uses its generic index helper in the dtype's arithmetic type.
// Its 'nearest-exact' coordinate scale * (j + 0.5) - 0.5 is compiled to a fused multiply-add in the
// AVX2/AVX-512 kernels that PyTorch runs on x86 machines; std::fma reproduces that rounding on any ISA.
template <typename T>
std::int64_t nearest_index_generic(const AxisSpec& axis, T scale, std::int64_t j, bool exact) {
  if (!exact) {
    return std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(scale * static_cast<T>(j)))),
                    axis.in_len - 1);
  }
  T src = std::fma(scale, static_cast<T>(j) + static_cast<T>(0.5), static_cast<T>(-0.5));
  if (src < T(0)) src = T(0);
  return std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(static_cast<double>(src) + 0.5))),
                  axis.in_len - 1);
}

template <typename T>
TapTable<T> nearest_taps(const AxisSpec& axis, bool exact, NearestIndexRule rule) {
  TapTableBuilder<T> builder(axis.in_len, axis.out_len);
  const T scale = pixel_scale<T>(axis.in_len, axis.out_len, false, axis.scale);
  const T one(1);
  for (std::int64_t j = 0; j < axis.out_len; ++j) {
    const std::int64_t index = rule == NearestIndexRule::vectorized ? nearest_index_vectorized(axis, j, exact)
                                                                    : nearest_index_generic<T>(axis, scale, j, exact);
    builder.add_row(index, &one, 1);
  }
  return builder.finish();
}

template <typename T>
TapTable<T> linear_taps(const AxisSpec& axis, bool align_corners) {
  // PyTorch copies when the size does not change, whatever the scale factor says.
  if (axis.in_len == axis.out_len) return identity_taps<T>(axis.in_len);
  TapTableBuilder<T> builder(axis.in_len, axis.out_len);
  const T scale = pixel_scale<T>(axis.in_len, axis.out_len, align_corners, axis.scale);
  for (std::int64_t j = 0; j < axis.out_len; ++j) {
    std::int64_t index;
    T lambda;
    split_coordinate<T>(source_coordinate<T>(scale, j, align_corners, false), axis.in_len, index, lambda);
    const T w[2] = {T(1) - lambda, lambda};
    builder.add_clamped_row(index, w, 2);
  }
  return builder.finish();
}

template <typename T>
TapTable<T> cubic_taps(const AxisSpec& axis, bool align_corners) {
  TapTableBuilder<T> builder(axis.in_len, axis.out_len);
  const T scale = pixel_scale<T>(axis.in_len, axis.out_len, align_corners, axis.scale);
  const T a = static_cast<T>(-0.75);
  for (std::int64_t j = 0; j < axis.out_len; ++j) {
    std::int64_t index;
    T t;
    split_coordinate<T>(source_coordinate<T>(scale, j, align_corners, true), axis.in_len, index, t);
    const T x2 = static_cast<T>(1.0 - t);
    const T w[4] = {cubic_outer<T>(static_cast<T>(t + 1.0), a), cubic_inner<T>(t, a), cubic_inner<T>(x2, a),
                    cubic_outer<T>(static_cast<T>(x2 + 1.0), a)};
    builder.add_clamped_row(index - 1, w, 4);
  }
  return builder.finish();
}

// Adaptive average pooling: output j averages inputs [floor(j*in/out), ceil((j+1)*in/out)).
template <typename T>
TapTable<T> area_taps(const AxisSpec& axis) {
  const std::int64_t in = axis.in_len, out = axis.out_len;
  TapTableBuilder<T> builder(in, out);
  std::vector<T> w;
  for (std::int64_t j = 0; j < out; ++j) {
    // Written as ATen writes it, so that j*in cannot overflow.
    const std::int64_t start = (j / out) * in + ((j % out) * in) / out;
    const std::int64_t end = 1 + ((j + 1) * in - 1) / out;
    w.assign(static_cast<std::size_t>(end - start), T(1) / static_cast<T>(end - start));
    builder.add_row(start, w.data(), end - start);
  }
  return builder.finish();
}

// Support-scaled filters (Pillow's Resample.c, as adopted by PyTorch's antialias kernels).
template <typename T>
T triangle_filter(T x) {
  x = std::abs(x);
  return x < T(1) ? T(1) - x : T(0);
}
template <typename T>
T keys_cubic_filter(T x) {  // Pillow's bicubic, a = -0.5
  const T a = static_cast<T>(-0.5);
  x = std::abs(x);
  if (x < T(1)) return cubic_inner<T>(x, a);
  if (x < T(2)) return cubic_outer<T>(x, a);
  return T(0);
}
template <typename T>
T sinc(T x) {
  if (x == T(0)) return T(1);
  x = x * static_cast<T>(3.14159265358979323846);
  return std::sin(x) / x;
}
template <typename T>
T lanczos3_filter(T x) {
  x = std::abs(x);
  return x < T(3) ? sinc<T>(x) * sinc<T>(static_cast<T>(x / T(3))) : T(0);
}

template <typename T, typename Filter>
TapTable<T> antialias_taps(const AxisSpec& axis, bool align_corners, int interp_size, Filter filter) {
  // PyTorch skips axes whose size does not change.
  if (axis.in_len == axis.out_len) return identity_taps<T>(axis.in_len);
  const std::int64_t in = axis.in_len;
  TapTableBuilder<T> builder(in, axis.out_len);
  const T scale = pixel_scale<T>(in, axis.out_len, align_corners, axis.scale);
  const T support = (scale >= 1.0) ? static_cast<T>((interp_size * 0.5) * scale) : static_cast<T>(interp_size * 0.5);
  const std::int64_t max_taps = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
  const T inverse_scale = (scale >= 1.0) ? static_cast<T>(1.0 / scale) : T(1);
  std::vector<T> w(static_cast<std::size_t>(max_taps));
  for (std::int64_t j = 0; j < axis.out_len; ++j) {
    const T center = static_cast<T>(scale * (j + 0.5));
    const std::int64_t xmin = std::max(static_cast<std::int64_t>(center - support + 0.5), std::int64_t{0});
    std::int64_t xsize = std::min(static_cast<std::int64_t>(center + support + 0.5), in) - xmin;
    xsize = std::clamp(xsize, std::int64_t{0}, max_taps);
    T total(0);
    for (std::int64_t k = 0; k < xsize; ++k) {
      w[k] = filter(static_cast<T>((static_cast<T>(k + xmin) - center + 0.5) * inverse_scale));
      total = total + w[k];
    }
    if (total != T(0)) {
      for (std::int64_t k = 0; k < xsize; ++k) w[k] = w[k] / total;
    }
    builder.add_row(xmin, w.data(), xsize);
  }
  return builder.finish();
}

}  // namespace

NearestIndexRule nearest_index_rule(const ResizeSpec& spec) {
  if (spec.axes.size() != 2) return NearestIndexRule::generic;
  const bool vectorized = (spec.channels_last && spec.channels > 3) || (spec.axes[0].out_len + spec.axes[1].out_len <= 128);
  return vectorized ? NearestIndexRule::vectorized : NearestIndexRule::generic;
}

template <typename T>
TapTable<T> build_axis_taps(const AxisSpec& axis, Mode mode, bool align_corners, bool antialias,
                            NearestIndexRule nearest_rule) {
  switch (mode) {
    case Mode::nearest: return nearest_taps<T>(axis, false, nearest_rule);
    case Mode::nearest_exact: return nearest_taps<T>(axis, true, nearest_rule);
    case Mode::area: return area_taps<T>(axis);
    case Mode::linear:
    case Mode::bilinear:
    case Mode::trilinear:
      return antialias ? antialias_taps<T>(axis, align_corners, 2, triangle_filter<T>)
                       : linear_taps<T>(axis, align_corners);
    case Mode::bicubic:
    case Mode::cubic:
      return antialias ? antialias_taps<T>(axis, align_corners, 4, keys_cubic_filter<T>)
                       : cubic_taps<T>(axis, align_corners);
    case Mode::lanczos: return antialias_taps<T>(axis, align_corners, 6, lanczos3_filter<T>);
  }
  throw std::logic_error("unhandled interpolation mode");
}

template TapTable<float> build_axis_taps<float>(const AxisSpec&, Mode, bool, bool, NearestIndexRule);
template TapTable<double> build_axis_taps<double>(const AxisSpec&, Mode, bool, bool, NearestIndexRule);

}  // namespace tessera::plan
