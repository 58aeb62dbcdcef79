#include "harness/scoring/statistics.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace g4ref::scoring {

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double sample_std(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

double standard_error(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  return sample_std(v) / std::sqrt(static_cast<double>(v.size()));
}

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t SplitMix64::index(size_t n) {
  __extension__ typedef unsigned __int128 u128;
  return static_cast<size_t>((static_cast<u128>(next()) * n) >> 64);
}

namespace {

// numpy.percentile's default ("linear"): position q·(n − 1) between the sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

BootstrapResult bootstrap(size_t n, const ResampleStatistic& statistic, int iterations, uint64_t seed,
                          double confidence) {
  if (n == 0) fail("bootstrap", "no items to resample");
  if (iterations < 2) fail("bootstrap", "needs at least 2 iterations (found " + std::to_string(iterations) + ")");
  if (!(confidence > 0 && confidence < 1)) fail("bootstrap", "the confidence must lie in (0, 1)");
  SplitMix64 rng(seed);
  std::vector<double> stats;
  stats.reserve(static_cast<size_t>(iterations));
  std::vector<size_t> idx(n);
  for (int it = 0; it < iterations; ++it) {
    for (auto& i : idx) i = rng.index(n);
    stats.push_back(statistic(idx));
  }
  BootstrapResult r;
  r.iterations = iterations;
  r.seed = seed;
  r.bootstrap_stderr = sample_std(stats);
  std::sort(stats.begin(), stats.end());
  const double alpha = (1 - confidence) / 2;
  r.low = percentile(stats, alpha);
  r.high = percentile(stats, 1 - alpha);
  return r;
}

BootstrapResult bootstrap_mean(const std::vector<double>& values, int iterations, uint64_t seed, double confidence) {
  return bootstrap(
      values.size(),
      [&](const std::vector<size_t>& idx) {
        double s = 0;
        for (size_t i : idx) s += values[i];
        return s / static_cast<double>(idx.size());
      },
      iterations, seed, confidence);
}

}  // namespace g4ref::scoring
