// ggml's tensor storage types (the `type` field of a GGUF tensor) and their block layouts.
//
// A quantized row is a sequence of fixed-size blocks; each block holds `block_size` values in
// `type_size` bytes (scales as IEEE binary16, quants as packed integers). dequantize_row reproduces
// ggml's dequantize_row_* bit for bit (the same float operations in the same order); quantize_row
// follows ggml's reference, importance-matrix-free quantizers (quantize_row_*_ref), which is what
// llama-quantize runs when it is given no imatrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace g4ref {

// The numeric ids are ggml's `enum ggml_type` and are what a GGUF file stores.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// Values per super-block of the K-quants.
constexpr int64_t kQK_K = 256;

// True for the ids above; a GGUF file naming any other id is refused.
bool ggml_type_known(uint32_t id);
std::string ggml_type_name(GgmlType t);  // ggml's spelling: "f32", "q4_K", "bf16", ...

int64_t ggml_block_size(GgmlType t);  // values per block (1 for plain types)
size_t ggml_type_size(GgmlType t);    // bytes per block
// Bytes of N values stored as T; N must be a multiple of the block size (fail() otherwise).
size_t ggml_row_size(GgmlType t, int64_t n);

bool ggml_can_dequantize(GgmlType t);  // F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K
bool ggml_can_quantize(GgmlType t);    // F32 F16 BF16 Q8_0 Q4_0 Q4_K Q6_K

// N values (a multiple of the block size) from SRC in type T to floats. Throws g4ref::Error for a
// type it cannot decode or a length that is not a whole number of blocks.
void dequantize_row(GgmlType t, const std::byte* src, float* dst, int64_t n);

// N floats to type T, ggml_row_size(t, n) bytes written to DST.
void quantize_row(GgmlType t, const float* src, std::byte* dst, int64_t n);

}  // namespace g4ref
