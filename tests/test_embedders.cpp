// The multimodal embedders and their placement, on tiny dims worked out step by step from spec §3.2 and §4.
#include <gtest/gtest.h>

#include <cmath>

#include "layers/audio_embedder.h"
#include "layers/layer_norm.h"
#include "layers/vision_embedder.h"
#include "forward/session.h"
#include "model/weights.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

struct Store {
  std::vector<Mat<double>> keep;
  Store() { keep.reserve(32); }
  MatrixView add(std::initializer_list<double> values, int64_t rows, int64_t cols) {
    Mat<double> m(rows, cols);
    int i = 0;
    for (double v : values) m.data()[i++] = v;
    keep.push_back(m);
    return view_of<double>(keep.back());
  }
};

TEST(LayerNorm, ByHand) {
  // x = [1, 2, 3, 6]: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5; y = (x − 3)/sqrt(3.5 + eps)·w + b.
  Mat<double> x(1, 4);
  x << 1, 2, 3, 6;
  Vec<double> w(4), b(4);
  w << 1, 2, 1, 0.5;
  b << 0, 0, 1, -1;
  const Mat<double> y = layer_norm<ExactPolicy>(x, w, b, 1e-5);
  const double s = 1 / std::sqrt(3.5 + 1e-5);
  EXPECT_NEAR(y(0, 0), -2 * s, 1e-15);
  EXPECT_NEAR(y(0, 1), -1 * s * 2, 1e-15);
  EXPECT_NEAR(y(0, 2), 1.0, 1e-15);
  EXPECT_NEAR(y(0, 3), 3 * s * 0.5 - 1, 1e-15);
}

TEST(AudioEmbedder, ZeroFrameGivesZeroAndQuietFramesAreAmplified) {
  // Frames of 4 samples, hidden 2, W = [[1, 0, 0, 0], [0, 0, 0, 1]] picks samples 0 and 3 of the normalized frame.
  Store s;
  const MatrixView W = s.add({1, 0, 0, 0, 0, 0, 0, 1}, 2, 4);
  Mat<double> frames(3, 4);
  frames << 0, 0, 0, 0,            // silence
      1e-4, -1e-4, 1e-4, -1e-4,    // near-silent: RMS 1e-4
      0.5, 0.5, -0.5, -0.5;        // RMS 0.5
  const Mat<double> o = audio_embed<ExactPolicy>(frames, W, 1e-6, "audio.0.", nullptr);
  EXPECT_EQ(o(0, 0), 0.0);
  EXPECT_EQ(o(0, 1), 0.0);
  // Near-silent: mean square 1e-8, so x / sqrt(1e-8 + 1e-6) = 1e-4 / sqrt(1.01e-6) ≈ 0.0995 — eps dominates.
  EXPECT_NEAR(o(1, 0), 1e-4 / std::sqrt(1.01e-6), 1e-15);
  EXPECT_NEAR(o(1, 1), -1e-4 / std::sqrt(1.01e-6), 1e-15);
  EXPECT_NEAR(o(2, 0), 0.5 / std::sqrt(0.25 + 1e-6), 1e-15);
  EXPECT_NEAR(o(2, 1), -0.5 / std::sqrt(0.25 + 1e-6), 1e-15);
}

TEST(VisionEmbedder, StepByStepOnTinyDims) {
  // Patch of 2 values, embedding width E = 2, hidden 2, position table of 3 entries per axis.
  Store s;
  VisionWeights w;
  w.ln1_w = s.add({1, 1}, 1, 2);
  w.ln1_b = s.add({0, 0}, 1, 2);
  w.dense_w = s.add({2, 0, 0, 1}, 2, 2);  // b = [2·a0 + 0.5, a1]
  w.dense_b = s.add({0.5, 0}, 1, 2);
  w.ln2_w = s.add({1, 1}, 1, 2);
  w.ln2_b = s.add({0, 0}, 1, 2);
  // pos_embedding [3, 2, 2]: entry (X, axis) at row X·2 + axis.
  w.pos_embedding = s.add({0.0, 0.0, 0.0, 0.0,     // X or Y = 0
                           0.1, 0.2, 0.3, -0.4,    // 1: x-table [0.1, 0.2], y-table [0.3, -0.4]
                           1.0, 1.0, -1.0, 2.0},   // 2
                          3, 4);
  w.pos_norm_w = s.add({1, 1}, 1, 2);
  w.pos_norm_b = s.add({0, 1}, 1, 2);
  w.projection = s.add({1, 0, 0, 1}, 2, 2);
  VisionConfig vc;
  vc.mm_posemb_size = 3;
  vc.mm_embed_dim = 2;
  Mat<double> patch(1, 2);
  patch << 0.2, 0.6;
  const Mat<double> o = vision_embed<ExactPolicy>(patch, {{1, 2}}, w, vc, "image.0.", nullptr);

  // By hand. LN over two values [p, q]: mean (p+q)/2, variance d² with d = (q−p)/2: [−d, d]/sqrt(d² + eps).
  auto ln2v = [](double p, double q, double eps) {
    const double d = (q - p) / 2;
    return std::pair<double, double>{-d / std::sqrt(d * d + eps), d / std::sqrt(d * d + eps)};
  };
  const auto [a0, a1] = ln2v(0.2, 0.6, 1e-5);
  const double b0 = 2 * a0 + 0.5, b1 = a1;
  const auto [c0, c1] = ln2v(b0, b1, 1e-5);
  // X = 1 → x-table row 2 = [0.1, 0.2]; Y = 2 → y-table row 5 = [−1.0, 2.0].
  const double d0 = c0 + (0.1 - 1.0), d1 = c1 + (0.2 + 2.0);
  const auto [e0, e1n] = ln2v(d0, d1, 1e-5);
  const double e1 = e1n + 1.0;  // pos_norm bias [0, 1]
  const double r = 1 / std::sqrt((e0 * e0 + e1 * e1) / 2 + 1e-6);
  EXPECT_NEAR(o(0, 0), e0 * r, 1e-14);
  EXPECT_NEAR(o(0, 1), e1 * r, 1e-14);
}

TEST(MediaPlacement, FeaturesReplacePlaceholdersInOrder) {
  // The tiny model with one audio clip of 2 frames between text: the embedding rows at the placeholders are the
  // audio embedder's output (unscaled), the others the scaled token rows.
  const std::string dir = testing::tiny_checkpoint();
  auto model = Model::load(dir);
  const ModelConfig& c = model->config();
  struct Keep : Tracer {
    Mat<double> embed, audio;
    bool wants(const std::string& n) const override { return n == "embed.out" || n == "audio.0.out"; }
    void record(const std::string& n, const std::vector<int64_t>& shape, const double* d) override {
      Mat<double>& m = n == "embed.out" ? embed : audio;
      m = Eigen::Map<const Mat<double>>(d, shape[0], shape[1]);
    }
    void record(const std::string&, const std::vector<int64_t>&, const float*) override {}
  } keep;
  auto session = make_session(*model, RunOptions{}, &keep);
  MediaInput clip;
  clip.kind = MediaInput::Kind::audio;
  clip.rows = 2;
  clip.cols = c.audio.audio_embed_dim;
  for (int64_t i = 0; i < clip.rows * clip.cols; ++i) clip.values.push_back(std::sin(0.01 * double(i)));
  const std::vector<int> ids = {2, 30, c.boa_token_id, c.audio_token_id, c.audio_token_id, c.eoa_token_id, 40};
  const std::vector<int> types = {0, 0, 0, 3, 3, 0, 0};
  session->forward(ids, types, LogitRows::last, {clip});
  ASSERT_EQ(keep.audio.rows(), 2);
  EXPECT_EQ(keep.embed.row(3), keep.audio.row(0));
  EXPECT_EQ(keep.embed.row(4), keep.audio.row(1));
  EXPECT_NE(keep.embed.row(2), keep.audio.row(0));

  // Counts must agree.
  auto s2 = make_session(*model, RunOptions{});
  EXPECT_THROW(s2->forward({2, c.audio_token_id}, {0, 3}, LogitRows::last, {clip}), Error);
  auto s3 = make_session(*model, RunOptions{});
  EXPECT_THROW(s3->forward({2, c.audio_token_id, c.audio_token_id, c.audio_token_id}, {0, 3, 3, 3},
                           LogitRows::last, {clip}),
               Error);
}

}  // namespace
}  // namespace g4ref
