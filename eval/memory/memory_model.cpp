#include "memory/memory_model.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "convert/gguf_export.h"
#include "convert/mmproj_export.h"
#include "io/gguf.h"

namespace g4ref::memory {

namespace {

constexpr uint64_t kGgufAlignment = 32;  // general.alignment default (io/gguf.h); export-gguf writes no other

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

int64_t product(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::vector<int64_t> reversed(std::vector<int64_t> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

// Bytes of a tensor of NE (ggml order) stored as T: rows of ggml_row_size(T, ne[0]).
uint64_t ggml_tensor_bytes(GgmlType t, const std::vector<int64_t>& ne) {
  const int64_t rows = product(ne) / ne[0];
  return uint64_t(ggml_row_size(t, ne[0])) * uint64_t(rows);
}

template <class T>
T value_or(const nlohmann::json& j, const char* key, T fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].get<T>();
}

}  // namespace

std::string group_name(Group g) {
  switch (g) {
    case Group::embedding: return "embedding";
    case Group::per_layer_embedding: return "per_layer_embedding";
    case Group::attention: return "attention";
    case Group::mlp: return "mlp";
    case Group::experts: return "moe_experts";
    case Group::router: return "moe_router";
    case Group::norms: return "norms";
    case Group::vision: return "vision_embedder";
    case Group::audio: return "audio_projection";
  }
  return "?";
}

int64_t TensorInfo::numel() const { return product(shape); }

// Spec §1.2 – §1.4.
Arch preset_12b() {
  Arch a;
  a.name = "gemma-4-12b (unified)";
  a.full.assign(48, false);
  for (int l = 5; l < 48; l += 6) a.full[size_t(l)] = true;
  a.unified_embedders = true;
  a.source = "spec §1.2-§1.5 (google/gemma-4-12B config.json)";
  return a;
}

Arch arch_from_config(const nlohmann::json& root, const std::string& where) {
  try {
    const nlohmann::json& t = root.contains("text_config") ? root["text_config"] : root;
    Arch a;
    // Defaults are Gemma4TextConfig's (transformers configuration_gemma4.py).
    a.name = value_or<std::string>(root, "_name", value_or<std::string>(root, "model_type", "gemma4"));
    a.vocab = value_or<int64_t>(t, "vocab_size", 262144);
    a.hidden = value_or<int64_t>(t, "hidden_size", 2304);
    a.intermediate = value_or<int64_t>(t, "intermediate_size", 9216);
    a.layers = value_or<int>(t, "num_hidden_layers", 30);
    a.heads = value_or<int>(t, "num_attention_heads", 8);
    a.kv_heads = value_or<int>(t, "num_key_value_heads", 4);
    a.head_dim = value_or<int>(t, "head_dim", 256);
    a.global_head_dim = value_or<int>(t, "global_head_dim", 512);
    a.global_kv_heads = value_or<int>(t, "num_global_key_value_heads", a.kv_heads);
    a.k_eq_v = value_or<bool>(t, "attention_k_eq_v", false);
    a.sliding_window = value_or<int>(t, "sliding_window", 512);
    a.kv_shared_layers = value_or<int>(t, "num_kv_shared_layers", 0);
    a.double_wide_mlp = value_or<bool>(t, "use_double_wide_mlp", false);
    a.ple_dim = value_or<int64_t>(t, "hidden_size_per_layer_input", 256);
    a.ple_vocab = value_or<int64_t>(t, "vocab_size_per_layer_input", 262144);
    a.moe = value_or<bool>(t, "enable_moe_block", false);
    a.experts = value_or<int>(t, "num_experts", 0);
    a.top_k = value_or<int>(t, "top_k_experts", 0);
    a.moe_intermediate = value_or<int64_t>(t, "moe_intermediate_size", 0);
    a.max_context = value_or<int64_t>(t, "max_position_embeddings", 131072);
    a.full.assign(size_t(a.layers), false);
    if (t.contains("layer_types")) {
      const auto& lt = t["layer_types"];
      if (!lt.is_array() || lt.size() != size_t(a.layers)) {
        fail(where, "text_config.layer_types: expected " + std::to_string(a.layers) + " entries, found " +
                        std::to_string(lt.size()));
      }
      for (size_t l = 0; l < lt.size(); ++l) a.full[l] = lt[l].get<std::string>() == "full_attention";
    } else {
      // Gemma4TextConfig: every 6th layer full (5:1), the last layer always full.
      for (int l = 0; l < a.layers; ++l) a.full[size_t(l)] = (l + 1) % 6 == 0;
    }
    if (a.layers > 0) a.full.back() = true;
    const std::string mt = value_or<std::string>(root, "model_type", "");
    a.unified_embedders = mt == "gemma4_unified";
    if (a.unified_embedders && root.contains("vision_config")) {
      const auto& v = root["vision_config"];
      const int64_t patch = value_or<int64_t>(v, "model_patch_size", 48);
      a.patch_values = patch * patch * 3;
      a.posemb = value_or<int64_t>(v, "mm_posemb_size", 1120);
    }
    if (a.unified_embedders && root.contains("audio_config")) {
      a.audio_dim = value_or<int64_t>(root["audio_config"], "audio_embed_dim", 640);
    }
    a.source = value_or<std::string>(root, "_source", where);
    if (a.moe && (a.experts <= 0 || a.top_k <= 0 || a.moe_intermediate <= 0)) {
      fail(where, "enable_moe_block is true but num_experts / top_k_experts / moe_intermediate_size are not all set");
    }
    return a;
  } catch (const nlohmann::json::exception& e) {
    fail(where, std::string("unexpected value type: ") + e.what());
  }
}

Arch arch_from_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot read the file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
  return arch_from_config(j, path);
}

Arch arch_from_gguf(const std::string& path) {
  auto f = GgufFile::open(path);
  if (f->get_string("general.architecture") != "gemma4") {
    fail(path, "general.architecture: expected gemma4, found " + f->get_string("general.architecture"));
  }
  Arch a;
  a.name = f->find("general.name") ? f->get_string("general.name") : path;
  a.hidden = f->get_int("gemma4.embedding_length");
  a.layers = int(f->get_int("gemma4.block_count"));
  a.intermediate = f->get_int("gemma4.feed_forward_length");
  a.heads = int(f->get_int("gemma4.attention.head_count"));
  a.global_head_dim = int(f->get_int("gemma4.attention.key_length"));
  a.head_dim = int(f->get_int("gemma4.attention.key_length_swa"));
  a.sliding_window = int(f->get_int("gemma4.attention.sliding_window"));
  const GgufArray& kvh = f->get_array("gemma4.attention.head_count_kv");
  const GgufArray& swa = f->get_array("gemma4.attention.sliding_window_pattern");
  if (kvh.items.size() != size_t(a.layers) || swa.items.size() != size_t(a.layers)) {
    fail(path, "head_count_kv / sliding_window_pattern: expected one entry per layer");
  }
  a.full.assign(size_t(a.layers), false);
  for (int l = 0; l < a.layers; ++l) {
    a.full[size_t(l)] = !std::get<bool>(swa.items[size_t(l)]);
    const int n = int(gguf_scalar_int(kvh.items[size_t(l)], path, "gemma4.attention.head_count_kv"));
    if (a.full[size_t(l)]) a.global_kv_heads = n; else a.kv_heads = n;
  }
  a.vocab = f->tensor("token_embd.weight").ne[1];
  a.k_eq_v = false;
  for (int l = 0; l < a.layers; ++l) {
    if (a.full[size_t(l)] && !f->find_tensor("blk." + std::to_string(l) + ".attn_v.weight")) a.k_eq_v = true;
  }
  a.max_context = f->get_int("gemma4.context_length");
  a.unified_embedders = false;  // a text GGUF has no projector; its mmproj is a separate file
  a.source = path;
  return a;
}

std::vector<TensorInfo> checkpoint_tensors(const Arch& a) {
  std::vector<TensorInfo> t;
  const std::string p = "model.language_model.";
  const int64_t H = a.hidden;
  t.push_back({p + "embed_tokens.weight", Group::embedding, {a.vocab, H}});
  t.push_back({p + "norm.weight", Group::norms, {H}});
  if (a.ple_dim > 0) {
    t.push_back({p + "embed_tokens_per_layer.weight", Group::per_layer_embedding, {a.ple_vocab, a.layers * a.ple_dim}});
    t.push_back({p + "per_layer_model_projection.weight", Group::per_layer_embedding, {a.layers * a.ple_dim, H}});
    t.push_back({p + "per_layer_projection_norm.weight", Group::norms, {a.ple_dim}});
  }
  for (int l = 0; l < a.layers; ++l) {
    const std::string L = p + "layers." + std::to_string(l) + ".";
    const int64_t D = a.layer_head_dim(l), kv = a.layer_kv_heads(l);
    t.push_back({L + "self_attn.q_proj.weight", Group::attention, {a.heads * D, H}});
    t.push_back({L + "self_attn.o_proj.weight", Group::attention, {H, a.heads * D}});
    t.push_back({L + "self_attn.q_norm.weight", Group::norms, {D}});
    if (!a.kv_shared(l)) {  // KV-shared layers have no k/v weights (transformers Gemma4TextAttention)
      t.push_back({L + "self_attn.k_proj.weight", Group::attention, {kv * D, H}});
      if (a.layer_has_v(l)) t.push_back({L + "self_attn.v_proj.weight", Group::attention, {kv * D, H}});
      t.push_back({L + "self_attn.k_norm.weight", Group::norms, {D}});
    }
    const int64_t I = a.intermediate * (a.double_wide_mlp && a.kv_shared(l) ? 2 : 1);
    t.push_back({L + "mlp.gate_proj.weight", Group::mlp, {I, H}});
    t.push_back({L + "mlp.up_proj.weight", Group::mlp, {I, H}});
    t.push_back({L + "mlp.down_proj.weight", Group::mlp, {H, I}});
    for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                          "post_feedforward_layernorm"}) {
      t.push_back({L + n + ".weight", Group::norms, {H}});
    }
    t.push_back({L + "layer_scalar", Group::norms, {1}});
    if (a.ple_dim > 0) {
      t.push_back({L + "per_layer_input_gate.weight", Group::per_layer_embedding, {a.ple_dim, H}});
      t.push_back({L + "per_layer_projection.weight", Group::per_layer_embedding, {H, a.ple_dim}});
      t.push_back({L + "post_per_layer_input_norm.weight", Group::norms, {H}});
    }
    if (a.moe) {
      t.push_back({L + "router.proj.weight", Group::router, {a.experts, H}});
      t.push_back({L + "router.scale", Group::router, {H}});
      t.push_back({L + "router.per_expert_scale", Group::router, {a.experts}});
      t.push_back({L + "experts.gate_up_proj", Group::experts, {a.experts, 2 * a.moe_intermediate, H}});
      t.push_back({L + "experts.down_proj", Group::experts, {a.experts, H, a.moe_intermediate}});
      for (const char* n : {"post_feedforward_layernorm_1", "post_feedforward_layernorm_2", "pre_feedforward_layernorm_2"}) {
        t.push_back({L + n + ".weight", Group::norms, {H}});
      }
    }
  }
  if (a.unified_embedders) {  // spec §1.5, §6
    const int64_t P = a.patch_values;
    const std::string v = "model.vision_embedder.";
    t.push_back({v + "patch_ln1.weight", Group::vision, {P}});
    t.push_back({v + "patch_ln1.bias", Group::vision, {P}});
    t.push_back({v + "patch_dense.weight", Group::vision, {H, P}});
    t.push_back({v + "patch_dense.bias", Group::vision, {H}});
    t.push_back({v + "patch_ln2.weight", Group::vision, {H}});
    t.push_back({v + "patch_ln2.bias", Group::vision, {H}});
    t.push_back({v + "pos_embedding", Group::vision, {a.posemb, 2, H}});
    t.push_back({v + "pos_norm.weight", Group::vision, {H}});
    t.push_back({v + "pos_norm.bias", Group::vision, {H}});
    t.push_back({"model.embed_vision.embedding_projection.weight", Group::vision, {H, H}});
    t.push_back({"model.embed_audio.embedding_projection.weight", Group::audio, {H, a.audio_dim}});
  }
  return t;
}

int64_t parameter_count(const Arch& a) {
  int64_t n = 0;
  for (const TensorInfo& t : checkpoint_tensors(a)) n += t.numel();
  return n;
}

int64_t active_parameter_count(const Arch& a) {
  int64_t n = 0;
  for (const TensorInfo& t : checkpoint_tensors(a)) {
    if (t.group == Group::experts) n += t.numel() / a.experts * a.top_k;
    else if (t.name.find("embed_tokens_per_layer") == std::string::npos) n += t.numel();
  }
  return n;
}

WeightBytes safetensors_bytes(const Arch& a, int element_bytes, const std::string& dtype) {
  WeightBytes w;
  w.format = dtype + " safetensors";
  for (const TensorInfo& t : checkpoint_tensors(a)) {
    const uint64_t b = uint64_t(t.numel()) * uint64_t(element_bytes);
    if (t.group == Group::vision || t.group == Group::audio) {
      w.projector_bytes += b;
    } else {
      w.text_bytes += b;
      w.text_groups[group_name(t.group)] += b;
    }
  }
  w.text_types[dtype] = int(checkpoint_tensors(a).size());
  return w;
}

// The GGUF layout of a tensor: ne reversed from the PyTorch shape; MoE experts are written by llama.cpp's converter
// as separate gate and up tensors ([E, I, H] each) and a down tensor ([E, H, I]).
WeightBytes gguf_bytes(const Arch& a, GgmlType requested, const GgmlType* embedding) {
  WeightBytes w;
  w.format = ggml_type_name(requested) + " gguf";
  // rope_freqs.weight: one f32 per rotary pair of the full layers (global_head_dim / 2; 256 for the 12B, spec §7.1).
  const uint64_t rope = uint64_t(a.global_head_dim / 2) * 4;
  uint64_t text = align_up(rope, kGgufAlignment);
  w.text_types["f32"] += 1;
  w.text_groups["norms"] += rope;
  uint64_t mm = 0;
  const GgmlType mm_type = default_mmproj_type(requested);
  for (const TensorInfo& t : checkpoint_tensors(a)) {
    std::vector<std::vector<int64_t>> parts;
    if (t.name.find("experts.gate_up_proj") != std::string::npos) {
      parts = {{t.shape[0], t.shape[1] / 2, t.shape[2]}, {t.shape[0], t.shape[1] / 2, t.shape[2]}};
    } else {
      parts = {t.shape};
    }
    for (const auto& shape : parts) {
      const std::vector<int64_t> ne = reversed(shape);
      if (t.group == Group::vision || t.group == Group::audio) {
        // mmproj_export: patch_dense stays f32 (f16 when f16 is asked), pos_embedding and the projections take the
        // projector type with the same row fallback, 1-D tensors f32.
        GgmlType ty = GgmlType::F32;
        if (t.name.find("patch_dense.weight") != std::string::npos) ty = mm_type == GgmlType::F16 ? GgmlType::F16 : GgmlType::F32;
        else if (ne.size() >= 2) ty = gguf_storage_type(mm_type, ne);
        mm += align_up(ggml_tensor_bytes(ty, ne), kGgufAlignment);
        continue;
      }
      const GgmlType ty = gguf_storage_type(embedding && t.group == Group::embedding ? *embedding : requested, ne);
      const uint64_t b = ggml_tensor_bytes(ty, ne);
      text += align_up(b, kGgufAlignment);
      w.text_groups[group_name(t.group)] += b;
      w.text_types[ggml_type_name(ty)] += 1;
    }
  }
  w.text_bytes = text;
  w.projector_bytes = mm;
  return w;
}

WeightBytes gguf_file_bytes(const std::string& path) {
  auto f = GgufFile::open(path);
  WeightBytes w;
  w.format = "gguf file " + path;
  for (const GgufTensor& t : f->tensors()) {
    std::string g = "other";
    const std::string& n = t.name;
    if (n == "token_embd.weight") g = "embedding";
    else if (n.find("per_layer") != std::string::npos) g = "per_layer_embedding";
    else if (n.find("_exps") != std::string::npos) g = "moe_experts";
    else if (n.find("ffn_gate_inp") != std::string::npos) g = "moe_router";
    else if (t.ne.size() < 2 || n.find("norm") != std::string::npos || n == "rope_freqs.weight") g = "norms";
    else if (n.find("attn_") != std::string::npos) g = "attention";
    else if (n.find("ffn_") != std::string::npos) g = "mlp";
    else if (n.rfind("v.", 0) == 0 || n.rfind("mm.input", 0) == 0) g = "vision_embedder";
    else if (n.rfind("mm.a.", 0) == 0) g = "audio_projection";
    w.text_groups[g] += t.nbytes;
    w.text_types[ggml_type_name(t.type)] += 1;
  }
  // The data section runs from data_offset to the end of the last tensor (with its padding).
  uint64_t end = 0;
  for (const GgufTensor& t : f->tensors()) end = std::max<uint64_t>(end, t.offset + align_up(t.nbytes, f->alignment()));
  w.text_bytes = end;
  return w;
}

uint64_t Breakdown::total() const {
  uint64_t n = 0;
  for (const Item& i : items) n += i.bytes;
  return n;
}
uint64_t Breakdown::phase_bytes(const std::string& phase, bool file_backed) const {
  uint64_t n = 0;
  for (const Item& i : items) {
    if (i.resident && i.file_backed == file_backed && (i.phase.empty() || i.phase == phase)) n += i.bytes;
  }
  return n;
}
std::string Breakdown::peak_phase() const {
  std::string best;
  uint64_t most = 0;
  for (const std::string& p : phases) {
    const uint64_t n = phase_bytes(p, false) + phase_bytes(p, true);
    if (best.empty() || n > most) best = p, most = n;
  }
  return best;
}
uint64_t Breakdown::resident() const { return resident_anon() + resident_file(); }
uint64_t Breakdown::resident_anon() const { return phase_bytes(peak_phase(), false); }
uint64_t Breakdown::resident_file() const { return phase_bytes(peak_phase(), true); }

namespace {

uint64_t kv_row(GgmlType t, int64_t width) { return uint64_t(ggml_row_size(t, width)); }

void add_kv_type(std::vector<KvLayerType>& out, const std::string& name, int layers, int64_t cells, uint64_t per_cell) {
  if (layers == 0) return;
  out.push_back({name, layers, cells, per_cell, uint64_t(layers) * uint64_t(cells) * per_cell});
}

uint64_t kv_total(const std::vector<KvLayerType>& kv) {
  uint64_t n = 0;
  for (const auto& k : kv) n += k.bytes;
  return n;
}

// Layers by type that own a cache (KV-shared layers read another layer's).
struct LayerCounts {
  int sliding = 0, full = 0, shared = 0;
};
LayerCounts count_layers(const Arch& a) {
  LayerCounts c;
  for (int l = 0; l < a.layers; ++l) {
    if (a.kv_shared(l)) ++c.shared;
    else if (a.is_full(l)) ++c.full;
    else ++c.sliding;
  }
  return c;
}

int64_t pad256(int64_t n) { return (n + 255) / 256 * 256; }

}  // namespace

std::vector<KvLayerType> kv_ideal(const Arch& a, int64_t context, GgmlType type, bool share_k_v) {
  const LayerCounts c = count_layers(a);
  std::vector<KvLayerType> kv;
  const int64_t sw = int64_t(a.kv_heads) * a.head_dim;
  add_kv_type(kv, "sliding", c.sliding, std::min<int64_t>(context, a.sliding_window), 2 * kv_row(type, sw));
  const int64_t fk = int64_t(a.k_eq_v ? a.global_kv_heads : a.kv_heads) * a.global_head_dim;
  const bool once = share_k_v && a.k_eq_v;
  add_kv_type(kv, once ? "full (K=V stored once)" : "full", c.full, context, (once ? 1 : 2) * kv_row(type, fk));
  if (c.shared) kv.push_back({"kv-shared (no cache)", c.shared, 0, 0, 0});
  return kv;
}

std::vector<KvLayerType> kv_llamacpp(const Arch& a, const Request& r) {
  const LayerCounts c = count_layers(a);
  std::vector<KvLayerType> kv;
  const int64_t n_ctx = pad256(r.context);  // llama-context.cpp: n_ctx = GGML_PAD(n_ctx, 256)
  const int64_t swa_cells = r.swa_full ? n_ctx : pad256(std::min<int64_t>(n_ctx, a.sliding_window + r.batch));
  const int64_t sk = int64_t(a.kv_heads) * a.head_dim;
  const int64_t fkv = a.k_eq_v ? a.global_kv_heads : a.kv_heads;
  const int64_t fk = fkv * a.global_head_dim;
  // Without flash attention the V cache is transposed and every layer's V row is n_embd_v_gqa_max wide.
  const int64_t v_max = std::max(sk, fk);
  const int64_t sv = r.flash_attn ? sk : v_max, fv = r.flash_attn ? fk : v_max;
  add_kv_type(kv, "sliding (SWA cache)", c.sliding, swa_cells, kv_row(r.kv_type, sk) + kv_row(r.kv_type, sv));
  add_kv_type(kv, "full (K and V separate)", c.full, n_ctx, kv_row(r.kv_type, fk) + kv_row(r.kv_type, fv));
  if (c.shared) kv.push_back({"kv-shared (no cache)", c.shared, 0, 0, 0});
  return kv;
}

namespace {

void add_weights(Breakdown& b, const WeightBytes& w, bool file_backed, const std::string& note) {
  for (const auto& [g, bytes] : w.text_groups) b.items.push_back({"weights: " + g, bytes, file_backed, true, note});
  uint64_t groups = 0;
  for (const auto& [g, bytes] : w.text_groups) groups += bytes;
  if (w.text_bytes > groups) b.items.push_back({"weights: alignment padding", w.text_bytes - groups, file_backed, true, note});
}

WeightBytes weights_for(const Arch& a, const WeightsChoice& w) {
  if (!w.file.empty()) return gguf_file_bytes(w.file);
  if (w.gguf) return gguf_bytes(a, w.type, w.embedding_override ? &w.embedding : nullptr);
  const int eb = w.dtype == "f32" ? 4 : 2;
  return safetensors_bytes(a, eb, w.dtype);
}

int64_t audio_tokens(double seconds) { return int64_t(seconds * 25.0 + 0.999999); }  // 25 tokens / s (40 ms frames)

}  // namespace

// The reference (forward/session.cpp): weights are read in place from the mapped file (convert_rows converts one
// 64-row block at a time); activations and the cache are Eigen matrices / std::vectors of double (exact) or float.
Breakdown reference_breakdown(const Arch& a, const WeightsChoice& wc, const Request& r) {
  Breakdown b;
  b.engine = "reference";
  WeightBytes w = weights_for(a, wc);
  if (wc.gguf) w.projector_bytes = 0;  // a text GGUF; the projector is another file (--mmproj), mapped only when given
  const int64_t T = r.precision == "exact" ? 8 : 4;
  const int64_t n = r.prompt_tokens >= 0 ? r.prompt_tokens : r.context;
  // A run has two phases (forward/session.cpp): the layers, whose last one holds the largest live set, and then the
  // logits, after the layers' matrices are freed. The tied token embedding is read in both, differently: during the
  // layers only the prompt's rows (the lookup), as the output matrix of the logits every row. So in the layers phase
  // most of the embedding is not yet resident, and in the logits phase the layer activations are gone: the peak
  // is the larger of the two, not their sum (measured on the 12B Q4_0 GGUF, exact, 1,024- and 4,096-token prompts).
  b.phases = {"layers", "logits"};
  add_weights(b, w, true, "memory-mapped, every page read by one forward");
  for (size_t i = 0; i < b.items.size(); ++i) {
    if (b.items[i].name != "weights: embedding" || a.vocab <= 0) continue;
    const uint64_t all = b.items[i].bytes;
    const uint64_t row_pages = (all / uint64_t(a.vocab) + 4095) / 4096 * 4096;  // one looked-up row, whole pages
    const uint64_t looked_up = std::min<uint64_t>(all, uint64_t(std::min<int64_t>(n, a.vocab)) * row_pages);
    b.items[i].bytes = looked_up;
    b.items[i].name = "weights: embedding (the prompt's rows)";
    b.items[i].note = "mapped; each looked-up row counted as whole 4 KiB pages";
    Item rest{"weights: embedding (the other rows, read as the output matrix)", all - looked_up, true, true,
              "mapped; read by the logits", "logits"};
    b.items.insert(b.items.begin() + int64_t(i) + 1, rest);
    break;
  }
  if (w.projector_bytes) {
    // The embedders' pages are read only when the prompt has an image or audio.
    const bool media = r.images > 0 || r.audio_seconds > 0;
    b.items.push_back({"weights: vision + audio embedders", w.projector_bytes, true, media,
                       media ? "mapped" : "mapped, not read: no media in the prompt"});
  }
  const int64_t ctx = std::max(r.context, n);
  // forward/kv_cache.h: one std::vector per KV head for K and V, filled by one insert per call (capacity = the
  // tokens of the call), trimmed by erase (capacity kept): after a prefill of n tokens in one call every layer holds
  // n tokens; later single-token calls grow the vectors geometrically. Plus position (int64) and block (int) per token.
  const LayerCounts c = count_layers(a);
  const int64_t sw = int64_t(a.kv_heads) * a.head_dim;
  const int64_t fkv = a.k_eq_v ? a.global_kv_heads : a.kv_heads;
  const int64_t fk = fkv * a.global_head_dim;
  const uint64_t book = sizeof(int64_t) + sizeof(int);
  add_kv_type(b.kv, "sliding (holds the whole prefill)", c.sliding, ctx, uint64_t(2 * sw * T) + book);
  add_kv_type(b.kv, "full (K and V separate)", c.full, ctx, uint64_t(2 * fk * T) + book);
  b.items.push_back({"KV cache (" + std::string(r.precision == "exact" ? "float64" : "float32") + ")", kv_total(b.kv), false,
                     true, "forward/kv_cache.h"});
  // The largest set of activation matrices alive at once in one layer (layers/attention.h, mlp.h, decoder_layer.h):
  // attention: h_in, x, q, q_normed, o (n×16·D), k_raw, v_raw, k_normed, v_normed and the allowed mask (n×m bytes);
  // then per head group in flight its queries qh, scores s and output oh (together·n rows of D, m and D values).
  // The groups run on the OpenMP threads, so min(threads, groups) of them are alive at once. A group is one head
  // for a prompt and up to eight heads of one KV head for a decode step (n = 1). K and V are read in place from the
  // cache (no transposed copy).
  const int64_t m = ctx;
  const int64_t threads = std::max(1, r.threads);
  int64_t attn_peak = 0;
  for (int l = 0; l < a.layers; ++l) {
    const int64_t D = a.layer_head_dim(l), kv = a.layer_kv_heads(l);
    const int64_t group = a.heads / kv;
    int64_t together = 1;
    for (int64_t t = n == 1 ? std::min<int64_t>(group, 8) : 1; t >= 1; --t) {
      if (group % t == 0) {
        together = t;
        break;
      }
    }
    const int64_t in_flight = std::min(threads, int64_t(a.heads) / together);
    const int64_t e = 2 * n * a.hidden + 3 * n * a.heads * D + 4 * n * kv * D + in_flight * together * n * (m + 2 * D);
    attn_peak = std::max(attn_peak, e * T + n * m);
  }
  int64_t I = a.intermediate * (a.double_wide_mlp && a.kv_shared_layers > 0 ? 2 : 1);
  if (a.moe) I = std::max(I, a.moe_intermediate);
  const int64_t mlp_peak = (5 * n * a.hidden + 3 * n * I) * T;
  b.items.push_back({"activations (largest live set in one layer)", uint64_t(std::max(attn_peak, mlp_peak)), false, true,
                     "n = " + std::to_string(n) + " tokens in one forward", "layers"});
  // The logits phase: the last layer's output h (n rows), the last row normed, and its logits (LogitRows::last).
  b.items.push_back({"final hidden rows and the last row's logits", uint64_t((n * a.hidden + a.hidden + a.vocab) * T), false,
                     true, "after the layers", "logits"});
  if (r.images > 0) {
    const int64_t rows = int64_t(r.images) * r.image_tokens;
    b.items.push_back({"image patches + embeddings", uint64_t(rows * (a.patch_values + 2 * a.hidden) * T), false, true,
                       std::to_string(r.images) + " × " + std::to_string(r.image_tokens) + " soft tokens"});
  }
  if (r.audio_seconds > 0) {
    const int64_t rows = audio_tokens(r.audio_seconds);
    b.items.push_back({"audio frames + embeddings", uint64_t(rows * (a.audio_dim + 2 * a.hidden) * T), false, true,
                       std::to_string(rows) + " audio tokens"});
  }
  b.assumptions = {
      "weights are mapped read-only from the checkpoint file; every page is read in one forward, so the file-backed "
      "resident size is the tensor data when the machine has the memory (the kernel may drop and re-read pages)",
      "exact: every activation and cache entry is a float64; f32/bf16 modes use float32",
      "the prompt is one prefill call of n tokens: each sliding layer's cache holds all n tokens until later calls "
      "(trim erases but keeps capacity)",
      "activations: the largest set of matrices alive at once inside one layer (the layers phase); the final hidden "
      "rows and the last row's logits (the logits phase)",
      "resident peak: the larger phase, not the sum; the layers phase maps only the prompt's rows of the tied "
      "embedding, the logits phase all of it (read as the output matrix)",
      "attention: " + std::to_string(threads) + " thread(s), each with one head group's queries, scores and output",
      "the process baseline (runtime, libraries) is a measured item: eval/memory/baselines.json (`g4ref memory measure --engine reference --model TINY --tokens 1 --baseline`)"};
  return b;
}

bool llamacpp_repacks(const std::string& build, GgmlType t, const std::vector<int64_t>& ne) {
  if (build == "none" || ne.size() < 2 || ne[1] % 8 != 0) return false;
  const bool avx2 = t == GgmlType::Q4_0 || t == GgmlType::Q4_K || t == GgmlType::IQ4_NL || t == GgmlType::MXFP4;
  if (build == "avx2") return avx2;
  if (build == "avx512") return avx2 || t == GgmlType::Q2_K;
  throw Error("llama.cpp CPU build '" + build + "': expected avx2, avx512 or none");
}

// llama.cpp CPU (src/llama-model.cpp, llama-kv-cache*.cpp, llama-context.cpp, ggml-cpu/repack.cpp).
Breakdown llamacpp_breakdown(const Arch& a, const WeightsChoice& wc, const Request& r) {
  Breakdown b;
  b.engine = "llamacpp";
  WeightBytes w = weights_for(a, wc);
  w.projector_bytes = 0;  // the text model; the mmproj is a separate load (mtmd)
  // ggml-cpu repack (llamacpp_repacks): every matrix of a repacked type that a MUL_MAT uses is copied into the
  // CPU_REPACK buffer (anonymous, the same size), the tied token embedding too (it is the output matrix). The loader
  // reads each such tensor through the mapping to repack it, and releases only the mapped ranges before the first and
  // after the last tensor that stays mapped (llama-model-loader.cpp, mmaps_used): the norms and the embedding's row
  // lookup stay mapped throughout the file, so every page of the file stays resident (clean, reclaimable page cache)
  // next to the repacked copy.
  uint64_t repacked = 0;
  if (!wc.file.empty()) {
    auto f = GgufFile::open(wc.file);
    for (const GgufTensor& t : f->tensors()) {
      if (llamacpp_repacks(r.repack, t.type, t.ne)) repacked += t.nbytes;
    }
  } else if (wc.gguf) {
    for (const TensorInfo& t : checkpoint_tensors(a)) {
      if (t.group == Group::vision || t.group == Group::audio) continue;
      const std::vector<int64_t> ne = reversed(t.shape);
      const GgmlType ty =
          gguf_storage_type(wc.embedding_override && t.group == Group::embedding ? wc.embedding : wc.type, ne);
      if (llamacpp_repacks(r.repack, ty, ne)) repacked += ggml_tensor_bytes(ty, ne);
    }
  }
  add_weights(b, w, true, "CPU_Mapped: the GGUF mapped read-only; every page read at load");
  if (repacked) {
    b.items.push_back({"weights: CPU_REPACK copy (8-row interleaved)", repacked, false, true,
                       "anonymous copy of the repacked matrices; their mapped pages stay resident too (reclaimable)"});
  }
  b.kv = kv_llamacpp(a, r);
  b.items.push_back({"KV cache (" + ggml_type_name(r.kv_type) + ")", kv_total(b.kv), false, true,
                     "allocated and cleared at context creation"});
  b.items.push_back({"output buffer (logits of one sequence)", uint64_t(a.vocab) * 4, false, true, "n_seq_max × n_vocab f32"});
  // The compute buffer llama.cpp reserves (sched_reserve) for the worst-case micro-batch of n_ubatch tokens with
  // every row's logits: the logits (n_vocab × n_ubatch f32) and, alive at the same time, about three hidden-state
  // matrices (n_embd × n_ubatch f32: the last residual, the final norm, the softcap input) or, at long contexts, the
  // full layers' f16 attention mask (n_ctx × n_ubatch), whichever is larger. Resident is only what the
  // evaluated tokens touch: their logits row and the same matrices for their rows.
  const int64_t u = r.batch;
  const int64_t n_ctx = pad256(r.context);
  const uint64_t compute = uint64_t(a.vocab * u * 4 + std::max(3 * a.hidden * u * 4, n_ctx * u * 2));
  const int64_t ev = std::min<int64_t>(r.evaluated_tokens >= 0 ? r.evaluated_tokens : u, u);
  int64_t I = a.intermediate * (a.double_wide_mlp && a.kv_shared_layers > 0 ? 2 : 1);
  if (a.moe) I = std::max(I, a.moe_intermediate * a.top_k);
  const uint64_t touched = std::min<uint64_t>(compute, uint64_t(a.vocab * 4 + (3 * a.hidden + 2 * I) * ev * 4));
  b.items.push_back({"compute buffer: pages the evaluated batch touches", touched, false, true,
                     std::to_string(ev) + " tokens evaluated"});
  if (compute > touched) {
    b.items.push_back({"compute buffer: reserved, untouched", compute - touched, false, false,
                       "address space only (not resident) unless a full micro-batch with all logits runs"});
  }
  if (r.images > 0) {
    const int64_t rows = int64_t(r.images) * r.image_tokens;
    b.items.push_back({"image embeddings (mtmd, f32)", uint64_t(rows * a.hidden * 4), false, true, ""});
  }
  if (r.audio_seconds > 0) {
    b.items.push_back({"audio embeddings (mtmd, f32)", uint64_t(audio_tokens(r.audio_seconds) * a.hidden * 4), false, true, ""});
  }
  b.assumptions = {
      "CPU backend, mmap on (default): weights are file-backed pages of the GGUF",
      r.repack == "none"
          ? std::string("no CPU_REPACK buffer (--no-repack, or a build without AVX2): every weight stays mapped")
          : "a build with " + std::string(r.repack == "avx512" ? "AVX-512F repacks Q4_0, Q4_K, IQ4_NL, MXFP4 and Q2_K"
                                                             : "AVX2 repacks Q4_0, Q4_K, IQ4_NL and MXFP4") +
                " matrices with ne[1] % 8 == 0 (the tied embedding too, as the output matrix) into an anonymous "
                "CPU_REPACK buffer of the same size (llama.cpp's own log agrees: Q4_0 on the 12B, IQ4_NL and Q4_K on the "
                "small model); the other types stay mapped; "
                "the mapped file pages read to do so stay resident (clean page cache the kernel may reclaim), so "
                "peak RSS counts the repacked weights twice",
      "KV cache (llama_kv_cache_iswa): full layers n_ctx cells (padded to 256), SWA layers min(n_ctx, n_swa + "
      "n_ubatch) padded to 256, K and V stored separately even where the model has K = V",
      "flash attention on (needed for a quantized V cache); off: V rows padded to the widest layer",
      "one sequence (n_seq_max 1), n_ubatch as requested (llama.cpp default 512), swa_full off (llama-cli/server default)",
      "compute buffer: the worst-case graph of one micro-batch with every row's logits; only what the evaluated "
      "tokens touch is resident",
      "the process baseline (runtime, libraries, vocabulary) is a measured item: eval/memory/baselines.json, `g4ref memory measure --context 0 --baseline` (a vocabulary-only load of the same GGUF)"};
  return b;
}

// Hugging Face transformers (Gemma4ForConditionalGeneration, bf16, DynamicCache).
Breakdown hf_breakdown(const Arch& a, const Request& r) {
  Breakdown b;
  b.engine = "hf";
  const WeightBytes w = safetensors_bytes(a, 2, "bf16");
  for (const auto& [g, bytes] : w.text_groups) b.items.push_back({"weights: " + g, bytes, false, true, "bf16 tensors"});
  if (w.projector_bytes) b.items.push_back({"weights: vision + audio embedders", w.projector_bytes, false, true, "bf16"});
  const LayerCounts c = count_layers(a);
  const int64_t sw = int64_t(a.kv_heads) * a.head_dim;
  const int64_t fk = int64_t(a.k_eq_v ? a.global_kv_heads : a.kv_heads) * a.global_head_dim;
  add_kv_type(b.kv, "sliding (window)", c.sliding, std::min<int64_t>(r.context, a.sliding_window), uint64_t(2 * sw * 2));
  add_kv_type(b.kv, "full (K and V separate)", c.full, r.context, uint64_t(2 * fk * 2));
  if (c.shared) b.kv.push_back({"kv-shared (no cache)", c.shared, 0, 0, 0});
  b.items.push_back({"KV cache (bf16)", kv_total(b.kv), false, true, "DynamicCache"});
  const int64_t n = r.batch;
  b.items.push_back({"logits of the prefill (f32, last row)", uint64_t(a.vocab * 4), false, true, ""});
  b.items.push_back({"eager attention scores of one layer (bf16)", uint64_t(int64_t(a.heads) * n * r.context * 2), false, true,
                     std::to_string(n) + " query tokens"});
  b.assumptions = {"weights loaded as bf16 tensors (anonymous memory; no mmap after load)",
                   "DynamicCache: sliding layers keep the last sliding_window tokens, full layers every token, K and V "
                   "separate, bf16",
                   "eager attention materialises heads × queries × keys scores per layer",
                   "not measured here (no PyTorch on this machine): a model only"};
  return b;
}

nlohmann::json breakdown_json(const Breakdown& b) {
  nlohmann::json items = nlohmann::json::array();
  for (const Item& i : b.items) {
    items.push_back({{"name", i.name}, {"bytes", i.bytes}, {"file_backed", i.file_backed}, {"resident", i.resident},
                     {"note", i.note}, {"phase", i.phase}});
  }
  nlohmann::json phases = nlohmann::json::array();
  for (const std::string& p : b.phases) {
    phases.push_back({{"name", p}, {"anon_bytes", b.phase_bytes(p, false)}, {"file_bytes", b.phase_bytes(p, true)}});
  }
  nlohmann::json kv = nlohmann::json::array();
  for (const auto& k : b.kv) {
    kv.push_back({{"layer_type", k.layer_type}, {"layers", k.layers}, {"cells", k.cells},
                  {"bytes_per_cell", k.bytes_per_cell}, {"bytes", k.bytes}});
  }
  return {{"engine", b.engine}, {"items", items}, {"kv_cache", kv}, {"total_bytes", b.total()},
          {"resident_bytes", b.resident()}, {"resident_anon_bytes", b.resident_anon()},
          {"resident_file_bytes", b.resident_file()}, {"phases", phases}, {"peak_phase", b.peak_phase()},
          {"assumptions", b.assumptions}};
}

nlohmann::json weights_json(const WeightBytes& w) {
  return {{"format", w.format}, {"text_bytes", w.text_bytes}, {"projector_bytes", w.projector_bytes},
          {"total_bytes", w.total()}, {"groups", w.text_groups}, {"tensor_types", w.text_types}};
}

}  // namespace g4ref::memory
