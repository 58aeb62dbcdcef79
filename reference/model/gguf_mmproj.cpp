#include "model/gguf_mmproj.h"

#include <algorithm>
#include <map>

#include "base/error.h"
#include "io/gguf.h"
#include "model/gguf_names.h"

namespace g4ref {

const std::vector<MmprojTensorName>& gguf_mmproj_tensor_names() {
  // In the order llama.cpp's converter writes them (the checkpoint's sorted order).
  static const std::vector<MmprojTensorName> names = {
      {"model.embed_audio.embedding_projection.weight", "mm.a.input_projection.weight"},
      {"model.embed_vision.embedding_projection.weight", "mm.input_projection.weight"},
      {"model.vision_embedder.patch_dense.bias", "v.patch_embd.bias"},
      {"model.vision_embedder.patch_dense.weight", "v.patch_embd.weight"},
      {"model.vision_embedder.patch_ln1.bias", "v.patch_norm.1.bias"},
      {"model.vision_embedder.patch_ln1.weight", "v.patch_norm.1.weight"},
      {"model.vision_embedder.patch_ln2.bias", "v.patch_norm.2.bias"},
      {"model.vision_embedder.patch_ln2.weight", "v.patch_norm.2.weight"},
      {"model.vision_embedder.pos_embedding", "v.position_embd.weight"},
      {"model.vision_embedder.pos_norm.bias", "v.patch_norm.3.bias"},
      {"model.vision_embedder.pos_norm.weight", "v.patch_norm.3.weight"},
  };
  return names;
}

void Model::attach_mmproj(const std::string& path) {
  auto f = GgufFile::open(path);
  const std::string arch = f->get_string("general.architecture");
  if (arch != "clip") fail(path, "general.architecture is '" + arch + "' (an mmproj file has 'clip')");
  auto projector = [&](const char* modality) -> std::string {
    const std::string key = std::string("clip.") + modality + ".projector_type";
    if (f->find(key)) return f->get_string(key);
    return f->find("clip.projector_type") ? f->get_string("clip.projector_type") : "";
  };
  const bool has_vision = f->find("clip.has_vision_encoder") && f->get_bool("clip.has_vision_encoder");
  const bool has_audio = f->find("clip.has_audio_encoder") && f->get_bool("clip.has_audio_encoder");
  if (!has_vision && !has_audio) fail(path, "has neither a vision nor an audio encoder");
  const int64_t H = config_.text.hidden_size;
  // The checks of config.json apply to the sizes read from the mmproj, but a failure must name this file.
  auto validate_here = [&] {
    ModelConfig check = config_;
    check.source = path;
    validate_config(check);
  };
  // A GGUF size as an int, refused (naming the key) when it does not fit rather than wrapping negative.
  auto small_uint = [&](const std::string& key, uint64_t limit) -> int64_t {
    const uint64_t v = f->get_uint(key);
    if (v == 0 || v > limit) {
      fail(path, key + " = " + std::to_string(v) + " lies outside [1, " + std::to_string(limit) + "]");
    }
    return static_cast<int64_t>(v);
  };

  // ne of a tensor, checked: the error names the file, the tensor and both shapes.
  auto tensor = [&](const std::string& name, const std::vector<int64_t>& ne) -> const GgufTensor& {
    const GgufTensor& t = f->tensor(name);
    if (t.ne != ne) {
      auto str = [](const std::vector<int64_t>& v) {
        std::string s;
        for (int64_t d : v) s += (s.empty() ? "" : ", ") + std::to_string(d);
        return "[" + s + "]";
      };
      fail(path, "tensor '" + name + "' has ne " + str(t.ne) + " (expected " + str(ne) + ")");
    }
    return t;
  };
  auto own = [&](Mat<float> m, const std::string& name) {
    owned_.push_back(std::make_unique<Mat<float>>(std::move(m)));
    return view_of<float>(*owned_.back(), name);
  };

  if (has_vision) {
    const std::string type = projector("vision");
    if (type != "gemma4uv") fail(path, "vision projector type is '" + type + "' (expected 'gemma4uv')");
    if (f->get_uint("clip.vision.projection_dim") != static_cast<uint64_t>(H)) {
      fail(path, "clip.vision.projection_dim is " + std::to_string(f->get_uint("clip.vision.projection_dim")) +
                     " but the text model's hidden size is " + std::to_string(H));
    }
    VisionConfig& vc = config_.vision;
    vc.present = true;
    vc.patch_size = static_cast<int>(small_uint("clip.vision.patch_size", kMaxPatchSide / kMergeFactor));
    vc.pooling_kernel_size = kMergeFactor;
    vc.model_patch_size = vc.patch_size * kMergeFactor;
    vc.mm_embed_dim = vc.output_proj_dims = small_uint("clip.vision.embedding_length", kMaxWidth);
    vc.rms_norm_eps = gguf_f32_decimal(*f, "clip.vision.attention.layer_norm_epsilon");
    vc.layer_norm_eps = 1e-5;  // hard-coded in llama.cpp's gemma4uv graph, as in HF (spec §3.2)
    const int64_t E = vc.mm_embed_dim, P = vc.patch_values();
    const GgufTensor& pos = f->tensor("v.position_embd.weight");
    if (pos.ne.size() != 3) fail(path, "tensor 'v.position_embd.weight' must have 3 dimensions [E, positions, 2]");
    if (pos.ne[1] < 1 || pos.ne[1] > kMaxPosemb) {
      fail(path, "tensor 'v.position_embd.weight' has " + std::to_string(pos.ne[1]) + " positions (expected 1 to " +
                     std::to_string(kMaxPosemb) + ")");
    }
    vc.mm_posemb_size = static_cast<int>(pos.ne[1]);
    tensor("v.position_embd.weight", {E, vc.mm_posemb_size, 2});
    validate_here();  // before any tensor is converted

    const std::vector<int64_t> perm = gguf_patch_chw_permutation(vc.model_patch_size);
    auto unpermute = [&](const GgufTensor& t) {  // CHW columns back to the checkpoint's HWC order
      Mat<float> chw;
      const MatrixView v = gguf_matrix_view(t);
      convert_rows(v, 0, v.rows, chw);
      Mat<float> hwc(chw.rows(), chw.cols());
      for (Eigen::Index r = 0; r < chw.rows(); ++r) {
        for (int64_t i = 0; i < P; ++i) hwc(r, perm[size_t(i)]) = chw(r, i);
      }
      return hwc;
    };
    VisionWeights& w = vision_;
    w.dense_w = own(unpermute(tensor("v.patch_embd.weight", {P, E})), "model.vision_embedder.patch_dense.weight");
    w.ln1_w = own(unpermute(tensor("v.patch_norm.1.weight", {P})), "model.vision_embedder.patch_ln1.weight");
    w.ln1_b = own(unpermute(tensor("v.patch_norm.1.bias", {P})), "model.vision_embedder.patch_ln1.bias");
    w.dense_b = gguf_matrix_view(tensor("v.patch_embd.bias", {E}));
    w.ln2_w = gguf_matrix_view(tensor("v.patch_norm.2.weight", {E}));
    w.ln2_b = gguf_matrix_view(tensor("v.patch_norm.2.bias", {E}));
    w.pos_norm_w = gguf_matrix_view(tensor("v.patch_norm.3.weight", {E}));
    w.pos_norm_b = gguf_matrix_view(tensor("v.patch_norm.3.bias", {E}));
    w.projection = gguf_matrix_view(tensor("mm.input_projection.weight", {E, H}));
    {  // [2, n_pos, E] back to the checkpoint's [n_pos, 2, E]
      Mat<float> stored;
      const MatrixView v = gguf_matrix_view(pos);
      convert_rows(v, 0, v.rows, stored);  // rows: axis·n_pos + p
      Mat<float> table(vc.mm_posemb_size, 2 * E);
      for (int axis = 0; axis < 2; ++axis) {
        for (int p = 0; p < vc.mm_posemb_size; ++p) table.row(p).segment(axis * E, E) = stored.row(axis * vc.mm_posemb_size + p);
      }
      w.pos_embedding = own(std::move(table), "model.vision_embedder.pos_embedding");
    }
  }
  if (has_audio) {
    const std::string type = projector("audio");
    if (type != "gemma4ua") fail(path, "audio projector type is '" + type + "' (expected 'gemma4ua')");
    const GgufTensor& proj = f->tensor("mm.a.input_projection.weight");
    if (proj.ne.size() != 2 || proj.ne[1] != H) {
      fail(path, "tensor 'mm.a.input_projection.weight' must be [frame samples, " + std::to_string(H) + "] (ne)");
    }
    // The frame size is the projection's input width; clip.audio.num_mel_bins (128) is not it (spec §7.2).
    AudioConfig& ac = config_.audio;
    ac.present = true;
    ac.audio_embed_dim = proj.ne[0];
    validate_here();
    ac.rms_norm_eps = 1e-6;  // hard-coded in llama.cpp's clip.cpp for gemma4ua, as in HF
    audio_.projection = gguf_matrix_view(proj);
  }
  validate_here();
  mmproj_ = std::move(f);
}

}  // namespace g4ref
