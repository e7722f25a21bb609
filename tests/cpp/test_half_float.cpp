// The float16 conversions against the compiler's IEEE _Float16 (round to nearest even), on every float16
// value, on the floats halfway between neighbouring float16 values and one float ulp either side of
// them, and on a sweep of the whole float range. NaNs: a float NaN becomes float16 0x7e00 with its sign;
// a float16 NaN keeps its payload.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/half_float.hpp"

using namespace tessera;

namespace {

#if defined(__FLT16_MAX__)
std::uint16_t reference_to_float16(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  std::uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
}

float reference_to_float(std::uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof h);
  return static_cast<float>(h);
}
#endif

void expect_to_float16(float f) {
  const std::uint32_t u = float_bits(f);
  const std::uint16_t got = to_float16(f).bits;
  if (std::isnan(f)) {
    EXPECT_EQ(got, 0x7e00u | ((u >> 16) & 0x8000u)) << std::hex << u;
  } else {
#if defined(__FLT16_MAX__)
    EXPECT_EQ(got, reference_to_float16(f)) << std::hex << "float bits " << u;
#endif
  }
}

}  // namespace

TEST(HalfFloat, EveryFloat16ToFloat) {
#if !defined(__FLT16_MAX__)
  GTEST_SKIP() << "this compiler has no _Float16";
#else
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const float got = to_float(Float16{static_cast<std::uint16_t>(bits)});
    const std::uint32_t exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
    if (exponent == 31 && mantissa != 0) {  // NaN: same sign, payload moved up, not quieted
      EXPECT_EQ(float_bits(got), ((bits & 0x8000u) << 16) | 0x7f800000u | (mantissa << 13)) << std::hex << bits;
    } else {
      EXPECT_EQ(float_bits(got), float_bits(reference_to_float(static_cast<std::uint16_t>(bits)))) << std::hex << bits;
    }
  }
#endif
}

TEST(HalfFloat, FloatToFloat16RoundsToNearestEven) {
#if !defined(__FLT16_MAX__)
  GTEST_SKIP() << "this compiler has no _Float16";
#else
  for (std::uint32_t bits = 0; bits < 0x7c00u; ++bits) {
    for (const float sign : {1.0f, -1.0f}) {
      // the midpoint between this float16 value and the next (exact in float), and its neighbours
      const double low = to_float(Float16{static_cast<std::uint16_t>(bits)});
      const double high = to_float(Float16{static_cast<std::uint16_t>(bits + 1)});
      const float mid = static_cast<float>(sign * (low + high) / 2);
      for (const float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, sign * INFINITY),
                            static_cast<float>(sign * low)}) {
        expect_to_float16(f);
      }
    }
  }
  // a sweep of every 4099th float bit pattern: all exponents, NaNs, infinities, subnormals
  for (std::uint64_t u = 0; u < (std::uint64_t{1} << 32); u += 4099) expect_to_float16(bits_float(static_cast<std::uint32_t>(u)));
  for (const std::uint32_t special : {0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x477fefffu,
                                      0x477ff000u, 0x00000001u, 0x80000000u}) {
    expect_to_float16(bits_float(special));
  }
#endif
}
