// One decoder layer (spec §2.4), the same order for sliding and full layers:
//   a = post_attn_norm(attention(input_norm(h)));  h = round(h + a)
//   m = post_ffn_norm(mlp(pre_ffn_norm(h)));       h = round(h + m)
//   h = round(h × layer_scalar)   — the learned scalar scales the whole residual stream
#pragma once

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

  Mat<T> x = rms_norm<P>(h_in, H, &w_in, a.eps, opw);
  trace(tracer, pre + "attn_norm", x);
  Mat<T> attn = attention<P>(x, w, a, rule, inv_freq, positions, blocks, dev, cache, tracer);
  trace(tracer, pre + "attn_out", attn);
  attn = rms_norm<P>(attn, H, &w_post_attn, a.eps, opw);
  trace(tracer, pre + "post_attn_norm", attn);
  Mat<T> h(h_in.rows(), H);
  for (Eigen::Index i = 0; i < h.size(); ++i) h.data()[i] = P::round(h_in.data()[i] + attn.data()[i]);
  trace(tracer, pre + "resid_attn", h);

  Mat<T> m = rms_norm<P>(h, H, &w_pre_ffn, a.eps, opw);
  trace(tracer, pre + "ffn_norm", m);
  m = mlp<P>(m, w, pre, tracer);
  trace(tracer, pre + "ffn_out", m);
  m = rms_norm<P>(m, H, &w_post_ffn, a.eps, opw);
  trace(tracer, pre + "post_ffn_norm", m);
  for (Eigen::Index i = 0; i < h.size(); ++i) h.data()[i] = P::round(h.data()[i] + m.data()[i]);
  trace(tracer, pre + "resid_ffn", h);
  for (Eigen::Index i = 0; i < h.size(); ++i) h.data()[i] = P::round(h.data()[i] * scalar);
  trace(tracer, pre + "out", h);
  return h;
}

}  // namespace g4ref
