// The CPU axis pass against a plain loop doing the documented per-element sequence
// (acc = x[first] * w[0]; acc = acc + x[first + k] * w[k]), bitwise, for both loop orders, long lines
// (several interleaved chunks), short blocks of lines and rows without taps.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half_float.hpp"
#include "cpu/axis_pass.hpp"
#include "plan/axis_taps.hpp"
#include "plan/buffer_layout.hpp"

using namespace tessera;

namespace {

// Applies `table` along dim `axis` of a dense (d0, d1, d2) array, element by element.
template <typename T>
std::vector<T> plain_pass(const std::vector<T>& x, std::vector<std::int64_t> shape, int axis,
                          const plan::TapTable<T>& table) {
  std::vector<std::int64_t> out_shape = shape;
  out_shape[axis] = table.out_len;
  const auto in_strides = plan::dense_strides(shape, {0, 1, 2});
  const auto out_strides = plan::dense_strides(out_shape, {0, 1, 2});
  std::vector<T> y(static_cast<std::size_t>(out_shape[0] * out_shape[1] * out_shape[2]));
  for (std::int64_t a = 0; a < out_shape[0]; ++a)
    for (std::int64_t b = 0; b < out_shape[1]; ++b)
      for (std::int64_t c = 0; c < out_shape[2]; ++c) {
        std::int64_t index[3] = {a, b, c};
        const std::int64_t j = index[axis];
        T acc = T(0);
        for (std::int64_t k = 0; k < table.taps(j); ++k) {
          index[axis] = table.first[j] + k;
          const T v = x[index[0] * in_strides[0] + index[1] * in_strides[1] + index[2] * in_strides[2]];
          acc = (k == 0) ? v * table.row(j)[0] : acc + v * table.row(j)[k];
        }
        y[a * out_strides[0] + b * out_strides[1] + c * out_strides[2]] = acc;
      }
  return y;
}

// special: inputs drawn from -0, +0, 1.5, -2 and infinity instead of normal values, where a tap a row
// lacks but computes anyway (x * 0 added) would show: -0 + +0 is +0, and inf * 0 is NaN.
template <typename T>
void expect_pass_matches(std::vector<std::int64_t> shape, int axis, const plan::TapTable<T>& table,
                         bool special = false) {
  std::mt19937 rng(5);
  std::normal_distribution<double> dist;
  const T specials[] = {T(-0.0), T(0.0), T(1.5), T(-2.0), std::numeric_limits<T>::infinity()};
  std::vector<T> x(static_cast<std::size_t>(shape[0] * shape[1] * shape[2]));
  for (auto& v : x) v = special ? specials[rng() % 5] : static_cast<T>(dist(rng));
  const std::vector<T> expected = plain_pass(x, shape, axis, table);
  const DType dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
  plan::ArrayView src = plan::dense_array_view(shape, {0, 1, 2}, dtype);
  src.data = x.data();
  std::vector<std::int64_t> out_shape = shape;
  out_shape[axis] = table.out_len;
  for (cpu::Stores stores : {cpu::Stores::cached, cpu::Stores::streaming}) {
    // One element of slack in front, so that rows start at every alignment, and a vector's worth after
    // the end, which must stay untouched (whole-vector stores of short rows stop before it).
    constexpr std::size_t kTail = 16;
    std::vector<T> y(expected.size() + 1 + kTail, T(-777));
    plan::ArrayView dst = plan::dense_array_view(out_shape, {0, 1, 2}, dtype);
    dst.data = y.data() + 1;
    cpu::run_axis_pass<T>(src, dst, axis, cpu::tap_rows(table), cpu::Threads::pool, stores);
    EXPECT_EQ(0, std::memcmp(expected.data(), y.data() + 1, expected.size() * sizeof(T)))
        << "axis " << axis << " in " << table.in_len << " out " << table.out_len
        << (stores == cpu::Stores::streaming ? " streaming stores" : "");
    const std::vector<T> untouched(kTail, T(-777));
    EXPECT_EQ(0, std::memcmp(untouched.data(), y.data() + 1 + expected.size(), kTail * sizeof(T)))
        << "written past the end: axis " << axis << " in " << table.in_len << " out " << table.out_len;
  }
}

template <typename T>
plan::TapTable<T> taps(Mode mode, std::int64_t in_len, std::int64_t out_len, bool antialias = false) {
  return plan::build_axis_taps<T>({in_len, out_len, std::nullopt}, mode, false, antialias);
}

}  // namespace

TEST(AxisPass, AlongTheContiguousAxisEqualsThePlainLoop) {
  // 13 lines: one full block of eight and a short one; lines long enough for several chunks.
  for (auto [in_len, out_len] : {std::pair<std::int64_t, std::int64_t>{3000, 5003}, {5000, 1201}, {17, 9}, {9, 40}}) {
    expect_pass_matches<float>({13, 1, in_len}, 2, taps<float>(Mode::bilinear, in_len, out_len));
    expect_pass_matches<float>({13, 1, in_len}, 2, taps<float>(Mode::bicubic, in_len, out_len, true));
    expect_pass_matches<float>({13, 1, in_len}, 2, taps<float>(Mode::area, in_len, out_len));
    expect_pass_matches<double>({5, 1, in_len}, 2, taps<double>(Mode::bicubic, in_len, out_len));
    // Transposed nearest tables have rows without taps when shrinking.
    expect_pass_matches<float>({11, 1, out_len}, 2, plan::transpose(taps<float>(Mode::nearest, in_len, out_len)));
  }
  // Upsampling with 1-4 taps (on AVX-512 by permutes: groups of 16 outputs, a short last group, the last
  // group's samples ending at the line's end), and transposed tables of mild shrinking, whose groups
  // mix rows of 1, 2 or 3 taps (and 0: the masked adds and the zero rows).
  for (auto [in_len, out_len] : {std::pair<std::int64_t, std::int64_t>{512, 1024}, {37, 74}, {9, 40}, {3000, 5003},
                                 {100, 111}, {5, 7}}) {
    expect_pass_matches<float>({19, 1, in_len}, 2, taps<float>(Mode::bilinear, in_len, out_len));
    expect_pass_matches<float>({19, 1, in_len}, 2, taps<float>(Mode::bicubic, in_len, out_len));
    expect_pass_matches<float>({19, 1, in_len}, 2, taps<float>(Mode::nearest, in_len, out_len));
    expect_pass_matches<float>({3, 1, in_len}, 2,
                               plan::build_axis_taps<float>({in_len, out_len, std::nullopt}, Mode::bilinear, true, false));
    expect_pass_matches<float>({19, 1, in_len}, 2, plan::transpose(taps<float>(Mode::bilinear, out_len, in_len)));
    expect_pass_matches<float>({19, 1, in_len}, 2, plan::transpose(taps<float>(Mode::bicubic, out_len, in_len)));
    expect_pass_matches<float>({19, 1, in_len}, 2, plan::transpose(taps<float>(Mode::bilinear, out_len, in_len)), true);
    expect_pass_matches<float>({19, 1, in_len}, 2, plan::transpose(taps<float>(Mode::nearest, out_len, in_len)), true);
  }
}

TEST(AxisPass, AcrossRowsEqualsThePlainLoop) {
  for (auto [in_len, out_len] : {std::pair<std::int64_t, std::int64_t>{300, 503}, {500, 121}, {7, 9}}) {
    for (std::int64_t row : {1, 2, 3, 4, 12, 16, 29, 37, 64, 100, 2500, 9000}) {
      expect_pass_matches<float>({2, in_len, row}, 1, taps<float>(Mode::bilinear, in_len, out_len));
      expect_pass_matches<float>({2, in_len, row}, 1, taps<float>(Mode::lanczos, in_len, out_len, true));
      expect_pass_matches<double>({2, in_len, row}, 1, taps<double>(Mode::bicubic, in_len, out_len));
      expect_pass_matches<float>({2, out_len, row}, 1, plan::transpose(taps<float>(Mode::nearest, in_len, out_len)));
    }
  }
  // A shrinking pass with many taps (the backward of an x32 upsampling, about 64 taps a row), summed in
  // the order of the input rows: short rows, rows cut into pieces of columns (70000 values: a full piece
  // and a short one).
  for (std::int64_t row : {100, 9000}) {
    expect_pass_matches<float>({2, 480, row}, 1, plan::transpose(taps<float>(Mode::bilinear, 15, 480)));
    expect_pass_matches<float>({1, 480, row}, 1, plan::transpose(taps<float>(Mode::bilinear, 15, 480)), true);
    expect_pass_matches<double>({1, 480, row}, 1, plan::transpose(taps<double>(Mode::bilinear, 15, 480)));
  }
  expect_pass_matches<float>({1, 96, 70000}, 1, plan::transpose(taps<float>(Mode::bilinear, 3, 96)));
  // Rows without taps between overlapping rows of many (input order: the zero rows are written, and the
  // rows around them still find their inputs).
  plan::TapTableBuilder<float> builder(40, 7);
  std::vector<float> w(12);
  for (std::size_t k = 0; k < w.size(); ++k) w[k] = 0.25f + 0.125f * static_cast<float>(k);
  for (auto [first, count] : {std::pair<std::int64_t, std::int64_t>{0, 0}, {0, 12}, {0, 0}, {6, 12}, {20, 12}, {0, 0},
                              {32, 8}}) {
    builder.add_row(first, w.data(), count);
  }
  const plan::TapTable<float> gappy = builder.finish();
  expect_pass_matches<float>({2, 40, 20000}, 1, gappy);
  expect_pass_matches<float>({1, 40, 20000}, 1, gappy, true);
}

// float16 rows summed in input order into float32 (the first pass of a float16 x32 backward): each
// value converted once, then the same sequence as the plain loop on the converted values.
TEST(AxisPass, Float16RowsInInputOrderEqualThePlainLoop) {
  const plan::TapTable<float> table = plan::transpose(taps<float>(Mode::bilinear, 15, 480));
  const std::vector<std::int64_t> shape = {1, 480, 3000};
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<Float16> x(static_cast<std::size_t>(shape[1] * shape[2]));
  std::vector<float> widened(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = to_float16(dist(rng));
    widened[i] = to_float(x[i]);
  }
  const std::vector<float> expected = plain_pass(widened, shape, 1, table);
  plan::ArrayView src = plan::dense_array_view(shape, {0, 1, 2}, DType::float16);
  src.data = x.data();
  std::vector<float> y(expected.size(), -777.0f);
  plan::ArrayView dst = plan::dense_array_view({1, table.out_len, shape[2]}, {0, 1, 2}, DType::float32);
  dst.data = y.data();
  cpu::run_axis_pass<float>(src, dst, 1, cpu::tap_rows(table), cpu::Threads::pool);
  EXPECT_EQ(0, std::memcmp(expected.data(), y.data(), expected.size() * sizeof(float)));
}

TEST(AxisPass, AlongChannelsLastPixelsEqualsThePlainLoop) {
  // Pixels of 2-4 channels with 3 or more taps run as one merged contiguous axis: 19 lines (a full block
  // and a short one), lines long enough for several chunks, and a short last group of outputs; too few
  // lines keep the across order. Tables of 1 or 2 taps over pixels of fewer channels than a vector has
  // lanes go by permutes where their groups qualify (upsampling), else across (shrinking bilinear).
  for (std::int64_t channels : {2, 3, 4, 7, 12}) {
    for (auto [in_len, out_len] : {std::pair<std::int64_t, std::int64_t>{1500, 2999}, {3000, 701}, {7, 9}}) {
      for (std::int64_t lines : {19, 5}) {
        expect_pass_matches<float>({lines, in_len, channels}, 1, taps<float>(Mode::bicubic, in_len, out_len));
        expect_pass_matches<float>({lines, in_len, channels}, 1, taps<float>(Mode::bilinear, in_len, out_len, true));
        expect_pass_matches<float>({lines, out_len, channels}, 1, plan::transpose(taps<float>(Mode::bilinear, in_len, out_len)));
        expect_pass_matches<float>({lines, in_len, channels}, 1, taps<float>(Mode::bilinear, in_len, out_len));
        expect_pass_matches<float>({lines, in_len, channels}, 1, taps<float>(Mode::nearest, in_len, out_len));
        expect_pass_matches<float>({lines, out_len, channels}, 1, plan::transpose(taps<float>(Mode::nearest, in_len, out_len)), true);
      }
    }
  }
}
