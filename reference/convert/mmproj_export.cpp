#include "convert/mmproj_export.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "convert/gguf_export.h"
#include "io/gguf.h"
#include "model/gguf_mmproj.h"
#include "model/gguf_names.h"

namespace g4ref {

namespace {

namespace fs = std::filesystem;

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

}  // namespace g4ref
