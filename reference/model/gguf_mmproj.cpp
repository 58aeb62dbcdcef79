#include "model/gguf_mmproj.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "io/error.h"
#include "io/gguf.h"
#include "model/gguf_export.h"
#include "model/gguf_names.h"

namespace g4ref {

namespace {

namespace fs = std::filesystem;

// llama.cpp derives the 48-px model patch from the stored 16-px teacher patch and the merge factor 3, which
// clip.cpp hard-codes for gemma4uv (spec §7.2).
constexpr int kMergeFactor = 3;

std::vector<float> all_floats(const MatrixView& w) {
  Mat<float> m;
  convert_rows(w, 0, w.rows, m);
  return std::vector<float>(m.data(), m.data() + m.size());
}

GgmlType mmproj_file_type_check(GgmlType t, const std::string& where) {
  if (t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16 && t != GgmlType::Q8_0) {
    fail(where, "the projector can be written as f32, f16, bf16 or q8_0, not " + ggml_type_name(t));
  }
  return t;
}

}  // namespace

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

GgmlType parse_mmproj_type(const std::string& name) {
  return mmproj_file_type_check(parse_gguf_export_type(name), "--mmproj-type");
}

GgmlType default_mmproj_type(GgmlType text) {
  switch (text) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0:
      return text;
    default:
      return GgmlType::F16;
  }
}

void export_mmproj_gguf(const Model& model, GgmlType type, const std::string& out, const MmprojDeviations& deviations) {
  mmproj_file_type_check(type, out);
  const ModelConfig& c = model.config();
  const VisionWeights* vw = model.vision();
  const AudioWeights* aw = model.audio();
  if (!vw || !aw) fail(model.dir(), "has no vision or no audio weights: there is no projector to export");
  const VisionConfig& vc = c.vision;
  if (vc.model_patch_size != vc.patch_size * kMergeFactor) {
    fail(model.dir(), "model_patch_size must be 3 × patch_size for llama.cpp's gemma4uv");
  }
  const int64_t E = vc.mm_embed_dim, H = c.text.hidden_size, A = c.audio.audio_embed_dim;
  const int64_t P = vc.patch_values(), n_pos = vc.mm_posemb_size;

  GgufWriter wr(out);
  wr.set("general.architecture", std::string("clip"));
  wr.set("general.type", std::string("mmproj"));
  wr.set("general.name", fs::path(model.dir()).filename().string());
  wr.set("general.file_type", gguf_file_type(type));
  wr.set("general.quantization_version", uint32_t{2});
  // MmprojModel.set_gguf_parameters: the encoder-free tower writes zero layers, heads and FF width.
  wr.set("clip.has_vision_encoder", true);
  wr.set("clip.vision.projection_dim", static_cast<uint32_t>(H));
  wr.set("clip.vision.image_size", uint32_t{224});  // unused by gemma4uv; the converter writes 224
  wr.set("clip.vision.patch_size", static_cast<uint32_t>(vc.patch_size));
  wr.set("clip.vision.embedding_length", static_cast<uint32_t>(E));
  wr.set("clip.vision.feed_forward_length", uint32_t{0});
  wr.set("clip.vision.block_count", uint32_t{0});
  wr.set("clip.vision.attention.head_count", uint32_t{0});
  wr.set("clip.vision.image_mean", gguf_array<float>({0.0f, 0.0f, 0.0f}));  // spec §3.1: no normalization
  wr.set("clip.vision.image_std", gguf_array<float>({1.0f, 1.0f, 1.0f}));
  wr.set("clip.has_audio_encoder", true);
  wr.set("clip.audio.projection_dim", static_cast<uint32_t>(H));
  wr.set("clip.audio.embedding_length", static_cast<uint32_t>(A));
  wr.set("clip.audio.feed_forward_length", uint32_t{0});
  wr.set("clip.audio.block_count", uint32_t{0});
  wr.set("clip.audio.attention.head_count", uint32_t{0});
  wr.set("clip.vision.projector_type", std::string("gemma4uv"));
  // The RMSNorm eps before the projection; gemma4uv's LayerNorms use a hard-coded 1e-5.
  wr.set("clip.vision.attention.layer_norm_epsilon", static_cast<float>(vc.rms_norm_eps));
  wr.set("clip.audio.projector_type", std::string("gemma4ua"));
  wr.set("clip.audio.num_mel_bins", uint32_t{128});  // the converter's default; gemma4ua ignores it (640 frames)
  wr.set("clip.audio.attention.layer_norm_epsilon", static_cast<float>(c.audio.rms_norm_eps));

  std::vector<int64_t> perm = gguf_patch_chw_permutation(vc.model_patch_size);
  if (deviations.hwc_patches) {
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  }
  // The tensors' values in GGUF layout, and their ggml shapes and types.
  struct Out {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<float> values;
  };
  std::vector<Out> tensors;
  auto two_d = [&](const std::vector<int64_t>& ne) { return gguf_storage_type(type, ne); };
  for (const MmprojTensorName& n : gguf_mmproj_tensor_names()) {
    Out o{n.gguf, {}, GgmlType::F32, {}};
    if (n.gguf == "mm.a.input_projection.weight") {
      o.ne = {A, H};
      o.type = two_d(o.ne);
      o.values = all_floats(aw->projection);
    } else if (n.gguf == "mm.input_projection.weight") {
      o.ne = {E, H};
      o.type = two_d(o.ne);
      o.values = all_floats(vw->projection);
    } else if (n.gguf == "v.patch_embd.bias") {
      o.ne = {E};
      o.values = all_floats(vw->dense_b);
    } else if (n.gguf == "v.patch_embd.weight") {
      o.ne = {P, E};
      o.type = type == GgmlType::F16 ? GgmlType::F16 : GgmlType::F32;  // the converter's tensor_force_quant
      const std::vector<float> hwc = all_floats(vw->dense_w);
      o.values.resize(hwc.size());
      for (int64_t r = 0; r < E; ++r) {
        for (int64_t i = 0; i < P; ++i) o.values[size_t(r * P + i)] = hwc[size_t(r * P + perm[size_t(i)])];
      }
    } else if (n.gguf == "v.patch_norm.1.bias" || n.gguf == "v.patch_norm.1.weight") {
      o.ne = {P};
      const std::vector<float> hwc = all_floats(n.gguf == "v.patch_norm.1.bias" ? vw->ln1_b : vw->ln1_w);
      o.values.resize(hwc.size());
      for (int64_t i = 0; i < P; ++i) o.values[size_t(i)] = hwc[size_t(perm[size_t(i)])];
    } else if (n.gguf == "v.patch_norm.2.bias") {
      o.ne = {E}, o.values = all_floats(vw->ln2_b);
    } else if (n.gguf == "v.patch_norm.2.weight") {
      o.ne = {E}, o.values = all_floats(vw->ln2_w);
    } else if (n.gguf == "v.patch_norm.3.bias") {
      o.ne = {E}, o.values = all_floats(vw->pos_norm_b);
    } else if (n.gguf == "v.patch_norm.3.weight") {
      o.ne = {E}, o.values = all_floats(vw->pos_norm_w);
    } else if (n.gguf == "v.position_embd.weight") {
      o.ne = {E, n_pos, 2};
      o.type = two_d(o.ne);
      const std::vector<float> src = all_floats(vw->pos_embedding);  // [n_pos, 2, E]
      o.values.resize(src.size());
      for (int64_t axis = 0; axis < 2; ++axis) {
        for (int64_t p = 0; p < n_pos; ++p) {
          const int64_t from = deviations.swap_position_axes ? 1 - axis : axis;
          std::copy_n(src.begin() + (p * 2 + from) * E, E, o.values.begin() + (axis * n_pos + p) * E);
        }
      }
    }
    tensors.push_back(std::move(o));
  }
  for (const Out& o : tensors) wr.add_tensor(o.name, o.type, o.ne);
  for (const Out& o : tensors) wr.write_tensor_floats(o.name, o.values.data(), static_cast<int64_t>(o.values.size()));
  wr.finish();
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
    vc.patch_size = static_cast<int>(f->get_uint("clip.vision.patch_size"));
    vc.pooling_kernel_size = kMergeFactor;
    vc.model_patch_size = vc.patch_size * kMergeFactor;
    vc.mm_embed_dim = vc.output_proj_dims = static_cast<int64_t>(f->get_uint("clip.vision.embedding_length"));
    vc.rms_norm_eps = gguf_f32_decimal(*f, "clip.vision.attention.layer_norm_epsilon");
    vc.layer_norm_eps = 1e-5;  // hard-coded in llama.cpp's gemma4uv graph, as in HF (spec §3.2)
    const int64_t E = vc.mm_embed_dim, P = vc.patch_values();
    const GgufTensor& pos = f->tensor("v.position_embd.weight");
    if (pos.ne.size() != 3) fail(path, "tensor 'v.position_embd.weight' must have 3 dimensions [E, positions, 2]");
    vc.mm_posemb_size = static_cast<int>(pos.ne[1]);
    tensor("v.position_embd.weight", {E, vc.mm_posemb_size, 2});

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
    ac.rms_norm_eps = 1e-6;  // hard-coded in llama.cpp's clip.cpp for gemma4ua, as in HF
    audio_.projection = gguf_matrix_view(proj);
  }
  validate_config(config_);
  mmproj_ = std::move(f);
}

}  // namespace g4ref
