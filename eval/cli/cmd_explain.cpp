// g4ref explain: the data flow of one forward pass, stage by stage — every trace name with its shape and a few
// statistics — so a learner can follow the model from token ids to logits.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "cli/stage_stats.h"
#include "forward/session.h"
#include "layers/attention_mask.h"
#include "layers/rope.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct ExplainArgs {
  std::string model;
  PromptArgs prompt;
  int layers = -1;  // layers to show in full (-1: all)
  bool json = false;
  bool layout = false;  // with --json: the masks, RoPE tables, patch grids and audio framing of this prompt
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

// Prompts longer than this get no masks in the layout (each mask is tokens² characters of JSON).
constexpr size_t kLayoutMaskTokens = 2048;

// The pieces of the data flow that are not tensors of the forward pass, for a learner's pictures
// (reports/architecture.py): the attention mask of each layer type over this prompt (spec §2.7, built by the same
// rule the layers use), the RoPE inverse frequencies of each layer type (spec §2.6), each image's patch grid
// (spec §3.1-§3.2) and each audio clip's 40 ms framing (spec §4).
nlohmann::json layout_json(const ModelConfig& c, const RunOptions& o, const Prompt& p) {
  const TextConfig& t = c.text;
  nlohmann::json j;
  j["token_types"] = p.token_types;
  j["block_ids"] = p.block_ids;
  nlohmann::json masks = nlohmann::json::object();
  if (p.ids.size() <= kLayoutMaskTokens) {
    for (LayerType type : {LayerType::sliding, LayerType::full}) {
      MaskRule rule;
      rule.layer_type = type;
      rule.window = t.sliding_window;
      rule.variant = o.window;
      rule.image_attention = o.image_attention;
      nlohmann::json rows = nlohmann::json::array();
      const int64_t n = static_cast<int64_t>(p.ids.size());
      for (int64_t q = 0; q < n; ++q) {
        std::string row(static_cast<size_t>(n), '0');
        for (int64_t k = 0; k < n; ++k) {
          if (attention_allowed(rule, q, k, p.block_ids[q], p.block_ids[k])) row[k] = '1';
        }
        rows.push_back(row);
      }
      masks[type == LayerType::full ? "full" : "sliding"] = {{"window", type == LayerType::sliding ? t.sliding_window : 0}, {"rows", rows}};
    }
  }
  j["masks"] = masks;
  nlohmann::json rope = nlohmann::json::object();
  for (int layer = 0; layer < t.num_hidden_layers; ++layer) {
    const std::string name = t.is_full(layer) ? "full" : "sliding";
    if (rope.contains(name)) continue;
    const RopeParams& r = t.layer_rope(layer);
    const int d = t.layer_head_dim(layer);
    rope[name] = {{"first_layer", layer},     {"head_dim", d},
                  {"rope_type", r.rope_type}, {"theta", r.theta},
                  {"partial_rotary_factor", r.partial_rotary_factor},
                  {"rotated_pairs", rope_rotated_pairs(r, d)},
                  {"inv_freq", rope_inv_freq(r, d)}};
  }
  j["rope"] = rope;
  nlohmann::json images = nlohmann::json::array(), audio = nlohmann::json::array();
  for (const MediaInput& m : p.media) {
    if (m.kind == MediaInput::Kind::image) {
      int cols = 0, rows = 0;
      for (const auto& [x, y] : m.xy) cols = std::max(cols, x + 1), rows = std::max(rows, y + 1);
      nlohmann::json mean = nlohmann::json::array();  // each patch's mean value, for a picture of the grid
      for (int64_t r = 0; r < m.rows; ++r) {
        double s = 0;
        for (int64_t i = 0; i < m.cols; ++i) s += m.values[static_cast<size_t>(r * m.cols + i)];
        mean.push_back(s / static_cast<double>(m.cols));
      }
      images.push_back({{"patches", m.rows}, {"patch_values", m.cols}, {"grid_columns", cols}, {"grid_rows", rows},
                        {"xy", m.xy}, {"patch_mean", mean}});
    } else {
      nlohmann::json rms = nlohmann::json::array();
      for (int64_t r = 0; r < m.rows; ++r) {
        double s = 0;
        for (int64_t i = 0; i < m.cols; ++i) s += double(m.values[static_cast<size_t>(r * m.cols + i)]) * m.values[static_cast<size_t>(r * m.cols + i)];
        rms.push_back(std::sqrt(s / static_cast<double>(m.cols)));
      }
      audio.push_back({{"frames", m.rows}, {"samples_per_frame", m.cols}, {"sample_rate", 16000}, {"frame_rms", rms}});
    }
  }
  j["images"] = images;
  j["audio"] = audio;
  return j;
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
    nlohmann::json out{{"model", a.model}, {"precision", a.forward.precision}, {"tokens", p.ids},
                       {"rendered_prompt", p.rendered}, {"stages", stages}};
    if (a.layout) out["layout"] = layout_json(model->config(), a.forward.run_options(), p);
    std::cout << out.dump(2) << "\n";
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
  cmd->add_flag("--layout", a->layout,
                "with --json: also the attention masks of both layer types over this prompt (up to 2,048 tokens), the "
                "RoPE inverse frequencies of both, each image's patch grid and each clip's 40 ms frames");
  a->forward.add_to(*cmd, false);
  cmd->callback([a, cmd] {
    a->prompt.check(*cmd);
    if (a->layout && !a->json) throw CLI::ValidationError("--layout", "goes with --json (the layout is data for plots)");
    explain(*a);
  });
}

}  // namespace g4ref
