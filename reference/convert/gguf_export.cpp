#include "convert/gguf_export.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "base/error.h"
#include "io/gguf.h"
#include "forward/generate.h"
#include "model/gguf_names.h"
#include "convert/synth_tokenizer.h"
#include "model/tensor_names.h"
#include "prompt/tokenizer.h"

namespace g4ref {

namespace {

namespace fs = std::filesystem;


std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The tokenizer.json text of PATH (a tokenizer.json, a tokenizer.model, or a directory holding one), built
// from the SentencePiece model when there is no tokenizer.json.
std::string tokenizer_json_text(const std::string& path) {
  fs::path p(path);
  if (fs::is_directory(p)) {
    if (fs::exists(p / "tokenizer.json")) return read_file((p / "tokenizer.json").string());
    if (fs::exists(p / "tokenizer.model")) {
      return sentencepiece_bpe_to_tokenizer_json(read_file((p / "tokenizer.model").string()));
    }
    fail(path, "holds neither tokenizer.json nor tokenizer.model");
  }
  if (p.extension() == ".model") return sentencepiece_bpe_to_tokenizer_json(read_file(path));
  return read_file(path);
}

std::vector<int64_t> reversed(std::vector<int64_t> shape) {
  std::reverse(shape.begin(), shape.end());
  return shape;
}

// The stored bytes of W (a view of rows × cols values) in type T, converted row block by row block.
std::vector<std::byte> encode_matrix(const MatrixView& w, GgmlType t) {
  const size_t row_bytes = ggml_row_size(t, w.cols);
  std::vector<std::byte> out(row_bytes * static_cast<size_t>(w.rows));
  Mat<float> block;
  for (int64_t r0 = 0; r0 < w.rows; r0 += kColBlock) {
    const int64_t n = std::min(kColBlock, w.rows - r0);
    convert_rows(w, r0, n, block);  // exact: bf16/f16/f32 values are floats, quantized rows decode to floats
    for (int64_t r = 0; r < n; ++r) {
      quantize_row(t, block.data() + r * w.cols, out.data() + static_cast<size_t>(r0 + r) * row_bytes, w.cols);
    }
  }
  return out;
}

// True when W's bytes already are T's bytes (no conversion at all).
bool same_storage(const MatrixView& w, GgmlType t) {
  if (w.quantized()) return w.quant == t;
  return (w.dtype == DType::F32 && t == GgmlType::F32) || (w.dtype == DType::F16 && t == GgmlType::F16) ||
         (w.dtype == DType::BF16 && t == GgmlType::BF16);
}

void write_matrix(GgufWriter& wr, const std::string& name, const MatrixView& w, GgmlType t) {
  if (same_storage(w, t)) {
    wr.write_tensor_data(name, w.data, ggml_row_size(t, w.cols) * static_cast<size_t>(w.rows));
  } else {
    const std::vector<std::byte> bytes = encode_matrix(w, t);
    wr.write_tensor_data(name, bytes.data(), bytes.size());
  }
}

// The bound text weight of each checkpoint tensor name.
std::map<std::string, MatrixView> text_views(const Model& model) {
  const TextWeights& w = model.text();
  const ModelConfig& c = model.config();
  std::map<std::string, MatrixView> v;
  v["model.language_model.embed_tokens.weight"] = w.embed;
  v["model.language_model.norm.weight"] = w.final_norm;
  for (int l = 0; l < c.text.num_hidden_layers; ++l) {
    const std::string p = layer_prefix(l);
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    v[p + "input_layernorm.weight"] = L.input_norm;
    v[p + "post_attention_layernorm.weight"] = L.post_attn_norm;
    v[p + "pre_feedforward_layernorm.weight"] = L.pre_ffn_norm;
    v[p + "post_feedforward_layernorm.weight"] = L.post_ffn_norm;
    v[p + "layer_scalar"] = L.layer_scalar;
    v[p + "self_attn.q_proj.weight"] = L.q;
    v[p + "self_attn.k_proj.weight"] = L.k;
    if (L.v.data) v[p + "self_attn.v_proj.weight"] = L.v;
    v[p + "self_attn.o_proj.weight"] = L.o;
    v[p + "self_attn.q_norm.weight"] = L.q_norm;
    v[p + "self_attn.k_norm.weight"] = L.k_norm;
    v[p + "mlp.gate_proj.weight"] = L.gate;
    v[p + "mlp.up_proj.weight"] = L.up;
    v[p + "mlp.down_proj.weight"] = L.down;
  }
  return v;
}

// text_config.max_position_embeddings of the checkpoint's config.json (the config struct does not keep it).
uint32_t context_length(const Model& model) {
  const fs::path cfg = fs::path(model.dir()) / "config.json";
  if (fs::is_directory(model.dir()) && fs::exists(cfg)) {
    const nlohmann::json j = nlohmann::json::parse(read_file(cfg.string()), nullptr, false);
    if (j.is_object() && j.contains("text_config") && j["text_config"].is_object()) {
      const auto& t = j["text_config"];
      if (t.contains("max_position_embeddings") && t["max_position_embeddings"].is_number_unsigned()) {
        return t["max_position_embeddings"].get<uint32_t>();
      }
    }
  }
  return 262144;  // spec §1.2
}

void set_text_metadata(GgufWriter& wr, const Model& model) {
  const TextConfig& t = model.config().text;
  if (t.rope_full.factor != 1.0 || t.rope_sliding.factor != 1.0) {
    fail(model.dir(), "RoPE factor != 1 has no gemma4 GGUF key");
  }
  const std::string a = std::string(kGgufArch) + ".";
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  wr.set(a + "context_length", context_length(model));
  wr.set(a + "embedding_length", u32(t.hidden_size));
  wr.set(a + "block_count", u32(t.num_hidden_layers));
  wr.set(a + "feed_forward_length", u32(t.intermediate_size));
  wr.set(a + "attention.head_count", u32(t.num_attention_heads));
  std::vector<int32_t> kv_heads;
  std::vector<bool> swa;
  for (int l = 0; l < t.num_hidden_layers; ++l) {
    kv_heads.push_back(t.layer_kv_heads(l));
    swa.push_back(!t.is_full(l));
  }
  wr.set(a + "attention.head_count_kv", gguf_array<int32_t>(kv_heads));
  wr.set(a + "attention.key_length", u32(t.global_head_dim));
  wr.set(a + "attention.value_length", u32(t.global_head_dim));
  wr.set(a + "attention.key_length_swa", u32(t.head_dim));
  wr.set(a + "attention.value_length_swa", u32(t.head_dim));
  wr.set(a + "attention.layer_norm_rms_epsilon", static_cast<float>(t.rms_norm_eps));
  wr.set(a + "attention.sliding_window", u32(t.sliding_window));
  wr.set(a + "attention.sliding_window_pattern", gguf_array<bool>(swa));
  wr.set(a + "attention.shared_kv_layers", uint32_t{0});
  wr.set(a + "embedding_length_per_layer_input", uint32_t{0});
  wr.set(a + "rope.freq_base", static_cast<float>(t.rope_full.theta));
  wr.set(a + "rope.freq_base_swa", static_cast<float>(t.rope_sliding.theta));
  wr.set(a + "rope.dimension_count", u32(t.global_head_dim));
  wr.set(a + "rope.dimension_count_swa", u32(t.head_dim));
  wr.set(a + "final_logit_softcapping", static_cast<float>(t.final_logit_softcapping));
}

// Tokenizer metadata as llama.cpp's Gemma 4 converter writes it (LlamaHfVocab + SpecialVocab): every score
// -1000; <0xNN> pieces BYTE; the tokenizer's special added tokens CONTROL, except the seven rendered ones,
// which are USER_DEFINED; other added tokens USER_DEFINED; the rest NORMAL.
void set_tokenizer_metadata(GgufWriter& wr, const Model& model, const std::string& tokenizer_path) {
  const ModelConfig& c = model.config();
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(tokenizer_path);
  const std::string json_text = tokenizer_json_text(tokenizer_path);
  const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (!j.is_object() || !j.contains("model")) fail(tokenizer_path, "not a tokenizer.json");

  std::set<std::string> special, added;
  if (j.contains("added_tokens")) {
    for (const auto& t : j["added_tokens"]) {
      const std::string content = t.value("content", "");
      (t.value("special", false) ? special : added).insert(content);
    }
  }
  static const std::set<std::string> visible = {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>",
                                                "<|tool_response>", "<tool_response|>", "<|\"|>"};
  static const std::regex byte_piece("<0x[0-9A-Fa-f]{2}>");

  const int n_tok = tok->vocab_size();
  if (n_tok > c.text.vocab_size) {
    fail(tokenizer_path, "has " + std::to_string(n_tok) + " tokens, more than the model's vocabulary of " +
                             std::to_string(c.text.vocab_size));
  }
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int id = 0; id < c.text.vocab_size; ++id) {
    if (id >= n_tok) {  // rows of the table the tokenizer does not use
      tokens.push_back("[PAD" + std::to_string(id) + "]");
      scores.push_back(-1000.0f);
      types.push_back(GgufTokenType::kUnused);
      continue;
    }
    const std::string p = tok->piece(id);
    int32_t type = GgufTokenType::kNormal;
    if (std::regex_match(p, byte_piece)) type = GgufTokenType::kByte;
    else if (visible.count(p)) type = GgufTokenType::kUserDefined;
    else if (special.count(p)) type = GgufTokenType::kControl;
    else if (added.count(p)) type = GgufTokenType::kUserDefined;
    tokens.push_back(p);
    scores.push_back(-1000.0f);
    types.push_back(type);
  }
  std::vector<std::string> merges;
  if (j["model"].contains("merges")) {
    for (const auto& m : j["model"]["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2) merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else fail(tokenizer_path, "malformed merge " + m.dump());
    }
  }
  wr.set("tokenizer.ggml.model", std::string("gemma4"));
  wr.set("tokenizer.ggml.tokens", gguf_array<std::string>(tokens));
  wr.set("tokenizer.ggml.scores", gguf_array<float>(scores));
  wr.set("tokenizer.ggml.token_type", gguf_array<int32_t>(types));
  wr.set("tokenizer.ggml.merges", gguf_array<std::string>(merges));
  wr.set("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.text.bos_token_id));
  wr.set("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.text.eos_token_ids.at(0)));
  const int unk = tok->token_id("<unk>");
  if (unk >= 0) wr.set("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(unk));
  wr.set("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.text.pad_token_id));
  wr.set("tokenizer.ggml.add_bos_token", true);
  wr.set("tokenizer.ggml.add_space_prefix", false);
  const fs::path tmpl = fs::path(model.dir()) / "chat_template.jinja";
  if (fs::is_directory(model.dir()) && fs::exists(tmpl)) wr.set("tokenizer.chat_template", read_file(tmpl.string()));
  const GenerationConfig gen = load_generation_config(model.dir(), c);
  wr.set("tokenizer.ggml.suppress_tokens",
         gguf_array<int32_t>(std::vector<int32_t>(gen.suppress_tokens.begin(), gen.suppress_tokens.end())));
}

std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> s;
  for (const TensorSpec& t : expected_tensors(c)) s[t.name] = t.shape;
  return s;
}

}  // namespace

bool gguf_export_type_supported(GgmlType t) { return ggml_can_quantize(t); }

GgmlType parse_gguf_export_type(const std::string& name) {
  static const std::map<std::string, GgmlType> types = {
      {"f32", GgmlType::F32}, {"f16", GgmlType::F16}, {"bf16", GgmlType::BF16}, {"q8_0", GgmlType::Q8_0},
      {"q4_0", GgmlType::Q4_0}, {"q4_k", GgmlType::Q4_K}, {"q6_k", GgmlType::Q6_K}};
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  auto it = types.find(lower);
  if (it == types.end()) fail("--type", "'" + name + "' is not one of f32, f16, bf16, q8_0, q4_0, q4_k, q6_k");
  return it->second;
}

GgmlType gguf_storage_type(GgmlType requested, const std::vector<int64_t>& ne) {
  if (ne.size() < 2) return GgmlType::F32;
  GgmlType t = requested;
  if (ne[0] % ggml_block_size(t) != 0) {
    if (t == GgmlType::Q4_K) t = GgmlType::Q4_0;
    if (t == GgmlType::Q6_K) t = GgmlType::Q8_0;
  }
  if (ne[0] % ggml_block_size(t) != 0) t = GgmlType::F16;
  return t;
}

uint32_t gguf_file_type(GgmlType requested) {
  switch (requested) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q4_K: return 14;  // LLAMA_FTYPE_MOSTLY_Q4_K_S: every weight Q4_K
    case GgmlType::Q6_K: return 18;
    case GgmlType::BF16: return 32;
    default: fail("gguf export", "type " + ggml_type_name(requested) + " is not supported");
  }
}

void export_text_gguf(const Model& model, const std::string& tokenizer_path, GgmlType type, const std::string& out) {
  if (!gguf_export_type_supported(type)) fail(out, "cannot write type " + ggml_type_name(type));
  const ModelConfig& c = model.config();
  GgufWriter wr(out);
  wr.set("general.architecture", std::string(kGgufArch));
  wr.set("general.type", std::string("model"));
  wr.set("general.name", fs::path(model.dir()).filename().string());
  wr.set("general.file_type", gguf_file_type(type));
  wr.set("general.quantization_version", uint32_t{2});
  set_text_metadata(wr, model);
  set_tokenizer_metadata(wr, model, tokenizer_path);

  const std::vector<float> rope_freqs = gguf_rope_freqs(c.text);
  wr.add_tensor("rope_freqs.weight", GgmlType::F32, {static_cast<int64_t>(rope_freqs.size())});
  const std::map<std::string, MatrixView> views = text_views(model);
  const std::map<std::string, std::vector<int64_t>> shapes = expected_shapes(c);
  const std::vector<GgufTensorName> names = gguf_text_tensor_names(c);
  std::vector<GgmlType> types;
  for (const GgufTensorName& n : names) {
    const std::vector<int64_t> ne = reversed(shapes.at(n.hf));
    types.push_back(gguf_storage_type(type, ne));
    wr.add_tensor(n.gguf, types.back(), ne);
  }
  wr.write_tensor_floats("rope_freqs.weight", rope_freqs.data(), static_cast<int64_t>(rope_freqs.size()));
  for (size_t i = 0; i < names.size(); ++i) write_matrix(wr, names[i].gguf, views.at(names[i].hf), types[i]);
  wr.finish();
}


}  // namespace g4ref
