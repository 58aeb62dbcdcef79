#include "compare/name_map.h"

#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <utility>

namespace g4ref {

namespace {

struct Pair {
  const char* g4ref;    // suffix after "layers.L." (or a whole name for the global table)
  const char* foreign;  // suffix after the foreign layer prefix (or a whole foreign name)
};

// Hugging Face modules inside `model.language_model.layers.L`, hooked on their output unless the name ends in
// ".input" (a forward-pre-hook on the module's input, the only way HF exposes the attention context before
// o_proj and the GeGLU product before down_proj). The first pair of a tap is the canonical one.
// HF has no module for RoPE (a function), nor for the two residual adds, so q_rope, k_rope, resid_attn and
// resid_ffn have no HF name. `self_attn.v_norm` is the weightless norm on V (spec §2.3); that it is a module
// named so in Gemma4UnifiedTextAttention is UNCONFIRMED (it has no weight on disk to prove the name).
constexpr Pair kHfLayer[] = {
    {"attn_norm", "input_layernorm"},
    {"q", "self_attn.q_proj"},
    {"k", "self_attn.k_proj"},
    {"v", "self_attn.v_proj"},  // sliding layers only: full layers have no v_proj (V = raw K)
    {"q_norm", "self_attn.q_norm"},
    {"k_norm", "self_attn.k_norm"},
    {"v_norm", "self_attn.v_norm"},
    {"attn", "self_attn.o_proj.input"},
    {"attn_out", "self_attn.o_proj"},
    {"attn_out", "self_attn"},  // the attention module's first output is o_proj's
    {"post_attn_norm", "post_attention_layernorm"},
    {"ffn_norm", "pre_feedforward_layernorm"},
    {"gate", "mlp.gate_proj"},
    {"up", "mlp.up_proj"},
    {"act", "mlp.down_proj.input"},  // gelu(gate)·up; `mlp.act_fn` alone is gelu(gate), not a tap of ours
    {"ffn_out", "mlp.down_proj"},
    {"ffn_out", "mlp"},
    {"post_ffn_norm", "post_feedforward_layernorm"},
    {"out", ""},  // the decoder layer itself: its output, after layer_scalar
};

// Outside the layers. `lm_head` is the plain projection (before the softcap): our logits.raw. The model's
// returned `.logits` are after the softcap: our logits. `embed_tokens` already includes the ×bf16(√3840)
// scale; for prompts with images or audio its placeholder rows still hold the scaled PAD row, while our
// embed.out (and HF hidden_states.0) have the multimodal features scattered in.
constexpr Pair kHfGlobal[] = {
    {"embed.out", "model.language_model.embed_tokens"},
    {"final_norm", "model.language_model.norm"},
    {"logits.raw", "lm_head"},
    {"logits", "logits"},
};

// Other spellings of the text-model prefix that dumps use (a text-only model, an older nesting).
constexpr const char* kHfPrefixes[] = {"model.language_model.", "language_model.model.", "language_model.", "model."};

// llama.cpp callback names `NAME-L` (src/models/gemma4.cpp, `cb(t, NAME, il)` formats "%s-%d").
// Read from gemma4.cpp: attn_norm, Qcur, Qcur_normed, Qcur_pos, Kcur, Vcur, Kcur_normed, Vcur_normed, Kcur_pos,
// attn_post_norm, attn_out, ffn_norm, ffn_out, ffn_post_norm, out_scaled, l_out. From the shared builders
// (src/llama-graph.cpp): kqv_out (build_attn, the context before wo), ffn_gate, ffn_up and ffn_geglu
// (build_ffn with GELU + parallel gate fuses the product into ggml_geglu_split).
// Pitfalls:
//  * gemma4.cpp's "attn_out" is the FIRST RESIDUAL (h + post_attn_norm(attn)), not the o_proj output; the
//    o_proj output itself is an unnamed node, as are the second residual (before layer_scalar) and the
//    logits before the softcap, so attn_out, resid_ffn and logits.raw have no llama.cpp name.
//  * On full layers V is the K projection tensor itself, and the later cb(Vcur, "Vcur") renames that node:
//    a dump then holds "Vcur-L" (= our v = raw k) and no "Kcur-L" for those layers.
//  * "inp_scaled" multiplies by sqrtf(3840) = 61.9677 in f32, where HF and g4ref use bf16(√3840) = 62.0
//    (spec §7.3): a systematic 5e-4 relative difference from the embedding on.
//  * "result_output" is after the softcap and after the −∞ bias on the suppressed tokens (spec §2.9).
//  * "result_norm"/"result_output" hold only the rows llama.cpp outputs (by default the last token).
// UNCONFIRMED for gemma4 (the generic names of other llama.cpp models, kept so such dumps still align):
// "ffn_inp" (first residual) and "ffn_gate_par" (the gate·up product in builds before the fused geglu).
constexpr Pair kLlamaLayer[] = {
    {"attn_norm", "attn_norm"},
    {"q", "Qcur"},
    {"k", "Kcur"},
    {"v", "Vcur"},
    {"q_norm", "Qcur_normed"},
    {"k_norm", "Kcur_normed"},
    {"v_norm", "Vcur_normed"},
    {"q_rope", "Qcur_pos"},
    {"k_rope", "Kcur_pos"},
    {"attn", "kqv_out"},
    {"post_attn_norm", "attn_post_norm"},
    {"resid_attn", "attn_out"},
    {"resid_attn", "ffn_inp"},
    {"ffn_norm", "ffn_norm"},
    {"gate", "ffn_gate"},
    {"up", "ffn_up"},
    {"act", "ffn_geglu"},
    {"act", "ffn_gate_par"},
    {"ffn_out", "ffn_out"},
    {"post_ffn_norm", "ffn_post_norm"},
    {"out", "l_out"},
    {"out", "out_scaled"},  // identical to l_out when no control vector is applied
};

constexpr Pair kLlamaGlobal[] = {
    {"embed.out", "inp_scaled"},
    {"final_norm", "result_norm"},
    {"logits", "result_output"},
};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// A non-negative decimal integer filling S entirely; -1 otherwise.
long parse_index(const std::string& s) {
  if (s.empty() || s.size() > 9) return -1;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
  }
  return std::strtol(s.c_str(), nullptr, 10);
}

std::string layer_name(long layer, const std::string& tap) { return "layers." + std::to_string(layer) + "." + tap; }

std::optional<std::string> hf_to_g4ref(std::string name, int num_layers) {
  if (starts_with(name, "hidden_states.")) {
    const long i = parse_index(name.substr(14));
    if (i < 0) return std::nullopt;
    if (i == 0) return "embed.out";
    if (num_layers <= 0 || i > num_layers) return std::nullopt;
    // HF replaces the last entry with last_hidden_state, taken after the final norm: it is final_norm.
    if (i == num_layers) return "final_norm";
    return layer_name(i - 1, "out");
  }
  const std::string suffix = ".output";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  for (const Pair& p : kHfGlobal) {
    if (name == p.foreign) return std::string(p.g4ref);
  }
  for (const char* prefix : kHfPrefixes) {
    if (!starts_with(name, prefix)) continue;
    const std::string rest = name.substr(std::string(prefix).size());
    if (rest == "embed_tokens") return "embed.out";
    if (rest == "norm") return "final_norm";
    if (!starts_with(rest, "layers.")) continue;
    const std::string after = rest.substr(7);
    const size_t dot = after.find('.');
    const long layer = parse_index(after.substr(0, dot));
    if (layer < 0) continue;
    const std::string module = dot == std::string::npos ? "" : after.substr(dot + 1);
    for (const Pair& p : kHfLayer) {
      if (module == p.foreign) return layer_name(layer, p.g4ref);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> llama_to_g4ref(const std::string& name) {
  for (const Pair& p : kLlamaGlobal) {
    if (name == p.foreign) return std::string(p.g4ref);
  }
  const size_t dash = name.rfind('-');
  if (dash == std::string::npos) return std::nullopt;
  const long layer = parse_index(name.substr(dash + 1));
  if (layer < 0) return std::nullopt;
  const std::string op = name.substr(0, dash);
  for (const Pair& p : kLlamaLayer) {
    if (op == p.foreign) return layer_name(layer, p.g4ref);
  }
  return std::nullopt;
}

// "layers.L.tap" -> (L, tap); L = -1 when NAME is not a layer tap.
std::pair<long, std::string> split_layer(const std::string& name) {
  if (!starts_with(name, "layers.")) return {-1, ""};
  const std::string after = name.substr(7);
  const size_t dot = after.find('.');
  if (dot == std::string::npos) return {-1, ""};
  const long layer = parse_index(after.substr(0, dot));
  if (layer < 0) return {-1, ""};
  return {layer, after.substr(dot + 1)};
}

std::string pad(long v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*ld", width, v);
  return buf;
}

}  // namespace

std::string map_kind_name(MapKind kind) {
  switch (kind) {
    case MapKind::G4ref: return "g4ref";
    case MapKind::Hf: return "hf";
    case MapKind::LlamaCpp: return "llamacpp";
  }
  return "?";
}

std::optional<MapKind> parse_map_kind(const std::string& s) {
  if (s == "g4ref") return MapKind::G4ref;
  if (s == "hf") return MapKind::Hf;
  if (s == "llamacpp") return MapKind::LlamaCpp;
  return std::nullopt;
}

const std::vector<std::string>& layer_taps() {
  static const std::vector<std::string> taps = {
      "attn_norm", "q",          "k",      "v",        "q_norm", "k_norm", "v_norm",
      "q_rope",    "k_rope",     "attn",   "attn_out", "post_attn_norm",   "resid_attn",
      "ffn_norm",  "gate",       "up",     "act",      "ffn_out", "post_ffn_norm", "resid_ffn",
      "out"};
  return taps;
}

std::optional<std::string> to_g4ref(const std::string& foreign_name, MapKind kind, int num_layers) {
  switch (kind) {
    case MapKind::G4ref: return foreign_name;
    case MapKind::Hf: return hf_to_g4ref(foreign_name, num_layers);
    case MapKind::LlamaCpp: return llama_to_g4ref(foreign_name);
  }
  return std::nullopt;
}

std::vector<std::string> from_g4ref(const std::string& g4ref_name, MapKind kind, int num_layers) {
  std::vector<std::string> out;
  if (kind == MapKind::G4ref) return {g4ref_name};
  const auto [layer, tap] = split_layer(g4ref_name);
  if (kind == MapKind::Hf) {
    for (const Pair& p : kHfGlobal) {
      if (g4ref_name == p.g4ref) out.push_back(p.foreign);
    }
    if (g4ref_name == "embed.out") out.push_back("hidden_states.0");
    if (g4ref_name == "final_norm" && num_layers > 0) out.push_back("hidden_states." + std::to_string(num_layers));
    if (layer >= 0) {
      const std::string prefix = "model.language_model.layers." + std::to_string(layer);
      for (const Pair& p : kHfLayer) {
        if (tap == p.g4ref) out.push_back(*p.foreign ? prefix + "." + p.foreign : prefix);
      }
      if (tap == "out" && num_layers > 0 && layer + 1 < num_layers) {
        out.push_back("hidden_states." + std::to_string(layer + 1));
      }
    }
  } else {
    for (const Pair& p : kLlamaGlobal) {
      if (g4ref_name == p.g4ref) out.push_back(p.foreign);
    }
    if (layer >= 0) {
      for (const Pair& p : kLlamaLayer) {
        if (tap == p.g4ref) out.push_back(std::string(p.foreign) + "-" + std::to_string(layer));
      }
    }
  }
  return out;
}

std::string data_flow_key(const std::string& name) {
  static const std::vector<std::string> input_order = {"tokens", "token_types", "positions"};
  static const std::vector<std::string> image_order = {"pixels", "patches", "ln1", "dense", "ln2",
                                                       "pos",    "ln3",     "rms", "out"};
  static const std::vector<std::string> audio_order = {"frames", "rms", "out"};
  auto position = [](const std::vector<std::string>& order, const std::string& s) -> std::string {
    for (size_t i = 0; i < order.size(); ++i) {
      if (order[i] == s) return pad(static_cast<long>(i), 3);
    }
    return "999." + s;  // unknown tap: after the known ones of its group
  };

  if (starts_with(name, "input.")) return "0." + position(input_order, name.substr(6));
  for (const auto& [media, order, stage] :
       {std::tuple{"image.", &image_order, "1.0."}, std::tuple{"audio.", &audio_order, "1.1."}}) {
    const std::string prefix = media;
    if (!starts_with(name, prefix)) continue;
    const std::string after = name.substr(prefix.size());
    const size_t dot = after.find('.');
    const long index = parse_index(after.substr(0, dot));
    if (index < 0 || dot == std::string::npos) break;
    return std::string(stage) + pad(index, 6) + "." + position(*order, after.substr(dot + 1));
  }
  if (name == "embed.out") return "2";
  const auto [layer, tap] = split_layer(name);
  if (layer >= 0) return "3." + pad(layer, 6) + "." + position(layer_taps(), tap);
  if (name == "final_norm") return "4";
  if (name == "logits.raw") return "5";
  if (name == "logits") return "6";
  return "9." + name;
}

}  // namespace g4ref
