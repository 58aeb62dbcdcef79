// Model::load_gguf: a text GGUF of architecture "gemma4" (spec §7.1) as a Model.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <map>
#include <type_traits>

#include "base/error.h"
#include "model/gguf_names.h"
#include "model/tensor_names.h"
#include "model/weights.h"

namespace g4ref {

namespace {

// The config a gemma4 GGUF describes. Ids of the multimodal markers, which the text GGUF has no key for,
// are found by their spelling in the token list (spec §5), else keep the 12B's.
ModelConfig config_from_gguf(const GgufFile& f) {
  const std::string& where = f.path();
  const std::string arch = f.get_string("general.architecture");
  if (arch != kGgufArch) fail(where, "general.architecture is '" + arch + "' (expected 'gemma4')");
  const std::string a = std::string(kGgufArch) + ".";
  ModelConfig c;
  c.source = where;
  TextConfig& t = c.text;
  // A size key, range-checked before it is narrowed: a wrapped value would size tables from a negative number.
  auto size_key = [&](const std::string& key, int64_t limit) -> int64_t {
    const uint64_t v = f.get_uint(key);
    if (v > static_cast<uint64_t>(limit)) {
      fail(where, key + " = " + std::to_string(v) + " exceeds the limit of " + std::to_string(limit));
    }
    return static_cast<int64_t>(v);
  };
  t.hidden_size = size_key(a + "embedding_length", kMaxWidth);
  t.intermediate_size = size_key(a + "feed_forward_length", kMaxIntermediate);
  t.num_hidden_layers = static_cast<int>(size_key(a + "block_count", kMaxHiddenLayers));
  t.num_attention_heads = static_cast<int>(size_key(a + "attention.head_count", kMaxHeads));
  t.global_head_dim = static_cast<int>(size_key(a + "attention.key_length", kMaxHeadDim));
  t.head_dim = static_cast<int>(size_key(a + "attention.key_length_swa", kMaxHeadDim));
  if (f.get_uint(a + "attention.value_length") != static_cast<uint64_t>(t.global_head_dim) ||
      f.get_uint(a + "attention.value_length_swa") != static_cast<uint64_t>(t.head_dim)) {
    fail(where, "value_length differs from key_length (Gemma 4 has equal K and V head sizes)");
  }
  t.sliding_window = static_cast<int>(size_key(a + "attention.sliding_window", kMaxContextWindow));
  t.rms_norm_eps = gguf_f32_decimal(f, a + "attention.layer_norm_rms_epsilon");
  t.final_logit_softcapping = f.find(a + "final_logit_softcapping") ? gguf_f32_decimal(f, a + "final_logit_softcapping") : 0.0;
  if (f.find(a + "attention.shared_kv_layers") && f.get_uint(a + "attention.shared_kv_layers") != 0) {
    fail(where, "shared KV layers are not part of this model");
  }
  if (f.find(a + "embedding_length_per_layer_input") && f.get_uint(a + "embedding_length_per_layer_input") != 0) {
    fail(where, "per-layer input embeddings are not part of this model");
  }

  const GgufArray& pattern = f.get_array(a + "attention.sliding_window_pattern");
  if (pattern.items.size() != static_cast<size_t>(t.num_hidden_layers)) {
    fail(where, a + "attention.sliding_window_pattern has " + std::to_string(pattern.items.size()) +
                    " entries for " + std::to_string(t.num_hidden_layers) + " blocks");
  }
  t.layer_types.clear();
  for (const GgufScalar& s : pattern.items) {
    if (!std::holds_alternative<bool>(s)) fail(where, a + "attention.sliding_window_pattern must hold bools");
    t.layer_types.push_back(std::get<bool>(s) ? LayerType::sliding : LayerType::full);
  }
  // head_count_kv: one value per layer (or one for all); Gemma 4 has one count for sliding and one for full.
  const GgufValue& kv = f.get(a + "attention.head_count_kv");
  std::vector<int64_t> kv_heads;
  if (std::holds_alternative<GgufArray>(kv)) {
    for (const GgufScalar& s : std::get<GgufArray>(kv).items) {
      const int64_t v = gguf_scalar_int(s, where, a + "attention.head_count_kv");
      if (v < 0 || v > kMaxHeads) fail(where, a + "attention.head_count_kv holds " + std::to_string(v) + " (0 to 1024)");
      kv_heads.push_back(v);
    }
  } else {
    kv_heads.assign(static_cast<size_t>(t.num_hidden_layers), size_key(a + "attention.head_count_kv", kMaxHeads));
  }
  if (kv_heads.size() != static_cast<size_t>(t.num_hidden_layers)) fail(where, a + "attention.head_count_kv has the wrong length");
  int sliding_kv = -1, full_kv = -1;
  for (int l = 0; l < t.num_hidden_layers; ++l) {
    int& slot = t.layer_types[static_cast<size_t>(l)] == LayerType::full ? full_kv : sliding_kv;
    const int v = static_cast<int>(kv_heads[static_cast<size_t>(l)]);
    if (slot >= 0 && slot != v) fail(where, a + "attention.head_count_kv differs between layers of one type");
    slot = v;
  }
  if (sliding_kv >= 0) t.num_key_value_heads = sliding_kv;
  if (full_kv >= 0) t.num_global_key_value_heads = full_kv;

  t.rope_sliding = {"default", gguf_f32_decimal(f, a + "rope.freq_base_swa"), 1.0, 1.0};
  const GgufTensor& freqs = f.tensor("rope_freqs.weight");
  if (freqs.numel() * 2 != t.global_head_dim) fail(where, "rope_freqs.weight must hold key_length / 2 values");
  t.rope_full = {"proportional", gguf_f32_decimal(f, a + "rope.freq_base"),
                 gguf_partial_rotary_factor(f.dequantize(freqs), where), 1.0};
  if (f.get_uint(a + "rope.dimension_count") != static_cast<uint64_t>(t.global_head_dim) ||
      f.get_uint(a + "rope.dimension_count_swa") != static_cast<uint64_t>(t.head_dim)) {
    fail(where, "rope.dimension_count(_swa) differs from the head size (partial rotation is in rope_freqs)");
  }

  // Full layers take V from K exactly when the file has no attn_v for them.
  t.attention_k_eq_v = true;
  for (int l = 0; l < t.num_hidden_layers; ++l) {
    if (t.is_full(l) && f.find_tensor("blk." + std::to_string(l) + ".attn_v.weight")) t.attention_k_eq_v = false;
  }
  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.ne.size() != 2) fail(where, "token_embd.weight must be 2-D");
  t.vocab_size = embd.ne[1];
  if (f.find_tensor("output.weight")) fail(where, "has an untied output.weight; Gemma 4 ties it to token_embd");

  if (f.find("tokenizer.ggml.bos_token_id")) t.bos_token_id = static_cast<int>(size_key("tokenizer.ggml.bos_token_id", kMaxVocab));
  if (f.find("tokenizer.ggml.eos_token_id")) t.eos_token_ids = {static_cast<int>(size_key("tokenizer.ggml.eos_token_id", kMaxVocab))};
  if (f.find("tokenizer.ggml.padding_token_id")) t.pad_token_id = static_cast<int>(size_key("tokenizer.ggml.padding_token_id", kMaxVocab));
  // A media id is what the vocabulary defines: a text-only GGUF (llama.cpp's own writer, a text model's
  // vocabulary) may have no media pieces, and then its media ids are absent (kAbsentTokenId). Loading succeeds;
  // only a request with media fails (require_media_tokens, prompt/media_placeholders.h).
  for (int* id : {&c.boi_token_id, &c.eoi_token_id, &c.image_token_id, &c.video_token_id, &c.boa_token_id,
                  &c.eoa_token_id, &c.audio_token_id}) {
    *id = kAbsentTokenId;
  }
  if (f.find("tokenizer.ggml.tokens")) {
    std::map<std::string, int> ids;
    const GgufArray& tokens = f.get_array("tokenizer.ggml.tokens");
    for (size_t i = 0; i < tokens.items.size(); ++i) {
      if (const auto* s = std::get_if<std::string>(&tokens.items[i])) ids.emplace(*s, static_cast<int>(i));
    }
    auto set = [&](const char* piece, int& id) {
      if (auto it = ids.find(piece); it != ids.end()) id = it->second;
    };
    set("<|image>", c.boi_token_id);
    set("<image|>", c.eoi_token_id);
    set("<|image|>", c.image_token_id);
    set("<|video|>", c.video_token_id);
    set("<|audio>", c.boa_token_id);
    set("<audio|>", c.eoa_token_id);
    set("<|audio|>", c.audio_token_id);
    // A GGUF keeps one eos id. The instruction-tuned generation_config also ends a turn at <turn|> (spec §5), and
    // llama.cpp treats <turn|> as end of generation for gemma4 by its spelling; do the same.
    if (auto it = ids.find("<turn|>"); it != ids.end() &&
        std::find(t.eos_token_ids.begin(), t.eos_token_ids.end(), it->second) == t.eos_token_ids.end()) {
      t.eos_token_ids.push_back(it->second);
    }
  }
  validate_config(c);
  return c;
}

}  // namespace

// GGUF stores eps, RoPE bases and the softcap as f32; the config holds the decimal the checkpoint wrote.
// The shortest decimal that reads back as the same f32 is that decimal (1e-6, not 9.99999997e-07).
double gguf_f32_decimal(const GgufFile& f, const std::string& key) {
  const float v = static_cast<float>(f.get_float(key));
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::strtod(std::string(buf, res.ptr).c_str(), nullptr);
}

MatrixView gguf_matrix_view(const GgufTensor& t) {
  MatrixView m;
  m.name = t.name;
  m.data = t.data;
  m.cols = t.ne.empty() ? 1 : t.ne[0];
  m.rows = m.cols ? t.numel() / m.cols : 0;
  switch (t.type) {
    case GgmlType::F32: m.dtype = DType::F32; break;
    case GgmlType::F16: m.dtype = DType::F16; break;
    case GgmlType::BF16: m.dtype = DType::BF16; break;
    default:
      if (!ggml_can_dequantize(t.type)) {
        fail(t.name, "type " + ggml_type_name(t.type) + " cannot be decoded by this reference");
      }
      m.dtype = DType::F32;
      m.quant = t.type;
  }
  return m;
}

std::unique_ptr<Model> Model::load_gguf(const std::string& path) {
  auto m = std::unique_ptr<Model>(new Model());
  m->dir_ = path;
  m->gguf_ = GgufFile::open(path);
  const GgufFile& f = *m->gguf_;
  m->config_ = config_from_gguf(f);
  const ModelConfig& c = m->config_;

  std::map<std::string, std::vector<int64_t>> shapes;
  for (const TensorSpec& s : expected_tensors(c)) shapes[s.name] = s.shape;
  std::map<std::string, MatrixView> views;
  for (const GgufTensorName& n : gguf_text_tensor_names(c)) {
    const GgufTensor* t = f.find_tensor(n.gguf);
    if (!t) fail(path, "tensor '" + n.gguf + "' is missing");
    if (t->torch_shape() != shapes.at(n.hf)) {
      std::string want;
      for (int64_t d : shapes.at(n.hf)) want += (want.empty() ? "" : ", ") + std::to_string(d);
      fail(path, "tensor '" + n.gguf + "' does not have the shape [" + want + "] (reversed ne) the metadata implies");
    }
    views[n.hf] = gguf_matrix_view(*t);
  }
  m->text_ = bind_text_weights([&](const std::string& name) { return views.at(name); }, c);
  return m;
}

}  // namespace g4ref
