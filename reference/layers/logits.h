// Output head (spec §2.9): logits = round(h · Eᵀ) with the tied embedding table E, then the final softcap
//   logits = round( round( tanh( round(logits / c) ) ) × c ),  c = final_logit_softcapping (30).
#pragma once

#include <cmath>

#include "model/tracer.h"
#include "numerics/matmul.h"

namespace g4ref {

template <class P>
typename P::T softcap(typename P::T x, double cap) {
  using T = typename P::T;
  const T c = static_cast<T>(cap);
  return P::round(P::round(std::tanh(P::round(x / c))) * c);
}

template <class P>
Mat<typename P::T> logits(const Mat<typename P::T>& h_final, const MatrixView& table, double cap,
                          Tracer* tracer = nullptr) {
  using T = typename P::T;
  Mat<T> z = matmul_nt<T>(h_final, table);
  round_all<P>(z);
  trace(tracer, "logits.raw", z);
  if (cap > 0) {
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = softcap<P>(z.data()[i], cap);
  }
  return z;
}

}  // namespace g4ref
