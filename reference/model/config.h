// Model configuration as read from a Hugging Face `config.json` (spec §1). Nothing the config carries is
// hard-coded elsewhere: a tiny synthetic checkpoint runs the 12B's exact code path.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace g4ref {

enum class LayerType { sliding, full };

// Upper limits of config.json sizes (README "Limits"); a config over one is refused naming the key and the limit.
inline constexpr int kMaxHiddenLayers = 1024;
inline constexpr int64_t kMaxVocab = int64_t(1) << 24;
inline constexpr int64_t kMaxWidth = int64_t(1) << 16;         // hidden_size, mm_embed_dim, audio_embed_dim
inline constexpr int64_t kMaxIntermediate = int64_t(1) << 20;
inline constexpr int kMaxHeads = 1024;
inline constexpr int kMaxHeadDim = 4096;
inline constexpr int kMaxPatchSide = 1024;
inline constexpr int kMaxPosemb = 1 << 16;
inline constexpr int kMaxContextWindow = 1 << 20;  // sliding_window

// A media token id the model's vocabulary does not define (a text-only GGUF without media pieces).
inline constexpr int kAbsentTokenId = -1;

struct RopeParams {
  std::string rope_type = "default";  // "default" or "proportional" (spec §2.6)
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;  // proportional only
  double factor = 1.0;                 // proportional only; absent key means 1.0
};

struct TextConfig {
  int64_t vocab_size = 262144;
  int64_t hidden_size = 3840;
  int64_t intermediate_size = 15360;
  int num_hidden_layers = 48;
  int num_attention_heads = 16;
  int num_key_value_heads = 8;          // sliding layers
  int head_dim = 256;                   // sliding layers
  int global_head_dim = 512;            // full layers
  int num_global_key_value_heads = 1;   // full layers
  bool attention_k_eq_v = true;         // full layers take V from the raw K projection
  int sliding_window = 1024;
  std::vector<LayerType> layer_types;   // num_hidden_layers entries
  RopeParams rope_sliding{"default", 10000.0, 1.0, 1.0};
  RopeParams rope_full{"proportional", 1000000.0, 0.25, 1.0};
  double final_logit_softcapping = 30.0;  // 0 = none
  double rms_norm_eps = 1e-6;
  std::string hidden_activation = "gelu_pytorch_tanh";
  int pad_token_id = 0;
  int bos_token_id = 2;
  std::vector<int> eos_token_ids{1};

  bool is_full(int layer) const { return layer_types[layer] == LayerType::full; }
  int layer_head_dim(int layer) const { return is_full(layer) ? global_head_dim : head_dim; }
  int layer_kv_heads(int layer) const { return is_full(layer) ? num_global_key_value_heads : num_key_value_heads; }
  // k_eq_v applies to full layers only (spec §1.2): they have no v_proj.
  bool layer_has_v_proj(int layer) const { return !(is_full(layer) && attention_k_eq_v); }
  const RopeParams& layer_rope(int layer) const { return is_full(layer) ? rope_full : rope_sliding; }
};

struct VisionConfig {
  bool present = false;
  int patch_size = 16;
  int pooling_kernel_size = 3;
  int model_patch_size = 48;
  int64_t mm_embed_dim = 3840;
  int mm_posemb_size = 1120;
  int64_t output_proj_dims = 3840;
  int num_soft_tokens = 280;
  double rms_norm_eps = 1e-6;
  double layer_norm_eps = 1e-5;  // spec §3.2: PyTorch LayerNorm default; UNCONFIRMED for the JAX original (§9.1)
  int64_t patch_values() const { return int64_t(model_patch_size) * model_patch_size * 3; }
};

struct AudioConfig {
  bool present = false;
  int64_t audio_embed_dim = 640;  // samples per audio token = input width of the projection (spec §1.4)
  double rms_norm_eps = 1e-6;
};

struct ModelConfig {
  std::string model_type = "gemma4_unified";
  TextConfig text;
  VisionConfig vision;
  AudioConfig audio;
  int boi_token_id = 255999;
  int eoi_token_id = 258882;
  int image_token_id = 258880;
  int video_token_id = 258884;
  int boa_token_id = 256000;
  int eoa_token_id = 258883;  // config key "eoa_token_index"
  int audio_token_id = 258881;
  bool tie_word_embeddings = true;
  std::string source;  // where it was read from, for error messages

  // Stable digest of the canonical JSON form: two traces are only comparable under the same hash.
  std::string hash() const;
};

// Parses and validates. `source` names the file in errors. Missing keys take the spec's 12B defaults;
// inconsistent values throw g4ref::Error naming the key, the value and the rule.
ModelConfig parse_config(const nlohmann::json& j, const std::string& source);
ModelConfig load_config(const std::string& path);
// Canonical Hugging Face form (what `synth` writes as config.json).
nlohmann::json config_to_json(const ModelConfig& c);
void validate_config(const ModelConfig& c);

const char* layer_type_name(LayerType t);

}  // namespace g4ref
