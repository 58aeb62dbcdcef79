// Encoder-free audio embedder (spec §4), per 640-sample frame (40 ms at 16 kHz):
//   x = round(frame);  f = round(RMSNorm_noweight(x, eps 1e-6));  o = round(f·Waᵀ)
// No positional embedding; an all-zero frame gives a zero vector; a near-silent frame is amplified to unit RMS.
#pragma once

#include <string>

#include "layers/rms_norm.h"
#include "model/tracer.h"
#include "model/weights.h"
#include "numerics/matmul.h"

namespace g4ref {

template <class P>
Mat<typename P::T> audio_embed(const Mat<typename P::T>& frames, const MatrixView& projection, double eps,
                               const std::string& pre, Tracer* tracer) {
  using T = typename P::T;
  Mat<T> x = frames;
  round_all<P>(x);  // samples are rounded to the model dtype first
  trace(tracer, pre + "frames", x);
  Mat<T> f = rms_norm<P>(x, x.cols(), nullptr, eps);
  trace(tracer, pre + "rms", f);
  Mat<T> o = matmul_nt<T>(f, projection);
  round_all<P>(o);
  trace(tracer, pre + "out", o);
  return o;
}

}  // namespace g4ref
