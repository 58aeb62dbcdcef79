#include "model/tensor_names.h"

#include <algorithm>

namespace g4ref {

std::string layer_prefix(int layer) { return "model.language_model.layers." + std::to_string(layer) + "."; }

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  const TextConfig& t = c.text;
  std::vector<TensorSpec> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back(TensorSpec{std::move(name), DType::BF16, std::move(shape)});
  };
  const int64_t H = t.hidden_size;
  add("model.language_model.embed_tokens.weight", {t.vocab_size, H});
  add("model.language_model.norm.weight", {H});
  for (int l = 0; l < t.num_hidden_layers; ++l) {
    const std::string p = layer_prefix(l);
    const int64_t D = t.layer_head_dim(l);
    const int64_t kv = t.layer_kv_heads(l);
    const int64_t q_width = int64_t(t.num_attention_heads) * D;
    for (const char* norm : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                             "post_feedforward_layernorm"}) {
      add(p + norm + ".weight", {H});
    }
    add(p + "layer_scalar", {1});
    add(p + "mlp.gate_proj.weight", {t.intermediate_size, H});
    add(p + "mlp.up_proj.weight", {t.intermediate_size, H});
    add(p + "mlp.down_proj.weight", {H, t.intermediate_size});
    add(p + "self_attn.q_proj.weight", {q_width, H});
    add(p + "self_attn.k_proj.weight", {kv * D, H});
    if (t.layer_has_v_proj(l)) add(p + "self_attn.v_proj.weight", {kv * D, H});
    add(p + "self_attn.o_proj.weight", {H, q_width});
    add(p + "self_attn.q_norm.weight", {D});
    add(p + "self_attn.k_norm.weight", {D});
  }
  if (c.vision.present) {
    const VisionConfig& v = c.vision;
    const int64_t P = v.patch_values();
    const int64_t E = v.mm_embed_dim;
    add("model.vision_embedder.patch_ln1.weight", {P});
    add("model.vision_embedder.patch_ln1.bias", {P});
    add("model.vision_embedder.patch_dense.weight", {E, P});
    add("model.vision_embedder.patch_dense.bias", {E});
    add("model.vision_embedder.patch_ln2.weight", {E});
    add("model.vision_embedder.patch_ln2.bias", {E});
    add("model.vision_embedder.pos_embedding", {v.mm_posemb_size, 2, E});
    add("model.vision_embedder.pos_norm.weight", {E});
    add("model.vision_embedder.pos_norm.bias", {E});
    add("model.embed_vision.embedding_projection.weight", {H, v.output_proj_dims});
  }
  if (c.audio.present) add("model.embed_audio.embedding_projection.weight", {H, c.audio.audio_embed_dim});
  std::sort(out.begin(), out.end(), [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
  return out;
}

int64_t parameter_count(const std::vector<TensorSpec>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) {
    int64_t e = 1;
    for (int64_t d : t.shape) e *= d;
    n += e;
  }
  return n;
}

}  // namespace g4ref
