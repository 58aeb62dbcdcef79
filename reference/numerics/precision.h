// Precision policies (DESIGN "Principles" 1): one templated code path, three numeric policies.
//   exact: every op in double — the ground truth.
//   f32:   every op in float, no intermediate rounding (llama.cpp's CPU path).
//   bf16:  float arithmetic, each op's output rounded to bfloat16 where the Hugging Face bf16 model rounds
//          (spec §2.1). Layers call P::round() exactly at those points; in the other modes it is the identity.
#pragma once

#include <string>

#include "numerics/eigen_core.h"
#include "numerics/bf16.h"

namespace g4ref {

enum class Precision { exact, f32, bf16 };

std::string precision_name(Precision p);
Precision parse_precision(const std::string& name);  // throws g4ref::Error for an unknown name

struct ExactPolicy {
  using T = double;
  static constexpr Precision kind = Precision::exact;
  static T round(T x) { return x; }
};

struct F32Policy {
  using T = float;
  static constexpr Precision kind = Precision::f32;
  static T round(T x) { return x; }
};

struct BF16Policy {
  using T = float;
  static constexpr Precision kind = Precision::bf16;
  static T round(T x) { return bf16_round(x); }
};

// Activations are row-major [tokens, features] matrices, the natural layout of the spec's formulas.
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Applies the policy's rounding to every element (a no-op loop the compiler removes for exact/f32).
template <class P>
void round_all(Mat<typename P::T>& m) {
  if constexpr (P::kind == Precision::bf16) {
    typename P::T* d = m.data();
    for (Eigen::Index i = 0; i < m.size(); ++i) d[i] = P::round(d[i]);
  }
}

}  // namespace g4ref
