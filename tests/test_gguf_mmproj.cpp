// The multimodal projector as llama.cpp's mmproj GGUF (spec §7.2): the tiny checkpoint's vision and audio
// weights written with the converter's layout (HWC -> CHW patch columns, [2, posemb, E] position table, clip
// metadata), read back into the checkpoint's layout, and run: embeddings through the GGUF pair equal the
// safetensors model's.
#include <gtest/gtest.h>

#include <random>

#include "io/gguf.h"
#include "layers/audio_embedder.h"
#include "layers/vision_embedder.h"
#include "convert/gguf_export.h"
#include "convert/mmproj_export.h"
#include "model/gguf_mmproj.h"
#include "model/weights.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

std::vector<double> values_of(const MatrixView& v) {
  Mat<double> m;
  convert_rows(v, 0, v.rows, m);
  return std::vector<double>(m.data(), m.data() + m.size());
}

std::vector<std::pair<std::string, const MatrixView*>> media_weights(const Model& m) {
  const VisionWeights& v = *m.vision();
  return {{"ln1_w", &v.ln1_w},   {"ln1_b", &v.ln1_b},   {"dense_w", &v.dense_w},       {"dense_b", &v.dense_b},
          {"ln2_w", &v.ln2_w},   {"ln2_b", &v.ln2_b},   {"pos_embedding", &v.pos_embedding},
          {"pos_norm_w", &v.pos_norm_w}, {"pos_norm_b", &v.pos_norm_b}, {"projection", &v.projection},
          {"audio", &m.audio()->projection}};
}

struct Exported {
  std::string text, mmproj;
};

Exported export_pair(const Model& src, const std::string& ckpt, GgmlType mm_type, testing::TempDir& d,
                     const MmprojDeviations& dev = {}) {
  Exported e{d / "text.gguf", d / ("mmproj_" + ggml_type_name(mm_type) + ".gguf")};
  export_text_gguf(src, ckpt, GgmlType::F32, e.text);
  export_mmproj_gguf(src, mm_type, e.mmproj, dev);
  return e;
}

TEST(GgufMmproj, F32AndBF16RoundTripRestoreEveryWeightExactly) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  testing::TempDir d("mmproj");
  for (GgmlType t : {GgmlType::F32, GgmlType::BF16}) {
    const Exported e = export_pair(*src, ckpt, t, d);
    auto back = Model::load(e.text, e.mmproj);
    ASSERT_TRUE(back->vision() && back->audio());
    EXPECT_EQ(back->config().vision.mm_posemb_size, src->config().vision.mm_posemb_size);
    EXPECT_EQ(back->config().vision.model_patch_size, 48);
    EXPECT_EQ(back->config().audio.audio_embed_dim, 640);
    EXPECT_EQ(back->config().vision.rms_norm_eps, 1e-6);
    const auto want = media_weights(*src), got = media_weights(*back);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(values_of(*want[i].second), values_of(*got[i].second)) << want[i].first << " " << ggml_type_name(t);
    }
  }
}

TEST(GgufMmproj, F16AndQ8_0StoreTheQuantizedValues) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  testing::TempDir d("mmproj");
  for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0}) {
    const Exported e = export_pair(*src, ckpt, t, d);
    auto back = Model::load(e.text, e.mmproj);
    const auto want = media_weights(*src), got = media_weights(*back);
    for (size_t i = 0; i < want.size(); ++i) {
      const MatrixView& w = *want[i].second;
      // What the file should hold: 1-D tensors f32 (exact); the patch weights f16 only for f16, else f32; the
      // projections and the position table quantized to T row by row.
      const bool one_d = w.rows == 1;
      const bool patch = want[i].first == "dense_w";
      const GgmlType stored = one_d ? GgmlType::F32 : patch ? (t == GgmlType::F16 ? GgmlType::F16 : GgmlType::F32) : t;
      std::vector<double> expect;
      Mat<float> rows;
      convert_rows(w, 0, w.rows, rows);
      // The position table is stored [2, posemb, E]: quantization works on rows of E, which the [posemb, 2·E]
      // view also is, so rows of E can be checked in place.
      const int64_t row_len = want[i].first == "pos_embedding" ? src->config().vision.mm_embed_dim : w.cols;
      std::vector<std::byte> block(ggml_row_size(stored, row_len));
      std::vector<float> back_row(static_cast<size_t>(row_len));
      for (int64_t k = 0; k < rows.size(); k += row_len) {
        quantize_row(stored, rows.data() + k, block.data(), row_len);
        dequantize_row(stored, block.data(), back_row.data(), row_len);
        expect.insert(expect.end(), back_row.begin(), back_row.end());
      }
      EXPECT_EQ(values_of(*got[i].second), expect) << want[i].first << " " << ggml_type_name(t);
    }
  }
}

TEST(GgufMmproj, LayoutAndMetadataAsTheConverterWritesThem) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  testing::TempDir d("mmproj");
  const Exported e = export_pair(*src, ckpt, GgmlType::F32, d);
  auto f = GgufFile::open(e.mmproj);
  EXPECT_EQ(f->get_string("general.architecture"), "clip");
  EXPECT_EQ(f->get_string("general.type"), "mmproj");
  EXPECT_EQ(f->get_string("clip.vision.projector_type"), "gemma4uv");
  EXPECT_EQ(f->get_string("clip.audio.projector_type"), "gemma4ua");
  EXPECT_TRUE(f->get_bool("clip.has_vision_encoder"));
  EXPECT_TRUE(f->get_bool("clip.has_audio_encoder"));
  EXPECT_EQ(f->get_uint("clip.vision.patch_size"), 16u);  // the teacher patch; llama.cpp multiplies by 3
  EXPECT_EQ(f->get_uint("clip.vision.projection_dim"), 64u);
  EXPECT_EQ(f->get_uint("clip.vision.embedding_length"), 64u);
  EXPECT_EQ(f->get_uint("clip.audio.embedding_length"), 640u);
  EXPECT_EQ(f->get_uint("clip.vision.block_count"), 0u);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float("clip.vision.attention.layer_norm_epsilon")), 1e-6f);
  EXPECT_EQ(f->tensors().size(), 11u);

  const VisionWeights& v = *src->vision();
  const int64_t E = 64, n_pos = src->config().vision.mm_posemb_size;
  EXPECT_EQ(f->tensor("v.patch_embd.weight").ne, (std::vector<int64_t>{6912, E}));
  EXPECT_EQ(f->tensor("v.position_embd.weight").ne, (std::vector<int64_t>{E, n_pos, 2}));
  EXPECT_EQ(f->tensor("mm.input_projection.weight").ne, (std::vector<int64_t>{E, 64}));
  EXPECT_EQ(f->tensor("mm.a.input_projection.weight").ne, (std::vector<int64_t>{640, 64}));

  // By hand, spec §7.2: stored column ch·2304 + row·48 + col is checkpoint column (row·48 + col)·3 + ch.
  const std::vector<float> stored = f->dequantize(f->tensor("v.patch_embd.weight"));
  const std::vector<double> dense = values_of(v.dense_w);
  for (int r : {0, 17, 63}) {
    for (auto [ch, row, col] : std::vector<std::tuple<int, int, int>>{{0, 0, 0}, {0, 0, 1}, {1, 0, 0}, {2, 47, 47}, {1, 5, 9}}) {
      EXPECT_EQ(stored[size_t(r * 6912 + ch * 2304 + row * 48 + col)], dense[size_t(r * 6912 + (row * 48 + col) * 3 + ch)])
          << r << " " << ch << " " << row << " " << col;
    }
  }
  const std::vector<float> ln1 = f->dequantize(f->tensor("v.patch_norm.1.weight"));
  const std::vector<double> ln1_src = values_of(v.ln1_w);
  EXPECT_EQ(ln1[1 * 2304 + 3 * 48 + 4], ln1_src[(3 * 48 + 4) * 3 + 1]);
  // The position table: x table (checkpoint axis 0) first, then the y table.
  const std::vector<float> pos = f->dequantize(f->tensor("v.position_embd.weight"));
  const std::vector<double> pos_src = values_of(v.pos_embedding);  // [n_pos, 2, E]
  for (int64_t p : {int64_t{0}, int64_t{7}, n_pos - 1}) {
    for (int axis = 0; axis < 2; ++axis) {
      EXPECT_EQ(pos[size_t((axis * n_pos + p) * E + 5)], pos_src[size_t((p * 2 + axis) * E + 5)]) << p << " " << axis;
    }
  }
}

TEST(GgufMmproj, EmbeddingsThroughTheGgufPairEqualTheCheckpoints) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  testing::TempDir d("mmproj");
  const Exported e = export_pair(*src, ckpt, GgmlType::F32, d);
  auto back = Model::load(e.text, e.mmproj);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  Mat<double> patches(6, 6912);
  for (Eigen::Index i = 0; i < patches.size(); ++i) patches.data()[i] = float(byte(rng)) * (1.0f / 255.0f);
  const std::vector<std::pair<int, int>> xy = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}};
  const Mat<double> a = vision_embed<ExactPolicy>(patches, xy, *src->vision(), src->config().vision, "", nullptr);
  const Mat<double> b = vision_embed<ExactPolicy>(patches, xy, *back->vision(), back->config().vision, "", nullptr);
  EXPECT_EQ(a, b);
  Mat<double> frames(3, 640);
  std::normal_distribution<double> noise(0.0, 0.1);
  for (Eigen::Index i = 0; i < frames.size(); ++i) frames.data()[i] = static_cast<float>(noise(rng));
  EXPECT_EQ(audio_embed<ExactPolicy>(frames, src->audio()->projection, 1e-6, "", nullptr),
            audio_embed<ExactPolicy>(frames, back->audio()->projection, back->config().audio.rms_norm_eps, "", nullptr));
}

TEST(GgufMmproj, BadProjectorFilesAreRefused) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  testing::TempDir d("mmproj");
  const Exported e = export_pair(*src, ckpt, GgmlType::F32, d);
  // A text GGUF is not a projector.
  testing::expect_error([&] { Model::load(e.text, e.text); }, e.text, "general.architecture is 'gemma4'");

  // A copy of the good file with one key or one tensor changed.
  auto rewrite = [&](const std::string& out, const std::string& key, const GgufValue& value, const std::string& tensor,
                     const std::vector<int64_t>& ne) {
    auto f = GgufFile::open(e.mmproj);
    GgufWriter w(out);
    for (const auto& [k, v] : f->metadata()) w.set(k, k == key ? value : v);
    for (const GgufTensor& t : f->tensors()) w.add_tensor(t.name, t.type, t.name == tensor ? ne : t.ne);
    for (const GgufTensor& t : f->tensors()) {
      std::vector<float> vals = f->dequantize(t);
      int64_t n = 1;
      for (int64_t x : t.name == tensor ? ne : t.ne) n *= x;
      vals.resize(static_cast<size_t>(n));
      w.write_tensor_floats(t.name, vals.data(), n);
    }
    w.finish();
  };
  const std::string wrong_type = d / "wrong_type.gguf";
  rewrite(wrong_type, "clip.vision.projector_type", std::string("gemma4v"), "", {});
  testing::expect_error([&] { Model::load(e.text, wrong_type); }, wrong_type, "'gemma4v' (expected 'gemma4uv')");
  const std::string wrong_dim = d / "wrong_dim.gguf";
  rewrite(wrong_dim, "clip.vision.projection_dim", uint32_t{128}, "", {});
  testing::expect_error([&] { Model::load(e.text, wrong_dim); }, wrong_dim, "hidden size is 64");
  const std::string wrong_shape = d / "wrong_shape.gguf";
  rewrite(wrong_shape, "", uint32_t{0}, "v.patch_embd.weight", {6912, 32});
  testing::expect_error([&] { Model::load(e.text, wrong_shape); }, wrong_shape, "'v.patch_embd.weight' has ne [6912, 32]");
  const std::string missing = d / "missing.gguf";
  testing::expect_error([&] { Model::load(e.text, missing); }, missing, "");
}

}  // namespace
}  // namespace g4ref
