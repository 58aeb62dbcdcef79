// g4ref run: a prompt of token ids through the model, then greedy or sampled generation.
#include <chrono>
#include <iostream>

#include "cli/common.h"
#include "memory/memory_sampler.h"
#include "model/generate.h"
#include "model/session.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct RunArgs {
  std::string model;
  std::string tokens;
  int max_new_tokens = 16;
  bool json = false;
  ForwardArgs forward;
};

void run(const RunArgs& a) {
  MemorySampler memory;
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int> prompt = parse_token_list(a.tokens, "--tokens");
  auto model = Model::load(a.model);
  const GenerationConfig gen = load_generation_config(a.model, model->config());
  auto session = make_session(*model, a.forward.run_options());
  const auto t_loaded = std::chrono::steady_clock::now();

  if (!a.json) std::cout << "generated:" << std::flush;
  const GenerationResult r =
      generate(*session, prompt, {}, a.max_new_tokens, a.forward.sampling(), gen, [&](int id) {
        if (!a.json) std::cout << " " << id << std::flush;
      });
  const auto t_end = std::chrono::steady_clock::now();
  const MemoryPeak peak = memory.stop();
  const double load_s = std::chrono::duration<double>(t_loaded - t0).count();
  const double total_s = std::chrono::duration<double>(t_end - t0).count();

  if (a.json) {
    nlohmann::json j = {
        {"model", a.model},
        {"config_hash", model->config().hash()},
        {"precision", a.forward.precision},
        {"prompt_ids", r.prompt},
        {"generated_ids", r.generated},
        {"stop_reason", r.stop_reason},
        {"prompt_logits_top10", top_entries_json(r.prompt_logits, 10)},
        {"final_logits_top10", top_entries_json(r.last_logits, 10)},
        {"seconds", {{"load", load_s}, {"total", total_s}}},
        {"peak_memory_bytes",
         {{"anonymous", peak.anon_bytes}, {"file_backed", peak.file_bytes}, {"total_hwm", peak.total_hwm_bytes}}},
    };
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "\nstop: " << r.stop_reason << "\nfinal logits top-10:";
  for (const auto& e : top_k_entries(r.last_logits, 10)) std::cout << " " << e.id << ":" << e.logit;
  std::cout << "\n" << a.forward.precision << " mode, " << total_s << " s (load " << load_s << " s), peak memory "
            << peak.anon_bytes / (1 << 20) << " MiB anonymous + " << peak.file_bytes / (1 << 20)
            << " MiB file-backed\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a prompt through a checkpoint and generate tokens");
  cmd->add_option("--model", a->model, "checkpoint directory (config.json + safetensors)")->required();
  cmd->add_option("--tokens", a->tokens, "prompt as comma-separated token ids, e.g. 2,105,10")->required();
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output: prompt ids, generated ids, top-10 logits");
  a->forward.add_to(*cmd, true);
  cmd->callback([a] { run(*a); });
}

}  // namespace g4ref
