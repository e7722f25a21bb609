// CPU backend: agreement with a dense float64 reference, and bitwise independence from thread count
// and memory layout.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "plan/axis_taps.hpp"
#include "plan/resize_spec.hpp"
#include "tessera/interpolate.hpp"

using namespace tessera;

namespace {

std::vector<double> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist;
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Dense separable reference on one (N*C) plane of shape H x W.
std::vector<double> dense_reference(const std::vector<double>& x, std::int64_t planes, std::int64_t h, std::int64_t w,
                                    const plan::TapTable<double>& rows, const plan::TapTable<double>& cols) {
  std::vector<double> out(planes * rows.out_len * cols.out_len, 0.0);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t i = 0; i < rows.out_len; ++i)
      for (std::int64_t a = 0; a < rows.taps(i); ++a)
        for (std::int64_t j = 0; j < cols.out_len; ++j)
          for (std::int64_t b = 0; b < cols.taps(j); ++b)
            out[(p * rows.out_len + i) * cols.out_len + j] +=
                rows.row(i)[a] * cols.row(j)[b] * x[(p * h + rows.first[i] + a) * w + cols.first[j] + b];
  return out;
}

}  // namespace

TEST(CpuBackend, MatchesDenseReference) {
  const std::int64_t n = 2, c = 3, h = 9, w = 7;
  auto x = random_values(n * c * h * w, 1);
  InterpolateOptions o;
  o.mode = Mode::bicubic;
  o.size = {20, 5};
  const auto out_shape = interpolate_output_shape({n, c, h, w}, o);
  std::vector<double> y(n * c * 20 * 5);
  interpolate(make_contiguous_view(x.data(), DType::float64, {n, c, h, w}),
              make_contiguous_view(y.data(), DType::float64, out_shape), o);
  const auto rows = plan::build_axis_taps<double>({h, 20, std::nullopt}, o.mode, false, false);
  const auto cols = plan::build_axis_taps<double>({w, 5, std::nullopt}, o.mode, false, false);
  const auto ref = dense_reference(x, n * c, h, w, rows, cols);
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-12) << i;
}

TEST(CpuBackend, BitwiseIdenticalForAnyThreadCountAndLayout) {
  const std::int64_t n = 2, c = 5, h = 31, w = 17;
  auto x64 = random_values(n * c * h * w, 2);
  std::vector<float> x(x64.begin(), x64.end());
  // The same values stored channels-last (N, H, W, C in memory).
  std::vector<float> x_cl(x.size());
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < c; ++b)
      for (std::int64_t i = 0; i < h; ++i)
        for (std::int64_t j = 0; j < w; ++j) x_cl[((a * h + i) * w + j) * c + b] = x[((a * c + b) * h + i) * w + j];

  for (Mode mode : {Mode::bilinear, Mode::bicubic, Mode::area, Mode::nearest}) {
    InterpolateOptions o;
    o.mode = mode;
    o.size = {mode == Mode::area ? 7 : 70, 40};
    o.antialias = false;
    const auto shape = interpolate_output_shape({n, c, h, w}, o);
    const std::int64_t count = shape[0] * shape[1] * shape[2] * shape[3];
    std::vector<float> reference;
    for (int threads : {1, 2, 3, 8}) {
      set_num_threads(threads);
      std::vector<float> y(count), y_cl(count);
      interpolate(make_contiguous_view(x.data(), DType::float32, {n, c, h, w}),
                  make_contiguous_view(y.data(), DType::float32, shape), o);
      TensorView in_cl{x_cl.data(), DType::float32, {n, c, h, w}, {c * h * w, 1, w * c, c}};
      TensorView out_cl{y_cl.data(), DType::float32, shape,
                        {shape[1] * shape[2] * shape[3], 1, shape[3] * shape[1], shape[1]}};
      interpolate(in_cl, out_cl, o);
      if (reference.empty()) reference = y;
      EXPECT_EQ(0, std::memcmp(reference.data(), y.data(), count * sizeof(float))) << mode_name(mode) << threads;
      // Compare the channels-last result element by element in logical order.
      for (std::int64_t a = 0; a < shape[0]; ++a)
        for (std::int64_t b = 0; b < shape[1]; ++b)
          for (std::int64_t i = 0; i < shape[2]; ++i)
            for (std::int64_t j = 0; j < shape[3]; ++j) {
              const float u = y[((a * shape[1] + b) * shape[2] + i) * shape[3] + j];
              const float v = y_cl[((a * shape[2] + i) * shape[3] + j) * shape[1] + b];
              ASSERT_EQ(0, std::memcmp(&u, &v, sizeof u)) << mode_name(mode);
            }
    }
  }
  set_num_threads(2);
}
