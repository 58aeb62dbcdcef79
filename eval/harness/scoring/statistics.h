// The statistics results.json reports next to every score (claims-and-evals §4.6, §5): the standard error of a
// mean metric as lm-eval computes it (sample standard deviation with n − 1, over √n), and a seeded percentile
// bootstrap that gives the same interval on every machine for the same seed (its own generator and index
// mapping, not std::uniform_int_distribution, whose output the C++ standard leaves to each library).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace g4ref::scoring {

double mean(const std::vector<double>& values);
// Unbiased sample standard deviation (n − 1); 0 for fewer than two values.
double sample_std(const std::vector<double>& values);
// sample_std / √n; 0 for fewer than two values.
double standard_error(const std::vector<double>& values);

struct BootstrapResult {
  double low = 0;     // percentile interval (numpy's default linear interpolation)
  double high = 0;
  double bootstrap_stderr = 0;  // standard deviation of the bootstrap statistics (n − 1), lm-eval's bootstrap_stderr
  int iterations = 0;
  uint64_t seed = 0;
};

// A statistic of a resample, given as the item indices drawn (with replacement, n of them). Corpus metrics (BLEU,
// chrF, pooled WER) recompute from the drawn items; mean metrics average them.
using ResampleStatistic = std::function<double(const std::vector<size_t>& indices)>;

BootstrapResult bootstrap(size_t n, const ResampleStatistic& statistic, int iterations = 1000, uint64_t seed = 1234,
                          double confidence = 0.95);
// The mean of per-item values.
BootstrapResult bootstrap_mean(const std::vector<double>& values, int iterations = 1000, uint64_t seed = 1234,
                               double confidence = 0.95);

// The generator behind bootstrap(): splitmix64, and an index in [0, n) by the multiply-shift mapping.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  size_t index(size_t n);

 private:
  uint64_t state_;
};

}  // namespace g4ref::scoring
