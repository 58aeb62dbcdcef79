// g4ref run: a prompt of token ids through the model, then greedy or sampled generation.
#include <chrono>
#include <iostream>

#include "cli/common.h"
#include "memory/memory_sampler.h"
#include "forward/generate.h"
#include "forward/session.h"
#include "model/weights.h"
#include "cli/prompt_args.h"

namespace g4ref {

namespace {

struct RunArgs {
  std::string model;
  PromptArgs prompt;
  int max_new_tokens = 16;
  bool json = false;
  ForwardArgs forward;
};

// Streams decoded text: the text of all generated ids so far, printed from where the last print ended
// (so multi-byte characters split over byte tokens come out whole).
class TextStream {
 public:
  explicit TextStream(const Tokenizer& t) : tokenizer_(t) {}
  void add(int id) {
    ids_.push_back(id);
    const std::string text = tokenizer_.decode(ids_);
    if (text.size() > printed_ && text.compare(0, printed_, shown_) == 0) {
      std::cout << text.substr(printed_) << std::flush;
      shown_ = text;
      printed_ = text.size();
    }
  }

 private:
  const Tokenizer& tokenizer_;
  std::vector<int> ids_;
  std::string shown_;
  size_t printed_ = 0;
};

void run(const RunArgs& a) {
  MemorySampler memory;
  const auto t0 = std::chrono::steady_clock::now();
  auto model = Model::load(a.model, a.prompt.mmproj);
  PreparedPrompt p = a.prompt.prepare(a.model, model->config());
  const GenerationConfig gen = load_generation_config(a.model, model->config());
  auto session = make_session(*model, a.forward.run_options());
  const auto t_loaded = std::chrono::steady_clock::now();

  std::unique_ptr<TextStream> stream;
  if (!a.json) {
    if (p.tokenizer) stream = std::make_unique<TextStream>(*p.tokenizer);
    else std::cout << "generated:" << std::flush;
  }
  // Prefill ends when the first token is chosen (from the prompt's last logits); decode is every step after it.
  std::chrono::steady_clock::time_point t_first{};
  bool first = true;
  const GenerationResult r =
      generate(*session, p, a.max_new_tokens, a.forward.sampling(), gen, [&](int id) {
        if (first) t_first = std::chrono::steady_clock::now(), first = false;
        if (stream) stream->add(id);
        else if (!a.json) std::cout << " " << id << std::flush;
      });
  const auto t_end = std::chrono::steady_clock::now();
  const MemoryPeak peak = memory.stop();
  const double load_s = std::chrono::duration<double>(t_loaded - t0).count();
  const double total_s = std::chrono::duration<double>(t_end - t0).count();
  if (first) t_first = t_end;
  const double prefill_s = std::chrono::duration<double>(t_first - t_loaded).count();
  const double decode_s = std::chrono::duration<double>(t_end - t_first).count();
  const size_t decode_steps = r.generated.empty() ? 0 : r.generated.size() - 1;

  if (a.json) {
    nlohmann::json j = {
        {"model", a.model},
        {"config_hash", model->config().hash()},
        {"precision", a.forward.precision},
        {"prompt_ids", r.prompt},
        {"generated_ids", r.generated},
        {"rendered_prompt", p.rendered},
        {"generated_text", p.tokenizer ? p.tokenizer->decode(r.generated) : ""},
        {"stop_reason", r.stop_reason},
        {"prompt_logits_top10", top_entries_json(r.prompt_logits, 10)},
        {"final_logits_top10", top_entries_json(r.last_logits, 10)},
        {"seconds", {{"load", load_s}, {"prefill", prefill_s}, {"decode", decode_s}, {"total", total_s}}},
        {"tokens_per_second",
         {{"prefill", prefill_s > 0 ? r.prompt.size() / prefill_s : 0.0},
          {"decode", decode_s > 0 && decode_steps ? decode_steps / decode_s : 0.0}}},
        {"peak_memory_bytes",
         {{"anonymous", peak.anon_bytes}, {"file_backed", peak.file_bytes}, {"total_hwm", peak.total_hwm_bytes}}},
    };
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "\n\nstop: " << r.stop_reason << "\nfinal logits top-10:";
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
  a->prompt.add_to(*cmd);
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output: prompt ids, generated ids, top-10 logits");
  a->forward.add_to(*cmd, true);
  cmd->callback([a, cmd] {
    a->prompt.check(*cmd);
    run(*a);
  });
}

}  // namespace g4ref
