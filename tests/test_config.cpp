// Config parsing: the 12B's published values, defaults for missing keys, and errors naming key, value and rule.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "model/config.h"

namespace g4ref {
namespace {

using nlohmann::json;

// The 12B's config.json as spec §1 tabulates it.
json config_12b() {
  json layer_types = json::array();
  for (int i = 0; i < 48; ++i) layer_types.push_back((i + 1) % 6 == 0 ? "full_attention" : "sliding_attention");
  return {
      {"model_type", "gemma4_unified"},
      {"boi_token_id", 255999}, {"eoi_token_id", 258882}, {"image_token_id", 258880}, {"video_token_id", 258884},
      {"boa_token_id", 256000}, {"eoa_token_index", 258883}, {"audio_token_id", 258881},
      {"tie_word_embeddings", true},
      {"text_config",
       {{"vocab_size", 262144}, {"hidden_size", 3840}, {"intermediate_size", 15360}, {"num_hidden_layers", 48},
        {"num_attention_heads", 16}, {"num_key_value_heads", 8}, {"head_dim", 256}, {"global_head_dim", 512},
        {"num_global_key_value_heads", 1}, {"attention_k_eq_v", true}, {"sliding_window", 1024},
        {"layer_types", layer_types},
        {"rope_parameters",
         {{"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}},
          {"full_attention", {{"rope_type", "proportional"}, {"partial_rotary_factor", 0.25}, {"rope_theta", 1e6}}}}},
        {"final_logit_softcapping", 30.0}, {"rms_norm_eps", 1e-6}, {"hidden_activation", "gelu_pytorch_tanh"},
        {"eos_token_id", {1, 106}}}},
      {"vision_config", {{"patch_size", 16}, {"pooling_kernel_size", 3}, {"model_patch_size", 48},
                         {"mm_embed_dim", 3840}, {"mm_posemb_size", 1120}, {"output_proj_dims", 3840}}},
      {"audio_config", {{"audio_embed_dim", 640}, {"output_proj_dims", 640}}},
  };
}

std::string error_of(const json& j) {
  try {
    parse_config(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, Reads12B) {
  const ModelConfig c = parse_config(config_12b(), "config.json");
  EXPECT_EQ(c.text.hidden_size, 3840);
  EXPECT_EQ(c.text.num_hidden_layers, 48);
  int full = 0;
  for (int l = 0; l < 48; ++l) full += c.text.is_full(l);
  EXPECT_EQ(full, 8);
  EXPECT_TRUE(c.text.is_full(5));
  EXPECT_TRUE(c.text.is_full(47));
  EXPECT_EQ(c.text.layer_head_dim(5), 512);
  EXPECT_EQ(c.text.layer_kv_heads(5), 1);
  EXPECT_FALSE(c.text.layer_has_v_proj(5));
  EXPECT_TRUE(c.text.layer_has_v_proj(4));
  EXPECT_EQ(c.text.rope_full.rope_type, "proportional");
  EXPECT_EQ(c.text.rope_full.partial_rotary_factor, 0.25);
  EXPECT_EQ(c.text.rope_full.factor, 1.0);  // no "factor" key means 1
  EXPECT_EQ(c.text.eos_token_ids, (std::vector<int>{1, 106}));
  EXPECT_EQ(c.eoa_token_id, 258883);  // key "eoa_token_index"
  EXPECT_TRUE(c.vision.present);
  EXPECT_EQ(c.vision.patch_values(), 6912);
  EXPECT_EQ(c.audio.audio_embed_dim, 640);
}

TEST(Config, MissingKeysTakeSpecDefaults) {
  const ModelConfig c = parse_config(json{{"model_type", "gemma4_unified"}, {"text_config", json::object()}}, "c");
  EXPECT_EQ(c.text.vocab_size, 262144);
  EXPECT_EQ(c.text.sliding_window, 1024);
  EXPECT_EQ(c.text.final_logit_softcapping, 30.0);
  ASSERT_EQ(c.text.layer_types.size(), 48u);
  EXPECT_TRUE(c.text.is_full(11));
  EXPECT_FALSE(c.text.is_full(10));
  EXPECT_FALSE(c.vision.present);  // a text-only checkpoint
  EXPECT_FALSE(c.audio.present);
}

TEST(Config, RoundTripsThroughItsJson) {
  const ModelConfig a = parse_config(config_12b(), "a");
  const ModelConfig b = parse_config(config_to_json(a), "b");
  EXPECT_EQ(a.hash(), b.hash());
  json changed = config_12b();
  changed["text_config"]["sliding_window"] = 512;
  EXPECT_NE(parse_config(changed, "c").hash(), a.hash());
}

TEST(Config, InconsistentValuesNameKeyValueAndRule) {
  json j = config_12b();
  j["text_config"]["num_key_value_heads"] = 3;

  EXPECT_NE(error_of(j).find("'num_key_value_heads' = 3 must divide num_attention_heads = 16"), std::string::npos)
      << error_of(j);

  j = config_12b();
  j["text_config"]["layer_types"][4] = "local_attention";
  EXPECT_NE(error_of(j).find("unknown layer type 'local_attention'"), std::string::npos) << error_of(j);

  j = config_12b();
  j["text_config"]["rope_parameters"]["full_attention"]["rope_type"] = "yarn";
  EXPECT_NE(error_of(j).find("rope_type' = 'yarn' is not supported"), std::string::npos) << error_of(j);

  j = config_12b();
  j["text_config"]["hidden_size"] = 0;
  EXPECT_NE(error_of(j).find("'hidden_size' = 0 must be positive"), std::string::npos) << error_of(j);

  j = config_12b();
  j["text_config"]["layer_types"].erase(0);
  EXPECT_NE(error_of(j).find("'layer_types' has 47 entries (expected num_hidden_layers = 48)"), std::string::npos)
      << error_of(j);

  j = config_12b();
  j["text_config"]["head_dim"] = "256";
  EXPECT_NE(error_of(j).find("'head_dim' has the wrong type"), std::string::npos) << error_of(j);

  j = config_12b();
  j["image_token_id"] = 300000;
  EXPECT_NE(error_of(j).find("'image_token_id' = 300000 lies outside the vocabulary"), std::string::npos)
      << error_of(j);

  j = config_12b();
  j["model_type"] = "llama";
  EXPECT_NE(error_of(j).find("'model_type' is 'llama'"), std::string::npos) << error_of(j);

  EXPECT_EQ(error_of(j).rfind("config.json: ", 0), 0u) << "errors start with the file name";
}

TEST(Config, MalformedJsonNamesTheFile) {
  const std::string path = ::testing::TempDir() + "g4ref_bad_config.json";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("{\"model_type\": \"gemma4_unified\", ", f);
  std::fclose(f);
  try {
    load_config(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": malformed JSON", 0), 0u) << e.what();
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace g4ref
