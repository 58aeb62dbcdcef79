// LayerNorm with weight and bias (spec §3.2, the vision embedder's three norms):
//   y = round( (x − mean(x)) / sqrt(var(x) + eps) · w + b ),  biased variance, statistics in the policy's arithmetic
// (float for bf16: a path that kept them in bf16 was measurably wrong, spec §3.2). eps is 1e-5 by default
// (PyTorch's nn.LayerNorm; UNCONFIRMED for the JAX original, spec §9.1).
#pragma once

#include <cmath>

#include "numerics/precision.h"

namespace g4ref {

template <class P>
Mat<typename P::T> layer_norm(const Mat<typename P::T>& x, const Vec<typename P::T>& w, const Vec<typename P::T>& b,
                              double eps) {
  using T = typename P::T;
  Mat<T> y(x.rows(), x.cols());
  const int64_t n = x.cols();
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const T* v = x.data() + r * n;
    T sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += v[i];
    const T mean = sum / static_cast<T>(n);
    T sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) sum_sq += (v[i] - mean) * (v[i] - mean);
    const T inv_std = T(1) / std::sqrt(sum_sq / static_cast<T>(n) + static_cast<T>(eps));
    for (int64_t i = 0; i < n; ++i) y(r, i) = P::round((v[i] - mean) * inv_std * w[i] + b[i]);
  }
  return y;
}

}  // namespace g4ref
