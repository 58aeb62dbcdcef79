// Weight binding: views into the memory-mapped checkpoint, in their stored type, checked against the config
// before any compute. Nothing here copies or converts a weight; layers convert blocks as they use them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "numerics/matmul.h"

namespace g4ref {

struct LayerWeights {
  MatrixView input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm, layer_scalar;
  MatrixView q, k, v, o, q_norm, k_norm;  // v.data == nullptr on k_eq_v layers
  MatrixView gate, up, down;
};

struct TextWeights {
  MatrixView embed;  // [vocab, hidden], also the output head (tied)
  MatrixView final_norm;
  std::vector<LayerWeights> layers;
};

struct VisionWeights {
  MatrixView ln1_w, ln1_b, dense_w, dense_b, ln2_w, ln2_b, pos_embedding, pos_norm_w, pos_norm_b;
  MatrixView projection;  // embed_vision.embedding_projection [hidden, mm_embed_dim]
};

struct AudioWeights {
  MatrixView projection;  // embed_audio.embedding_projection [hidden, audio_embed_dim]
};

// A stored tensor as a row-major matrix (a 1-D tensor is one row; [a, b, c] is [a, b·c]).
MatrixView matrix_view(const TensorView& t);

// Checks every expected tensor (spec §6 names, shapes from the config) against the store: present, same shape,
// a dtype the reference reads (BF16, F16, F32). The error names the first mismatch and the checkpoint.
void check_tensors(const TensorStore& store, const ModelConfig& c, const std::string& where);

// Binds the text decoder's weights by their checkpoint names (spec §6), whatever file holds them.
TextWeights bind_text_weights(const std::function<MatrixView(const std::string&)>& get, const ModelConfig& c);
TextWeights bind_text_weights(const TensorStore& store, const ModelConfig& c);

// A loaded checkpoint: config + mapped tensors + bound views.
class Model {
 public:
  // DIR is a checkpoint directory, or a text-model .gguf file as llama.cpp's converter writes it (spec §7.1;
  // see load_gguf).
  // MMPROJ, when given, is an mmproj GGUF (spec §7.2) whose vision and audio weights replace the model's own.
  static std::unique_ptr<Model> load(const std::string& dir, const std::string& mmproj = "");
  // A text GGUF: the config from the gemma4.* and tokenizer.* metadata, the weights bound to the file's
  // tensors in their stored types (quantized ones decode block by block, numerics/matmul.h). No vision/audio.
  static std::unique_ptr<Model> load_gguf(const std::string& path);
  // Takes the vision and audio weights from an mmproj GGUF (model/gguf_mmproj.h): the permuted patch weights
  // and the transposed position table are restored to the checkpoint's layout in owned f32 copies (exact for
  // every stored type); the rest are views into the mapped file. The config's vision/audio sections are
  // rebuilt from the file's metadata and shapes.
  void attach_mmproj(const std::string& path);
  const ModelConfig& config() const { return config_; }
  const TextWeights& text() const { return text_; }
  // The dtype Hugging Face holds the embedding scale in (spec §2.2): the token table's for a safetensors
  // checkpoint; bf16 for a GGUF, whose table type is an export choice (f32, q8_0, ...) while every published
  // Gemma 4 checkpoint, and so the model it was converted from, is bf16.
  DType embedding_scale_dtype() const { return gguf_ ? DType::BF16 : text_.embed.dtype; }
  const VisionWeights* vision() const { return config_.vision.present ? &vision_ : nullptr; }
  const AudioWeights* audio() const { return config_.audio.present ? &audio_ : nullptr; }
  const TensorStore& store() const { return *store_; }  // safetensors checkpoints only
  const GgufFile* gguf() const { return gguf_.get(); }    // GGUF-loaded models only
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  ModelConfig config_;
  std::unique_ptr<TensorStore> store_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<GgufFile> mmproj_;
  std::vector<std::unique_ptr<Mat<float>>> owned_;  // weights rebuilt from an mmproj file
  TextWeights text_;
  VisionWeights vision_;
  AudioWeights audio_;
};

}  // namespace g4ref
