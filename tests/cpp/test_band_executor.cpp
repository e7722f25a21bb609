// Band-by-band execution: for any band height, bitwise equal to running the passes one after another
// over whole intermediate arrays.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "cpu/axis_pass.hpp"
#include "cpu/band_executor.hpp"
#include "cpu/thread_pool.hpp"
#include "plan/buffer_layout.hpp"
#include "plan/resample_plan.hpp"
#include "plan/resize_spec.hpp"

using namespace tessera;

namespace {

template <typename T>
std::vector<T> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist;
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// Strides of `shape` laid out channels-last (N, *spatial, C) or contiguous.
std::vector<std::int64_t> layout_strides(const std::vector<std::int64_t>& shape, bool channels_last) {
  std::vector<int> order(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) order[d] = static_cast<int>(d);
  if (channels_last) {
    order.erase(order.begin() + 1);
    order.push_back(1);
  }
  return plan::dense_strides(shape, order);
}

// The passes one after another through whole dense buffers: the straightforward execution.
template <typename T>
std::vector<T> pass_by_pass(const plan::ResamplePlan<T>& p, const plan::ArrayView& src, bool channels_last) {
  const DType dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
  std::vector<int> order = plan::memory_order(layout_strides(p.in_shape, channels_last));
  std::vector<std::int64_t> shape = p.in_shape;
  std::vector<T> current;
  plan::ArrayView from = src;
  for (const auto& pass : p.passes) {
    shape[pass.dim] = pass.table.out_len;
    std::vector<T> next(static_cast<std::size_t>(plan::checked_numel(shape, "shape")));
    plan::ArrayView to = plan::dense_array_view(shape, order, dtype);
    to.data = next.data();
    cpu::run_axis_pass<T>(from, to, pass.dim, pass.table);
    current = std::move(next);
    from = to;
  }
  return current;
}

template <typename T>
void expect_bands_match(const std::vector<std::int64_t>& in_shape, InterpolateOptions o, bool channels_last,
                        bool backward) {
  const plan::ResizeSpec spec = plan::resolve_resize(in_shape, o);
  const plan::ResamplePlan<T> p = backward ? plan::make_backward_plan<T>(spec) : plan::make_forward_plan<T>(spec);
  ASSERT_GE(p.passes.size(), 2u);
  const DType dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
  std::vector<T> x = random_values<T>(static_cast<std::size_t>(plan::checked_numel(p.in_shape, "in")), 7);
  plan::ArrayView src = plan::dense_array_view(p.in_shape, plan::memory_order(layout_strides(p.in_shape, channels_last)), dtype);
  src.data = x.data();
  const std::vector<T> expected = pass_by_pass<T>(p, src, channels_last);
  const std::vector<int> order = plan::memory_order(layout_strides(p.in_shape, channels_last));
  for (std::int64_t band_bytes : {std::int64_t{1}, std::int64_t{300}, std::int64_t{5000}, cpu::kDefaultBandBytes,
                                  std::int64_t{1} << 40}) {
    for (int threads : {1, 3}) {
      for (cpu::Stores stores : {cpu::Stores::cached, cpu::Stores::streaming}) {
        cpu::set_num_threads(threads);
        std::vector<T> y(expected.size(), T(-12345));
        plan::ArrayView dst = plan::dense_array_view(p.out_shape, order, dtype);
        dst.data = y.data();
        cpu::execute_in_bands<T>(p, src, dst, order, stores, band_bytes);
        EXPECT_EQ(0, std::memcmp(expected.data(), y.data(), y.size() * sizeof(T)))
            << mode_name(o.mode) << " band_bytes " << band_bytes << " threads " << threads
            << (backward ? " backward" : " forward") << (channels_last ? " channels-last" : "")
            << (stores == cpu::Stores::streaming ? " streaming stores" : "");
      }
    }
  }
  cpu::set_num_threads(2);
}

InterpolateOptions options(Mode mode, std::vector<std::int64_t> size, bool antialias = false) {
  InterpolateOptions o;
  o.mode = mode;
  o.size = std::move(size);
  o.antialias = antialias;
  return o;
}

}  // namespace

TEST(BandExecutor, EqualsPassByPassFor2D) {
  for (bool backward : {false, true}) {
    for (bool channels_last : {false, true}) {
      expect_bands_match<float>({2, 3, 13, 11}, options(Mode::bilinear, {29, 23}), channels_last, backward);
      expect_bands_match<float>({1, 4, 37, 8}, options(Mode::bicubic, {9, 21}), channels_last, backward);
      expect_bands_match<float>({2, 2, 40, 33}, options(Mode::bilinear, {11, 7}, true), channels_last, backward);
      expect_bands_match<float>({1, 3, 41, 17}, options(Mode::area, {6, 5}), channels_last, backward);
      // Downsampling nearest: windows of consecutive bands can be disjoint.
      expect_bands_match<float>({1, 2, 45, 30}, options(Mode::nearest, {7, 9}), channels_last, backward);
      expect_bands_match<double>({1, 2, 15, 6}, options(Mode::bicubic, {31, 14}), channels_last, backward);
    }
  }
}

TEST(BandExecutor, EqualsPassByPassForWideOverlappingWindows) {
  // The backward of a x16 upsampling of channels-last data with 128 channels: the first pass's
  // windows overlap by rows of 16K values, too wide to stay cached between bands, so each thread
  // takes one tall band.
  expect_bands_match<float>({1, 128, 8, 8}, options(Mode::bilinear, {128, 128}), true, true);
}

TEST(BandExecutor, EqualsPassByPassFor3D) {
  for (bool backward : {false, true}) {
    for (bool channels_last : {false, true}) {
      expect_bands_match<float>({1, 3, 7, 6, 5}, options(Mode::trilinear, {15, 4, 11}), channels_last, backward);
      expect_bands_match<double>({2, 2, 9, 5, 8}, options(Mode::area, {4, 5, 3}), channels_last, backward);
    }
  }
}
