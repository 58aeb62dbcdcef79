// Synthetic checkpoints: the 12B's published tensor count and parameter count (spec §1.5, an independent
// tally of the real file), the tiny preset's features and size, and determinism from the seed.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "base/error.h"
#include "io/safetensors.h"
#include "convert/synth.h"
#include "model/tensor_names.h"
#include "model/weights.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Synth, TwelveBShapeMatchesThePublishedCounts) {
  const std::vector<TensorSpec> t = expected_tensors(synth_preset("12b"));
  EXPECT_EQ(t.size(), 677u);
  EXPECT_EQ(parameter_count(t), 11959730224LL);
  int64_t text = 0, language_model = 0;
  for (const auto& s : t) {
    if (s.name.rfind("model.language_model.", 0) == 0) {
      ++language_model;
      text += parameter_count({s});
    }
  }
  EXPECT_EQ(language_model, 666);
  EXPECT_EQ(text, 11907350320LL);
  // One sliding and one full layer, as spec §1.5 tabulates them.
  int64_t layer4 = 0, layer5 = 0;
  for (const auto& s : t) {
    if (s.name.rfind(layer_prefix(4), 0) == 0) layer4 += parameter_count({s});
    if (s.name.rfind(layer_prefix(5), 0) == 0) layer5 += parameter_count({s});
  }
  EXPECT_EQ(layer4, 224148993);
  EXPECT_EQ(layer5, 241844225);
  // × 2 bytes: the tensor data of the published single-file checkpoint.
  EXPECT_EQ(parameter_count(t) * 2, 23919460448LL);
}

TEST(Synth, TinyExercisesEveryFeature) {
  const ModelConfig c = synth_preset("tiny");
  const TextConfig& t = c.text;
  int sliding = 0, full = 0;
  for (int l = 0; l < t.num_hidden_layers; ++l) (t.is_full(l) ? full : sliding)++;
  EXPECT_GE(sliding, 2);
  EXPECT_GE(full, 2);
  EXPECT_GT(t.num_attention_heads / t.num_key_value_heads, 1) << "GQA on sliding layers";
  EXPECT_EQ(t.num_global_key_value_heads, 1) << "MQA on full layers";
  EXPECT_TRUE(t.attention_k_eq_v);
  EXPECT_GT(t.global_head_dim, t.head_dim);
  EXPECT_EQ(t.rope_full.rope_type, "proportional");
  EXPECT_LT(t.sliding_window, 12) << "shorter than the test prompts";
  EXPECT_TRUE(c.vision.present);
  EXPECT_TRUE(c.audio.present);
}

TEST(Synth, TinyIsSmallDeterministicAndNotTrivial) {
  testing::TempDir a("synth_a"), b("synth_b"), c("synth_c");
  SynthOptions o;
  o.preset = "tiny";
  o.seed = 0;
  o.out_dir = a.str();
  const SynthSummary s = write_synthetic_checkpoint(o);
  o.out_dir = b.str();
  write_synthetic_checkpoint(o);
  o.out_dir = c.str();
  o.seed = 1;
  write_synthetic_checkpoint(o);
  EXPECT_LT(s.bytes, 20u << 20);
  const std::string fa = slurp(a / "model.safetensors");
  EXPECT_EQ(fa, slurp(b / "model.safetensors")) << "same seed, same bytes";
  EXPECT_NE(fa, slurp(c / "model.safetensors")) << "another seed, other weights";
  EXPECT_EQ(slurp(a / "config.json"), slurp(c / "config.json"));

  // Norm weights and layer scalars are not all ones, and stored as bf16 with the real names.
  auto store = TensorStore::open_dir(a.str());
  for (const std::string name : {"model.language_model.layers.0.input_layernorm.weight",
                                 "model.language_model.layers.2.layer_scalar", "model.language_model.norm.weight"}) {
    const TensorView& t = store->get(name);
    EXPECT_EQ(t.dtype, DType::BF16);
    const Vec<double> v = convert_vector<double>(matrix_view(t));
    EXPECT_NE(v, Vec<double>::Ones(v.size())) << name;
  }
  EXPECT_NO_THROW(check_tensors(*store, synth_preset("tiny"), a.str()));
}

TEST(Synth, RefusesToOverwriteWithoutForce) {
  testing::TempDir a("synth_force");
  SynthOptions o;
  o.out_dir = a.str();
  write_synthetic_checkpoint(o);
  EXPECT_THROW(write_synthetic_checkpoint(o), Error);
  o.force = true;
  EXPECT_NO_THROW(write_synthetic_checkpoint(o));
}

TEST(Synth, ShardedEqualsSingleFile) {
  testing::TempDir a("synth_one"), b("synth_shards");
  SynthOptions o;
  o.out_dir = a.str();
  write_synthetic_checkpoint(o);
  o.out_dir = b.str();
  o.max_shard_bytes = 400000;
  const SynthSummary s = write_synthetic_checkpoint(o);
  EXPECT_GT(s.files.size(), 4u);
  auto one = TensorStore::open_dir(a.str());
  auto many = TensorStore::open_dir(b.str());
  ASSERT_EQ(one->names(), many->names());
  for (const auto& name : one->names()) {
    const TensorView& x = one->get(name);
    const TensorView& y = many->get(name);
    ASSERT_EQ(x.nbytes, y.nbytes);
    EXPECT_EQ(std::memcmp(x.data, y.data, x.nbytes), 0) << name;
  }
}

}  // namespace
}  // namespace g4ref
