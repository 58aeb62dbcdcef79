// GeGLU MLP with tanh GELU (spec §2.8):
//   g = round(x·Wgᵀ), u = round(x·Wuᵀ), a = round(gelu_tanh(g)), p = round(a·u), y = round(p·Wdᵀ)
//   gelu_tanh(z) = 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))
#pragma once

#include <cmath>
#include <string>

#include "base/profile.h"
#include "model/tracer.h"
#include "model/weights.h"
#include "numerics/matmul.h"

namespace g4ref {

template <class T>
T gelu_tanh(T z) {
  const T k_sqrt_2_over_pi = static_cast<T>(0.79788456080286535587989211986876);  // √(2/π)
  const T k_kappa = static_cast<T>(0.044715);
  return T(0.5) * z * (T(1) + std::tanh(k_sqrt_2_over_pi * (z + k_kappa * z * z * z)));
}

template <class P>
Mat<typename P::T> mlp(const Mat<typename P::T>& x, const LayerWeights& w, const std::string& pre, Tracer* tracer) {
  using T = typename P::T;
  StageTimer t_gate_up(Stage::mlp_gate_up);
  Mat<T> g = matmul_nt<T>(x, w.gate);
  round_all<P>(g);
  Mat<T> u = matmul_nt<T>(x, w.up);
  round_all<P>(u);
  t_gate_up.stop();
  trace(tracer, pre + "gate", g);
  trace(tracer, pre + "up", u);
  StageTimer t_act(Stage::mlp_act);
  Mat<T> p(g.rows(), g.cols());
  // Element by element: the same result on any number of threads.
#pragma omp parallel for schedule(static)
  for (Eigen::Index i = 0; i < g.size(); ++i) {
    p.data()[i] = P::round(P::round(gelu_tanh(g.data()[i])) * u.data()[i]);
  }
  t_act.stop();
  trace(tracer, pre + "act", p);  // the input of down_proj: gelu(gate) · up
  StageTimer t_down(Stage::mlp_down);
  Mat<T> y = matmul_nt<T>(p, w.down);
  round_all<P>(y);
  t_down.stop();
  return y;
}

}  // namespace g4ref
