// The next-token choice, greedy or seeded sampling (temperature, then top-k, then top-p), with no dependency but
// the standard library: the reference's generation and the llama.cpp adapter (which applies it to llama.cpp's
// logits, so a seeded run takes the same decisions on both sides wherever their logits agree) share this one
// definition.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace g4ref {

struct SamplingOptions {
  double temperature = 0.0;  // 0: greedy (argmax; ties to the lowest id)
  int top_k = 64;            // 0: no limit
  double top_p = 0.95;       // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& o) : options_(o), state_(o.seed) {}

  // Chooses from N logits, LOGIT(i) giving the i-th (suppressed tokens already −inf). Deterministic given the
  // generator state; each sampled choice draws one number, a greedy one none.
  template <class Logit>
  int next(int n, const Logit& logit) {
    const int k = options_.temperature <= 0 ? 1 : options_.top_k > 0 ? std::min(options_.top_k, n) : n;
    // Candidates by descending logit, ties to the lowest id.
    std::vector<int> cand(static_cast<size_t>(n));
    std::iota(cand.begin(), cand.end(), 0);
    std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), [&](int a, int b) {
      const double la = logit(a), lb = logit(b);
      return la > lb || (la == lb && a < b);
    });
    if (options_.temperature <= 0) return cand[0];
    const double max_logit = logit(cand[0]);
    std::vector<double> p(static_cast<size_t>(k));
    double sum = 0;
    for (int i = 0; i < k; ++i) {
      const double l = logit(cand[static_cast<size_t>(i)]);
      p[static_cast<size_t>(i)] = std::isfinite(l) ? std::exp((l - max_logit) / options_.temperature) : 0.0;
      sum += p[static_cast<size_t>(i)];
    }
    // The smallest prefix whose probability reaches top-p.
    int keep = k;
    if (options_.top_p < 1.0) {
      double cum = 0;
      for (int i = 0; i < k; ++i) {
        cum += p[static_cast<size_t>(i)] / sum;
        if (cum >= options_.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
    double kept_sum = 0;
    for (int i = 0; i < keep; ++i) kept_sum += p[static_cast<size_t>(i)];
    const double r = uniform() * kept_sum;
    double cum = 0;
    for (int i = 0; i < keep; ++i) {
      cum += p[static_cast<size_t>(i)];
      if (r < cum) return cand[static_cast<size_t>(i)];
    }
    return cand[static_cast<size_t>(keep - 1)];
  }

 private:
  // [0, 1) from a fixed 64-bit generator (splitmix64), the same on every platform.
  double uniform() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }
  SamplingOptions options_;
  uint64_t state_;
};

}  // namespace g4ref
