// One decoder layer (spec §2.4), the same order for sliding and full layers:
//   a = post_attn_norm(attention(input_norm(h)));  h = round(h + a)
//   m = post_ffn_norm(mlp(pre_ffn_norm(h)));       h = round(h + m)
//   h = round(h × layer_scalar)   — the learned scalar scales the whole residual stream
#pragma once

#include "base/profile.h"
#include "layers/attention.h"
#include "layers/mlp.h"

namespace g4ref {

template <class P, class Cache>
Mat<typename P::T> decoder_layer(const Mat<typename P::T>& h_in, const LayerWeights& w, const AttentionShape& a,
                                 const MaskRule& rule, const std::vector<float>& inv_freq,
                                 const std::vector<int64_t>& positions, const std::vector<int>& blocks,
                                 const Deviations& dev, Cache& cache, Tracer* tracer) {
  using T = typename P::T;
  const std::string pre = "layers." + std::to_string(a.layer) + ".";
  const int64_t H = h_in.cols();
  const bool opw = dev.norm_one_plus_w;
  const Vec<T> w_in = convert_vector<T>(w.input_norm);
  const Vec<T> w_post_attn = convert_vector<T>(w.post_attn_norm);
  const Vec<T> w_pre_ffn = convert_vector<T>(w.pre_ffn_norm);
  const Vec<T> w_post_ffn = convert_vector<T>(w.post_ffn_norm);
  const T scalar = convert_vector<T>(w.layer_scalar)[0];

  StageTimer t_norm(Stage::norms);
  Mat<T> x = rms_norm<P>(h_in, H, &w_in, a.eps, opw);
  t_norm.stop();
  trace(tracer, pre + "attn_norm", x);
  Mat<T> attn = attention<P>(x, w, a, rule, inv_freq, positions, blocks, dev, cache, tracer);
  trace(tracer, pre + "attn_out", attn);
  StageTimer t_norm2(Stage::norms);
  attn = rms_norm<P>(attn, H, &w_post_attn, a.eps, opw);
  t_norm2.stop();
  trace(tracer, pre + "post_attn_norm", attn);
  StageTimer t_res(Stage::residual);
  Mat<T> h(h_in.rows(), H);
  for (Eigen::Index i = 0; i < h.size(); ++i) h.data()[i] = P::round(h_in.data()[i] + attn.data()[i]);
  t_res.stop();
  trace(tracer, pre + "resid_attn", h);

  StageTimer t_norm3(Stage::norms);
  Mat<T> m = rms_norm<P>(h, H, &w_pre_ffn, a.eps, opw);
  t_norm3.stop();
  trace(tracer, pre + "ffn_norm", m);
  m = mlp<P>(m, w, pre, tracer);
  trace(tracer, pre + "ffn_out", m);
  StageTimer t_norm4(Stage::norms);
  m = rms_norm<P>(m, H, &w_post_ffn, a.eps, opw);
  t_norm4.stop();
  trace(tracer, pre + "post_ffn_norm", m);
  StageTimer t_res2(Stage::residual);
  for (Eigen::Index i = 0; i < h.size(); ++i) h.data()[i] = P::round(h.data()[i] + m.data()[i]);
  t_res2.stop();
  trace(tracer, pre + "resid_ffn", h);
  StageTimer t_res3(Stage::residual);
  for (Eigen::Index i = 0; i < h.size(); ++i) h.data()[i] = P::round(h.data()[i] * scalar);
  t_res3.stop();
  trace(tracer, pre + "out", h);
  return h;
}

}  // namespace g4ref
