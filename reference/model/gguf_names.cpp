#include "model/gguf_names.h"

#include <cmath>

#include "base/error.h"
#include "model/tensor_names.h"

namespace g4ref {

std::vector<GgufTensorName> gguf_text_tensor_names(const ModelConfig& c) {
  std::vector<GgufTensorName> names;
  names.push_back({"model.language_model.embed_tokens.weight", "token_embd.weight"});
  for (int l = 0; l < c.text.num_hidden_layers; ++l) {
    const std::string p = layer_prefix(l);
    const std::string b = "blk." + std::to_string(l) + ".";
    names.push_back({p + "input_layernorm.weight", b + "attn_norm.weight"});
    names.push_back({p + "self_attn.q_proj.weight", b + "attn_q.weight"});
    names.push_back({p + "self_attn.k_proj.weight", b + "attn_k.weight"});
    if (c.text.layer_has_v_proj(l)) names.push_back({p + "self_attn.v_proj.weight", b + "attn_v.weight"});
    names.push_back({p + "self_attn.o_proj.weight", b + "attn_output.weight"});
    names.push_back({p + "self_attn.q_norm.weight", b + "attn_q_norm.weight"});
    names.push_back({p + "self_attn.k_norm.weight", b + "attn_k_norm.weight"});
    names.push_back({p + "post_attention_layernorm.weight", b + "post_attention_norm.weight"});
    names.push_back({p + "pre_feedforward_layernorm.weight", b + "ffn_norm.weight"});
    names.push_back({p + "mlp.gate_proj.weight", b + "ffn_gate.weight"});
    names.push_back({p + "mlp.up_proj.weight", b + "ffn_up.weight"});
    names.push_back({p + "mlp.down_proj.weight", b + "ffn_down.weight"});
    names.push_back({p + "post_feedforward_layernorm.weight", b + "post_ffw_norm.weight"});
    names.push_back({p + "layer_scalar", b + "layer_output_scale.weight"});
  }
  names.push_back({"model.language_model.norm.weight", "output_norm.weight"});
  return names;
}

std::vector<float> gguf_rope_freqs(const TextConfig& t) {
  const int pairs = t.global_head_dim / 2;
  const double partial = t.rope_full.rope_type == "proportional" ? t.rope_full.partial_rotary_factor : 1.0;
  const int rotated = static_cast<int>(std::lround(partial * pairs));
  std::vector<float> f(static_cast<size_t>(pairs), 1e30f);
  for (int i = 0; i < rotated; ++i) f[static_cast<size_t>(i)] = 1.0f;
  return f;
}

double gguf_partial_rotary_factor(const std::vector<float>& freqs, const std::string& where) {
  size_t rotated = 0;
  while (rotated < freqs.size() && freqs[rotated] == 1.0f) ++rotated;
  for (size_t i = rotated; i < freqs.size(); ++i) {
    if (!(freqs[i] >= 1e29f)) {
      fail(where, "rope_freqs.weight[" + std::to_string(i) + "] = " + std::to_string(freqs[i]) +
                      " (expected 1.0 for the leading rotated pairs, then 1e30)");
    }
  }
  if (rotated == 0) fail(where, "rope_freqs.weight rotates no pair");
  return static_cast<double>(rotated) / static_cast<double>(freqs.size());
}

std::vector<int64_t> gguf_patch_chw_permutation(int patch_side) {
  const int64_t p = patch_side;
  std::vector<int64_t> perm(static_cast<size_t>(p * p * 3));
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (int64_t row = 0; row < p; ++row) {
      for (int64_t col = 0; col < p; ++col) perm[static_cast<size_t>(ch * p * p + row * p + col)] = row * p * 3 + col * 3 + ch;
    }
  }
  return perm;
}

}  // namespace g4ref
