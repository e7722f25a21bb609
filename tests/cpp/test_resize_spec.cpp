// Option resolution: output sizes and the errors that name their argument.
#include <gtest/gtest.h>

#include "plan/resize_spec.hpp"
#include "tessera/error.hpp"

using namespace tessera;
using namespace tessera::plan;

namespace {

std::string failing_argument(const std::vector<std::int64_t>& shape, const InterpolateOptions& options) {
  try {
    resolve_resize(shape, options);
  } catch (const Error& e) {
    return e.argument();
  }
  return "(no error)";
}

InterpolateOptions with_scale(Mode mode, std::vector<double> scale) {
  InterpolateOptions o;
  o.mode = mode;
  o.scale_factor = std::move(scale);
  return o;
}

}  // namespace

TEST(ResizeSpec, ScaleFactorFloorsTheOutputSizeAndKeepsTheScale) {
  const auto spec = resolve_resize({1, 2, 10, 7}, with_scale(Mode::bilinear, {1.5, 0.5}));
  EXPECT_EQ(spec.output_shape(), (std::vector<std::int64_t>{1, 2, 15, 3}));
  ASSERT_TRUE(spec.axes[1].scale.has_value());
  EXPECT_DOUBLE_EQ(*spec.axes[1].scale, 0.5);
}

TEST(ResizeSpec, RecomputeAndAreaDropTheScale) {
  auto o = with_scale(Mode::bilinear, {1.5});
  o.mode = Mode::linear;
  o.recompute_scale_factor = true;
  EXPECT_FALSE(resolve_resize({1, 1, 10}, o).axes[0].scale.has_value());
  EXPECT_FALSE(resolve_resize({1, 1, 10}, with_scale(Mode::area, {0.5})).axes[0].scale.has_value());
}

TEST(ResizeSpec, BadArgumentsNameThemselves) {
  EXPECT_EQ(failing_argument({1, 1, 4}, InterpolateOptions{}), "size");  // neither size nor scale
  auto both = with_scale(Mode::nearest, {2.0});
  both.size = {8};
  EXPECT_EQ(failing_argument({1, 1, 4}, both), "size");
  EXPECT_EQ(failing_argument({1, 1, 4}, with_scale(Mode::nearest, {0.0})), "scale_factor");
  EXPECT_EQ(failing_argument({1, 1, 4}, with_scale(Mode::nearest, {0.1})), "scale_factor");  // empty output
  EXPECT_EQ(failing_argument({1, 1, 4}, with_scale(Mode::nearest, {2.0, 2.0})), "scale_factor");
  EXPECT_EQ(failing_argument({1, 1, 4}, with_scale(Mode::bilinear, {2.0})), "mode");
  auto aligned = with_scale(Mode::nearest, {2.0});
  aligned.align_corners = true;
  EXPECT_EQ(failing_argument({1, 1, 4}, aligned), "align_corners");
  auto aa = with_scale(Mode::area, {0.5});
  aa.antialias = true;
  EXPECT_EQ(failing_argument({1, 1, 4}, aa), "antialias");
  EXPECT_EQ(failing_argument({1, 4}, with_scale(Mode::nearest, {2.0})), "input");
  InterpolateOptions huge;
  huge.size = {std::int64_t{1} << 40, std::int64_t{1} << 40};
  EXPECT_EQ(failing_argument({4, 1, 2, 2}, huge), "size");
}

TEST(ResizeSpec, CubicExtensionTakesAnyRank) {
  EXPECT_NO_THROW(resolve_resize({1, 1, 5}, with_scale(Mode::cubic, {2.0})));
  EXPECT_NO_THROW(resolve_resize({1, 1, 5, 5, 5}, with_scale(Mode::cubic, {2.0, 2.0, 2.0})));
}
