// Attention (spec §2.5), one layer, new tokens against the cache:
//   Q = round(x·Wqᵀ), Kraw = round(x·Wkᵀ), Vraw = round(x·Wvᵀ)  — or Vraw = Kraw on k_eq_v (full) layers
//   Q = RMSNorm(Q; q_norm), K = RMSNorm(Kraw; k_norm), V = RMSNorm(Vraw)  per head over D (V without weight)
//   Q, K rotated (§2.6);  S = round(Q·Kᵀ) with scaling 1.0;  P = round(softmax(S + mask));  O = round(P·V)
//   y = round(O·Woᵀ)
// Head h reads KV head h / (heads / kv_heads) (GQA on sliding layers, MQA on full layers).
#pragma once

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "base/profile.h"
#include "layers/attention_mask.h"
#include "layers/rms_norm.h"
#include "layers/rope.h"
#include "model/tracer.h"
#include "model/weights.h"
#include "numerics/matmul.h"

namespace g4ref {

struct AttentionShape {
  int layer = 0;
  LayerType type = LayerType::sliding;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  double eps = 1e-6;
};

// CACHE holds the keys and values of earlier tokens (forward/kv_cache.h): append(k, v, positions, blocks) takes
// this call's normed and rotated keys and values, then keys(g) / values(g) give KV head g's [size(), D] rows,
// position(j) / block(j) each cached token's position and block id, and trim(next, window) may drop what no later
// query can see.
template <class P, class Cache>
Mat<typename P::T> attention(const Mat<typename P::T>& x, const LayerWeights& w, const AttentionShape& a,
                             const MaskRule& rule, const std::vector<float>& inv_freq,
                             const std::vector<int64_t>& positions, const std::vector<int>& blocks,
                             const Deviations& dev, Cache& cache, Tracer* tracer) {
  using T = typename P::T;
  const std::string pre = "layers." + std::to_string(a.layer) + ".";
  const int64_t n = x.rows();
  const int D = a.head_dim;
  const std::vector<int64_t> head_shape_q = {n, a.heads, D};
  const std::vector<int64_t> head_shape_kv = {n, a.kv_heads, D};

  StageTimer t_proj(Stage::qkv_proj);
  Mat<T> q = matmul_nt<T>(x, w.q);
  round_all<P>(q);
  Mat<T> k_raw = matmul_nt<T>(x, w.k);
  round_all<P>(k_raw);
  Mat<T> v_raw;
  if (w.v.data) {
    v_raw = matmul_nt<T>(x, w.v);
    round_all<P>(v_raw);
  } else {
    v_raw = k_raw;  // k_eq_v: V comes from the raw K projection, before k_norm and RoPE
  }
  t_proj.stop();
  trace(tracer, pre + "q", q, head_shape_q);
  trace(tracer, pre + "k", k_raw, head_shape_kv);
  trace(tracer, pre + "v", v_raw, head_shape_kv);

  StageTimer t_norm_rope(Stage::qk_norm_rope);
  const Vec<T> qn_w = convert_vector<T>(w.q_norm);
  const Vec<T> kn_w = convert_vector<T>(w.k_norm);
  Mat<T> q_normed = rms_norm<P>(q, D, &qn_w, a.eps, dev.norm_one_plus_w);
  Mat<T> k_normed = rms_norm<P>(k_raw, D, &kn_w, a.eps, dev.norm_one_plus_w);
  if (!w.v.data && dev.v_after_k_norm) v_raw = k_normed;  // test-only wrong variant
  Mat<T> v_normed = rms_norm<P>(v_raw, D, nullptr, a.eps);
  trace(tracer, pre + "q_norm", q_normed, head_shape_q);
  trace(tracer, pre + "k_norm", k_normed, head_shape_kv);
  trace(tracer, pre + "v_norm", v_normed, head_shape_kv);

  apply_rope<P>(q_normed, D, positions, inv_freq);
  apply_rope<P>(k_normed, D, positions, inv_freq);
  t_norm_rope.stop();
  trace(tracer, pre + "q_rope", q_normed, head_shape_q);
  trace(tracer, pre + "k_rope", k_normed, head_shape_kv);

  StageTimer t_core(Stage::attention_core);
  cache.append(k_normed, v_normed, a.kv_heads, D, positions, blocks);
  const int64_t m = cache.size();

  // Which (query, key) pairs may attend: the same for every head.
  std::vector<char> allowed(n * m);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      allowed[i * m + j] = attention_allowed(rule, positions[i], cache.position(j), blocks[i], cache.block(j));
    }
  }

  Mat<T> o(n, int64_t(a.heads) * D);
  const int group = a.heads / a.kv_heads;
  // A decode step (one query) takes up to eight heads of the same KV head together: their queries are the rows of
  // one product, so each pass over the cached keys and values serves all of them. One head at a time, a long
  // context's cache left the caches once per head. Full attention, 16 heads on one KV head, 2 threads, one step's
  // attention core at 4k / 16k cached tokens: one head at a time 10.0 / 69 ms, four 8.8 / 40, eight 5.3 / 23.2,
  // sixteen (one thread left idle) 7.6 / 33. The number is fixed, not taken from the thread count, so the result
  // does not depend on it. A prompt's heads go one at a time (its scores are already n rows per head).
  int together = 1;
  for (int t = n == 1 ? std::min(group, 8) : 1; t >= 1; --t) {
    if (group % t == 0) {
      together = t;
      break;
    }
  }
  // The head groups are independent: they run on the OpenMP threads (the products inside then run on one thread
  // each, block by block in the same order as ever, so the result does not depend on the thread count). The
  // products read only the in-memory cache, which cannot fail; the handler keeps an exception from leaving the
  // region.
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
  for (int h0 = 0; h0 < a.heads; h0 += together) {
   try {
    const int g = h0 / group;
    Mat<T> qh(int64_t(together) * n, D);  // row t·n + i: head h0 + t, query i
    for (int t = 0; t < together; ++t) qh.middleRows(int64_t(t) * n, n) = q_normed.middleCols(int64_t(h0 + t) * D, D);
    const Eigen::Map<const Mat<T>> kh(cache.keys(g), m, D);
    const Eigen::Map<const Mat<T>> vh(cache.values(g), m, D);
    MatrixView k_view{std::is_same_v<T, double> ? DType::F64 : DType::F32,
                      reinterpret_cast<const std::byte*>(kh.data()), m, D, pre + "k_cache"};
    Mat<T> s = matmul_nt<T>(qh, k_view);  // scaling 1.0: q_norm/k_norm replace 1/sqrt(D)
    round_all<P>(s);
    for (int64_t r = 0; r < s.rows(); ++r) {
      const char* allowed_r = allowed.data() + (r % n) * m;
      T max_s = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < m; ++j) {
        if (allowed_r[j]) max_s = std::max(max_s, s(r, j));
      }
      T sum = 0;
      for (int64_t j = 0; j < m; ++j) {
        const T e = allowed_r[j] ? std::exp(s(r, j) - max_s) : T(0);
        s(r, j) = e;
        sum += e;
      }
      for (int64_t j = 0; j < m; ++j) s(r, j) = P::round(s(r, j) / sum);
    }
    // O = P·V straight from the cache's [m, D] rows (Eigen's product, on this group's thread): transposing V into
    // a [D, m] copy for matmul_nt first moved the whole cache through memory once more per head and call, and made
    // a decode step's attention core fourteen times slower (full attention, 4k cached tokens: 140 ms -> 10.0 ms).
    Mat<T> oh(s.rows(), D);
    oh.noalias() = s * vh;
    if (StageProfile* profile = active_profile()) {  // counted as matmul_nt counts its products
      profile->matmul_flops += 2 * s.rows() * m * D;
      profile->operand_bytes += m * D * static_cast<int64_t>(sizeof(T));
    }
    round_all<P>(oh);
    for (int t = 0; t < together; ++t) o.middleCols(int64_t(h0 + t) * D, D) = oh.middleRows(int64_t(t) * n, n);
   } catch (...) {
#pragma omp critical(g4ref_attention_error)
    if (!error) error = std::current_exception();
   }
  }
  if (error) std::rethrow_exception(error);
  t_core.stop();
  trace(tracer, pre + "attn", o, head_shape_q);

  StageTimer t_o(Stage::o_proj);
  Mat<T> y = matmul_nt<T>(o, w.o);
  round_all<P>(y);
  t_o.stop();
  if (a.type == LayerType::sliding && !positions.empty()) cache.trim(positions.back() + 1, rule.window);
  return y;
}

}  // namespace g4ref
