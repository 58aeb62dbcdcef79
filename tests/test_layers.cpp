// Every layer against numbers derived by hand from the spec's formulas (small shapes, written out).
#include <gtest/gtest.h>

#include <cmath>
#include <omp.h>
#include <random>
#include <tuple>

#include "forward/kv_cache.h"
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/logits.h"
#include "layers/mlp.h"
#include "layers/rms_norm.h"
#include "layers/rope.h"

namespace g4ref {
namespace {

Mat<double> rows(std::initializer_list<std::initializer_list<double>> r) {
  Mat<double> m(r.size(), r.begin()->size());
  int i = 0;
  for (auto& row : r) {
    int j = 0;
    for (double v : row) m(i, j++) = v;
    ++i;
  }
  return m;
}

// ---- RMSNorm (spec §2.3) ----

TEST(RmsNorm, WeightMultipliesDirectly) {
  // mean(x²) = (1 + 4 + 9 + 16) / 4 = 7.5;  y = x · w / sqrt(7.5 + 1e-6)
  const Mat<double> x = rows({{1, 2, 3, 4}});
  Vec<double> w(4);
  w << 1, 0.5, 2, 1;
  const Mat<double> y = rms_norm<ExactPolicy>(x, 4, &w, 1e-6);
  EXPECT_NEAR(y(0, 0), 0.3651483473268884, 1e-15);
  EXPECT_NEAR(y(0, 1), 0.3651483473268884, 1e-15);
  EXPECT_NEAR(y(0, 2), 2.1908900839613303, 1e-15);
  EXPECT_NEAR(y(0, 3), 1.4605933893075536, 1e-15);
}

TEST(RmsNorm, WeightlessAndPerHead) {
  // Two heads of width 2: [3, 4] has mean square 12.5, [0, 0] stays exactly zero.
  const Mat<double> x = rows({{3, 4, 0, 0}});
  const Mat<double> y = rms_norm<ExactPolicy>(x, 2, nullptr, 1e-6);
  EXPECT_NEAR(y(0, 0), 3 / std::sqrt(12.500001), 1e-15);
  EXPECT_NEAR(y(0, 1), 4 / std::sqrt(12.500001), 1e-15);
  EXPECT_EQ(y(0, 2), 0.0);
  EXPECT_EQ(y(0, 3), 0.0);
}

TEST(RmsNorm, OnePlusWIsTheWrongVariant) {
  const Mat<double> x = rows({{1, 2, 3, 4}});
  Vec<double> w(4);
  w << 1, 0.5, 2, 1;
  const Mat<double> y = rms_norm<ExactPolicy>(x, 4, &w, 1e-6, /*one_plus_w=*/true);
  EXPECT_NEAR(y(0, 1), 2 * 1.5 * 0.3651483473268884, 1e-15);
}

TEST(RmsNorm, Bf16RoundsTheOutputOnce) {
  Mat<float> x(1, 4);
  x << 1, 2, 3, 4;
  const Mat<float> y = rms_norm<BF16Policy>(x, 4, nullptr, 1e-6);
  // 0.36514835 lies between bf16 values 0.36523438 and 0.36328125 (spacing 2^-9): nearest is 0.365234375.
  EXPECT_EQ(y(0, 0), 0.365234375f);
  EXPECT_EQ(y(0, 3), bf16_round(4 * 0.36514835f));
}

// ---- RoPE (spec §2.6) ----

TEST(Rope, DefaultInverseFrequencies) {
  const RopeParams r{"default", 10000.0, 1.0, 1.0};
  const std::vector<float> inv = rope_inv_freq(r, 8);
  ASSERT_EQ(inv.size(), 4u);  // 1 / 10000^(2i/8), i = 0..3
  EXPECT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.1f);
  EXPECT_FLOAT_EQ(inv[2], 0.01f);
  EXPECT_FLOAT_EQ(inv[3], 0.001f);
}

TEST(Rope, ProportionalDenominatorIsTheFullHeadDim) {
  // D = 8, partial 0.5: rope_angles = int(0.5 · 8 // 2) = 2 pairs; inv[i] = 1/10000^(2i/8), then zeros.
  const RopeParams r{"proportional", 10000.0, 0.5, 1.0};
  EXPECT_EQ(rope_rotated_pairs(r, 8), 2);
  const std::vector<float> inv = rope_inv_freq(r, 8);
  EXPECT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.1f);  // not 1/10000^(2/4) = 0.01
  EXPECT_EQ(inv[2], 0.0f);
  EXPECT_EQ(inv[3], 0.0f);
  const std::vector<float> wrong = rope_inv_freq(r, 8, /*rotated_denominator=*/true);
  EXPECT_FLOAT_EQ(wrong[1], 0.01f);
}

TEST(Rope, TwelveBTables) {
  const RopeParams sliding{"default", 10000.0, 1.0, 1.0};
  const RopeParams full{"proportional", 1000000.0, 0.25, 1.0};
  EXPECT_EQ(rope_inv_freq(sliding, 256).size(), 128u);
  const std::vector<float> inv = rope_inv_freq(full, 512);
  ASSERT_EQ(inv.size(), 256u);
  EXPECT_EQ(rope_rotated_pairs(full, 512), 64);
  EXPECT_GT(inv[63], 0.0f);
  EXPECT_FLOAT_EQ(inv[63], static_cast<float>(std::pow(1e6, -126.0 / 512.0)));
  for (int i = 64; i < 256; ++i) EXPECT_EQ(inv[i], 0.0f) << i;
}

TEST(Rope, RotatesPairsJAndJPlusHalf) {
  // D = 4 (pairs (0,2) and (1,3)), theta 10000: inv = [1, 0.01]. Position 1, x = [1, 0, 0, 0]:
  // y[0] = cos 1, y[2] = sin 1; dims 1 and 3 stay 0.
  Mat<double> x = rows({{1, 0, 0, 0}});
  const std::vector<float> inv = rope_inv_freq({"default", 10000.0, 1.0, 1.0}, 4);
  apply_rope<ExactPolicy>(x, 4, {1}, inv);
  EXPECT_NEAR(x(0, 0), std::cos(1.0), 1e-15);
  EXPECT_EQ(x(0, 1), 0.0);
  EXPECT_NEAR(x(0, 2), std::sin(1.0), 1e-15);
  EXPECT_EQ(x(0, 3), 0.0);
  // x = [0, 0, 1, 0] at position 2: y[0] = −sin 2, y[2] = cos 2.
  Mat<double> z = rows({{0, 0, 1, 0}});
  apply_rope<ExactPolicy>(z, 4, {2}, inv);
  EXPECT_NEAR(z(0, 0), -std::sin(2.0), 1e-15);
  EXPECT_NEAR(z(0, 2), std::cos(2.0), 1e-15);
  // Position 0 is the identity.
  Mat<double> w = rows({{0.3, -0.7, 1.1, 2.5}});
  const Mat<double> w0 = w;
  apply_rope<ExactPolicy>(w, 4, {0}, inv);
  EXPECT_EQ(w, w0);
}

template <class P>
void check_proportional_pass_through() {
  using T = typename P::T;
  // Full-layer shape of the 12B: D = 512, 64 rotated pairs: dims 0–63 and 256–319 rotate, all others pass
  // through bit-exactly (c = 1, s = 0), in every precision.
  const RopeParams full{"proportional", 1000000.0, 0.25, 1.0};
  const std::vector<float> inv = rope_inv_freq(full, 512);
  std::mt19937 gen(7);
  std::normal_distribution<float> dist;
  Mat<T> x(3, 2 * 512);  // 3 tokens, 2 heads
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = P::round(static_cast<T>(dist(gen)));
  const Mat<T> before = x;
  apply_rope<P>(x, 512, {5, 1000, 262143}, inv);
  for (int t = 0; t < 3; ++t) {
    for (int h = 0; h < 2; ++h) {
      for (int d = 0; d < 512; ++d) {
        const bool rotated = d < 64 || (d >= 256 && d < 320);
        const T a = before(t, h * 512 + d), b = x(t, h * 512 + d);
        if (!rotated) {
          ASSERT_EQ(std::memcmp(&a, &b, sizeof(T)), 0) << "dim " << d << " changed";
        } else if (d == 10) {
          ASSERT_NE(a, b) << "dim " << d << " did not rotate";
        }
      }
    }
  }
}

TEST(Rope, ProportionalPassThroughIsBitExact) {
  check_proportional_pass_through<ExactPolicy>();
  check_proportional_pass_through<F32Policy>();
  check_proportional_pass_through<BF16Policy>();
}

// ---- Masks (spec §2.7) ----

// 8 tokens: text, image block of 5 (positions 1..5), text, audio; window W = 3.
// Rows are queries q = 0..7, columns keys k = 0..7, '1' = allowed. Worked out by hand from
// allowed = (k ≤ q or same_block) and window.
std::string mask_table(const MaskRule& rule) {
  const std::vector<int> types = {0, 1, 1, 1, 1, 1, 0, 3};
  const std::vector<int> blocks = block_ids_from_token_types(types);
  std::string s;
  for (int q = 0; q < 8; ++q) {
    for (int k = 0; k < 8; ++k) s += attention_allowed(rule, q, k, blocks[q], blocks[k]) ? '1' : '.';
    s += '\n';
  }
  return s;
}

TEST(Mask, BlockIds) {
  EXPECT_EQ(block_ids_from_token_types({0, 1, 1, 0, 2, 2, 3, 3, 1}),
            (std::vector<int>{-1, 0, 0, -1, 1, 1, -1, -1, 2}));
  EXPECT_EQ(block_ids_from_token_types({1, 1, 2, 2}, 5), (std::vector<int>{5, 5, 6, 6}));  // a type change splits
}

TEST(Mask, FullLayersAreCausalOnly) {
  MaskRule r;
  r.layer_type = LayerType::full;
  r.window = 3;
  EXPECT_EQ(mask_table(r),
            "1.......\n"
            "11......\n"
            "111.....\n"
            "1111....\n"
            "11111...\n"
            "111111..\n"
            "1111111.\n"
            "11111111\n");
}

TEST(Mask, FullLayersBidirectionalInsideImagesOnlyWhenSwitched) {
  // llama.cpp before PR #28335 (switch ImageAttention::all_layers): the image block (1..5) is bidirectional on full
  // layers too, with no window; text and audio stay causal.
  MaskRule r;
  r.layer_type = LayerType::full;
  r.window = 3;
  r.image_attention = ImageAttention::all_layers;
  EXPECT_EQ(mask_table(r),
            "1.......\n"
            "111111..\n"
            "111111..\n"
            "111111..\n"
            "111111..\n"
            "111111..\n"
            "1111111.\n"
            "11111111\n");
  r.layer_type = LayerType::sliding;  // sliding layers do not change
  MaskRule hf = r;
  hf.image_attention = ImageAttention::sliding_layers;
  EXPECT_EQ(mask_table(r), mask_table(hf));
}

TEST(Mask, SlidingLowerBoundWithImageBlockLongerThanWindow) {
  // Window edge: q sees k > q − 3 (q = 3 no longer sees k = 0). The image block (1..5) is bidirectional but
  // still bounded below: q = 1 sees the future keys 2..5 of its block; q = 5 does not see k = 1, 2.
  // The audio token (7) is never bidirectional.
  MaskRule r;
  r.layer_type = LayerType::sliding;
  r.window = 3;
  EXPECT_EQ(mask_table(r),
            "1.......\n"
            "111111..\n"
            "111111..\n"
            ".11111..\n"
            "..1111..\n"
            "...111..\n"
            "....111.\n"
            ".....111\n");
}

TEST(Mask, SlidingSymmetricWindow) {
  // Official JAX: |q − k| < 3 also bounds the block from above: q = 1 no longer sees k = 4, 5, q = 2 not k = 5.
  MaskRule r;
  r.layer_type = LayerType::sliding;
  r.window = 3;
  r.variant = WindowVariant::symmetric;
  EXPECT_EQ(mask_table(r),
            "1.......\n"
            "1111....\n"
            "11111...\n"
            ".11111..\n"
            "..1111..\n"
            "...111..\n"
            "....111.\n"
            ".....111\n");
}

TEST(Mask, WindowOffByOneIsTheWrongVariant) {
  MaskRule r;
  r.window = 3;
  EXPECT_FALSE(attention_allowed(r, 6, 3, -1, -1));
  r.window_off_by_one = true;
  EXPECT_TRUE(attention_allowed(r, 6, 3, -1, -1));
}

// ---- Attention (spec §2.5) ----

// A stored-weight view of a small double matrix.
struct Weights {
  std::vector<Mat<double>> keep;
  MatrixView add(const Mat<double>& m, const std::string& name) {
    keep.push_back(m);
    return view_of<double>(keep.back(), name);
  }
};

TEST(Attention, TwoTokensByHand) {
  // hidden 2, one head, D = 2, identity projections, unit q/k norms, theta 10000 (one pair, inv = 1).
  // x0 = [1, 0], x1 = [0, 1]. After the per-head RMSNorm each is scaled by a = 1/sqrt(0.5 + 1e-6).
  // RoPE: position 0 unchanged; q1 = k1 = a·[−sin 1, cos 1]. V is not rotated: v0 = a·[1, 0], v1 = a·[0, 1].
  // Row 0 sees only itself: out0 = v0. Row 1: s10 = q1·k0 = −a² sin 1, s11 = q1·k1 = a²; softmax; out1 = p·V.
  Weights w;
  w.keep.reserve(16);
  LayerWeights L;
  const Mat<double> I = Mat<double>::Identity(2, 2);
  L.q = w.add(I, "q");
  L.k = w.add(I, "k");
  L.v = w.add(I, "v");
  L.o = w.add(I, "o");
  L.q_norm = w.add(Mat<double>::Ones(1, 2), "q_norm");
  L.k_norm = w.add(Mat<double>::Ones(1, 2), "k_norm");
  AttentionShape a{0, LayerType::full, 1, 1, 2, 1e-6};
  MaskRule rule;
  rule.layer_type = LayerType::full;
  LayerCache<double> cache;
  const std::vector<float> inv = {1.0f};
  const Mat<double> y = attention<ExactPolicy>(rows({{1, 0}, {0, 1}}), L, a, rule, inv, {0, 1}, {-1, -1},
                                               Deviations{}, cache, nullptr);
  const double s = 1.0 / std::sqrt(0.5 + 1e-6);
  EXPECT_NEAR(y(0, 0), s, 1e-14);
  EXPECT_NEAR(y(0, 1), 0.0, 1e-14);
  const double s10 = -s * s * std::sin(1.0), s11 = s * s;
  const double p0 = std::exp(s10) / (std::exp(s10) + std::exp(s11));
  EXPECT_NEAR(y(1, 0), p0 * s, 1e-14);
  EXPECT_NEAR(y(1, 1), (1 - p0) * s, 1e-14);
  EXPECT_EQ(cache.size(), 2);
}

TEST(Attention, KEqVTakesVFromTheRawKProjection) {
  // One token at position 0 attends only to itself, so the output is its V. With no v_proj (k_eq_v),
  // V = weightless RMSNorm of the raw K projection [1, 3]: [1, 3] / sqrt(5 + 1e-6) — k_norm's weight [2, 0.5]
  // must not reach it. The wrong variant (V after k_norm) normalizes k_norm's output [2, 1.5]·c, c = 1/sqrt(5 + 1e-6):
  // [2, 1.5]·c / sqrt(3.125·c² + 1e-6) = [2, 1.5] / sqrt(3.125 + 1e-6 · (5 + 1e-6)).
  Weights w;
  w.keep.reserve(16);
  LayerWeights L;
  const Mat<double> I = Mat<double>::Identity(2, 2);
  L.q = w.add(I, "q");
  L.k = w.add(I, "k");
  L.o = w.add(I, "o");
  L.q_norm = w.add(Mat<double>::Ones(1, 2), "q_norm");
  L.k_norm = w.add(rows({{2, 0.5}}), "k_norm");
  AttentionShape a{0, LayerType::full, 1, 1, 2, 1e-6};
  MaskRule rule;
  rule.layer_type = LayerType::full;
  const std::vector<float> inv = {0.0f};
  LayerCache<double> cache;
  const Mat<double> y =
      attention<ExactPolicy>(rows({{1, 3}}), L, a, rule, inv, {0}, {-1}, Deviations{}, cache, nullptr);
  EXPECT_NEAR(y(0, 0), 1 / std::sqrt(5.000001), 1e-14);
  EXPECT_NEAR(y(0, 1), 3 / std::sqrt(5.000001), 1e-14);
  Deviations wrong;
  wrong.v_after_k_norm = true;
  LayerCache<double> cache2;
  const Mat<double> z = attention<ExactPolicy>(rows({{1, 3}}), L, a, rule, inv, {0}, {-1}, wrong, cache2, nullptr);
  EXPECT_NEAR(z(0, 0), 2 / std::sqrt(3.125 + 1e-6 * 5.000001), 1e-14);
}

TEST(Attention, GqaQueryHeadsShareKvHeads) {
  // 4 query heads on 2 KV heads, D = 2, one token: each head outputs its KV head's V. v_proj maps the token
  // [1, 2] to KV head 0 = [1, 0] · c and KV head 1 = [0, 1] · c; after the weightless norm: [√2, 0] and [0, √2]
  // (eps aside). Heads 0, 1 read KV head 0; heads 2, 3 read KV head 1.
  Weights w;
  w.keep.reserve(16);
  LayerWeights L;
  L.q = w.add(Mat<double>::Ones(8, 2), "q");
  L.k = w.add(Mat<double>::Ones(4, 2), "k");
  L.v = w.add(rows({{1, 0}, {0, 0}, {0, 0}, {0, 1}}), "v");
  L.o = w.add(Mat<double>::Identity(8, 8), "o");
  L.q_norm = w.add(Mat<double>::Ones(1, 2), "q_norm");
  L.k_norm = w.add(Mat<double>::Ones(1, 2), "k_norm");
  AttentionShape a{0, LayerType::sliding, 4, 2, 2, 1e-6};
  MaskRule rule;
  rule.window = 4;
  LayerCache<double> cache;
  Mat<double> x(1, 8);
  x.setZero();
  x(0, 0) = 1;
  x(0, 1) = 2;
  const Mat<double> x2 = x.leftCols(2);
  const Mat<double> y = attention<ExactPolicy>(x2, L, a, rule, {1.0f}, {0}, {-1}, Deviations{}, cache, nullptr);
  const double r = std::sqrt(2.0);
  const double head_kv0[2] = {1 / std::sqrt(0.5 + 1e-6), 0};
  const double head_kv1[2] = {0, 2 / std::sqrt(2.0 + 1e-6)};
  (void)r;
  for (int h = 0; h < 4; ++h) {
    const double* e = h < 2 ? head_kv0 : head_kv1;
    EXPECT_NEAR(y(0, 2 * h), e[0], 1e-14) << "head " << h;
    EXPECT_NEAR(y(0, 2 * h + 1), e[1], 1e-14) << "head " << h;
  }
}

// ---- MLP, softcap, embedding (spec §2.8, §2.9, §2.2) ----

TEST(Mlp, GeluTanhByHand) {
  // 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))
  EXPECT_NEAR(gelu_tanh(1.0), 0.8411919906082768, 1e-15);
  EXPECT_NEAR(gelu_tanh(-1.0), -0.15880800939172324, 1e-15);
  EXPECT_NEAR(gelu_tanh(2.5), 2.484915733910001, 1e-15);
  EXPECT_EQ(gelu_tanh(0.0), 0.0);
}

TEST(Mlp, GeGluByHand) {
  // hidden 2, intermediate 2: gate = x, up = 2x, down = identity: y = gelu(x) · 2x.
  Weights w;
  w.keep.reserve(8);
  LayerWeights L;
  L.gate = w.add(Mat<double>::Identity(2, 2), "gate");
  L.up = w.add(2 * Mat<double>::Identity(2, 2), "up");
  L.down = w.add(Mat<double>::Identity(2, 2), "down");
  const Mat<double> y = mlp<ExactPolicy>(rows({{1, -1}}), L, "", nullptr);
  EXPECT_NEAR(y(0, 0), 0.8411919906082768 * 2, 1e-15);
  EXPECT_NEAR(y(0, 1), -0.15880800939172324 * -2, 1e-15);
}

TEST(Logits, SoftcapByHand) {
  EXPECT_NEAR(softcap<ExactPolicy>(30.0, 30.0), 22.847824678672946, 1e-13);  // 30·tanh(1)
  EXPECT_NEAR(softcap<ExactPolicy>(40.0, 30.0), 26.101849852280157, 1e-13);
  // bf16, each step rounded: 30/30 = 1; tanh 1 = 0.76159 -> 0.76171875; × 30 = 22.8515625 -> 22.875.
  EXPECT_EQ(softcap<BF16Policy>(30.0f, 30.0), 22.875f);
  // 40/30 -> 1.3359375; tanh -> 0.870693 -> 0.87109375; × 30 = 26.1328125 -> 26.125.
  EXPECT_EQ(softcap<BF16Policy>(40.0f, 30.0), 26.125f);
}

TEST(Embedding, ScaleFollowsTheTableDtype) {
  EXPECT_EQ(embedding_scale(3840, DType::BF16, EmbedScale::hf), 62.0);
  EXPECT_EQ(embedding_scale(3840, DType::F16, EmbedScale::hf), 61.96875);
  EXPECT_EQ(embedding_scale(3840, DType::F32, EmbedScale::hf), static_cast<double>(std::sqrt(3840.0f)));
  EXPECT_EQ(embedding_scale(3840, DType::BF16, EmbedScale::llamacpp), static_cast<double>(std::sqrt(3840.0f)));
}

TEST(Embedding, RowsTimesScaleAndBadIds) {
  Weights w;
  w.keep.reserve(2);
  const MatrixView table = w.add(rows({{1, 2}, {0.5, -0.25}, {3, 4}}), "embed");
  const Mat<double> h = embed_tokens<ExactPolicy>(table, {1, 0}, 62.0);
  EXPECT_EQ(h(0, 0), 31.0);
  EXPECT_EQ(h(0, 1), -15.5);
  EXPECT_EQ(h(1, 1), 124.0);
  EXPECT_THROW(embed_tokens<ExactPolicy>(table, {3}, 62.0), Error);
}

// ---- The matrix product (DESIGN "Performance rules") ----

TEST(Matmul, MatchesNaiveSumAndIsThreadInvariant) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> dist(-1, 1);
  const int n = 70, k = 300, m = 600;  // several row blocks and column blocks, ragged edges
  Mat<double> x(n, k);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = dist(gen);
  std::vector<uint16_t> wbits(m * k);
  for (auto& b : wbits) b = float_to_bf16_bits(dist(gen));
  MatrixView w{DType::BF16, reinterpret_cast<const std::byte*>(wbits.data()), m, k, "w"};
  omp_set_num_threads(1);
  const Mat<double> y1 = matmul_nt<double>(x, w);
  omp_set_num_threads(2);
  const Mat<double> y2 = matmul_nt<double>(x, w);
  omp_set_num_threads(0 + omp_get_num_procs());
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), sizeof(double) * y1.size()), 0) << "1 vs 2 threads differ";
  double worst = 0;
  for (int i = 0; i < n; i += 7) {
    for (int j = 0; j < m; j += 13) {
      double s = 0;
      for (int t = 0; t < k; ++t) s += x(i, t) * bf16_bits_to_float(wbits[j * k + t]);
      worst = std::max(worst, std::abs(s - y1(i, j)));
    }
  }
  EXPECT_LT(worst, 1e-12);
}

// Decode-sized products (at most kFewRows rows) take the row-at-a-time path with a fixed order of partial sums:
// against a long double sum it must agree to float64 rounding, at a ragged k and an odd byte offset of the stored
// bf16 data (a shifted mapping); float too; and the same on 1 and 2 threads, with the non-finite check intact.
TEST(Matmul, FewRowPathMatchesALongDoubleSumAtAnyAlignment) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> dist(-1, 1);
  // k not a multiple of 8, 16 or 32; m past one column block, and its last block (45 rows) not a multiple of the
  // rows the one-row path takes at once (8 in float, 6 then 4 in float64)
  const int k = 3843, m = 301;
  std::vector<uint16_t> bits(static_cast<size_t>(m) * k);
  for (auto& b : bits) b = float_to_bf16_bits(dist(gen));
  std::vector<std::byte> shifted(bits.size() * 2 + 1);
  std::memcpy(shifted.data() + 1, bits.data(), bits.size() * 2);  // odd address: no 2-byte alignment
  MatrixView w{DType::BF16, shifted.data() + 1, m, k, "w"};
  ASSERT_LE(3, kFewRows);
  Mat<double> x(3, k);
  // Activations with all 53 bits of a double, as the model's are: a float's 24 bits times a bf16's 8 fit in a
  // double exactly, so with float-valued activations a fused multiply-add would round just as the separate
  // multiply and add do, and the order checks below could not see one.
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = dist(gen) + 1e-9 * dist(gen);
  omp_set_num_threads(1);
  const Mat<double> y1 = matmul_nt<double>(x, w);
  omp_set_num_threads(2);
  const Mat<double> y2 = matmul_nt<double>(x, w);
  const Mat<float> yf = matmul_nt<float>(x.cast<float>(), w);
  omp_set_num_threads(0 + omp_get_num_procs());
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), sizeof(double) * y1.size()), 0) << "1 vs 2 threads differ";
  double worst = 0, worst_f = 0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < m; ++j) {
      long double s = 0;
      for (int t = 0; t < k; ++t) s += static_cast<long double>(x(i, t)) * bf16_bits_to_float(bits[j * k + t]);
      worst = std::max(worst, static_cast<double>(std::abs(s - static_cast<long double>(y1(i, j)))));
      worst_f = std::max(worst_f, static_cast<double>(std::abs(s - static_cast<long double>(yf(i, j)))));
    }
  }
  EXPECT_LT(worst, 1e-13);   // sums of ~4k terms of size <= 1: float64 rounding is ~1e-14
  EXPECT_LT(worst_f, 1e-3);  // float: ~1e-5 expected
  EXPECT_GT(worst_f, 0.0);   // the float path really computed in float
  // The documented order of the few-row path, written out here: in float64, lane l sums the products of the
  // elements ≡ l mod 32 in increasing order, the 32 lanes combine pairwise (((0+1)+(2+3))+((4+5)+(6+7)))+… , then
  // the tail of k mod 32 is added in order. Every row, and one row alone (the one-row path, converting as it
  // multiplies), give exactly that sum: the result does not depend on the other rows.
  const Mat<double> y_one = matmul_nt<double>(x.topRows(1), w);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < m; ++j) {
      double lane[32] = {}, tail = 0;
      const int full = k / 32 * 32;
      for (int t = 0; t < full; ++t) lane[t % 32] += x(i, t) * static_cast<double>(bf16_bits_to_float(bits[j * k + t]));
      for (int t = full; t < k; ++t) tail += x(i, t) * static_cast<double>(bf16_bits_to_float(bits[j * k + t]));
      double level[32];
      std::copy(lane, lane + 32, level);
      for (int width = 32; width > 1; width /= 2) {
        for (int p = 0; p < width / 2; ++p) level[p] = level[2 * p] + level[2 * p + 1];
      }
      const double want = level[0] + tail;
      ASSERT_EQ(y1(i, j), want) << i << ", " << j;
      if (i == 0) {
        ASSERT_EQ(y_one(0, j), want) << j;
      }
    }
  }
  // The same in float, with 8 lanes: products and sums rounded to float at each step, in the order written out.
  const Mat<float> xf = x.cast<float>();
  const Mat<float> yf_one = matmul_nt<float>(xf.topRows(1), w);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < m; ++j) {
      float lane[8] = {}, tail = 0;
      const int full = k / 8 * 8;
      for (int t = 0; t < full; ++t) {
        const float p = xf(i, t) * bf16_bits_to_float(bits[j * k + t]);
        lane[t % 8] = lane[t % 8] + p;
      }
      for (int t = full; t < k; ++t) {
        const float p = xf(i, t) * bf16_bits_to_float(bits[j * k + t]);
        tail = tail + p;
      }
      const float want = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
      ASSERT_EQ(yf(i, j), want + tail) << "float, " << i << ", " << j;
      if (i == 0) {
        ASSERT_EQ(yf_one(0, j), want + tail) << "float, one row, " << j;
      }
    }
  }
  // A non-finite stored value is still caught on this path, naming the tensor and the element, in float64 and float:
  // early in a row, in the tail of the last chunk of another, and in the last row (taken alone by the one-row path).
  for (auto [row, col, value] : {std::tuple{7, 11, uint16_t{0x7FC0}}, std::tuple{9, k - 2, uint16_t{0xFF80}},
                                 std::tuple{m - 1, 5, uint16_t{0x7F80}}}) {
    std::vector<uint16_t> bad = bits;
    bad[static_cast<size_t>(row) * k + col] = value;  // NaN, -inf, +inf
    std::memcpy(shifted.data() + 1, bad.data(), bad.size() * 2);
    const std::string at = "[" + std::to_string(row) + ", " + std::to_string(col) + "]";
    for (const Mat<double>& rows : {Mat<double>(x), Mat<double>(x.topRows(1))}) {  // few-row and one-row paths
      try {
        (void)matmul_nt<double>(rows, w);
        ADD_FAILURE() << "non-finite weight accepted at " << at << " with " << rows.rows() << " rows";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(at), std::string::npos) << e.what();
      }
      try {
        (void)matmul_nt<float>(rows.cast<float>(), w);
        ADD_FAILURE() << "non-finite weight accepted in float at " << at << " with " << rows.rows() << " rows";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(at), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace g4ref
