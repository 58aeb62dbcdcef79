#include "perf/model_bench.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <sys/resource.h>

#include "base/error.h"
#include "base/profile.h"
#include "forward/session.h"

namespace g4ref {

namespace {

using Clock = std::chrono::steady_clock;

// Page faults that had to read from disk so far (mapped weights not in the page cache): a pass with many of them
// measured the disk, not the arithmetic.
int64_t major_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_majflt;
}

struct Pass {
  double seconds = 0;
  int64_t major_faults = 0;
  int64_t tokens = 0;
  int64_t flops = 0;
  int64_t operand_bytes = 0;
  double conversion_thread_seconds = 0;
  std::array<double, static_cast<size_t>(Stage::count)> stage_seconds{};
};

Pass snapshot(const StageProfile& p, double seconds, int64_t tokens) {
  Pass r;
  r.seconds = seconds;
  r.tokens = tokens;
  r.flops = p.matmul_flops.load();
  r.operand_bytes = p.operand_bytes.load();
  r.conversion_thread_seconds = static_cast<double>(p.conversion_ns.load()) * 1e-9;
  r.stage_seconds = p.seconds;
  return r;
}

int argmax(const Eigen::MatrixXd& logits) {
  Eigen::Index best = 0;
  logits.row(logits.rows() - 1).maxCoeff(&best);
  return static_cast<int>(best);
}

nlohmann::json stages_json(const Pass& p) {
  nlohmann::json s = nlohmann::json::object();
  double timed = 0;
  for (size_t i = 0; i < p.stage_seconds.size(); ++i) {
    s[stage_name(static_cast<Stage>(i))] = p.stage_seconds[i];
    timed += p.stage_seconds[i];
  }
  s["untimed"] = std::max(0.0, p.seconds - timed);
  return s;
}

}  // namespace

std::vector<int> bench_prompt(const ModelConfig& c, int tokens) {
  const TextConfig& t = c.text;
  std::set<int> special = {t.pad_token_id,   t.bos_token_id,    c.boi_token_id,   c.eoi_token_id,
                           c.image_token_id, c.video_token_id,  c.boa_token_id,   c.eoa_token_id,
                           c.audio_token_id};
  for (int e : t.eos_token_ids) special.insert(e);
  // Gemma's vocabulary puts control and unused pieces below 256 and the media tokens above 255998; the synthetic
  // tokenizers keep theirs below 64. Ids from [lo, hi) are ordinary text in both.
  const int64_t hi = std::min<int64_t>(t.vocab_size, 255999);
  const int64_t lo = t.vocab_size > 4096 ? 256 : 64;
  if (hi - lo < 16) fail("bench", "the vocabulary (" + std::to_string(t.vocab_size) + " ids) is too small for a prompt");
  std::vector<int> ids = {t.bos_token_id};
  uint64_t x = 0x9E3779B97F4A7C15ull;
  while (static_cast<int>(ids.size()) < tokens) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int id = static_cast<int>(lo + static_cast<int64_t>((x >> 33) % static_cast<uint64_t>(hi - lo)));
    if (!special.count(id)) ids.push_back(id);
  }
  ids.resize(static_cast<size_t>(tokens));
  return ids;
}

nlohmann::json bench_model(const Model& model, const ModelBenchOptions& o, const Ceilings* ceilings) {
  if (o.prompt_tokens < 1) fail("--prompt-tokens", "must be at least 1");
  if (o.new_tokens < 0) fail("--new-tokens", "must not be negative");
  RunOptions ro;
  ro.precision = o.precision;
  ro.threads = o.threads;
  const std::vector<int> prompt = bench_prompt(model.config(), o.prompt_tokens);

  Pass best_prefill, best_decode;
  best_prefill.seconds = best_decode.seconds = -1;
  std::vector<int> generated;
  for (int rep = 0; rep < std::max(1, o.repeats); ++rep) {
    auto session = make_session(model, ro);
    StageProfile profile;
    Pass prefill, decode;
    {
      ProfileScope scope(profile);
      const int64_t f0 = major_faults();
      const auto t0 = Clock::now();
      Eigen::MatrixXd z = session->forward(prompt, {}, LogitRows::last);
      prefill = snapshot(profile, std::chrono::duration<double>(Clock::now() - t0).count(), o.prompt_tokens);
      prefill.major_faults = major_faults() - f0;
      int next = argmax(z);
      profile.reset();
      std::vector<int> out = {next};
      const int64_t f1 = major_faults();
      const auto t1 = Clock::now();
      // Decode: each step one token at the next position, greedy; the first token came from the prefill.
      for (int step = 1; step < o.new_tokens; ++step) {
        z = session->forward({next}, {}, LogitRows::last);
        next = argmax(z);
        out.push_back(next);
      }
      decode = snapshot(profile, std::chrono::duration<double>(Clock::now() - t1).count(),
                        std::max(0, o.new_tokens - 1));
      decode.major_faults = major_faults() - f1;
      if (o.new_tokens > 0) out.resize(static_cast<size_t>(o.new_tokens));
      else out.clear();
      if (rep > 0 && out != generated) {
        fail("bench", "repeat " + std::to_string(rep + 1) + " generated other tokens than the first run");
      }
      generated = out;
    }
    if (best_prefill.seconds < 0 || prefill.seconds < best_prefill.seconds) best_prefill = prefill;
    if (best_decode.seconds < 0 || decode.seconds < best_decode.seconds) best_decode = decode;
  }

  const bool f64 = o.precision == Precision::exact;
  const double gemm_ceiling = ceilings ? (f64 ? ceilings->gemm_f64_gflops : ceilings->gemm_f32_gflops) : 0;
  nlohmann::json prefill = {
      {"tokens", best_prefill.tokens},
      {"seconds", best_prefill.seconds},
      {"tokens_per_second", best_prefill.tokens / best_prefill.seconds},
      {"matmul_gflop", best_prefill.flops * 1e-9},
      {"gflops", best_prefill.flops * 1e-9 / best_prefill.seconds},
      {"weight_conversion_thread_seconds", best_prefill.conversion_thread_seconds},
      {"major_page_faults", best_prefill.major_faults},
      {"stage_seconds", stages_json(best_prefill)},
  };
  if (ceilings) {
    prefill["ceiling"] = f64 ? "gemm_f64_gflops" : "gemm_f32_gflops";
    prefill["ratio_to_ceiling"] = best_prefill.flops * 1e-9 / best_prefill.seconds / gemm_ceiling;
  }
  nlohmann::json decode = {{"steps", best_decode.tokens},
                           {"seconds", best_decode.seconds},
                           {"major_page_faults", best_decode.major_faults}};
  if (best_decode.tokens > 0) {
    const double per_step = best_decode.seconds / best_decode.tokens;
    const double bytes_per_step = static_cast<double>(best_decode.operand_bytes) / best_decode.tokens;
    decode["tokens_per_second"] = 1.0 / per_step;
    decode["seconds_per_token"] = per_step;
    decode["streamed_bytes_per_token"] = bytes_per_step;
    decode["gbps"] = bytes_per_step / per_step / 1e9;
    decode["gflops"] = best_decode.flops * 1e-9 / best_decode.seconds;
    decode["weight_conversion_thread_seconds"] = best_decode.conversion_thread_seconds;
    decode["stage_seconds"] = stages_json(best_decode);
    if (ceilings) {
      decode["ceiling"] = "read_gbps";
      decode["bound_seconds_per_token"] = bytes_per_step / (ceilings->read_gbps * 1e9);
      decode["ratio_to_ceiling"] = bytes_per_step / per_step / 1e9 / ceilings->read_gbps;
    }
  }
  return {{"precision", precision_name(o.precision)},
          {"prompt_tokens", o.prompt_tokens},
          {"new_tokens", o.new_tokens},
          {"repeats", std::max(1, o.repeats)},
          {"prompt_ids", prompt},
          {"generated_ids", generated},
          {"prefill", prefill},
          {"decode", decode}};
}

}  // namespace g4ref
