// The g4ref program end to end: determinism of `run`, its JSON, and clear errors for bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

std::string g4ref_cmd(const std::string& args) { return std::string(G4REF_CLI) + " " + args; }

TEST(Cli, RunIsDeterministicAcrossRepeatsAndThreads) {
  const std::string dir = testing::tiny_checkpoint();
  const std::string base = "run --model " + dir + " --tokens 2,105,10,20,30,40 --max-new-tokens 16 --json";
  auto ids = [&](const std::string& extra) {
    std::string out;
    EXPECT_EQ(testing::run_command(g4ref_cmd(base + extra), &out), 0) << out;
    nlohmann::json j = nlohmann::json::parse(out);
    // The time split: load, then prefill until the first token, then decode; together within the total.
    const nlohmann::json& t = j["seconds"];
    EXPECT_GT(t["prefill"].get<double>(), 0.0);
    EXPECT_GT(t["decode"].get<double>(), 0.0);
    EXPECT_LE(t["load"].get<double>() + t["prefill"].get<double>() + t["decode"].get<double>(), t["total"].get<double>() + 1e-9);
    EXPECT_GT(j["tokens_per_second"]["decode"].get<double>(), 0.0);
    j.erase("seconds");
    j.erase("tokens_per_second");
    j.erase("peak_memory_bytes");
    return j;
  };
  const nlohmann::json a = ids(""), b = ids(""), t1 = ids(" --threads 1"), t2 = ids(" --threads 2");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, t1);
  EXPECT_EQ(a, t2);
  EXPECT_EQ(a["prompt_ids"], nlohmann::json({2, 105, 10, 20, 30, 40}));
  EXPECT_EQ(a["generated_ids"].size(), 16u);
  EXPECT_EQ(a["final_logits_top10"]["ids"].size(), 10u);
}

// g4ref bench on the tiny checkpoint. The FLOPs its products executed are derived by hand from the tiny config
// (hidden 64, MLP 128, 4 sliding layers: 4 query heads of 32 on 2 KV heads; 2 full layers: 4 heads of 64 on one
// k = v head; vocabulary 1024), a prefill of n tokens from position 0 attending densely over all n cached rows:
//   sliding layer: q 2n·64·128 + k, v 2n·64·64 each + o 2n·128·64 + MLP 3·2n·64·128 + scores and P·V 4·(2·n·n·32)·2
//                = 98304 n + 512 n²
//   full layer:    q 2n·64·256 + k 2n·64·64 + o 2n·256·64 + MLP 49152 n + 4·(2·n·n·64)·2 = 122880 n + 1024 n²
//   output head of the last row: 2·64·1024 = 131072
// so 638976 n + 4096 n² + 131072: 14,548,992 at n = 20. A decode step streams at least every stored matrix once:
// 4 · 98304 + 2 · 122880 + 131072 (the tied table) = 770,048 bytes of bf16 weights.
TEST(Cli, BenchCountsTheFlopsOfTheConfigAndReportsRatios) {
  const std::string dir = testing::tiny_checkpoint();
  std::string out;
  ASSERT_EQ(testing::run_command(g4ref_cmd("bench --model " + dir + " --prompt-tokens 20,9 --new-tokens 5 "
                                           "--precision exact,f32 --ceiling-seconds 0.05 --json"), &out), 0) << out;
  const nlohmann::json j = nlohmann::json::parse(out);
  const nlohmann::json& c = j["ceilings"];
  for (const char* k : {"gemm_f64_gflops", "gemm_f32_gflops", "read_gbps", "triad_gbps"}) {
    EXPECT_GT(c[k].get<double>(), 0.0) << k;
  }
  // Measured before and after the runs; the ratios are against the higher reading of each ceiling.
  for (const char* k : {"gemm_f64_gflops", "gemm_f32_gflops", "read_gbps", "triad_gbps"}) {
    EXPECT_DOUBLE_EQ(c[k].get<double>(),
                     std::max(j["ceilings_before"][k].get<double>(), j["ceilings_after"][k].get<double>()))
        << k;
  }
  ASSERT_EQ(j["runs"].size(), 4u);
  for (const nlohmann::json& r : j["runs"]) {
    const nlohmann::json& d = r["decode"];
    EXPECT_NEAR(d["ratio_to_ceiling"].get<double>(),
                d["gbps"].get<double>() / c["read_gbps"].get<double>(), 1e-12);
    EXPECT_NEAR(r["prefill"]["ratio_to_ceiling"].get<double>(),
                r["prefill"]["gflops"].get<double>() /
                    c[r["precision"] == "exact" ? "gemm_f64_gflops" : "gemm_f32_gflops"].get<double>(),
                1e-12);
    const int64_t n = r["prompt_tokens"].get<int64_t>();
    const double expected = 638976.0 * n + 4096.0 * n * n + 131072.0;
    EXPECT_DOUBLE_EQ(r["prefill"]["matmul_gflop"].get<double>() * 1e9, expected) << r["precision"] << " n=" << n;
    EXPECT_EQ(r["prompt_ids"].size(), static_cast<size_t>(n));
    EXPECT_EQ(r["prompt_ids"][0], 2) << "starts with <bos>";
    EXPECT_EQ(r["generated_ids"].size(), 5u);
    EXPECT_EQ(r["decode"]["steps"], 4);
    EXPECT_GE(r["decode"]["streamed_bytes_per_token"].get<double>(), 770048.0);
    EXPECT_GT(r["prefill"]["ratio_to_ceiling"].get<double>(), 0.0);
    EXPECT_GT(r["decode"]["ratio_to_ceiling"].get<double>(), 0.0);
    double staged = 0;
    for (const auto& [name, s] : r["prefill"]["stage_seconds"].items()) staged += s.get<double>();
    EXPECT_NEAR(staged, r["prefill"]["seconds"].get<double>(), 1e-6) << "stages + untimed = the prefill";
  }
  EXPECT_NE(testing::run_command(g4ref_cmd("bench --model " + dir + " --prompt-tokens 0 --no-ceilings 2>&1"), &out), 0);
  EXPECT_NE(out.find("--prompt-tokens"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(g4ref_cmd("bench --model " + dir + " --precision fp8 --no-ceilings 2>&1"), &out), 0);
  EXPECT_NE(out.find("fp8"), std::string::npos) << out;
}

TEST(Cli, BadInputGivesAClearErrorAndNonZeroExit) {
  const std::string dir = testing::tiny_checkpoint();
  std::string out;
  EXPECT_NE(testing::run_command(g4ref_cmd("run --model " + dir + " --tokens 2,x,3 2>&1"), &out), 0);
  EXPECT_NE(out.find("--tokens: 'x' is not a token id"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(g4ref_cmd("run --model /nonexistent --tokens 2 2>&1"), &out), 0);
  EXPECT_NE(out.find("/nonexistent: not a checkpoint directory"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(g4ref_cmd("run --model " + dir + " --tokens 2 --precision fp8 2>&1"), &out), 0);
  EXPECT_NE(out.find("fp8"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(g4ref_cmd("synth --preset huge --out /tmp/x 2>&1"), &out), 0);
  EXPECT_NE(testing::run_command(g4ref_cmd("2>&1"), &out), 0) << "a subcommand is required";
}

TEST(Cli, SynthShardSizeTakesUnitsAndRefusesNegatives) {
  // 4e4, 40kb and 40000 are the same byte count, so they must write the same shard index, as must 40kib and 40960;
  // a negative count is refused before anything is written.
  testing::TempDir d("synth_shards");
  auto index = [&](const std::string& size) {
    std::string out;
    const std::string dir = d / ("s" + size);
    EXPECT_EQ(testing::run_command(g4ref_cmd("synth --preset tiny --shard-bytes " + size + " --out " + dir + " 2>&1"), &out), 0)
        << size << ": " << out;
    std::FILE* f = std::fopen((dir + "/model.safetensors.index.json").c_str(), "rb");
    EXPECT_NE(f, nullptr) << size;
    if (f == nullptr) return nlohmann::json();
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    return nlohmann::json::parse(text)["weight_map"];
  };
  const nlohmann::json plain = index("40000");
  EXPECT_GT(plain.size(), 10u);
  std::set<std::string> files;
  for (const auto& kv : plain.items()) files.insert(kv.value().get<std::string>());
  EXPECT_GT(files.size(), 2u) << "40 kB shards of a 2 MB checkpoint";
  EXPECT_EQ(index("4e4"), plain);
  EXPECT_EQ(index("40kb"), plain);
  EXPECT_EQ(index("40kib"), index("40960"));
  EXPECT_NE(index("200kb"), plain) << "the index depends on the shard size, so the equalities above mean something";
  std::string out;
  EXPECT_NE(testing::run_command(g4ref_cmd("synth --preset tiny --shard-bytes -5 --out " + (d / "neg") + " 2>&1"), &out), 0);
  EXPECT_NE(out.find("must not be negative"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(d / "neg"));
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"", "synth", "run", "demo", "template"}) {
    std::string out;
    EXPECT_EQ(testing::run_command(g4ref_cmd(std::string(cmd) + " --help"), &out), 0) << cmd;
    EXPECT_NE(out.find("Usage"), std::string::npos) << cmd << ": " << out;
  }
}

TEST(Cli, VideoPromptRendersThirtyTwoStampedFrames) {
  // A 5 s, 10 fps clip made now with the ffmpeg command line: 50 frames, indices trunc(i·50/32), stamps
  // floor(index / 10) seconds as mm:ss, each frame "<|image>" + N × <|video|> + "<image|>", frames joined by a space.
  std::string out;
  if (testing::run_command("command -v ffmpeg", &out) != 0) GTEST_SKIP() << "the ffmpeg command line is not installed";
  testing::TempDir d("video_prompt");
  ASSERT_EQ(testing::run_command("ffmpeg -loglevel error -y -f lavfi -i testsrc=size=96x64:rate=10 -t 5 -pix_fmt yuv420p " +
                                     (d / "clip.mp4") + " 2>&1",
                                 &out),
            0)
      << out;
  ASSERT_EQ(testing::run_command(g4ref_cmd("run --model " + testing::tiny_checkpoint() + " --prompt Describe --video " +
                                           (d / "clip.mp4") + " --max-new-tokens 1 --json"),
                                 &out),
            0)
      << out;
  const std::string r = nlohmann::json::parse(out)["rendered_prompt"];
  std::string expected_stamps, found_stamps;
  for (int i = 0; i < 32; ++i) {
    const int index = i * 50 / 32;
    char stamp[8];
    std::snprintf(stamp, sizeof stamp, "00:%02d", index / 10);
    expected_stamps += std::string(stamp) + " ";
  }
  int frames = 0;
  for (size_t p = r.find(" <|image>"); p != std::string::npos; p = r.find(" <|image>", p + 1)) {
    found_stamps += r.substr(p - 5, 5) + " ";
    ++frames;
  }
  EXPECT_EQ(frames, 32);
  EXPECT_EQ(found_stamps, expected_stamps);
  // 96×64 at the per-frame budget 70 becomes 288×480: 6 × 10 = 60 placeholders per frame.
  size_t placeholders = 0;
  for (size_t p = r.find("<|video|>"); p != std::string::npos; p = r.find("<|video|>", p + 1)) ++placeholders;
  EXPECT_EQ(placeholders, 32u * 60u);
  EXPECT_NE(r.find("<image|> 00:00 <|image>"), std::string::npos) << "frames joined by one space";
}

// export-gguf --tokenizer: a checkpoint without a tokenizer of its own (as the 12b synth preset writes it) takes one
// from elsewhere. Here a small-preset checkpoint (vocabulary 8192) stripped of its tokenizer files gets the tiny
// preset's (1024 pieces): without --tokenizer the export fails naming the directory and writes nothing; with it,
// ids 0-1023 carry the tiny tokenizer's pieces in order and 1024-8191 are unused [PADn] pieces, so every row of the
// embedding table has a token, as llama.cpp requires.
TEST(Cli, ExportGgufTakesATokenizerFromElsewhere) {
  namespace fs = std::filesystem;
  testing::TempDir d("export_tokenizer");
  std::string out;
  ASSERT_EQ(testing::run_command(g4ref_cmd("synth --preset small --seed 2 --out " + (d / "small")), &out), 0) << out;
  for (const char* f : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json"}) fs::remove(fs::path(d / "small") / f);
  EXPECT_NE(testing::run_command(g4ref_cmd("export-gguf --model " + (d / "small") + " --out " + (d / "a.gguf") +
                                           " --type q8_0 2>&1"),
                                 &out),
            0);
  EXPECT_NE(out.find("neither tokenizer.json nor tokenizer.model"), std::string::npos) << out;
  EXPECT_NE(out.find(d / "small"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(d / "a.gguf"));
  EXPECT_NE(testing::run_command(g4ref_cmd("export-gguf --model " + (d / "small") + " --out " + (d / "a.gguf") +
                                           " --tokenizer " + (d / "missing") + " 2>&1"),
                                 &out),
            0);
  EXPECT_NE(out.find("missing"), std::string::npos) << out;
  const std::string tiny = testing::tiny_checkpoint();
  ASSERT_EQ(testing::run_command(g4ref_cmd("export-gguf --model " + (d / "small") + " --out " + (d / "a.gguf") +
                                           " --type q8_0 --tokenizer " + tiny + " 2>&1"),
                                 &out),
            0)
      << out;
  const nlohmann::json tok = nlohmann::json::parse(std::ifstream(tiny + "/tokenizer.json"));
  std::vector<std::string> tiny_pieces(1024);
  for (const auto& [piece, id] : tok["model"]["vocab"].items()) {
    if (id.get<int>() < 1024) tiny_pieces[static_cast<size_t>(id.get<int>())] = piece;
  }
  for (const auto& t : tok["added_tokens"]) {
    if (t["id"].get<int>() < 1024) tiny_pieces[static_cast<size_t>(t["id"].get<int>())] = t["content"];
  }
  const auto f = GgufFile::open(d / "a.gguf");
  const GgufArray& tokens = f->get_array("tokenizer.ggml.tokens");
  const GgufArray& types = f->get_array("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.items.size(), 8192u);
  ASSERT_EQ(types.items.size(), 8192u);
  for (size_t id = 0; id < 8192; ++id) {
    const std::string piece = std::get<std::string>(tokens.items[id]);
    if (id < 1024) {
      ASSERT_FALSE(tiny_pieces[id].empty()) << id;
      ASSERT_EQ(piece, tiny_pieces[id]) << id;
      ASSERT_NE(std::get<int32_t>(types.items[id]), 5) << id;
    } else {
      ASSERT_EQ(piece, "[PAD" + std::to_string(id) + "]");
      ASSERT_EQ(std::get<int32_t>(types.items[id]), 5) << id;  // llama.cpp's LLAMA_TOKEN_TYPE_UNUSED
    }
  }
  EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], 8192);
}

}  // namespace
}  // namespace g4ref
