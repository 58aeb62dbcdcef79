// g4ref demo: the main job on the embedded default — a tiny synthetic checkpoint, generated on first use.
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "cli/common.h"
#include "cli/stage_stats.h"
#include "forward/generate.h"
#include "forward/session.h"
#include "convert/synth.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct DemoArgs {
  std::string model_dir;
  std::string tokens = "2,105,10,20,30,40,50,60,70,80,90,100";
  int max_new_tokens = 8;
  bool json = false;
  ForwardArgs forward;
};

// The summary shows the data flow at the granularity of whole layers.
bool demo_stage(const std::string& name) {
  const bool layer_out = name.rfind("layers.", 0) == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".out") == 0;
  return layer_out || name == "embed.out" || name == "final_norm" || name == "logits";
}

void demo(const DemoArgs& a) {
  namespace fs = std::filesystem;
  const std::string dir = a.model_dir.empty() ? default_model_home() + "/tiny-seed0" : a.model_dir;
  bool synthesized = false;
  if (!fs::exists(fs::path(dir) / "config.json")) {
    SynthOptions s;
    s.preset = "tiny";
    s.seed = 0;
    s.out_dir = dir;
    s.force = true;
    // The cache home ($G4REF_HOME or ~/.cache/g4ref) is ours to create; synth itself creates only the final
    // directory of its --out.
    if (a.model_dir.empty()) fs::create_directories(default_model_home());
    write_synthetic_checkpoint(s);
    synthesized = true;
  }
  auto model = Model::load(dir);
  const std::vector<int> prompt = parse_token_list(a.tokens, "--tokens");
  StageStatsTracer stats(&demo_stage);
  auto session = make_session(*model, a.forward.run_options(), &stats);
  const GenerationConfig gen = load_generation_config(dir, model->config());
  const GenerationResult r = generate(*session, Prompt::from_ids(prompt, model->config()), a.max_new_tokens, a.forward.sampling(), gen);
  std::vector<StageStats> prefill;  // the stages recorded up to the prompt's logits
  for (const auto& s : stats.stages()) {
    prefill.push_back(s);
    if (s.name == "logits") break;
  }

  const char* note = "The weights are random (a synthetic checkpoint): the tokens carry no meaning; the code path "
                     "is the real model's.";
  if (a.json) {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : prefill) {
      stages.push_back({{"name", s.name}, {"shape", s.shape}, {"mean", s.mean}, {"rms", s.rms}, {"min", s.min},
                        {"max", s.max}});
    }
    std::cout << nlohmann::json{{"model", dir}, {"synthesized", synthesized}, {"precision", a.forward.precision},
                                {"prompt_ids", r.prompt}, {"generated_ids", r.generated}, {"stages", stages},
                                {"note", note}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "g4ref demo — " << (synthesized ? "synthesized " : "") << "tiny checkpoint at " << dir << "\n"
            << note << "\n\n"
            << "precision " << a.forward.precision << "; prompt ids:";
  for (int id : r.prompt) std::cout << " " << id;
  std::cout << "\n\nper-stage summary of the prompt's forward pass:\n"
            << std::left << std::setw(16) << "stage" << std::setw(14) << "shape" << std::right << std::setw(12)
            << "mean" << std::setw(12) << "rms" << std::setw(12) << "min" << std::setw(12) << "max" << "\n";
  for (const auto& s : prefill) {
    std::cout << std::left << std::setw(16) << s.name << std::setw(14) << shape_string(s.shape) << std::right
              << std::fixed << std::setprecision(4) << std::setw(12) << s.mean << std::setw(12) << s.rms
              << std::setw(12) << s.min << std::setw(12) << s.max << "\n";
  }
  std::cout << "\ngenerated ids (" << (a.forward.temperature > 0 ? "sampled" : "greedy") << "):";
  for (int id : r.generated) std::cout << " " << id;
  std::cout << "\nstop: " << r.stop_reason << "\n";
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Run a prompt through the tiny synthetic checkpoint (made on first use) and summarize every stage");
  cmd->add_option("--model-dir", a->model_dir,
                  "where the tiny checkpoint lives (default: $G4REF_HOME or ~/.cache/g4ref, /tiny-seed0)");
  cmd->add_option("--tokens", a->tokens, "prompt token ids")->capture_default_str();
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate")->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output");
  a->forward.add_to(*cmd, true);
  cmd->callback([a] { demo(*a); });
}

}  // namespace g4ref
