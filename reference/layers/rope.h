// Rotary position embedding (spec §2.6): rotate-half, dim j paired with j + D/2.
//   y[j]       = round( round(x[j]·c[j])     + round(−x[j+D/2]·s[j]) )
//   y[j + D/2] = round( round(x[j+D/2]·c[j]) + round( x[j]·s[j]) ),   c, s = cos, sin of p · inv[j].
// Inverse frequencies are float32 constants computed as PyTorch does. "proportional" (full layers) rotates only
// the first partial_rotary_factor·D/2 pairs, with exponent denominator the FULL head dim, and gives the other
// pairs inverse frequency 0 — so they pass through bit-exactly (c = 1, s = 0).
#pragma once

#include <cmath>
#include <vector>

#include "model/config.h"
#include "numerics/precision.h"

namespace g4ref {

// head_dim/2 float32 inverse frequencies. `rotated_denominator` is the test-only wrong variant of spec §8.
std::vector<float> rope_inv_freq(const RopeParams& rope, int head_dim, bool rotated_denominator = false);

// Number of rotated pairs (the rest have inverse frequency 0).
int rope_rotated_pairs(const RopeParams& rope, int head_dim);

// cos and sin of one angle as the policy computes them. exact: the angle p·inv in double (exact product of a
// float and an integer below 2^29) and double cos/sin. f32/bf16: the angle as a float32 multiply (as PyTorch's
// f32 matmul of positions by inv_freq), then correctly rounded float cos/sin; bf16 rounds them once more.
template <class P>
void rope_cos_sin(int64_t position, float inv, typename P::T* c, typename P::T* s) {
  if constexpr (P::kind == Precision::exact) {
    const double a = static_cast<double>(position) * static_cast<double>(inv);
    *c = std::cos(a);
    *s = std::sin(a);
  } else {
    const float a = static_cast<float>(position) * inv;
    *c = P::round(static_cast<float>(std::cos(static_cast<double>(a))));
    *s = P::round(static_cast<float>(std::sin(static_cast<double>(a))));
  }
}

// Rotates x in place: x is [tokens, heads·head_dim], head-major; positions[t] is token t's absolute position.
template <class P>
void apply_rope(Mat<typename P::T>& x, int head_dim, const std::vector<int64_t>& positions,
                const std::vector<float>& inv_freq) {
  using T = typename P::T;
  const int half = head_dim / 2;
  const int64_t heads = x.cols() / head_dim;
  std::vector<T> c(half), s(half);
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    for (int j = 0; j < half; ++j) rope_cos_sin<P>(positions[t], inv_freq[j], &c[j], &s[j]);
    for (int64_t h = 0; h < heads; ++h) {
      T* v = x.data() + t * x.cols() + h * head_dim;
      for (int j = 0; j < half; ++j) {
        const T x1 = v[j];
        const T x2 = v[j + half];
        v[j] = P::round(P::round(x1 * c[j]) + P::round(-x2 * s[j]));
        v[j + half] = P::round(P::round(x2 * c[j]) + P::round(x1 * s[j]));
      }
    }
  }
}

}  // namespace g4ref
