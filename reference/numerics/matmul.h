// The one function that owns every matrix product (DESIGN "Performance rules").
//
//   y = x · Wᵀ      x: [n, k] activations of type T;  W: [m, k] row-major, stored type or T;  y: [n, m]
//
// Determinism: the output is cut into fixed blocks (kRowBlock activation rows × kColBlock weight rows) whose size
// never depends on the thread count; each block is single-threaded Eigen products, and blocks are spread over
// OpenMP threads. So every output element is summed in the same order whatever the thread count — results are
// bit-identical for 1, 2, … threads (the few-row path below sums each element in a fixed order too). Weights in a
// stored type (bf16/f16/f32) are converted exactly to T 64 rows at a time, so no converted copy of a whole matrix
// is ever held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "numerics/dtype.h"
#include "numerics/precision.h"
#include "numerics/quant.h"

namespace g4ref {

inline constexpr int64_t kRowBlock = 64;
inline constexpr int64_t kColBlock = 256;
// Up to this many activation rows (decode steps, the last row of a prompt) a stored weight is read one row at a
// time and dotted in a fixed order of partial sums (32 in float64, 8 in float); more rows go through Eigen's product block by block.
inline constexpr int64_t kFewRows = 4;

// A row-major [rows, cols] matrix in some stored type, usually a view into a memory-mapped checkpoint.
struct MatrixView {
  DType dtype = DType::F32;
  const std::byte* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  std::string name;  // for error messages and traces
  // A GGUF block-quantized matrix (Q8_0, Q4_K, ...) names its ggml type here: each row is then
  // ggml_row_size(quant, cols) bytes, decoded exactly as ggml decodes it (dequantize_row), and dtype is F32,
  // the type the blocks decode to. F32 (the default) means the elements are plain values of `dtype`.
  GgmlType quant = GgmlType::F32;
  bool quantized() const { return quant != GgmlType::F32; }
};

// Converts rows [row0, row0 + n) of w to T into out (resized to [n, cols]). Exact for every stored type;
// a quantized row decodes to the floats ggml's dequantize_row_* gives.
template <class T>
void convert_rows(const MatrixView& w, int64_t row0, int64_t n, Mat<T>& out);

// A whole stored vector (norm weights, biases) as T.
template <class T>
Vec<T> convert_vector(const MatrixView& w);

// y = x · Wᵀ (+ bias), unrounded (the caller applies its precision policy's rounding).
template <class T>
Mat<T> matmul_nt(const Mat<T>& x, const MatrixView& w, const Vec<T>* bias = nullptr);
template <class T>
Mat<T> matmul_nt(const Mat<T>& x, const Mat<T>& w);

// A view of an in-memory matrix of T with the same blocking as a stored weight.
template <class T>
MatrixView view_of(const Mat<T>& m, const std::string& name = "");

}  // namespace g4ref
