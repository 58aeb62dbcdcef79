// Scaled token embedding (spec §2.2): h0[t] = round( E[id_t] × s ),  s = sqrt(hidden) cast to the table's dtype.
// Hugging Face casts the scale to the weight dtype first (bf16: sqrt(3840) = 61.97 -> 62.0); llama.cpp keeps f32.
#pragma once

#include <cmath>
#include <vector>

#include "base/error.h"
#include "model/options.h"
#include "numerics/matmul.h"

namespace g4ref {

// The multiplier as the checkpoint's framework would apply it, exactly representable in double.
inline double embedding_scale(int64_t hidden, DType table_dtype, EmbedScale mode) {
  // PyTorch makes a float32 tensor of the Python float, then casts it to the weight dtype.
  const float s = static_cast<float>(std::sqrt(static_cast<double>(hidden)));
  if (mode == EmbedScale::llamacpp) return std::sqrt(static_cast<float>(hidden));  // sqrtf in f32
  switch (table_dtype) {
    case DType::BF16: return bf16_round(s);
    case DType::F16: return f16_bits_to_float(float_to_f16_bits(s));
    default: return s;
  }
}

template <class P>
Mat<typename P::T> embed_tokens(const MatrixView& table, const std::vector<int>& ids, double scale) {
  using T = typename P::T;
  Mat<T> h(static_cast<Eigen::Index>(ids.size()), table.cols);
  Mat<T> row;
  const T s = static_cast<T>(scale);
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= table.rows) {
      fail("input tokens", "token id " + std::to_string(ids[t]) + " at position " + std::to_string(t) +
                               " lies outside the vocabulary [0, " + std::to_string(table.rows) + ")");
    }
    convert_rows(table, ids[t], 1, row);  // one row at a time: the table is never converted whole
    for (Eigen::Index i = 0; i < table.cols; ++i) h(t, i) = P::round(row(0, i) * s);
  }
  return h;
}

}  // namespace g4ref
