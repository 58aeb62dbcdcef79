// Storage types of tensors on disk (safetensors, GGUF) and their exact conversion to float/double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace g4ref {

enum class DType { BF16, F16, F32, F64 };

size_t dtype_size(DType t);
std::string dtype_name(DType t);           // safetensors spelling: "BF16", "F16", "F32", "F64"
bool parse_dtype(const std::string& name, DType* out);  // false for names we do not handle

// bfloat16 bits -> float is exact (the high half of a binary32).
inline float bf16_bits_to_float(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// IEEE binary16 bits -> float, exact for every value including subnormals, inf and NaN.
float f16_bits_to_float(uint16_t bits);
// float -> binary16 bits, round to nearest even, overflow to inf, NaN kept (quiet).
uint16_t float_to_f16_bits(float x);

}  // namespace g4ref
