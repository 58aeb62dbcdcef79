// bfloat16 rounding: the single rounding primitive of the `bf16` precision mode (spec §2.1).
#pragma once

#include <cstdint>
#include <cstring>

namespace g4ref {

// float -> nearest bfloat16 bits, ties to even (what PyTorch's float->bfloat16 cast does).
// NaN stays NaN (made quiet, sign kept); ±inf stays ±inf; overflow past the largest bf16 rounds to inf.
inline uint16_t float_to_bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  const uint32_t lsb = (u >> 16) & 1u;
  u += 0x7fffu + lsb;
  return static_cast<uint16_t>(u >> 16);
}

// float -> float holding the nearest bfloat16 value.
inline float bf16_round(float x) {
  const uint32_t u = static_cast<uint32_t>(float_to_bf16_bits(x)) << 16;
  float y;
  std::memcpy(&y, &u, sizeof y);
  return y;
}

}  // namespace g4ref
