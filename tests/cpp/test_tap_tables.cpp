// Tap tables: known rows, normalisation, monotonicity and transposition.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "plan/axis_taps.hpp"
#include "plan/tap_table.hpp"

using namespace tessera;
using namespace tessera::plan;

namespace {

TapTable<double> taps(std::int64_t in, std::int64_t out, Mode mode, bool align_corners = false, bool antialias = false,
                      std::optional<double> scale = std::nullopt) {
  return build_axis_taps<double>(AxisSpec{in, out, scale}, mode, align_corners, antialias);
}

}  // namespace

TEST(TapTable, BilinearTimesTwoHasHalfPixelCentresAndClampedBorders) {
  const auto t = taps(4, 8, Mode::bilinear);
  ASSERT_EQ(t.out_len, 8);
  EXPECT_EQ(t.first[0], 0);
  ASSERT_EQ(t.taps(0), 2);
  EXPECT_DOUBLE_EQ(t.row(0)[0], 1.0);  // src = -0.25 clamps to 0
  EXPECT_DOUBLE_EQ(t.row(0)[1], 0.0);
  EXPECT_EQ(t.first[1], 0);
  EXPECT_DOUBLE_EQ(t.row(1)[0], 0.75);  // src = 0.25
  EXPECT_DOUBLE_EQ(t.row(1)[1], 0.25);
  // src = 3.25 reads index 3 twice; the two taps merge into one of weight 1.
  EXPECT_EQ(t.first[7], 3);
  ASSERT_EQ(t.taps(7), 1);
  EXPECT_DOUBLE_EQ(t.row(7)[0], 1.0);
}

TEST(TapTable, NearestUsesFloorOfScaledIndex) {
  const auto t = taps(3, 5, Mode::nearest);
  const std::int64_t expected[] = {0, 0, 1, 1, 2};
  for (int j = 0; j < 5; ++j) {
    EXPECT_EQ(t.first[j], expected[j]) << j;
    EXPECT_EQ(t.taps(j), 1);
  }
}

TEST(TapTable, NearestExactRoundsHalfPixelCentres) {
  const auto t = taps(3, 5, Mode::nearest_exact);
  const std::int64_t expected[] = {0, 0, 1, 2, 2};  // floor((j + 0.5) * 0.6)
  for (int j = 0; j < 5; ++j) EXPECT_EQ(t.first[j], expected[j]) << j;
}

TEST(TapTable, AreaWindowsAreAdaptivePoolingWindows) {
  const auto t = taps(5, 3, Mode::area);
  EXPECT_EQ(t.first[0], 0);
  EXPECT_EQ(t.taps(0), 2);
  EXPECT_EQ(t.first[1], 1);
  EXPECT_EQ(t.taps(1), 3);
  EXPECT_EQ(t.first[2], 3);
  EXPECT_EQ(t.taps(2), 2);
  EXPECT_DOUBLE_EQ(t.row(1)[0], 1.0 / 3.0);
}

TEST(TapTable, AlignCornersMapsCornersToCorners) {
  const auto t = taps(5, 9, Mode::bilinear, /*align_corners=*/true);
  EXPECT_EQ(t.first[0], 0);
  EXPECT_DOUBLE_EQ(t.row(0)[0], 1.0);
  EXPECT_EQ(t.first[8], 4);
  EXPECT_DOUBLE_EQ(t.row(8)[0], 1.0);
  EXPECT_EQ(t.first[1], 0);
  EXPECT_DOUBLE_EQ(t.row(1)[1], 0.5);
}

TEST(TapTable, UnchangedSizeIsIdentityForLinearAndArea) {
  EXPECT_TRUE(taps(7, 7, Mode::bilinear).is_identity());
  EXPECT_TRUE(taps(7, 7, Mode::area).is_identity());
  EXPECT_TRUE(taps(7, 7, Mode::nearest).is_identity());
  EXPECT_FALSE(taps(7, 8, Mode::nearest).is_identity());
}

TEST(TapTable, RowsOfInterpolatingModesSumToOne) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> len(1, 60);
  const Mode modes[] = {Mode::bilinear, Mode::bicubic, Mode::area};
  for (int trial = 0; trial < 200; ++trial) {
    const std::int64_t in = len(rng), out = len(rng);
    for (Mode mode : modes) {
      for (bool aa : {false, true}) {
        if (mode == Mode::area && aa) continue;
        const auto t = taps(in, out, mode, false, aa);
        for (std::int64_t j = 0; j < out; ++j) {
          double sum = 0;
          for (std::int64_t k = 0; k < t.taps(j); ++k) sum += t.row(j)[k];
          EXPECT_NEAR(sum, 1.0, 1e-12) << "in " << in << " out " << out << " mode " << mode_name(mode) << " j " << j;
        }
      }
    }
  }
}

TEST(TapTable, TransposeIsTheMatrixTranspose) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> len(1, 40);
  const Mode modes[] = {Mode::nearest, Mode::nearest_exact, Mode::bilinear, Mode::bicubic, Mode::area, Mode::lanczos};
  for (int trial = 0; trial < 100; ++trial) {
    const std::int64_t in = len(rng), out = len(rng);
    for (Mode mode : modes) {
      const bool aa = mode == Mode::lanczos;
      const auto t = taps(in, out, mode, false, aa);
      const auto tt = transpose(t);
      ASSERT_EQ(tt.in_len, out);
      ASSERT_EQ(tt.out_len, in);
      // Dense comparison: A[j][i] == At[i][j].
      std::vector<double> a(out * in, 0.0), at(out * in, 0.0);
      for (std::int64_t j = 0; j < out; ++j)
        for (std::int64_t k = 0; k < t.taps(j); ++k) a[j * in + t.first[j] + k] = t.row(j)[k];
      for (std::int64_t i = 0; i < in; ++i)
        for (std::int64_t k = 0; k < tt.taps(i); ++k) at[(tt.first[i] + k) * in + i] = tt.row(i)[k];
      EXPECT_EQ(a, at) << "in " << in << " out " << out << " mode " << mode_name(mode);
    }
  }
}

TEST(TapTable, FloatTablesFollowFloatArithmetic) {
  // float32 data uses float coordinates, as PyTorch does: the same matrix up to float rounding (a tap run
  // may start one index apart where a coordinate lands on an integer, with a zero weight on the extra tap).
  const std::int64_t in = 7, out = 23;
  const auto f = build_axis_taps<float>(AxisSpec{in, out, std::nullopt}, Mode::bicubic, false, false);
  const auto d = taps(in, out, Mode::bicubic);
  for (std::int64_t j = 0; j < out; ++j) {
    std::vector<double> row_f(in, 0.0), row_d(in, 0.0);
    for (std::int64_t k = 0; k < f.taps(j); ++k) row_f[f.first[j] + k] += f.row(j)[k];
    for (std::int64_t k = 0; k < d.taps(j); ++k) row_d[d.first[j] + k] += d.row(j)[k];
    for (std::int64_t i = 0; i < in; ++i) EXPECT_NEAR(row_f[i], row_d[i], 1e-6) << j << " " << i;
  }
}
