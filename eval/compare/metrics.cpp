#include "compare/metrics.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>

#include "base/error.h"
#include "numerics/bf16.h"

namespace g4ref {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

uint16_t double_to_bf16_bits(double x) {
  if (std::isnan(x)) return float_to_bf16_bits(static_cast<float>(x));
  float f = static_cast<float>(x);
  // Cut to float toward zero, then mark an inexact cut in the last bit (round-to-odd): float keeps 16 bits
  // more than bf16, so rounding this float to bf16 gives the same result as rounding x itself.
  if (std::isinf(f) && !std::isinf(x)) {
    f = std::copysign(FLT_MAX, static_cast<float>(x));
  } else if (static_cast<double>(f) != x && std::fabs(static_cast<double>(f)) > std::fabs(x)) {
    f = std::nextafter(f, 0.0f);
  }
  if (static_cast<double>(f) != x) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    u |= 1u;
    std::memcpy(&f, &u, sizeof f);
  }
  return float_to_bf16_bits(f);
}

int32_t bf16_ordinal(uint16_t bits) {
  const int32_t magnitude = bits & 0x7fff;
  return (bits & 0x8000) ? -magnitude : magnitude;
}

int64_t bf16_ulp_distance(double a, double b) {
  const int32_t d = bf16_ordinal(double_to_bf16_bits(a)) - bf16_ordinal(double_to_bf16_bits(b));
  return d < 0 ? -static_cast<int64_t>(d) : d;
}

TensorMetrics tensor_metrics(const double* g, const double* c, int64_t n, const MetricOptions& options) {
  TensorMetrics m;
  double sum_abs = 0, sum_d2 = 0, sum_g2 = 0, sum_c2 = 0, sum_gc = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = g[i], b = c[i];
    if (std::isfinite(a) && std::isfinite(b)) {
      const double d = std::fabs(a - b);
      m.max_abs = std::max(m.max_abs, d);
      sum_abs += d;
      sum_d2 += d * d;
      sum_g2 += a * a;
      sum_c2 += b * b;
      sum_gc += a * b;
      m.bf16_ulps = std::max(m.bf16_ulps, bf16_ulp_distance(a, b));
      ++m.count;
      continue;
    }
    const bool a_neg_inf = a == -kInf, b_neg_inf = b == -kInf;
    if (options.skip_one_sided_neg_inf && a_neg_inf != b_neg_inf && (std::isfinite(a) || std::isfinite(b))) {
      ++m.skipped;
      continue;
    }
    if (a == b) {  // the same infinity on both sides
      ++m.count;
      continue;
    }
    ++m.nonfinite_mismatches;
    if (!std::isnan(a) && !std::isnan(b)) m.bf16_ulps = std::max(m.bf16_ulps, bf16_ulp_distance(a, b));
  }
  if (m.count > 0) m.mean_abs = sum_abs / static_cast<double>(m.count);
  if (sum_g2 > 0) m.nmse = sum_d2 / sum_g2;
  else m.nmse = sum_d2 > 0 ? kInf : 0.0;  // 0/0 = 0: both all zero
  if (sum_g2 == 0 && sum_c2 == 0) m.cosine = 1;
  else if (sum_g2 == 0 || sum_c2 == 0) m.cosine = 0;
  else {
    // One square root of the product where it is representable (exact for equal norms), two otherwise.
    const double prod = sum_g2 * sum_c2;
    const double norm = std::isfinite(prod) && prod > 0 ? std::sqrt(prod) : std::sqrt(sum_g2) * std::sqrt(sum_c2);
    m.cosine = std::clamp(sum_gc / norm, -1.0, 1.0);
  }
  if (m.nonfinite_mismatches > 0) m.max_abs = m.mean_abs = m.nmse = kInf;
  return m;
}

TensorMetrics tensor_metrics(const std::vector<double>& golden, const std::vector<double>& candidate,
                             const MetricOptions& options) {
  if (golden.size() != candidate.size()) {
    throw Error("tensor_metrics: golden has " + std::to_string(golden.size()) + " values, candidate " +
                std::to_string(candidate.size()));
  }
  return tensor_metrics(golden.data(), candidate.data(), static_cast<int64_t>(golden.size()), options);
}

namespace {

// Indices of the K largest values of X among SUPPORT, ties broken by the lower index.
std::vector<int64_t> top_k(const double* x, const std::vector<int64_t>& support, size_t k) {
  std::vector<int64_t> idx = support;
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), [x](int64_t a, int64_t b) {
    return x[a] != x[b] ? x[a] > x[b] : a < b;
  });
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

double log_sum_exp(const double* x, const std::vector<int64_t>& support) {
  double mx = -kInf;
  for (int64_t i : support) mx = std::max(mx, x[i]);
  double s = 0;
  for (int64_t i : support) s += std::exp(x[i] - mx);
  return mx + std::log(s);
}

}  // namespace

LogitsMetrics logits_metrics(const double* golden, const double* candidate, int64_t positions, int64_t vocab,
                             int top_k_size) {
  LogitsMetrics m;
  m.positions = positions;
  m.vocab = vocab;
  m.kl.assign(positions, 0.0);
  m.top1_agree.assign(positions, 0);
  m.top10_overlap.assign(positions, 0.0);
  std::vector<int64_t> support;
  support.reserve(vocab);
  for (int64_t p = 0; p < positions; ++p) {
    const double* g = golden + p * vocab;
    const double* c = candidate + p * vocab;
    support.clear();
    bool broken = false;
    for (int64_t v = 0; v < vocab; ++v) {
      const bool g_neg = g[v] == -kInf, c_neg = c[v] == -kInf;
      if (std::isnan(g[v]) || std::isnan(c[v]) || g[v] == kInf || c[v] == kInf) {
        broken = true;
      } else if (!g_neg && !c_neg) {
        support.push_back(v);
      } else if (g_neg != c_neg) {
        ++m.masked;
      }
    }
    if (broken || support.empty()) {
      m.kl[p] = kInf;
      continue;
    }
    const double lse_g = log_sum_exp(g, support), lse_c = log_sum_exp(c, support);
    double kl = 0;
    for (int64_t v : support) {
      const double log_pg = g[v] - lse_g;
      kl += std::exp(log_pg) * (log_pg - (c[v] - lse_c));
    }
    m.kl[p] = std::max(kl, 0.0);  // rounding can leave a tiny negative for identical rows

    double g_max = -kInf;
    for (int64_t v : support) g_max = std::max(g_max, g[v]);
    const int64_t c_arg = top_k(c, support, 1)[0];
    m.top1_agree[p] = g[c_arg] == g_max;

    const auto tg = top_k(g, support, static_cast<size_t>(top_k_size));
    const auto tc = top_k(c, support, static_cast<size_t>(top_k_size));
    std::vector<int64_t> common;
    std::set_intersection(tg.begin(), tg.end(), tc.begin(), tc.end(), std::back_inserter(common));
    m.top10_overlap[p] = tg.empty() ? 0.0 : static_cast<double>(common.size()) / static_cast<double>(tg.size());
  }
  double sum_kl = 0, sum_overlap = 0;
  for (int64_t p = 0; p < positions; ++p) {
    if (m.worst_position < 0 || m.kl[p] > m.max_kl) {
      m.max_kl = m.kl[p];
      m.worst_position = p;
    }
    sum_kl += m.kl[p];
    sum_overlap += m.top10_overlap[p];
    m.top1_agreements += m.top1_agree[p];
  }
  if (positions > 0) {
    m.mean_kl = sum_kl / static_cast<double>(positions);
    m.top1_fraction = static_cast<double>(m.top1_agreements) / static_cast<double>(positions);
    m.mean_top10_overlap = sum_overlap / static_cast<double>(positions);
  }
  return m;
}

}  // namespace g4ref
