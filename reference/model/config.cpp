#include "model/config.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <type_traits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace g4ref {

using nlohmann::json;

const char* layer_type_name(LayerType t) { return t == LayerType::full ? "full_attention" : "sliding_attention"; }

namespace {

// An integer-valued JSON number as V: an integer literal, or a float with no fractional part (1e3), within V's
// range. nlohmann's get<int>() would truncate 64.5 to 64 and wrap 1e10, each a silently different model.
template <class V>
V strict_int(const json& v, const std::string& where, const std::string& key) {
  const auto bad = [&](const std::string& why) -> V {
    fail(where, "key '" + key + "' = " + v.dump() + " " + why);
  };
  long double x = 0;
  if (v.is_number_unsigned()) x = static_cast<long double>(v.get<uint64_t>());
  else if (v.is_number_integer()) x = static_cast<long double>(v.get<int64_t>());
  else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return bad("must be an integer");
    x = d;
  } else {
    fail(where, "key '" + key + "' has the wrong type (found " + v.dump() + "; expected an integer)");
  }
  if (x < static_cast<long double>(std::numeric_limits<V>::min()) ||
      x > static_cast<long double>(std::numeric_limits<V>::max())) {
    return bad("is out of range (at most " + std::to_string(std::numeric_limits<V>::max()) + ")");
  }
  return static_cast<V>(x);
}

// Reads key `k` of object `j` into `out` if present; a value of the wrong JSON type is an error naming the key.
template <class V>
void read(const json& j, const char* k, V& out, const std::string& where) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return;
  if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) {
    out = strict_int<V>(*it, where, k);
  } else {
    try {
      out = it->get<V>();
    } catch (const json::exception&) {
      fail(where, std::string("key '") + k + "' has the wrong type (found " + it->dump() + ")");
    }
  }
}

// Keys of spec §1.2 that select a different network than the one implemented (Gemma 4 variants: mixture of
// experts, double-wide MLP, biases, per-layer embeddings, KV sharing, another attention pattern). A config that
// sets one of them to anything but the implemented value is refused by name instead of running as the wrong
// model; absent or null means the implemented value.
void refuse_unimplemented(const json& j, const std::string& where) {
  struct Key {
    const char* name;
    json implemented;
  };
  static const Key kKeys[] = {
      {"enable_moe_block", false},
      {"use_double_wide_mlp", false},
      {"attention_bias", false},
      {"hidden_size_per_layer_input", 0},
      {"vocab_size_per_layer_input", 0},
      {"num_kv_shared_layers", 0},
      {"use_bidirectional_attention", "vision"},
      {"attn_logit_softcapping", nullptr},
      {"num_experts", nullptr},
      {"top_k_experts", nullptr},
      {"moe_intermediate_size", nullptr},
  };
  for (const Key& k : kKeys) {
    auto it = j.find(k.name);
    if (it == j.end() || it->is_null()) continue;
    const bool same = k.implemented.is_number() && it->is_number() ? it->get<double>() == k.implemented.get<double>()
                                                                   : *it == k.implemented;
    if (!same) {
      fail(where, std::string("key '") + k.name + "' = " + it->dump() + " selects a variant this implementation "
                  "does not implement (supported: " + (k.implemented.is_null() ? "absent or null" : k.implemented.dump()) +
                  "; spec §1.2)");
    }
  }
}

RopeParams parse_rope(const json& j, const std::string& where, RopeParams r) {
  if (!j.is_object()) fail(where, "expected an object, found " + j.dump());
  read(j, "rope_type", r.rope_type, where);
  read(j, "rope_theta", r.theta, where);
  read(j, "partial_rotary_factor", r.partial_rotary_factor, where);
  read(j, "factor", r.factor, where);
  return r;
}

std::vector<LayerType> default_layer_types(int n) {
  // Spec §1.2: five sliding layers then one full, the last layer full.
  std::vector<LayerType> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i + 1) % 6 == 0 ? LayerType::full : LayerType::sliding;
  return t;
}

void parse_text(const json& j, TextConfig& t, const std::string& where) {
  refuse_unimplemented(j, where);
  read(j, "vocab_size", t.vocab_size, where);
  read(j, "hidden_size", t.hidden_size, where);
  read(j, "intermediate_size", t.intermediate_size, where);
  read(j, "num_hidden_layers", t.num_hidden_layers, where);
  // Checked here, before the per-layer tables below are sized from it.
  if (t.num_hidden_layers > kMaxHiddenLayers) {
    fail(where, "key 'num_hidden_layers' = " + std::to_string(t.num_hidden_layers) + " exceeds the limit of " +
                    std::to_string(kMaxHiddenLayers) + " layers");
  }
  if (t.num_hidden_layers <= 0) {
    fail(where, "key 'num_hidden_layers' = " + std::to_string(t.num_hidden_layers) + " must be positive");
  }
  read(j, "num_attention_heads", t.num_attention_heads, where);
  read(j, "num_key_value_heads", t.num_key_value_heads, where);
  read(j, "head_dim", t.head_dim, where);
  read(j, "global_head_dim", t.global_head_dim, where);
  read(j, "num_global_key_value_heads", t.num_global_key_value_heads, where);
  read(j, "attention_k_eq_v", t.attention_k_eq_v, where);
  read(j, "sliding_window", t.sliding_window, where);
  read(j, "final_logit_softcapping", t.final_logit_softcapping, where);
  read(j, "rms_norm_eps", t.rms_norm_eps, where);
  read(j, "hidden_activation", t.hidden_activation, where);
  read(j, "pad_token_id", t.pad_token_id, where);
  read(j, "bos_token_id", t.bos_token_id, where);
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    if (it->is_array()) {
      if (it->size() > 64) fail(where, "key 'eos_token_id' lists " + std::to_string(it->size()) + " ids (at most 64)");
      t.eos_token_ids.clear();
      for (const auto& e : *it) t.eos_token_ids.push_back(strict_int<int>(e, where, "eos_token_id"));
    } else {
      int e = 0;
      read(j, "eos_token_id", e, where);
      t.eos_token_ids = {e};
    }
  }
  t.layer_types = default_layer_types(t.num_hidden_layers);
  if (auto it = j.find("layer_types"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) fail(where, "key 'layer_types' must be a list, found " + it->dump());
    if (it->size() > size_t(kMaxHiddenLayers)) {
      fail(where, "key 'layer_types' has " + std::to_string(it->size()) + " entries, over the limit of " +
                      std::to_string(kMaxHiddenLayers) + " layers");
    }
    t.layer_types.clear();
    for (const auto& e : *it) {
      const std::string s = e.is_string() ? e.get<std::string>() : e.dump();
      if (s == "sliding_attention") t.layer_types.push_back(LayerType::sliding);
      else if (s == "full_attention") t.layer_types.push_back(LayerType::full);
      else fail(where, "key 'layer_types' has unknown layer type '" + s +
                           "' (expected sliding_attention or full_attention)");
    }
  }
  if (auto it = j.find("rope_parameters"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) fail(where, "key 'rope_parameters' must be an object, found " + it->dump());
    for (auto& [key, value] : it->items()) {
      if (key == "sliding_attention") t.rope_sliding = parse_rope(value, where + " rope_parameters.sliding_attention", t.rope_sliding);
      else if (key == "full_attention") t.rope_full = parse_rope(value, where + " rope_parameters.full_attention", t.rope_full);
      else fail(where, "key 'rope_parameters' has an entry for unknown layer type '" + key + "'");
    }
  }
}

}  // namespace

ModelConfig parse_config(const json& j, const std::string& source) {
  if (!j.is_object()) fail(source, "config is not a JSON object");
  ModelConfig c;
  c.source = source;
  read(j, "model_type", c.model_type, source);
  if (c.model_type != "gemma4_unified" && c.model_type != "gemma4_unified_text") {
    fail(source, "key 'model_type' is '" + c.model_type + "' (expected gemma4_unified)");
  }
  // A text-only checkpoint may carry the decoder keys at the top level instead of in text_config.
  if (auto it = j.find("text_config"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) fail(source, "key 'text_config' must be an object");
    parse_text(*it, c.text, source + " text_config");
  } else {
    parse_text(j, c.text, source);
  }
  refuse_unimplemented(j, source);
  if (auto it = j.find("vision_config"); it != j.end() && !it->is_null()) {
    const std::string w = source + " vision_config";
    if (!it->is_object()) fail(w, "must be an object, found " + it->dump());
    c.vision.present = true;
    read(*it, "patch_size", c.vision.patch_size, w);
    read(*it, "pooling_kernel_size", c.vision.pooling_kernel_size, w);
    // In 64 bits: two ints from the file may overflow an int product.
    const int64_t model_patch = int64_t(c.vision.patch_size) * c.vision.pooling_kernel_size;
    if (model_patch <= 0 || model_patch > kMaxPatchSide) {
      fail(w, "patch_size × pooling_kernel_size = " + std::to_string(model_patch) + " lies outside [1, " +
                  std::to_string(kMaxPatchSide) + "]");
    }
    c.vision.model_patch_size = static_cast<int>(model_patch);
    read(*it, "model_patch_size", c.vision.model_patch_size, w);
    read(*it, "mm_embed_dim", c.vision.mm_embed_dim, w);
    read(*it, "mm_posemb_size", c.vision.mm_posemb_size, w);
    read(*it, "output_proj_dims", c.vision.output_proj_dims, w);
    read(*it, "num_soft_tokens", c.vision.num_soft_tokens, w);
    read(*it, "rms_norm_eps", c.vision.rms_norm_eps, w);
    read(*it, "layer_norm_eps", c.vision.layer_norm_eps, w);
  }
  if (auto it = j.find("audio_config"); it != j.end() && !it->is_null()) {
    const std::string w = source + " audio_config";
    if (!it->is_object()) fail(w, "must be an object, found " + it->dump());
    c.audio.present = true;
    read(*it, "audio_embed_dim", c.audio.audio_embed_dim, w);
    read(*it, "rms_norm_eps", c.audio.rms_norm_eps, w);
  }
  read(j, "boi_token_id", c.boi_token_id, source);
  read(j, "eoi_token_id", c.eoi_token_id, source);
  read(j, "image_token_id", c.image_token_id, source);
  read(j, "video_token_id", c.video_token_id, source);
  read(j, "boa_token_id", c.boa_token_id, source);
  read(j, "eoa_token_index", c.eoa_token_id, source);
  read(j, "audio_token_id", c.audio_token_id, source);
  read(j, "tie_word_embeddings", c.tie_word_embeddings, source);
  validate_config(c);
  return c;
}

void validate_config(const ModelConfig& c) {
  const TextConfig& t = c.text;
  const std::string w = c.source.empty() ? std::string("config") : c.source;
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) fail(w, std::string("key '") + key + "' = " + std::to_string(v) + " must be positive");
  };
  positive("vocab_size", t.vocab_size);
  positive("hidden_size", t.hidden_size);
  positive("intermediate_size", t.intermediate_size);
  positive("num_hidden_layers", t.num_hidden_layers);
  positive("num_attention_heads", t.num_attention_heads);
  positive("num_key_value_heads", t.num_key_value_heads);
  positive("head_dim", t.head_dim);
  positive("global_head_dim", t.global_head_dim);
  positive("num_global_key_value_heads", t.num_global_key_value_heads);
  positive("sliding_window", t.sliding_window);
  // Upper limits (README "Limits"): far above any Gemma 4 size, low enough that every product of them used to
  // size a buffer or index a tensor fits in int64 and a hostile config fails here, not in an allocation.
  auto at_most = [&](const char* key, int64_t v, int64_t limit) {
    if (v > limit) {
      fail(w, std::string("key '") + key + "' = " + std::to_string(v) + " exceeds the limit of " +
                  std::to_string(limit));
    }
  };
  at_most("vocab_size", t.vocab_size, kMaxVocab);
  at_most("hidden_size", t.hidden_size, kMaxWidth);
  at_most("intermediate_size", t.intermediate_size, kMaxIntermediate);
  at_most("num_hidden_layers", t.num_hidden_layers, kMaxHiddenLayers);
  at_most("num_attention_heads", t.num_attention_heads, kMaxHeads);
  at_most("head_dim", t.head_dim, kMaxHeadDim);
  at_most("global_head_dim", t.global_head_dim, kMaxHeadDim);
  at_most("num_key_value_heads", t.num_key_value_heads, kMaxHeads);
  at_most("num_global_key_value_heads", t.num_global_key_value_heads, kMaxHeads);
  at_most("sliding_window", t.sliding_window, kMaxContextWindow);
  if (t.num_attention_heads % t.num_key_value_heads != 0) {
    fail(w, "key 'num_key_value_heads' = " + std::to_string(t.num_key_value_heads) +
                " must divide num_attention_heads = " + std::to_string(t.num_attention_heads));
  }
  if (t.num_attention_heads % t.num_global_key_value_heads != 0) {
    fail(w, "key 'num_global_key_value_heads' = " + std::to_string(t.num_global_key_value_heads) +
                " must divide num_attention_heads = " + std::to_string(t.num_attention_heads));
  }
  if (t.head_dim % 2 != 0 || t.global_head_dim % 2 != 0) {
    fail(w, "keys 'head_dim' and 'global_head_dim' must be even for rotate-half RoPE (found " +
                std::to_string(t.head_dim) + ", " + std::to_string(t.global_head_dim) + ")");
  }
  if (static_cast<int>(t.layer_types.size()) != t.num_hidden_layers) {
    fail(w, "key 'layer_types' has " + std::to_string(t.layer_types.size()) + " entries (expected num_hidden_layers = " +
                std::to_string(t.num_hidden_layers) + ")");
  }
  for (const auto* r : {&t.rope_sliding, &t.rope_full}) {
    const char* which = r == &t.rope_sliding ? "sliding_attention" : "full_attention";
    if (r->rope_type != "default" && r->rope_type != "proportional") {
      fail(w, std::string("key 'rope_parameters.") + which + ".rope_type' = '" + r->rope_type +
                  "' is not supported (expected default or proportional)");
    }
    if (!(r->theta > 0)) fail(w, std::string("key 'rope_parameters.") + which + ".rope_theta' must be positive");
    if (!(r->partial_rotary_factor > 0 && r->partial_rotary_factor <= 1)) {
      fail(w, std::string("key 'rope_parameters.") + which + ".partial_rotary_factor' = " +
                  std::to_string(r->partial_rotary_factor) + " must lie in (0, 1]");
    }
    if (!(r->factor > 0)) fail(w, std::string("key 'rope_parameters.") + which + ".factor' must be positive");
  }
  if (!(t.rms_norm_eps > 0)) fail(w, "key 'rms_norm_eps' must be positive");
  if (t.final_logit_softcapping < 0) fail(w, "key 'final_logit_softcapping' must be >= 0 (0 = none)");
  if (t.hidden_activation != "gelu_pytorch_tanh") {
    fail(w, "key 'hidden_activation' = '" + t.hidden_activation + "' is not supported (expected gelu_pytorch_tanh)");
  }
  auto token = [&](const char* key, int64_t id) {
    if (id < 0 || id >= t.vocab_size) {
      fail(w, std::string("key '") + key + "' = " + std::to_string(id) + " lies outside the vocabulary [0, " +
                  std::to_string(t.vocab_size) + ")");
    }
  };
  token("pad_token_id", t.pad_token_id);
  token("bos_token_id", t.bos_token_id);
  for (int e : t.eos_token_ids) token("eos_token_id", e);
  // Media ids may be absent (kAbsentTokenId: a vocabulary without media pieces); present ones must be valid.
  auto media_token = [&](const char* key, int64_t id) {
    if (id != kAbsentTokenId) token(key, id);
  };
  media_token("boi_token_id", c.boi_token_id);
  media_token("eoi_token_id", c.eoi_token_id);
  media_token("image_token_id", c.image_token_id);
  media_token("video_token_id", c.video_token_id);
  media_token("boa_token_id", c.boa_token_id);
  media_token("eoa_token_index", c.eoa_token_id);
  media_token("audio_token_id", c.audio_token_id);
  if (!c.tie_word_embeddings) fail(w, "key 'tie_word_embeddings' must be true (the output head is the embedding table)");
  if (c.vision.present) {
    positive("vision_config.mm_embed_dim", c.vision.mm_embed_dim);
    positive("vision_config.mm_posemb_size", c.vision.mm_posemb_size);
    positive("vision_config.model_patch_size", c.vision.model_patch_size);
    positive("vision_config.output_proj_dims", c.vision.output_proj_dims);
    if (c.vision.output_proj_dims != c.vision.mm_embed_dim) {
      fail(w, "key 'vision_config.output_proj_dims' = " + std::to_string(c.vision.output_proj_dims) +
                  " must equal mm_embed_dim = " + std::to_string(c.vision.mm_embed_dim));
    }
  }
  if (c.vision.present) {
    positive("vision_config.patch_size", c.vision.patch_size);
    positive("vision_config.pooling_kernel_size", c.vision.pooling_kernel_size);
    at_most("vision_config.model_patch_size", c.vision.model_patch_size, kMaxPatchSide);
    at_most("vision_config.mm_embed_dim", c.vision.mm_embed_dim, kMaxWidth);
    at_most("vision_config.mm_posemb_size", c.vision.mm_posemb_size, kMaxPosemb);
  }
  if (c.audio.present) {
    positive("audio_config.audio_embed_dim", c.audio.audio_embed_dim);
    at_most("audio_config.audio_embed_dim", c.audio.audio_embed_dim, kMaxWidth);
  }
}

json config_to_json(const ModelConfig& c) {
  const TextConfig& t = c.text;
  json layer_types = json::array();
  for (auto lt : t.layer_types) layer_types.push_back(layer_type_name(lt));
  auto rope = [](const RopeParams& r) {
    json o = {{"rope_type", r.rope_type}, {"rope_theta", r.theta}};
    if (r.rope_type == "proportional") {
      o["partial_rotary_factor"] = r.partial_rotary_factor;
      if (r.factor != 1.0) o["factor"] = r.factor;
    }
    return o;
  };
  json text = {
      {"model_type", "gemma4_unified_text"},
      {"vocab_size", t.vocab_size},
      {"hidden_size", t.hidden_size},
      {"intermediate_size", t.intermediate_size},
      {"num_hidden_layers", t.num_hidden_layers},
      {"num_attention_heads", t.num_attention_heads},
      {"num_key_value_heads", t.num_key_value_heads},
      {"head_dim", t.head_dim},
      {"global_head_dim", t.global_head_dim},
      {"num_global_key_value_heads", t.num_global_key_value_heads},
      {"attention_k_eq_v", t.attention_k_eq_v},
      {"sliding_window", t.sliding_window},
      {"layer_types", layer_types},
      {"rope_parameters", {{"sliding_attention", rope(t.rope_sliding)}, {"full_attention", rope(t.rope_full)}}},
      {"final_logit_softcapping", t.final_logit_softcapping},
      {"rms_norm_eps", t.rms_norm_eps},
      {"hidden_activation", t.hidden_activation},
      {"use_bidirectional_attention", "vision"},
      {"tie_word_embeddings", true},
      {"attention_bias", false},
      {"num_kv_shared_layers", 0},
      {"hidden_size_per_layer_input", 0},
      {"vocab_size_per_layer_input", 0},
      {"enable_moe_block", false},
      {"use_double_wide_mlp", false},
      {"max_position_embeddings", 262144},
      {"pad_token_id", t.pad_token_id},
      {"bos_token_id", t.bos_token_id},
      {"eos_token_id", t.eos_token_ids.size() == 1 ? json(t.eos_token_ids[0]) : json(t.eos_token_ids)},
  };
  json j = {
      {"architectures", {"Gemma4UnifiedForConditionalGeneration"}},
      {"model_type", "gemma4_unified"},
      {"text_config", text},
      {"boi_token_id", c.boi_token_id},
      {"eoi_token_id", c.eoi_token_id},
      {"image_token_id", c.image_token_id},
      {"video_token_id", c.video_token_id},
      {"boa_token_id", c.boa_token_id},
      {"eoa_token_index", c.eoa_token_id},
      {"audio_token_id", c.audio_token_id},
      {"tie_word_embeddings", true},
      {"dtype", "bfloat16"},
      {"initializer_range", 0.02},
  };
  if (c.vision.present) {
    const VisionConfig& v = c.vision;
    j["vision_config"] = {{"model_type", "gemma4_unified_vision"},
                          {"patch_size", v.patch_size},
                          {"pooling_kernel_size", v.pooling_kernel_size},
                          {"model_patch_size", v.model_patch_size},
                          {"mm_embed_dim", v.mm_embed_dim},
                          {"mm_posemb_size", v.mm_posemb_size},
                          {"output_proj_dims", v.output_proj_dims},
                          {"num_soft_tokens", v.num_soft_tokens},
                          {"rms_norm_eps", v.rms_norm_eps}};
  }
  if (c.audio.present) {
    const AudioConfig& a = c.audio;
    j["audio_config"] = {{"model_type", "gemma4_unified_audio"},
                         {"audio_embed_dim", a.audio_embed_dim},
                         {"hidden_size", a.audio_embed_dim},
                         {"output_proj_dims", a.audio_embed_dim},
                         {"rms_norm_eps", a.rms_norm_eps}};
  }
  return j;
}

std::string ModelConfig::hash() const {
  const std::string canonical = config_to_json(*this).dump();
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char ch : canonical) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ModelConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    fail(path, std::string("malformed JSON: ") + e.what());
  }
  return parse_config(j, path);
}

}  // namespace g4ref
