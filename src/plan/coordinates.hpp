// coordinates.hpp — PyTorch's coordinate mapping, reproduced operation by operation.
//
// T is the arithmetic type PyTorch uses for a dtype (float for float32 and the 16-bit types, double for
// float64). The exact expression shapes matter: PyTorch mixes T with double literals and calls floorf
// even on double values, and matching its rounding is what keeps our indices equal to its indices.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

namespace tessera::plan {

// 1/scale when a scale is given, in/out otherwise (ATen's compute_scales_value).
template <typename T>
T scale_from(std::optional<double> scale, std::int64_t in_len, std::int64_t out_len) {
  return (scale.has_value() && *scale > 0.0) ? static_cast<T>(1.0 / *scale)
                                             : static_cast<T>(in_len) / static_cast<T>(out_len);
}

// ATen's area_pixel_compute_scale.
template <typename T>
T pixel_scale(std::int64_t in_len, std::int64_t out_len, bool align_corners, std::optional<double> scale) {
  if (align_corners) {
    return out_len > 1 ? static_cast<T>(in_len - 1) / static_cast<T>(out_len - 1) : T(0);
  }
  return scale_from<T>(scale, in_len, out_len);
}

// ATen's area_pixel_compute_source_index: the continuous source coordinate of output index `dst`.
template <typename T>
T source_coordinate(T scale, std::int64_t dst, bool align_corners, bool cubic) {
  if (align_corners) return scale * static_cast<T>(dst);
  const T src = scale * (static_cast<T>(dst) + static_cast<T>(0.5)) - static_cast<T>(0.5);
  // Linear modes clamp negative coordinates to 0; cubic keeps them (its taps reach below 0).
  return (!cubic && src < T(0)) ? T(0) : src;
}

// ATen's guard_index_and_lambda: integer part (via floorf, as ATen does for every T) and fraction.
template <typename T>
void split_coordinate(T coordinate, std::int64_t in_len, std::int64_t& index, T& fraction) {
  index = std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(coordinate))), in_len - 1);
  fraction = std::min(std::max(coordinate - static_cast<T>(index), T(0)), T(1));
}

// Keys' cubic convolution kernel pieces for |x| <= 1 and 1 < |x| < 2.
template <typename T>
T cubic_inner(T x, T a) {
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}
template <typename T>
T cubic_outer(T x, T a) {
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

}  // namespace tessera::plan
