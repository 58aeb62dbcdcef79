// GGUF and ggml block types: blocks decoded by hand from the format's formulas, quantization error within
// each type's rounding bound, a write → read round trip of every metadata and exportable tensor type, a file
// assembled byte by byte (independently of GgufWriter) read back, and hostile files refused with the file's name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/gguf.h"
#include "numerics/dtype.h"
#include "numerics/quant.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

using testing::TempDir;

using testing::expect_error;

// --- byte-level helpers ---------------------------------------------------------------------------

void put_f16(std::vector<std::byte>& b, size_t at, float x) {
  const uint16_t h = float_to_f16_bits(x);
  std::memcpy(b.data() + at, &h, 2);
}
void put_u8(std::vector<std::byte>& b, size_t at, unsigned v) { b[at] = static_cast<std::byte>(v); }

std::vector<float> dequant(GgmlType t, const std::vector<std::byte>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, bytes.data(), out.data(), n);
  return out;
}

// ================================ blocks decoded by hand =========================================

TEST(GgmlBlocks, SizesMatchTheFormat) {
  EXPECT_EQ(ggml_type_size(GgmlType::Q8_0), 34u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q4_0), 18u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q4_1), 20u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q5_0), 22u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q5_1), 24u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q4_K), 144u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q5_K), 176u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q6_K), 210u);
  EXPECT_EQ(ggml_block_size(GgmlType::Q8_0), 32);
  EXPECT_EQ(ggml_block_size(GgmlType::Q6_K), 256);
  EXPECT_EQ(ggml_row_size(GgmlType::Q4_K, 512), 288u);
  EXPECT_EQ(ggml_row_size(GgmlType::BF16, 3), 6u);
  EXPECT_THROW(ggml_row_size(GgmlType::Q8_0, 33), Error);
  EXPECT_EQ(static_cast<uint32_t>(GgmlType::BF16), 30u);
  EXPECT_FALSE(ggml_type_known(4));  // Q4_2, removed from ggml
}

TEST(GgmlBlocks, Q8_0ByHand) {
  // [d = 0.5][q_0 .. q_31], x_j = d · q_j
  std::vector<std::byte> b(34);
  put_f16(b, 0, 0.5f);
  for (int j = 0; j < 32; ++j) put_u8(b, 2 + j, static_cast<uint8_t>(static_cast<int8_t>(4 * j - 64)));
  const auto y = dequant(GgmlType::Q8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * (4 * j - 64)) << j;
}

TEST(GgmlBlocks, Q4_0ByHand) {
  // byte j holds element j in its low nibble and element j + 16 in its high nibble; x = d · (q − 8)
  std::vector<std::byte> b(18);
  put_f16(b, 0, 0.5f);
  for (int j = 0; j < 16; ++j) put_u8(b, 2 + j, j | ((15 - j) << 4));
  const auto y = dequant(GgmlType::Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8));
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j - 8));
  }
}

TEST(GgmlBlocks, Q4_1ByHand) {
  // [d = 0.25][m = −1][16 bytes]; x = d · q + m
  std::vector<std::byte> b(20);
  put_f16(b, 0, 0.25f);
  put_f16(b, 2, -1.0f);
  for (int j = 0; j < 16; ++j) put_u8(b, 4 + j, j | ((15 - j) << 4));
  const auto y = dequant(GgmlType::Q4_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 1.0f);
    EXPECT_EQ(y[j + 16], 0.25f * (15 - j) - 1.0f);
  }
}

TEST(GgmlBlocks, Q5_0ByHand) {
  // [d = 0.5][qh: u32, bit i = fifth bit of element i][16 bytes as Q4_0]; x = d · (q − 16)
  std::vector<std::byte> b(22);
  put_f16(b, 0, 0.5f);
  const uint32_t qh = 0xA5C3F00Fu;
  std::memcpy(b.data() + 2, &qh, 4);
  for (int j = 0; j < 16; ++j) put_u8(b, 6 + j, j | ((15 - j) << 4));
  const auto y = dequant(GgmlType::Q5_0, b, 32);
  for (int i = 0; i < 32; ++i) {
    const int low4 = i < 16 ? i : 15 - (i - 16);
    const int q = low4 + (((qh >> i) & 1) ? 16 : 0);
    EXPECT_EQ(y[i], 0.5f * (q - 16)) << i;
  }
}

TEST(GgmlBlocks, Q5_1ByHand) {
  // [d = 0.25][m = 1][qh][16 bytes]; x = d · q + m
  std::vector<std::byte> b(24);
  put_f16(b, 0, 0.25f);
  put_f16(b, 2, 1.0f);
  const uint32_t qh = 0x0000FFFFu ^ 0x12345678u;
  std::memcpy(b.data() + 4, &qh, 4);
  for (int j = 0; j < 16; ++j) put_u8(b, 8 + j, ((3 * j) & 15) | ((j ^ 5) << 4));
  const auto y = dequant(GgmlType::Q5_1, b, 32);
  for (int i = 0; i < 32; ++i) {
    const int low4 = i < 16 ? (3 * i) & 15 : ((i - 16) ^ 5);
    const int q = low4 + (((qh >> i) & 1) ? 16 : 0);
    EXPECT_EQ(y[i], 0.25f * q + 1.0f) << i;
  }
}

// The twelve scale bytes of Q4_K / Q5_K, packed from the description: bytes 0–3 hold the scales of
// sub-blocks 0–3 (low six bits) and the top two bits of scales 4–7; bytes 4–7 the same for the mins;
// bytes 8–11 hold the low four bits of scale (low nibble) and min (high nibble) of sub-blocks 4–7.
std::vector<std::byte> pack_k_scales(const int sc[8], const int mn[8]) {
  std::vector<std::byte> s(12);
  for (int k = 0; k < 4; ++k) {
    put_u8(s, k, sc[k] | ((sc[k + 4] >> 4) << 6));
    put_u8(s, k + 4, mn[k] | ((mn[k + 4] >> 4) << 6));
    put_u8(s, k + 8, (sc[k + 4] & 15) | ((mn[k + 4] & 15) << 4));
  }
  return s;
}

const int kSc[8] = {1, 2, 3, 4, 33, 40, 50, 63};
const int kMn[8] = {0, 5, 10, 63, 17, 31, 48, 2};

TEST(GgmlBlocks, Q4_KByHand) {
  // [d][dmin][12 scale bytes][128 quant bytes]; sub-block s (32 values) takes the low nibbles (s even) or
  // high nibbles (s odd) of bytes 32·(s/2) .. +31; x = d·sc_s·q − dmin·mn_s
  std::vector<std::byte> b(144);
  put_f16(b, 0, 0.5f);
  put_f16(b, 2, 0.25f);
  const auto scales = pack_k_scales(kSc, kMn);
  std::memcpy(b.data() + 4, scales.data(), 12);
  for (int i = 0; i < 128; ++i) put_u8(b, 16 + i, (i * 7 + 3) & 0xFF);
  const auto y = dequant(GgmlType::Q4_K, b, 256);
  for (int s = 0; s < 8; ++s) {
    for (int l = 0; l < 32; ++l) {
      const int byte = ((32 * (s / 2) + l) * 7 + 3) & 0xFF;
      const int q = s % 2 == 0 ? byte & 15 : byte >> 4;
      EXPECT_EQ(y[32 * s + l], 0.5f * kSc[s] * q - 0.25f * kMn[s]) << s << " " << l;
    }
  }
}

TEST(GgmlBlocks, Q5_KByHand) {
  // as Q4_K with 32 qh bytes after the scales: bit s of qh[l] is the fifth bit of value l of sub-block s
  std::vector<std::byte> b(176);
  put_f16(b, 0, 0.25f);
  put_f16(b, 2, 0.5f);
  const auto scales = pack_k_scales(kSc, kMn);
  std::memcpy(b.data() + 4, scales.data(), 12);
  for (int l = 0; l < 32; ++l) put_u8(b, 16 + l, (l * 37 + 11) & 0xFF);
  for (int i = 0; i < 128; ++i) put_u8(b, 48 + i, (i * 5 + 1) & 0xFF);
  const auto y = dequant(GgmlType::Q5_K, b, 256);
  for (int s = 0; s < 8; ++s) {
    for (int l = 0; l < 32; ++l) {
      const int byte = ((32 * (s / 2) + l) * 5 + 1) & 0xFF;
      const int high = (((l * 37 + 11) & 0xFF) >> s) & 1;
      const int q = (s % 2 == 0 ? byte & 15 : byte >> 4) + 16 * high;
      EXPECT_EQ(y[32 * s + l], 0.25f * kSc[s] * q - 0.5f * kMn[s]) << s << " " << l;
    }
  }
}

TEST(GgmlBlocks, Q6_KByHand) {
  // [128 ql][64 qh][16 int8 scales][d]. Value i: half h = i/128, r = i%128, k = r/32, l = r%32;
  // low four bits: nibble (k ≥ 2 ? high : low) of ql[64h + l + 32·(k%2)]; high two bits: bits 2k, 2k+1
  // of qh[32h + l]; scale: scales[8h + l/16 + 2k]; x = d · scale · (q − 32)
  std::vector<std::byte> b(210);
  for (int i = 0; i < 128; ++i) put_u8(b, i, (i * 13 + 7) & 0xFF);
  for (int i = 0; i < 64; ++i) put_u8(b, 128 + i, (i * 29 + 5) & 0xFF);
  int8_t sc[16];
  for (int s = 0; s < 16; ++s) {
    sc[s] = static_cast<int8_t>((s % 2 ? -1 : 1) * (s * 9 + 1));
    put_u8(b, 192 + s, static_cast<uint8_t>(sc[s]));
  }
  put_f16(b, 208, 0.125f);
  const auto y = dequant(GgmlType::Q6_K, b, 256);
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, r = i % 128, k = r / 32, l = r % 32;
    const int qlb = ((64 * h + l + 32 * (k % 2)) * 13 + 7) & 0xFF;
    const int qhb = ((32 * h + l) * 29 + 5) & 0xFF;
    const int q = ((k >= 2 ? qlb >> 4 : qlb & 15) | (((qhb >> (2 * k)) & 3) << 4)) - 32;
    EXPECT_EQ(y[i], 0.125f * sc[8 * h + l / 16 + 2 * k] * q) << i;
  }
}

// ================================ reference quantizers =============================================

// Known answer: x_j = 8 − j/2 puts the largest magnitude (+8) first, so d = 8 / −8 = −1 and
// q_j = min(15, ⌊−x_j + 8.5⌋) = min(15, ⌊(j + 1)/2⌋) — rounding half up, then the clip at 15.
TEST(GgmlQuantize, Q4_0KnownAnswer) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 8.0f - 0.5f * j;
  std::vector<std::byte> b(18);
  quantize_row(GgmlType::Q4_0, x.data(), b.data(), 32);
  uint16_t d;
  std::memcpy(&d, b.data(), 2);
  EXPECT_EQ(d, 0xBC00u);  // −1.0 in binary16
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(15, (j + 1) / 2), q1 = std::min(15, (j + 17) / 2);
    EXPECT_EQ(static_cast<int>(b[2 + j]), q0 | (q1 << 4)) << j;
  }
}

// An all-zero block: Q4_0's scale is 0 / −8 = −0 (binary16 0x8000) and every quant is 8.
TEST(GgmlQuantize, ZeroBlocks) {
  std::vector<float> zeros(256, 0.0f);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
    std::vector<std::byte> b(ggml_row_size(t, 256), std::byte{0xEE});
    quantize_row(t, zeros.data(), b.data(), 256);
    for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(static_cast<int>(b[i]), 0) << ggml_type_name(t) << " byte " << i;
  }
  std::vector<std::byte> b(18);
  quantize_row(GgmlType::Q4_0, zeros.data(), b.data(), 32);
  EXPECT_EQ(static_cast<int>(b[0]), 0x00);
  EXPECT_EQ(static_cast<int>(b[1]), 0x80);
  for (int j = 2; j < 18; ++j) EXPECT_EQ(static_cast<int>(b[j]), 0x88);
}

std::vector<float> test_values(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = normal(rng) * (1.0f + static_cast<float>(i / 256 % 4));  // a different spread per super-block
  }
  x[5] = 7.5f;  // an outlier, and one of the opposite sign in another block
  x[300] = -9.0f;
  return x;
}

float load_f16_at(const std::vector<std::byte>& b, size_t at) {
  uint16_t h;
  std::memcpy(&h, b.data() + at, 2);
  return f16_bits_to_float(h);
}

// Distance of x from the interval [lo, hi] (0 inside).
float outside(float x, float lo, float hi) { return std::max({0.0f, lo - x, x - hi}); }

TEST(GgmlQuantize, PlainTypesRoundOnce) {
  const auto x = test_values(1024, 1);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    std::vector<std::byte> b(ggml_row_size(t, 1024));
    quantize_row(t, x.data(), b.data(), 1024);
    const auto y = dequant(t, b, 1024);
    // one rounding to nearest: relative error at most half an ulp (2^-24, 2^-11, 2^-8)
    const float rel = t == GgmlType::F32 ? 0.0f : t == GgmlType::F16 ? 0x1p-11f : 0x1p-8f;
    for (int i = 0; i < 1024; ++i) ASSERT_LE(std::fabs(y[i] - x[i]), rel * std::fabs(x[i])) << ggml_type_name(t) << i;
  }
}

// Q8_0: q = round(x / d) with d = amax/127, then d is stored as binary16 d'. So
// |x − q·d'| ≤ |x − q·d| + |q|·|d − d'| ≤ d/2 + 127·|d − d'|.
TEST(GgmlQuantize, Q8_0WithinHalfAStep) {
  const auto x = test_values(1024, 2);
  std::vector<std::byte> b(ggml_row_size(GgmlType::Q8_0, 1024));
  quantize_row(GgmlType::Q8_0, x.data(), b.data(), 1024);
  const auto y = dequant(GgmlType::Q8_0, b, 1024);
  for (int blk = 0; blk < 32; ++blk) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * blk + j]));
    const float d = amax / 127, ds = load_f16_at(b, 34 * blk);
    const float bound = d / 2 + 127 * std::fabs(d - ds) + 1e-6f * amax;
    for (int j = 0; j < 32; ++j) ASSERT_LE(std::fabs(y[32 * blk + j] - x[32 * blk + j]), bound) << blk << " " << j;
  }
}

// Q4_0: d = (signed max)/−8, q = min(15, ⌊x/d + 8.5⌋) − 8. Inside the grid the error is ≤ |d|/2; a value
// of the opposite sign to the max at x/d ∈ (7.5, 8] is clipped to 7, an error ≤ |d|. Plus 8·|d − d'|.
TEST(GgmlQuantize, Q4_0WithinHalfAStep) {
  const auto x = test_values(1024, 3);
  std::vector<std::byte> b(ggml_row_size(GgmlType::Q4_0, 1024));
  quantize_row(GgmlType::Q4_0, x.data(), b.data(), 1024);
  const auto y = dequant(GgmlType::Q4_0, b, 1024);
  for (int blk = 0; blk < 32; ++blk) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[32 * blk + j]) > amax) {
        amax = std::fabs(x[32 * blk + j]);
        max = x[32 * blk + j];
      }
    }
    const float d = max / -8, ds = load_f16_at(b, 18 * blk);
    for (int j = 0; j < 32; ++j) {
      const float v = x[32 * blk + j];
      const float step = v / d > 7.5f ? std::fabs(d) : std::fabs(d) / 2;
      const float bound = step + 8 * std::fabs(d - ds) + 1e-6f * amax;
      ASSERT_LE(std::fabs(y[32 * blk + j] - v), bound) << blk << " " << j;
    }
  }
}

// Q4_K: with the stored super-block scales, value l of sub-block s is q·(d·sc) − dmin·mn with
// q = clamp(round((x + dmin·mn)/(d·sc)), 0, 15): error ≤ d·sc/2 inside the grid, plus the distance of x
// from the grid's range [−dmin·mn, 15·d·sc − dmin·mn] outside it.
TEST(GgmlQuantize, Q4_KWithinHalfAStep) {
  const auto x = test_values(1024, 4);
  std::vector<std::byte> b(ggml_row_size(GgmlType::Q4_K, 1024));
  quantize_row(GgmlType::Q4_K, x.data(), b.data(), 1024);
  const auto y = dequant(GgmlType::Q4_K, b, 1024);
  double se = 0, sx = 0;
  for (int sb = 0; sb < 4; ++sb) {
    const size_t at = 144 * sb;
    const float d = load_f16_at(b, at), dmin = load_f16_at(b, at + 2);
    int sc[8], mn[8];
    for (int s = 0; s < 8; ++s) {  // unpack the six-bit scales as described in pack_k_scales
      const auto byte = [&](int k) { return static_cast<int>(b[at + 4 + k]); };
      sc[s] = s < 4 ? byte(s) & 63 : (byte(s + 4) & 15) | ((byte(s - 4) >> 6) << 4);
      mn[s] = s < 4 ? byte(s + 4) & 63 : (byte(s + 4) >> 4) | ((byte(s) >> 6) << 4);
    }
    for (int s = 0; s < 8; ++s) {
      const float step = d * sc[s], lo = -dmin * mn[s], hi = 15 * step + lo;
      for (int l = 0; l < 32; ++l) {
        const int i = 256 * sb + 32 * s + l;
        const float bound = step / 2 + outside(x[i], lo, hi) + 1e-5f * (std::fabs(hi) + std::fabs(lo));
        ASSERT_LE(std::fabs(y[i] - x[i]), bound) << sb << " " << s << " " << l;
        se += (y[i] - x[i]) * (y[i] - x[i]);
        sx += x[i] * x[i];
      }
    }
  }
  EXPECT_LT(std::sqrt(se / sx), 0.12);  // 4-bit: about 2^-4 of the spread
}

// Q6_K: value l of sub-block s is (d·sc_s)·q with q = clamp(round(x/(d·sc_s)), −32, 31).
TEST(GgmlQuantize, Q6_KWithinHalfAStep) {
  const auto x = test_values(1024, 5);
  std::vector<std::byte> b(ggml_row_size(GgmlType::Q6_K, 1024));
  quantize_row(GgmlType::Q6_K, x.data(), b.data(), 1024);
  const auto y = dequant(GgmlType::Q6_K, b, 1024);
  double se = 0, sx = 0;
  for (int sb = 0; sb < 4; ++sb) {
    const size_t at = 210 * sb;
    const float d = load_f16_at(b, at + 208);
    for (int s = 0; s < 16; ++s) {
      const float step = d * static_cast<float>(static_cast<int8_t>(b[at + 192 + s]));
      const float lo = std::min(-32 * step, 31 * step), hi = std::max(-32 * step, 31 * step);
      for (int l = 0; l < 16; ++l) {
        const int i = 256 * sb + 16 * s + l;
        const float bound = std::fabs(step) / 2 + outside(x[i], lo, hi) + 1e-5f * hi;
        ASSERT_LE(std::fabs(y[i] - x[i]), bound) << sb << " " << s << " " << l;
        se += (y[i] - x[i]) * (y[i] - x[i]);
        sx += x[i] * x[i];
      }
    }
  }
  EXPECT_LT(std::sqrt(se / sx), 0.03);  // 6-bit: about 2^-6 of the spread
}

// ================================ round trip through a file =====================================

std::vector<GgufValue> every_value() {
  return {
      uint8_t{200}, int8_t{-100}, uint16_t{60000}, int16_t{-30000}, uint32_t{4000000000u}, int32_t{-2000000000},
      1.5f, true, std::string("gemma4"), uint64_t{1} << 60, int64_t{-(int64_t{1} << 60)}, 3.141592653589793,
      gguf_array<uint8_t>({1, 2, 255}), gguf_array<int8_t>({-1, 1}), gguf_array<uint16_t>({7}),
      gguf_array<int16_t>({-7, 7}), gguf_array<uint32_t>({1, 2, 3}), gguf_array<int32_t>({8, 8, 1}),
      gguf_array<float>({1e-6f, 30.0f}), gguf_array<bool>({true, false, true}),
      gguf_array<std::string>({"<pad>", "", "añ"}), gguf_array<uint64_t>({uint64_t{1} << 63}),
      gguf_array<int64_t>({-5}), gguf_array<double>({0.1, -0.2}), gguf_array<int32_t>({}),
  };
}

TEST(Gguf, RoundTripEveryMetadataAndTensorType) {
  TempDir dir("gguf");
  const std::string path = dir / "model.gguf";
  const auto values = every_value();
  const std::vector<GgmlType> types = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0,
                                       GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};
  const std::vector<int64_t> ne = {512, 3};  // PyTorch shape [3, 512]
  const auto x = test_values(512 * 3, 6);
  std::vector<std::vector<std::byte>> expected_bytes;
  {
    GgufWriter w(path);
    for (size_t i = 0; i < values.size(); ++i) w.set("key." + std::to_string(i), values[i]);
    for (GgmlType t : types) w.add_tensor("t." + ggml_type_name(t), t, ne);
    w.add_tensor("scalar", GgmlType::F32, {1});
    for (GgmlType t : types) {
      std::vector<std::byte> bytes(ggml_row_size(t, 512 * 3));
      quantize_row(t, x.data(), bytes.data(), 512 * 3);
      expected_bytes.push_back(bytes);
      w.write_tensor_floats("t." + ggml_type_name(t), x.data(), 512 * 3);
    }
    const float one = 1.0f;
    w.write_tensor_floats("scalar", &one, 1);
    EXPECT_FALSE(std::filesystem::exists(path));  // only PATH.partial until finish()
    w.finish();
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));

  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  ASSERT_EQ(f->metadata().size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f->metadata()[i].first, "key." + std::to_string(i));
    const GgufValue& v = f->get("key." + std::to_string(i));
    EXPECT_EQ(gguf_type_of(v), gguf_type_of(values[i])) << i;
    if (const auto* a = std::get_if<GgufArray>(&v)) {
      const auto& b = std::get<GgufArray>(values[i]);
      EXPECT_EQ(a->type, b.type) << i;
      EXPECT_EQ(a->items, b.items) << i;
    } else {
      EXPECT_EQ(v, values[i]) << i;
    }
  }
  EXPECT_EQ(f->get_string("key.8"), "gemma4");
  EXPECT_EQ(f->get_uint("key.4"), 4000000000u);
  EXPECT_EQ(f->get_int("key.10"), -(int64_t{1} << 60));
  EXPECT_EQ(f->get_float("key.6"), 1.5);
  EXPECT_TRUE(f->get_bool("key.7"));
  EXPECT_EQ(f->get_array("key.17").items.size(), 3u);
  expect_error([&] { f->get_string("key.0"); }, path, "expected string, found u8");
  expect_error([&] { f->get("absent"); }, path, "absent is missing");

  ASSERT_EQ(f->tensors().size(), types.size() + 1);
  for (size_t k = 0; k < types.size(); ++k) {
    const GgufTensor& t = f->tensor("t." + ggml_type_name(types[k]));
    EXPECT_EQ(t.type, types[k]);
    EXPECT_EQ(t.ne, ne);
    EXPECT_EQ(t.torch_shape(), (std::vector<int64_t>{3, 512}));
    EXPECT_EQ(t.offset % 32, 0u);
    ASSERT_EQ(t.nbytes, expected_bytes[k].size());
    EXPECT_EQ(std::memcmp(t.data, expected_bytes[k].data(), t.nbytes), 0) << ggml_type_name(types[k]);
    const auto y = f->dequantize(t);
    EXPECT_EQ(y, dequant(types[k], expected_bytes[k], 512 * 3));
  }
  EXPECT_EQ(f->dequantize(f->tensor("scalar")), std::vector<float>{1.0f});
}

TEST(Gguf, CustomAlignment) {
  TempDir dir("gguf");
  const std::string path = dir / "aligned.gguf";
  {
    GgufWriter w(path);
    w.set("general.alignment", uint32_t{64});
    w.add_tensor("a", GgmlType::F32, {3});
    w.add_tensor("b", GgmlType::F16, {5, 2});
    const float a[3] = {1, 2, 3};
    const float bv[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    w.write_tensor_floats("a", a, 3);
    w.write_tensor_floats("b", bv, 10);
    w.finish();
  }
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensor("b").offset, 64u);
  EXPECT_EQ(f->dequantize(f->tensor("b"))[9], 10.0f);
}

TEST(Gguf, WriterLeavesNothingOnError) {
  TempDir dir("gguf");
  const std::string path = dir / "broken.gguf";
  {
    GgufWriter w(path);
    w.add_tensor("a", GgmlType::F32, {4});
    w.add_tensor("b", GgmlType::F32, {4});
    const float v[4] = {};
    expect_error([&] { w.write_tensor_floats("b", v, 4); }, path + ".partial", "out of order");
    w.write_tensor_floats("a", v, 4);
    expect_error([&] { w.finish(); }, path + ".partial", "not written");
    EXPECT_TRUE(std::filesystem::exists(path + ".partial"));
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  EXPECT_FALSE(std::filesystem::exists(path));
  GgufWriter w(path);
  expect_error([&] { w.add_tensor("q", GgmlType::Q8_0, {33}); }, path + ".partial", "block size");
  w.set("k", uint8_t{1});
  expect_error([&] { w.set("k", uint8_t{2}); }, path + ".partial", "duplicate metadata key k");
}

// ============================ a file assembled byte by byte ======================================

// Writes GGUF bytes directly from the layout, so that reading is checked independently of GgufWriter,
// and so that each field can be made wrong.
struct RawGguf {
  uint32_t version = 3;
  uint64_t n_tensors_override = UINT64_MAX;
  std::vector<std::byte> kv;   // encoded metadata entries
  uint64_t n_kv = 0;
  struct Info {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    uint64_t offset;
  };
  std::vector<Info> infos;
  size_t data_bytes = 0;

  template <typename T>
  static void raw(std::vector<std::byte>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
  }
  static void str(std::vector<std::byte>& out, const std::string& s, uint64_t claimed_len = UINT64_MAX) {
    raw<uint64_t>(out, claimed_len == UINT64_MAX ? s.size() : claimed_len);
    for (char c : s) out.push_back(static_cast<std::byte>(c));
  }
  void add_u32(const std::string& key, uint32_t v) {
    str(kv, key);
    raw<uint32_t>(kv, 4);
    raw<uint32_t>(kv, v);
    ++n_kv;
  }
  void add_string(const std::string& key, const std::string& v) {
    str(kv, key);
    raw<uint32_t>(kv, 8);
    str(kv, v);
    ++n_kv;
  }
  void add_f32_array(const std::string& key, const std::vector<float>& v) {
    str(kv, key);
    raw<uint32_t>(kv, 9);
    raw<uint32_t>(kv, 6);
    raw<uint64_t>(kv, v.size());
    for (float x : v) raw<float>(kv, x);
    ++n_kv;
  }
  std::vector<std::byte> bytes() const {
    std::vector<std::byte> out;
    for (char c : std::string("GGUF")) out.push_back(static_cast<std::byte>(c));
    raw<uint32_t>(out, version);
    raw<uint64_t>(out, n_tensors_override != UINT64_MAX ? n_tensors_override : infos.size());
    raw<uint64_t>(out, n_kv);
    out.insert(out.end(), kv.begin(), kv.end());
    for (const Info& t : infos) {
      str(out, t.name);
      raw<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) raw<uint64_t>(out, n);
      raw<uint32_t>(out, t.type);
      raw<uint64_t>(out, t.offset);
    }
    while (out.size() % 32) out.push_back(std::byte{0});
    for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<std::byte>(i & 0xff));
    return out;
  }
  void write(const std::string& path) const {
    const auto b = bytes();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
};

// Two f32 tensors of 4 values at offsets 0 and 32, 64 data bytes.
RawGguf valid_raw() {
  RawGguf r;
  r.add_string("general.architecture", "gemma4");
  r.add_u32("gemma4.block_count", 48);
  r.add_f32_array("scores", {0.5f, -1.0f});
  r.infos = {{"token_embd.weight", {4}, 0, 0}, {"output_norm.weight", {2, 2}, 0, 32}};
  r.data_bytes = 64;
  return r;
}

TEST(Gguf, ReadsAHandAssembledFile) {
  TempDir dir("gguf");
  const std::string path = dir / "raw.gguf";
  valid_raw().write(path);
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->get_string("general.architecture"), "gemma4");
  EXPECT_EQ(f->get_uint("gemma4.block_count"), 48u);
  EXPECT_EQ(f->get_array("scores").items, (std::vector<GgufScalar>{0.5f, -1.0f}));
  const GgufTensor& t = f->tensor("output_norm.weight");
  EXPECT_EQ(t.ne, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.nbytes, 16u);
  EXPECT_EQ(static_cast<int>(t.data[0]), 32);  // data byte i holds i
}

// ====================================== hostile files ==============================================

class GgufHostile : public ::testing::Test {
 protected:
  TempDir dir_{"gguf_bad"};
  std::string path_ = dir_ / "bad.gguf";

  void write_bytes(const std::vector<std::byte>& b) {
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  void expect_refused(const RawGguf& r, const std::string& phrase) {
    r.write(path_);
    expect_error([&] { GgufFile::open(path_); }, path_, phrase);
  }
};

TEST_F(GgufHostile, BadMagic) {
  auto b = valid_raw().bytes();
  b[0] = std::byte{'X'};
  write_bytes(b);
  expect_error([&] { GgufFile::open(path_); }, path_, "bad magic");
}

TEST_F(GgufHostile, EmptyFile) {
  write_bytes({});
  expect_error([&] { GgufFile::open(path_); }, path_, "bad magic");
}

TEST_F(GgufHostile, Version1) {
  RawGguf r = valid_raw();
  r.version = 1;
  expect_refused(r, "version 1 is not supported");
}

TEST_F(GgufHostile, FutureVersion) {
  RawGguf r = valid_raw();
  r.version = 4;
  expect_refused(r, "unsupported GGUF version 4");
}

TEST_F(GgufHostile, TensorCountLargerThanTheFile) {
  RawGguf r = valid_raw();
  r.n_tensors_override = uint64_t{1} << 40;
  expect_refused(r, "tensor count 1099511627776 cannot fit");
}

TEST_F(GgufHostile, StringLengthPastTheEnd) {
  RawGguf r;
  RawGguf::str(r.kv, "general.name");
  RawGguf::raw<uint32_t>(r.kv, 8);
  RawGguf::str(r.kv, "abc", 1000000);
  r.n_kv = 1;
  expect_refused(r, "string length 1000000");
}

TEST_F(GgufHostile, Truncated) {
  // cut inside the value of the first key ("general.architecture" = "gemma4"): header 24 bytes, key 28,
  // type 4, string length 8, then 3 of the 6 characters
  RawGguf r = valid_raw();
  r.infos.clear();
  r.data_bytes = 0;
  auto b = r.bytes();
  b.resize(24 + 28 + 4 + 8 + 3);
  write_bytes(b);
  expect_error([&] { GgufFile::open(path_); }, path_, "runs past the end of the file");
}

TEST_F(GgufHostile, UnknownValueType) {
  RawGguf r;
  RawGguf::str(r.kv, "k");
  RawGguf::raw<uint32_t>(r.kv, 13);
  RawGguf::raw<uint32_t>(r.kv, 0);
  r.n_kv = 1;
  expect_refused(r, "unknown value type 13");
}

TEST_F(GgufHostile, TensorOffsetOutOfBounds) {
  RawGguf r = valid_raw();
  r.infos[1].offset = 64;
  expect_refused(r, "lies outside the data section");
}

TEST_F(GgufHostile, MisalignedOffset) {
  RawGguf r = valid_raw();
  r.infos[1].offset = 20;
  expect_refused(r, "not a multiple of the alignment 32");
}

TEST_F(GgufHostile, OverlappingTensors) {
  RawGguf r = valid_raw();
  r.infos[1] = {"output_norm.weight", {16}, 0, 0};
  expect_refused(r, "overlap");
}

TEST_F(GgufHostile, UnknownTensorType) {
  RawGguf r = valid_raw();
  r.infos[0].type = 5;  // Q4_3, removed from ggml
  expect_refused(r, "unknown tensor type 5");
}

TEST_F(GgufHostile, TooManyDimensions) {
  RawGguf r = valid_raw();
  r.infos[0].ne = {1, 1, 1, 1, 4};
  expect_refused(r, "n_dims = 5");
}

TEST_F(GgufHostile, ElementCountOverflow) {
  RawGguf r = valid_raw();
  r.infos[0].ne = {uint64_t{1} << 40, uint64_t{1} << 40};
  expect_refused(r, "overflows");
}

TEST_F(GgufHostile, RowNotWholeBlocks) {
  RawGguf r = valid_raw();
  r.infos[0] = {"token_embd.weight", {16}, 8, 0};  // Q8_0 needs multiples of 32
  expect_refused(r, "block size");
}

TEST_F(GgufHostile, DuplicateTensorName) {
  RawGguf r = valid_raw();
  r.infos[1].name = r.infos[0].name;
  expect_refused(r, "duplicate tensor name");
}

}  // namespace
}  // namespace g4ref
