// RMSNorm (spec §2.3):  y = round( x · (mean(x²) + eps)^(-1/2) · w ),  statistics in the policy's arithmetic.
// Gemma 4 multiplies by w directly — not (1 + w) as Gemma 1–3 did. v_norm and the multimodal pre-projection
// norms have no weight at all (w = nullptr).
#pragma once

#include <cmath>

#include "numerics/precision.h"

namespace g4ref {

// Normalizes every consecutive run of `width` values of x (a row, or one head of a row).
template <class P>
Mat<typename P::T> rms_norm(const Mat<typename P::T>& x, int64_t width, const Vec<typename P::T>* w, double eps,
                            bool one_plus_w = false) {
  using T = typename P::T;
  Mat<T> y(x.rows(), x.cols());
  const int64_t groups = x.size() / width;
  const T* src = x.data();
  T* dst = y.data();
  const T e = static_cast<T>(eps);
  // Groups are independent, each summed in its fixed order: any thread count gives the same result.
#pragma omp parallel for schedule(static) if (groups * width >= (int64_t(1) << 15))
  for (int64_t g = 0; g < groups; ++g) {
    const T* v = src + g * width;
    T sum_sq = 0;
    for (int64_t i = 0; i < width; ++i) sum_sq += v[i] * v[i];  // fixed sequential order
    const T inv_rms = T(1) / std::sqrt(sum_sq / static_cast<T>(width) + e);
    for (int64_t i = 0; i < width; ++i) {
      T out = v[i] * inv_rms;
      if (w) out *= one_plus_w ? T(1) + (*w)[i] : (*w)[i];
      dst[g * width + i] = P::round(out);
    }
  }
  return y;
}

}  // namespace g4ref
