// g4ref bench: prefill and decode speed of a checkpoint, per precision and prompt length, as ratios to the
// machine's ceilings measured in the same run (float64 / float32 GEMM, memory bandwidth), with the time of each
// stage of the forward pass.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "cli/common.h"
#include "base/profile.h"
#include "model/weights.h"
#include "perf/ceilings.h"
#include "perf/model_bench.h"

namespace g4ref {

namespace {

struct BenchArgs {
  std::string model;
  std::string prompt_tokens = "64";
  int new_tokens = 4;
  std::string precisions = "exact,f32";
  int threads = 0;
  int repeats = 1;
  bool no_ceilings = false;
  double ceiling_seconds = 0.5;
  bool json = false;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void print_run(const nlohmann::json& r) {
  const auto& p = r["prefill"];
  std::cout << r["precision"].get<std::string>() << ", " << r["prompt_tokens"] << " prompt tokens:\n"
            << "  prefill " << fmt("%.3f", p["seconds"]) << " s, " << fmt("%.1f", p["tokens_per_second"])
            << " tokens/s, " << fmt("%.1f", p["gflops"]) << " GFLOP/s";
  if (p.contains("ratio_to_ceiling")) {
    std::cout << " = " << fmt("%.0f", 100 * p["ratio_to_ceiling"].get<double>()) << " % of "
              << p["ceiling"].get<std::string>();
  }
  std::cout << "\n";
  const auto& d = r["decode"];
  if (d["steps"].get<int>() > 0) {
    std::cout << "  decode  " << fmt("%.1f", d["tokens_per_second"]) << " tokens/s ("
              << fmt("%.4f", d["seconds_per_token"]) << " s/token), " << fmt("%.2f", d["gbps"])
              << " GB/s streamed";
    if (d.contains("ratio_to_ceiling")) {
      std::cout << " = " << fmt("%.0f", 100 * d["ratio_to_ceiling"].get<double>()) << " % of read bandwidth";
    }
    std::cout << "\n";
  }
  std::cout << "  prefill stages (s):";
  for (const auto& [name, s] : p["stage_seconds"].items()) {
    if (s.get<double>() >= 0.0005 * p["seconds"].get<double>()) std::cout << " " << name << " " << fmt("%.3f", s);
  }
  std::cout << "; weight conversion " << fmt("%.3f", p["weight_conversion_thread_seconds"]) << " thread-s\n";
  const int64_t faults = p["major_page_faults"].get<int64_t>() + d["major_page_faults"].get<int64_t>();
  if (faults > 0) {
    std::cout << "  note: " << faults << " major page faults (weights read from disk during the timed passes: "
              << "the page cache does not hold the checkpoint, so these speeds include the disk)\n";
  }
}

void bench(const BenchArgs& a) {
  std::vector<int> lengths;
  for (const std::string& s : split_list(a.prompt_tokens)) {
    const std::vector<int> one = parse_token_list(s, "--prompt-tokens");
    if (one.size() != 1 || one[0] < 1) fail("--prompt-tokens", "'" + s + "' is not a positive token count");
    lengths.push_back(one[0]);
  }
  if (lengths.empty()) fail("--prompt-tokens", "names no prompt length");
  std::vector<Precision> precisions;
  for (const std::string& s : split_list(a.precisions)) precisions.push_back(parse_precision(s));
  if (precisions.empty()) fail("--precision", "names no precision");

  nlohmann::json out = {{"model", a.model}, {"threads", a.threads}};
  std::unique_ptr<Ceilings> ceilings;
  if (!a.no_ceilings) {
    if (!a.json) std::cerr << "bench: measuring the machine's ceilings (GEMM float64 / float32, bandwidth)\n";
    ceilings = std::make_unique<Ceilings>(measure_ceilings(a.threads, a.ceiling_seconds));
    out["ceilings"] = ceilings->to_json();
    if (!a.json) {
      std::cout << "ceilings on " << ceilings->threads << " threads: GEMM float64 "
                << fmt("%.1f", ceilings->gemm_f64_gflops) << " GFLOP/s, float32 "
                << fmt("%.1f", ceilings->gemm_f32_gflops) << " GFLOP/s; bandwidth read "
                << fmt("%.1f", ceilings->read_gbps) << " GB/s, triad " << fmt("%.1f", ceilings->triad_gbps)
                << " GB/s\n";
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto model = Model::load(a.model);
  out["load_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out["config_hash"] = model->config().hash();
  {
    // Warm-up: one token through every layer, so the mapped weights are paged in before anything is timed.
    if (!a.json) std::cerr << "bench: warm-up pass\n";
    ModelBenchOptions warm;
    warm.prompt_tokens = 1;
    warm.new_tokens = 0;
    warm.precision = precisions[0];
    warm.threads = a.threads;
    bench_model(*model, warm, nullptr);
  }
  out["runs"] = nlohmann::json::array();
  for (Precision p : precisions) {
    for (int n : lengths) {
      if (!a.json) std::cerr << "bench: " << precision_name(p) << ", " << n << " prompt tokens, " << a.new_tokens
                             << " new\n";
      ModelBenchOptions o;
      o.prompt_tokens = n;
      o.new_tokens = a.new_tokens;
      o.precision = p;
      o.threads = a.threads;
      o.repeats = a.repeats;
      nlohmann::json r = bench_model(*model, o, ceilings.get());
      if (!a.json) print_run(r);
      out["runs"].push_back(r);
    }
  }
  if (ceilings) {
    // The ceilings of a shared machine move between readings (a 2-core cloud VM read 30.6 and 57.7 GB/s in two
    // runs an hour apart), and a run takes minutes. So they are measured again after the runs, and every ratio is
    // taken against the higher of the two readings of its ceiling: a low first reading cannot flatter a speed.
    if (!a.json) std::cerr << "bench: measuring the ceilings again, after the runs\n";
    const Ceilings before = *ceilings;
    const Ceilings after = measure_ceilings(a.threads, a.ceiling_seconds);
    Ceilings high = before;
    high.gemm_f64_gflops = std::max(before.gemm_f64_gflops, after.gemm_f64_gflops);
    high.gemm_f32_gflops = std::max(before.gemm_f32_gflops, after.gemm_f32_gflops);
    high.read_gbps = std::max(before.read_gbps, after.read_gbps);
    high.triad_gbps = std::max(before.triad_gbps, after.triad_gbps);
    out["ceilings_before"] = before.to_json();
    out["ceilings_after"] = after.to_json();
    out["ceilings"] = high.to_json();
    out["ceilings"]["method"] = out["ceilings"]["method"].get<std::string>() +
                                "; measured before and after the runs, each ceiling the higher of the two";
    // Each run names the ceiling it is measured against; its ratio is taken again against that ceiling's higher reading.
    const nlohmann::json& used = out["ceilings"];
    for (nlohmann::json& r : out["runs"]) {
      nlohmann::json& p = r["prefill"];
      p["ratio_to_ceiling"] = p["gflops"].get<double>() / used[p["ceiling"].get<std::string>()].get<double>();
      nlohmann::json& d = r["decode"];
      if (d.contains("ratio_to_ceiling")) {
        d["ratio_to_ceiling"] = d["gbps"].get<double>() / high.read_gbps;
        d["bound_seconds_per_token"] = d["streamed_bytes_per_token"].get<double>() / (high.read_gbps * 1e9);
      }
    }
    if (!a.json) {
      std::cout << "ceilings after the runs: GEMM float64 " << fmt("%.1f", after.gemm_f64_gflops) << ", float32 "
                << fmt("%.1f", after.gemm_f32_gflops) << " GFLOP/s; read " << fmt("%.1f", after.read_gbps)
                << " GB/s. Against the higher of each pair:\n";
      for (const nlohmann::json& r : out["runs"]) {
        std::cout << "  " << r["precision"].get<std::string>() << ", " << r["prompt_tokens"] << " prompt tokens: prefill "
                  << fmt("%.0f", 100 * r["prefill"]["ratio_to_ceiling"].get<double>()) << " %";
        if (r["decode"].contains("ratio_to_ceiling")) {
          std::cout << ", decode " << fmt("%.0f", 100 * r["decode"]["ratio_to_ceiling"].get<double>()) << " %";
        }
        std::cout << "\n";
      }
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Prefill and decode speed of a checkpoint against the machine's own GEMM and bandwidth ceilings");
  cmd->add_option("--model", a->model, "checkpoint directory or .gguf file")->required();
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "prompt lengths, comma-separated (e.g. 64,512)")
      ->capture_default_str();
  cmd->add_option("--new-tokens", a->new_tokens, "tokens generated after each prefill (the first comes from it)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--precision", a->precisions, "precisions, comma-separated: exact, f32, bf16")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "OpenMP threads for the model and the ceilings (0: all cores)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--repeats", a->repeats, "best of this many runs of each")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--no-ceilings", a->no_ceilings, "skip measuring the ceilings (no ratios)");
  cmd->add_option("--ceiling-seconds", a->ceiling_seconds, "seconds per ceiling measurement")
      ->check(finite_in(0.01, 60))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "one JSON document: ceilings, and per run prefill, decode and stage times");
  cmd->callback([a] { bench(*a); });
}

}  // namespace g4ref
