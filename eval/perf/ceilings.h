// The machine's own ceilings, measured in the same run as the model (issue "Speed"): speeds are reported as a
// ratio to these, never as seconds alone, because the CPU changes from machine to machine.
//   GEMM: every thread runs single-threaded Eigen products of its own (the way numerics/matmul uses Eigen),
//         so the sum is the most the project's matrix library gets out of these cores for float64 / float32.
//   Bandwidth: a STREAM-like read (sum of an array much larger than the caches) and triad (a = b + s·c), on all
//         threads; the read figure bounds a decode step, which streams every weight once.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace g4ref {

struct Ceilings {
  int threads = 0;
  double gemm_f64_gflops = 0;
  double gemm_f32_gflops = 0;
  double read_gbps = 0;   // GB/s, 10^9 bytes
  double triad_gbps = 0;  // counts the two reads and one write of each element
  int gemm_size = 0;      // m = n = k of each thread's product
  double bandwidth_array_bytes = 0;
  nlohmann::json to_json() const;
};

// Best of a few repetitions of each (about SECONDS per measurement). THREADS 0: OpenMP's default.
Ceilings measure_ceilings(int threads, double seconds = 0.5);

}  // namespace g4ref
