#include "numerics/dtype.h"

#include <cmath>

namespace g4ref {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::F32: return 4;
    case DType::F64: return 8;
  }
  return 0;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::F32: return "F32";
    case DType::F64: return "F64";
  }
  return "?";
}

bool parse_dtype(const std::string& name, DType* out) {
  if (name == "BF16") { *out = DType::BF16; return true; }
  if (name == "F16") { *out = DType::F16; return true; }
  if (name == "F32") { *out = DType::F32; return true; }
  if (name == "F64") { *out = DType::F64; return true; }
  return false;
}

float f16_bits_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  float value;
  if (exp == 0) {
    value = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal: mant · 2^-24, exact
  } else if (exp == 31) {
    value = mant == 0 ? INFINITY : NAN;
  } else {
    value = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  }
  return sign ? -value : value;
}

uint16_t float_to_f16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    // value = abs_f · 2^24 rounded to an integer count of 2^-24 (round half to even via rint)
    float a;
    std::memcpy(&a, &abs, sizeof a);
    const float scaled = std::nearbyint(a * 16777216.0f);  // exact product, ties to even
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(scaled));
  }
  // normal: rebias exponent 127 -> 15 and round the 23-bit mantissa to 10 bits, ties to even
  const uint32_t rebias = abs - (112u << 23);
  const uint32_t lsb = (rebias >> 13) & 1u;
  const uint32_t rounded = rebias + 0xfffu + lsb;
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

}  // namespace g4ref
