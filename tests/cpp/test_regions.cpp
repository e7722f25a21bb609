// Regions: a piece computed from a box of the input equals the same piece of the whole result, bitwise.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tessera/error.hpp"
#include "tessera/region.hpp"

using namespace tessera;

namespace {

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace

TEST(Regions, EveryTileOfATilingEqualsTheWholeResult) {
  const std::int64_t n = 1, c = 2, h = 23, w = 19;
  const auto x = random_floats(n * c * h * w, 3);
  for (Mode mode : {Mode::bilinear, Mode::bicubic, Mode::area, Mode::nearest, Mode::lanczos}) {
    InterpolateOptions o;
    o.mode = mode;
    o.size = {31, 13};
    o.antialias = mode == Mode::lanczos;
    const auto shape = interpolate_output_shape({n, c, h, w}, o);
    std::vector<float> whole(n * c * 31 * 13);
    interpolate(make_contiguous_view(const_cast<float*>(x.data()), DType::float32, {n, c, h, w}),
                make_contiguous_view(whole.data(), DType::float32, shape), o);
    for (std::int64_t r0 = 0; r0 < 31; r0 += 7) {
      for (std::int64_t c0 = 0; c0 < 13; c0 += 5) {
        const Region region = {{r0, std::min<std::int64_t>(r0 + 7, 31)}, {c0, std::min<std::int64_t>(c0 + 5, 13)}};
        const Region box = required_input_region({n, c, h, w}, region, o);
        // The part is exactly the required box, copied out of x.
        const std::int64_t bh = box[0].stop - box[0].start, bw = box[1].stop - box[1].start;
        std::vector<float> part(n * c * bh * bw);
        for (std::int64_t p = 0; p < n * c; ++p)
          for (std::int64_t i = 0; i < bh; ++i)
            for (std::int64_t j = 0; j < bw; ++j)
              part[(p * bh + i) * bw + j] = x[(p * h + box[0].start + i) * w + box[1].start + j];
        const std::int64_t rh = region[0].stop - r0, rw = region[1].stop - c0;
        std::vector<float> piece(n * c * rh * rw);
        interpolate_region(make_contiguous_view(part.data(), DType::float32, {n, c, bh, bw}), {n, c, h, w},
                           {box[0].start, box[1].start}, region,
                           make_contiguous_view(piece.data(), DType::float32, {n, c, rh, rw}), o);
        for (std::int64_t p = 0; p < n * c; ++p)
          for (std::int64_t i = 0; i < rh; ++i)
            for (std::int64_t j = 0; j < rw; ++j) {
              const float a = piece[(p * rh + i) * rw + j];
              const float b = whole[(p * 31 + r0 + i) * 13 + c0 + j];
              ASSERT_EQ(0, std::memcmp(&a, &b, sizeof a)) << mode_name(mode) << " tile " << r0 << "," << c0;
            }
        // One row less than required is refused, naming the part.
        if (box[0].start > 0 || box[0].stop < h) {
          try {
            interpolate_region(make_contiguous_view(part.data(), DType::float32, {n, c, bh - 1, bw}), {n, c, h, w},
                               {box[0].start + (box[0].start > 0 ? 1 : 0), box[1].start}, region,
                               make_contiguous_view(piece.data(), DType::float32, {n, c, rh, rw}), o);
            ADD_FAILURE() << "a box missing a needed row was accepted";
          } catch (const Error& e) {
            EXPECT_EQ(e.argument(), "x_part");
          }
        }
      }
    }
  }
}
