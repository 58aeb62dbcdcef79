// GGUF export and import of the text model (spec §7.1): the tiny checkpoint written as llama.cpp's converter
// would write it, read back, and compared weight by weight and logit by logit with the safetensors model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

#include <fstream>

#include "io/gguf.h"
#include "prompt/tokenizer.h"
#include "convert/gguf_export.h"
#include "model/gguf_names.h"
#include "forward/session.h"
#include "model/weights.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

const std::vector<int> kPrompt = {2, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50};

Eigen::MatrixXd logits_of(const Model& m) {
  RunOptions o;
  o.threads = 1;
  return make_session(m, o)->forward(kPrompt, {}, LogitRows::all);
}

// All text weights of a model by checkpoint name, decoded to double.
std::map<std::string, Mat<double>> weights_of(const Model& m) {
  std::map<std::string, Mat<double>> out;
  const ModelConfig& c = m.config();
  const TextWeights& w = m.text();
  auto put = [&](const std::string& name, const MatrixView& v) { convert_rows(v, 0, v.rows, out[name]); };
  put("embed", w.embed);
  put("final_norm", w.final_norm);
  for (int l = 0; l < c.text.num_hidden_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    const std::string p = std::to_string(l) + ".";
    for (auto [n, v] : std::vector<std::pair<std::string, const MatrixView*>>{
             {"in", &L.input_norm}, {"pa", &L.post_attn_norm}, {"pf", &L.pre_ffn_norm}, {"po", &L.post_ffn_norm},
             {"ls", &L.layer_scalar}, {"q", &L.q}, {"k", &L.k}, {"o", &L.o}, {"qn", &L.q_norm},
             {"kn", &L.k_norm}, {"g", &L.gate}, {"u", &L.up}, {"d", &L.down}}) {
      put(p + n, *v);
    }
    if (L.v.data) put(p + "v", L.v);
  }
  return out;
}

std::unique_ptr<Model> export_and_load(const std::string& type, testing::TempDir& d) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  const std::string out = d / ("tiny_" + type + ".gguf");
  export_text_gguf(*src, ckpt, parse_gguf_export_type(type), out);
  return Model::load(out);
}

TEST(GgufExport, F32AndBF16RoundTripBitForBitAndLogitsIdentical) {
  auto src = Model::load(testing::tiny_checkpoint());
  const auto want = weights_of(*src);
  const Eigen::MatrixXd want_logits = logits_of(*src);
  for (const std::string type : {"f32", "bf16"}) {
    testing::TempDir d("gguf_export");
    auto m = export_and_load(type, d);
    EXPECT_EQ(m->config().text.layer_types, src->config().text.layer_types);
    EXPECT_EQ(m->config().text.rope_full.partial_rotary_factor, src->config().text.rope_full.partial_rotary_factor);
    EXPECT_EQ(m->config().eoi_token_id, src->config().eoi_token_id);
    const auto got = weights_of(*m);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [name, w] : want) {
      const Mat<double>& g = got.at(name);
      ASSERT_EQ(g.rows(), w.rows()) << type << " " << name;
      ASSERT_EQ(g.cols(), w.cols()) << type << " " << name;
      EXPECT_EQ(std::memcmp(g.data(), w.data(), sizeof(double) * w.size()), 0) << type << " " << name;
    }
    const Eigen::MatrixXd l = logits_of(*m);
    ASSERT_EQ(l.size(), want_logits.size());
    EXPECT_EQ(std::memcmp(l.data(), want_logits.data(), sizeof(double) * l.size()), 0) << type;
  }
}

TEST(GgufExport, QuantizedWeightsEqualQuantizeThenDequantizeAndTheModelRuns) {
  auto src = Model::load(testing::tiny_checkpoint());
  const auto orig = weights_of(*src);
  const Eigen::MatrixXd ref_logits = logits_of(*src);
  for (const std::string type : {"q8_0", "q4_0", "q4_k", "q6_k"}) {
    testing::TempDir d("gguf_export");
    auto m = export_and_load(type, d);
    const auto got = weights_of(*m);
    const GgmlType requested = parse_gguf_export_type(type);
    for (const auto& [name, w] : orig) {
      const Mat<double>& g = got.at(name);
      ASSERT_EQ(g.size(), w.size());
      if (w.rows() == 1) {  // 1-D tensors are always F32: exact
        EXPECT_EQ(std::memcmp(g.data(), w.data(), sizeof(double) * w.size()), 0) << type << " " << name;
        continue;
      }
      const GgmlType st = gguf_storage_type(requested, {w.cols(), w.rows()});
      std::vector<float> row(w.cols()), back(w.cols());
      std::vector<std::byte> q(ggml_row_size(st, w.cols()));
      for (Eigen::Index r = 0; r < w.rows(); ++r) {
        for (Eigen::Index i = 0; i < w.cols(); ++i) row[i] = static_cast<float>(w(r, i));
        quantize_row(st, row.data(), q.data(), w.cols());
        dequantize_row(st, q.data(), back.data(), w.cols());
        for (Eigen::Index i = 0; i < w.cols(); ++i) {
          ASSERT_EQ(g(r, i), static_cast<double>(back[i])) << type << " " << name << " row " << r << " col " << i;
        }
      }
    }
    const Eigen::MatrixXd l = logits_of(*m);
    ASSERT_TRUE(l.allFinite()) << type;
    const double rel = (l - ref_logits).cwiseAbs().maxCoeff() / ref_logits.cwiseAbs().maxCoeff();
    std::cout << "[ measured ] " << type << " GGUF vs bf16 safetensors, max relative logit difference: " << rel << "\n";
    EXPECT_LT(rel, 0.5) << type;
  }
}

TEST(GgufExport, StorageTypeFallsBackWhenTheRowIsNotWholeBlocks) {
  EXPECT_EQ(gguf_storage_type(GgmlType::Q4_K, {3840, 8}), GgmlType::Q4_K);
  EXPECT_EQ(gguf_storage_type(GgmlType::Q4_K, {64, 8}), GgmlType::Q4_0);
  EXPECT_EQ(gguf_storage_type(GgmlType::Q6_K, {64, 8}), GgmlType::Q8_0);
  EXPECT_EQ(gguf_storage_type(GgmlType::Q8_0, {48, 8}), GgmlType::F16);
  EXPECT_EQ(gguf_storage_type(GgmlType::Q8_0, {64}), GgmlType::F32);
}

TEST(GgufExport, KQuantMatrixViewDecodesRowsAsGgmlDoes) {
  // The tiny model's rows are too short for K-quants; a 512-wide matrix exercises them through MatrixView.
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0}) {
    const int64_t rows = 300, cols = 512;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    std::vector<float> src(rows * cols);
    for (float& x : src) x = nd(rng);
    const size_t rb = ggml_row_size(t, cols);
    std::vector<std::byte> bytes(rb * rows);
    for (int64_t r = 0; r < rows; ++r) quantize_row(t, src.data() + r * cols, bytes.data() + r * rb, cols);
    MatrixView v;
    v.data = bytes.data();
    v.rows = rows;
    v.cols = cols;
    v.quant = t;
    Mat<double> got;
    convert_rows(v, 0, rows, got);
    std::vector<float> want(cols);
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(t, bytes.data() + r * rb, want.data(), cols);
      for (int64_t i = 0; i < cols; ++i) ASSERT_EQ(got(r, i), static_cast<double>(want[i])) << ggml_type_name(t);
    }
    Mat<double> x = Mat<double>::Random(3, cols);
    const Mat<double> y = matmul_nt<double>(x, v);
    const Mat<double> y_ref = x * got.transpose();
    EXPECT_LT((y - y_ref).cwiseAbs().maxCoeff(), 1e-12) << ggml_type_name(t);
  }
}

TEST(GgufExport, MetadataAsLlamaCppWritesIt) {
  const std::string ckpt = testing::tiny_checkpoint();
  auto src = Model::load(ckpt);
  const TextConfig& t = src->config().text;
  testing::TempDir d("gguf_export");
  const std::string out = d / "tiny.gguf";
  export_text_gguf(*src, ckpt, GgmlType::BF16, out);
  auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_string("general.architecture"), "gemma4");
  EXPECT_EQ(f->get_uint("general.file_type"), 32u);
  EXPECT_EQ(f->get_uint("gemma4.context_length"), 262144u);
  EXPECT_EQ(f->get_uint("gemma4.embedding_length"), static_cast<uint64_t>(t.hidden_size));
  EXPECT_EQ(f->get_uint("gemma4.block_count"), static_cast<uint64_t>(t.num_hidden_layers));
  EXPECT_EQ(f->get_uint("gemma4.feed_forward_length"), static_cast<uint64_t>(t.intermediate_size));
  EXPECT_EQ(f->get_uint("gemma4.attention.head_count"), static_cast<uint64_t>(t.num_attention_heads));
  EXPECT_EQ(f->get_uint("gemma4.attention.key_length"), static_cast<uint64_t>(t.global_head_dim));
  EXPECT_EQ(f->get_uint("gemma4.attention.value_length"), static_cast<uint64_t>(t.global_head_dim));
  EXPECT_EQ(f->get_uint("gemma4.attention.key_length_swa"), static_cast<uint64_t>(t.head_dim));
  EXPECT_EQ(f->get_uint("gemma4.attention.value_length_swa"), static_cast<uint64_t>(t.head_dim));
  EXPECT_EQ(f->get_uint("gemma4.rope.dimension_count"), static_cast<uint64_t>(t.global_head_dim));
  EXPECT_EQ(f->get_uint("gemma4.rope.dimension_count_swa"), static_cast<uint64_t>(t.head_dim));
  EXPECT_EQ(f->get_uint("gemma4.attention.sliding_window"), static_cast<uint64_t>(t.sliding_window));
  EXPECT_EQ(f->get_uint("gemma4.attention.shared_kv_layers"), 0u);
  EXPECT_EQ(f->get_uint("gemma4.embedding_length_per_layer_input"), 0u);
  EXPECT_EQ(f->get_float("gemma4.rope.freq_base"), 1e6);
  EXPECT_EQ(f->get_float("gemma4.rope.freq_base_swa"), 1e4);
  EXPECT_EQ(f->get_float("gemma4.final_logit_softcapping"), 30.0);
  EXPECT_FLOAT_EQ(f->get_float("gemma4.attention.layer_norm_rms_epsilon"), 1e-6);
  const GgufArray& kv = f->get_array("gemma4.attention.head_count_kv");
  const GgufArray& swa = f->get_array("gemma4.attention.sliding_window_pattern");
  ASSERT_EQ(kv.items.size(), static_cast<size_t>(t.num_hidden_layers));
  for (int l = 0; l < t.num_hidden_layers; ++l) {
    EXPECT_EQ(std::get<int32_t>(kv.items[l]), t.layer_kv_heads(l));
    EXPECT_EQ(std::get<bool>(swa.items[l]), !t.is_full(l));
  }
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gemma4");
  EXPECT_EQ(f->get_array("tokenizer.ggml.tokens").items.size(), static_cast<size_t>(t.vocab_size));
  EXPECT_EQ(std::get<std::string>(f->get_array("tokenizer.ggml.tokens").items[2]), "<bos>");
  EXPECT_EQ(std::get<int32_t>(f->get_array("tokenizer.ggml.token_type").items[2]), 3);  // control
  EXPECT_FALSE(f->get_array("tokenizer.ggml.merges").items.empty());
  EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), 2u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.eos_token_id"), 1u);
  EXPECT_EQ(f->get_uint("tokenizer.ggml.padding_token_id"), 0u);
  EXPECT_TRUE(f->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(f->get_bool("tokenizer.ggml.add_space_prefix"));
  const GgufArray& sup = f->get_array("tokenizer.ggml.suppress_tokens");
  ASSERT_EQ(sup.items.size(), 2u);
  EXPECT_EQ(std::get<int32_t>(sup.items[0]), src->config().eoa_token_id);
  EXPECT_EQ(std::get<int32_t>(sup.items[1]), src->config().eoi_token_id);
  // Tensors: names, reversed shapes, F32 norms, rope_freqs.
  const GgufTensor& q = f->tensor("blk.0.attn_q.weight");
  EXPECT_EQ(q.ne, (std::vector<int64_t>{t.hidden_size, int64_t(t.num_attention_heads) * t.head_dim}));
  EXPECT_EQ(q.type, GgmlType::BF16);
  EXPECT_EQ(f->tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  EXPECT_EQ(f->tensor("blk.0.layer_output_scale.weight").ne, (std::vector<int64_t>{1}));
  EXPECT_TRUE(f->find_tensor("blk.0.attn_v.weight"));
  EXPECT_FALSE(f->find_tensor("blk.2.attn_v.weight"));  // full layer, k_eq_v
  EXPECT_FALSE(f->find_tensor("output.weight"));
  const std::vector<float> freqs = f->dequantize(f->tensor("rope_freqs.weight"));
  ASSERT_EQ(freqs.size(), static_cast<size_t>(t.global_head_dim / 2));
  const size_t rotated = static_cast<size_t>(std::lround(t.rope_full.partial_rotary_factor * freqs.size()));
  for (size_t i = 0; i < freqs.size(); ++i) EXPECT_EQ(freqs[i], i < rotated ? 1.0f : 1e30f) << i;
  EXPECT_EQ(f->tensors().size(), gguf_text_tensor_names(src->config()).size() + 1);
}

TEST(GgufExport, PatchPermutationIsHwcToChw) {
  const std::vector<int64_t> perm = gguf_patch_chw_permutation(48);
  ASSERT_EQ(perm.size(), 6912u);
  std::vector<bool> seen(perm.size());
  for (int64_t p : perm) seen[static_cast<size_t>(p)] = true;
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }));
  // CHW index ch·2304 + row·48 + col holds HWC index row·144 + col·3 + ch (spec §7.2).
  EXPECT_EQ(perm[1 * 2304 + 2 * 48 + 5], 2 * 144 + 5 * 3 + 1);
}

}  // namespace
}  // namespace g4ref

namespace g4ref {
namespace {

TEST(GgufExport, TokenizerReadBackFromTheGgufEqualsTheCheckpoints) {
  // The vocabulary, token types and merges the exporter writes, read back as a tokenizer (load_tokenizer of a
  // .gguf), encode and decode the bundled text and the hostile tokenizer corpus exactly as the checkpoint's
  // tokenizer.json does.
  const std::string ckpt = testing::tiny_checkpoint();
  testing::TempDir d("gguf_tokenizer");
  auto src = Model::load(ckpt);
  const std::string gguf = d / "t.gguf";
  export_text_gguf(*src, ckpt, GgmlType::F32, gguf);
  auto theirs = load_tokenizer(gguf), ours = load_tokenizer(ckpt + "/tokenizer.json");
  EXPECT_EQ(theirs->vocab_size(), ours->vocab_size());
  size_t lines = 0, mismatches = 0;
  for (const char* f : {G4REF_SOURCE_DIR "/datasets/synth_tokenizer_corpus.txt",
                        G4REF_SOURCE_DIR "/tests/oracles/tokenizer_corpus.txt"}) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line); ++lines) {
      const std::vector<int> ids = ours->encode(line);
      if (theirs->encode(line) != ids || theirs->decode(ids) != ours->decode(ids)) {
        if (++mismatches <= 5) ADD_FAILURE() << "differs on: " << line;
      }
    }
  }
  EXPECT_GT(lines, 2500u);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(theirs->encode("<|turn>user\n<|image|>"), ours->encode("<|turn>user\n<|image|>"));
  // The one eos id the GGUF holds, plus <turn|> found by its spelling: the checkpoint's [<eos>, <turn|>] again.
  EXPECT_EQ(Model::load(gguf)->config().text.eos_token_ids, src->config().text.eos_token_ids);
  std::cout << "[ gguf tokenizer ] " << lines << " lines, " << mismatches << " mismatches\n";
}

}  // namespace
}  // namespace g4ref
