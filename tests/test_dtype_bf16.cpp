// bfloat16 and binary16 conversions against bit patterns worked out by hand from IEEE 754.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "numerics/bf16.h"
#include "numerics/dtype.h"

namespace g4ref {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16_bits(from_bits(0x3F808000)), 0x3F80);  // exactly half way, 0x3F80 is even: down
  EXPECT_EQ(float_to_bf16_bits(from_bits(0x3F818000)), 0x3F82);  // half way, 0x3F81 is odd: up to even
  EXPECT_EQ(float_to_bf16_bits(from_bits(0x3F808001)), 0x3F81);  // just above half: up
  EXPECT_EQ(float_to_bf16_bits(from_bits(0x3F807FFF)), 0x3F80);  // just below half: down
  EXPECT_EQ(float_to_bf16_bits(-1.0f), 0xBF80);
  EXPECT_EQ(float_to_bf16_bits(-0.0f), 0x8000);
}

TEST(Bf16, KeepsInfAndNan) {
  EXPECT_EQ(float_to_bf16_bits(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bf16_bits(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_TRUE(std::isnan(bf16_round(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lies only in the low 16 bits must not turn into infinity.
  EXPECT_TRUE(std::isnan(bf16_round(from_bits(0x7F800001))));
  // The largest float is past the largest bf16 (0x7F7F) by more than half an ulp: it overflows to inf.
  EXPECT_TRUE(std::isinf(bf16_round(std::numeric_limits<float>::max())));
}

TEST(Bf16, EmbeddingScaleOf12B) {
  // Spec §2.2: sqrt(3840) = 61.9677… rounds to 62.0 in bf16 (spacing 0.25 between 32 and 64).
  EXPECT_EQ(bf16_round(std::sqrt(3840.0f)), 62.0f);
}

TEST(F16, KnownPatterns) {
  EXPECT_EQ(f16_bits_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_bits_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_bits_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_bits_to_float(0x8400), -std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::isinf(f16_bits_to_float(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_bits_to_float(0x7E00)));
  EXPECT_EQ(float_to_f16_bits(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_f16_bits(65519.0f), 0x7BFF);  // below the halfway point 65520
  EXPECT_EQ(float_to_f16_bits(65520.0f), 0x7C00);  // halfway, rounds to even = inf
  EXPECT_EQ(float_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);  // half of the smallest subnormal: to even (0)
  EXPECT_EQ(float_to_f16_bits(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 subnormal ulps: to even (2)
  EXPECT_EQ(float_to_f16_bits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // halfway above 1: to even
  EXPECT_EQ(float_to_f16_bits(std::sqrt(3840.0f)), 0x53BF);  // 61.96875
}

TEST(F16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_bits_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_f16_bits(f), h) << "half 0x" << std::hex << h;
  }
}

}  // namespace
}  // namespace g4ref
