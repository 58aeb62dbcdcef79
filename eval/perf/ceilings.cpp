#include "perf/ceilings.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "numerics/eigen_core.h"

namespace g4ref {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// All threads start together, each multiplies its own matrices until SECONDS have passed; the rate counts only
// products that finished. Best of three.
template <class T>
double gemm_gflops(int threads, int size, double seconds) {
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<int64_t> done(static_cast<size_t>(threads), 0);
    double wall = 0;
#pragma omp parallel num_threads(threads)
    {
      const int id = omp_get_thread_num();
      M a = M::Random(size, size), b = M::Random(size, size), c(size, size);
      c.noalias() = a * b.transpose();  // warm-up: pages, caches, frequency
#pragma omp barrier
      const auto t0 = Clock::now();
      int64_t n = 0;
      do {
        c.noalias() = a * b.transpose();
        ++n;
      } while (seconds_since(t0) < seconds);
      done[static_cast<size_t>(id)] = n;
      const double t = seconds_since(t0);
#pragma omp critical(g4ref_ceiling)
      wall = std::max(wall, t);
      volatile T sink = c(0, 0);
      (void)sink;
    }
    int64_t products = 0;
    for (int64_t n : done) products += n;
    best = std::max(best, 2.0 * size * size * static_cast<double>(size) * products / wall / 1e9);
  }
  return best;
}

}  // namespace

nlohmann::json Ceilings::to_json() const {
  return {{"threads", threads},
          {"gemm_f64_gflops", gemm_f64_gflops},
          {"gemm_f32_gflops", gemm_f32_gflops},
          {"read_gbps", read_gbps},
          {"triad_gbps", triad_gbps},
          {"gemm_size", gemm_size},
          {"bandwidth_array_bytes", bandwidth_array_bytes},
          {"method",
           "GEMM: each thread repeats its own single-threaded Eigen product (m = n = k = gemm_size), best of 3; "
           "read bandwidth: each thread sums a contiguous share of a float64 array of bandwidth_array_bytes into 32 "
           "partial sums; triad: an OpenMP static loop over three such arrays; best of 5 each"}};
}

Ceilings measure_ceilings(int threads, double seconds) {
  Ceilings c;
  c.threads = threads > 0 ? threads : omp_get_max_threads();
  c.gemm_size = 1024;
  c.gemm_f64_gflops = gemm_gflops<double>(c.threads, c.gemm_size, seconds);
  c.gemm_f32_gflops = gemm_gflops<float>(c.threads, c.gemm_size, seconds);

  // 256 MiB per array: far beyond any last-level cache of today's CPUs.
  const int64_t n = int64_t(32) << 20;
  c.bandwidth_array_bytes = static_cast<double>(n) * sizeof(double);
  std::vector<double> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), d(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) num_threads(c.threads)
  for (int64_t i = 0; i < n; ++i) {
    a[i] = 1.0 + 1e-9 * static_cast<double>(i & 1023);
    b[i] = 2.0;
    d[i] = 0.5;
  }
  // Each thread reads one contiguous share into kReadSums independent partial sums. A single running sum is bound
  // by the latency of the additions, not by memory (19.3 GB/s against 31.4 on a 2-core EPYC), so it would make
  // every decode step look closer to the ceiling than it is.
  constexpr int64_t kReadSums = 32;
  double sum = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = Clock::now();
    double s = 0;
#pragma omp parallel num_threads(c.threads) reduction(+ : s)
    {
      const int64_t parts = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t begin = n * id / parts, end = n * (id + 1) / parts;
      double acc[kReadSums] = {};
      int64_t i = begin;
      for (; i + kReadSums <= end; i += kReadSums) {
        for (int64_t l = 0; l < kReadSums; ++l) acc[l] += a[static_cast<size_t>(i + l)];
      }
      for (; i < end; ++i) acc[0] += a[static_cast<size_t>(i)];
      for (int64_t l = 0; l < kReadSums; ++l) s += acc[l];
    }
    const double t = seconds_since(t0);
    sum += s;
    c.read_gbps = std::max(c.read_gbps, n * sizeof(double) / t / 1e9);
  }
  for (int rep = 0; rep < 5; ++rep) {
    const double scale = 1.0 + rep * 1e-3;
    const auto t0 = Clock::now();
#pragma omp parallel for schedule(static) num_threads(c.threads)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + scale * d[i];
    const double t = seconds_since(t0);
    c.triad_gbps = std::max(c.triad_gbps, 3.0 * n * sizeof(double) / t / 1e9);
  }
  volatile double sink = sum + a[static_cast<size_t>(n / 2)];
  (void)sink;
  return c;
}

}  // namespace g4ref
