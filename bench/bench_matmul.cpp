// Throughput of the deterministic blocked product (numerics/matmul) next to the machine's ceiling measured in
// the same run: Eigen's own multi-threaded float64 GEMM on the same shapes. Report the ratio, not seconds.
#include <benchmark/benchmark.h>

#include <random>

#include "numerics/matmul.h"

namespace g4ref {
namespace {

Mat<double> random_matrix(int64_t r, int64_t c, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> d(-1, 1);
  Mat<double> m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = d(gen);
  return m;
}

// Prefill-shaped product: 256 tokens × 2048 in, 2048 out (a sliding layer's K projection, scaled down).
void BM_BlockedProduct(benchmark::State& state) {
  const Mat<double> x = random_matrix(256, 2048, 1), w = random_matrix(2048, 2048, 2);
  for (auto _ : state) benchmark::DoNotOptimize(matmul_nt<double>(x, w));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 256 * 2048 * 2048, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// The ceiling: one plain Eigen GEMM of the same shape (Eigen's threading is off in this project, so this is
// the single-thread kernel speed; multiply by the core count for the machine's ceiling).
void BM_EigenGemmCeiling(benchmark::State& state) {
  const Mat<double> x = random_matrix(256, 2048, 1), w = random_matrix(2048, 2048, 2);
  Mat<double> y(256, 2048);
  for (auto _ : state) {
    y.noalias() = x * w.transpose();
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 256 * 2048 * 2048, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

BENCHMARK(BM_BlockedProduct)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EigenGemmCeiling)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace g4ref

BENCHMARK_MAIN();
