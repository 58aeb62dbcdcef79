// Encoder-free vision embedder (spec §3.2), per 48×48 patch v (6912 values, HWC) at grid position (X, Y):
//   x = round(v);  a = LN1(x);  b = round(a·Wdᵀ + bd);  c = LN2(b)
//   pe = round(P[X, 0] + P[Y, 1]);  d = round(c + pe);  e = LN3(d)
//   f = round(RMSNorm_noweight(e));  o = round(f·Wpᵀ)          — o is written at the image's placeholders, unscaled
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "layers/layer_norm.h"
#include "layers/rms_norm.h"
#include "model/tracer.h"
#include "model/weights.h"
#include "numerics/matmul.h"

namespace g4ref {

template <class P>
Mat<typename P::T> vision_embed(const Mat<typename P::T>& patches, const std::vector<std::pair<int, int>>& xy,
                                const VisionWeights& w, const VisionConfig& vc, const std::string& pre,
                                Tracer* tracer) {
  using T = typename P::T;
  const double ln_eps = vc.layer_norm_eps;
  Mat<T> x = patches;
  round_all<P>(x);  // pixel values are rounded to the model dtype before LN1
  trace(tracer, pre + "patches", x);
  Mat<T> a = layer_norm<P>(x, convert_vector<T>(w.ln1_w), convert_vector<T>(w.ln1_b), ln_eps);
  trace(tracer, pre + "ln1", a);
  const Vec<T> dense_bias = convert_vector<T>(w.dense_b);
  Mat<T> b = matmul_nt<T>(a, w.dense_w, &dense_bias);  // bias joins the accumulator before the single rounding
  round_all<P>(b);
  trace(tracer, pre + "dense", b);
  Mat<T> c = layer_norm<P>(b, convert_vector<T>(w.ln2_w), convert_vector<T>(w.ln2_b), ln_eps);
  trace(tracer, pre + "ln2", c);
  // Factorized position embedding: table [posemb, 2, E] read as rows (X·2 + 0) (x/column) and (Y·2 + 1) (y/row).
  MatrixView table = w.pos_embedding;
  table.rows = int64_t(vc.mm_posemb_size) * 2;
  table.cols = vc.mm_embed_dim;
  Mat<T> px, py;
  Mat<T> d(c.rows(), c.cols());
  for (Eigen::Index r = 0; r < c.rows(); ++r) {
    const auto [X, Y] = xy[r];
    if (X < 0 || Y < 0 || X >= vc.mm_posemb_size || Y >= vc.mm_posemb_size) {
      fail("image patches", "patch " + std::to_string(r) + " has position (" + std::to_string(X) + ", " +
                                std::to_string(Y) + ") outside the position table of " +
                                std::to_string(vc.mm_posemb_size));
    }
    convert_rows(table, int64_t(X) * 2, 1, px);
    convert_rows(table, int64_t(Y) * 2 + 1, 1, py);
    for (Eigen::Index i = 0; i < c.cols(); ++i) d(r, i) = P::round(c(r, i) + P::round(px(0, i) + py(0, i)));
  }
  trace(tracer, pre + "pos", d);
  Mat<T> e = layer_norm<P>(d, convert_vector<T>(w.pos_norm_w), convert_vector<T>(w.pos_norm_b), ln_eps);
  trace(tracer, pre + "ln3", e);
  Mat<T> f = rms_norm<P>(e, e.cols(), nullptr, vc.rms_norm_eps);
  trace(tracer, pre + "rms", f);
  Mat<T> o = matmul_nt<T>(f, w.projection);
  round_all<P>(o);
  trace(tracer, pre + "out", o);
  return o;
}

}  // namespace g4ref
