// g4ref explain: the data flow of one forward pass, stage by stage — every trace name with its shape and a few
// statistics — so a learner can follow the model from token ids to logits.
#include <iomanip>
#include <iostream>

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "cli/stage_stats.h"
#include "forward/session.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct ExplainArgs {
  std::string model;
  PromptArgs prompt;
  int layers = -1;  // layers to show in full (-1: all)
  bool json = false;
  ForwardArgs forward;
};

// The spec section each stage comes from, for the learner to read next.
std::string section_of(const std::string& name) {
  if (name.rfind("input.", 0) == 0) return "§5";
  if (name.rfind("image.", 0) == 0) return "§3.2";
  if (name.rfind("audio.", 0) == 0) return "§4";
  if (name == "embed.out") return "§2.2";
  if (name.rfind("layers.", 0) == 0) {
    const std::string stage = name.substr(name.find('.', 7) + 1);
    if (stage == "q_rope" || stage == "k_rope") return "§2.6";
    for (const char* s : {"q", "k", "v", "q_norm", "k_norm", "v_norm", "attn", "attn_out"}) {
      if (stage == s) return "§2.5";
    }
    for (const char* s : {"gate", "up", "act", "ffn_out"}) {
      if (stage == s) return "§2.8";
    }
    return "§2.4";  // the norms around each block, the residual adds and the layer scalar
  }
  if (name == "final_norm") return "§2.3";
  return "§2.9";
}

void explain(const ExplainArgs& a) {
  auto model = Model::load(a.model, a.prompt.mmproj);
  const PreparedPrompt p = a.prompt.prepare(a.model, model->config());
  StageStatsTracer stats;
  auto session = make_session(*model, a.forward.run_options(), &stats);
  session->forward(p, LogitRows::all);
  const TextConfig& t = model->config().text;
  if (a.json) {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : stats.stages()) {
      stages.push_back({{"name", s.name}, {"shape", s.shape}, {"mean", s.mean}, {"rms", s.rms}, {"min", s.min},
                        {"max", s.max}, {"spec", section_of(s.name)}});
    }
    std::cout << nlohmann::json{{"model", a.model}, {"precision", a.forward.precision}, {"tokens", p.ids},
                                {"rendered_prompt", p.rendered}, {"stages", stages}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "g4ref explain — " << a.model << ", " << a.forward.precision << " mode, " << p.ids.size()
            << " tokens, " << t.num_hidden_layers << " layers (hidden " << t.hidden_size << ")\n";
  if (!p.rendered.empty()) std::cout << "rendered prompt: " << nlohmann::json(p.rendered).dump() << "\n";
  std::cout << "\n"
            << std::left << std::setw(26) << "stage" << std::setw(7) << "spec" << std::setw(16) << "shape" << std::right
            << std::setw(12) << "mean" << std::setw(12) << "rms" << std::setw(12) << "min" << std::setw(12) << "max"
            << "\n";
  int last_layer = -1;
  for (const auto& s : stats.stages()) {
    if (s.name.rfind("layers.", 0) == 0) {
      const int layer = std::stoi(s.name.substr(7));
      if (a.layers >= 0 && layer >= a.layers && s.name.size() > 4 && s.name.substr(s.name.size() - 4) != ".out") {
        continue;  // beyond the requested depth only each layer's output is shown
      }
      if (layer != last_layer) {
        std::cout << "-- layer " << layer << " (" << layer_type_name(t.layer_types[layer]) << ", head_dim "
                  << t.layer_head_dim(layer) << ", " << t.layer_kv_heads(layer) << " KV heads)\n";
        last_layer = layer;
      }
    }
    std::cout << std::left << std::setw(26) << s.name << std::setw(7) << section_of(s.name) << std::setw(16)
              << shape_string(s.shape) << std::right << std::scientific << std::setprecision(3) << std::setw(12)
              << s.mean << std::setw(12) << s.rms << std::setw(12) << s.min << std::setw(12) << s.max << "\n"
              << std::defaultfloat;
  }
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto a = std::make_shared<ExplainArgs>();
  CLI::App* cmd = app.add_subcommand("explain", "Print the data flow of one forward pass, stage by stage");
  cmd->add_option("--model", a->model, "checkpoint directory")->required();
  a->prompt.add_to(*cmd);
  cmd->add_option("--layers", a->layers, "show every stage of the first N layers, then only layer outputs");
  cmd->add_flag("--json", a->json, "machine-readable output");
  a->forward.add_to(*cmd, false);
  cmd->callback([a, cmd] {
    a->prompt.check(*cmd);
    explain(*a);
  });
}

}  // namespace g4ref
