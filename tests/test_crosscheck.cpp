// The llama.cpp cross-check end to end (spec §7): the tiny checkpoint exported to GGUF, evaluated by llama.cpp's
// prebuilt CPU build (node-llama-cpp 3.22.1), compared at every position of a prompt three sliding windows long
// with the reference on the same (dequantized) weights. A correct export passes for F32, Q8_0 and Q4_K; the known
// wrong variants (run on the reference side) fail.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "prompt/tokenizer.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

const char* kTokens = "2,105,10,20,30,40,50,60,70,80,90,100,110,120,130,140,150,160,170,180,190,200,210,220";

class Crosscheck : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string out;
    if (testing::run_command("command -v node", &out) != 0) GTEST_SKIP() << "node is not installed (run setup.sh)";
    if (!std::filesystem::exists(G4REF_SOURCE_DIR "/eval/adapters/llamacpp/node_modules/node-llama-cpp")) {
      GTEST_SKIP() << "node-llama-cpp is not installed in eval/adapters/llamacpp (run setup.sh)";
    }
  }
  static nlohmann::json run(const std::string& type, const std::string& extra = "") {
    std::string out;
    const std::string cmd = std::string(G4REF_CLI) + " crosscheck llamacpp --model " + testing::tiny_checkpoint() +
                            " --tokens " + kTokens + " --type " + type + " --json " + extra;
    const int rc = testing::run_command(cmd, &out);
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << cmd << "\n" << out;
    j["exit_code"] = rc;
    const auto& r = j["vs_f32_llamacpp_scale"];
    std::cout << "[ llama.cpp ] " << type << (extra.empty() ? "" : " " + extra) << ": worst NMSE "
              << r["worst_nmse"] << " (vs exact " << j["vs_exact"]["worst_nmse"] << "), top-1 "
              << r["top1_agreement"] << ", worst KL " << r["worst_kl"] << ", " << j["verdict"] << "\n";
    return j;
  }
};

TEST_F(Crosscheck, F32Q8AndQ4KPass) {
  for (const char* type : {"f32", "q8_0", "q4_k"}) {
    const nlohmann::json j = run(type);
    EXPECT_EQ(j["verdict"], "PASS") << type;
    EXPECT_EQ(j["exit_code"], 0) << type;
    EXPECT_EQ(j["positions"], 24);
  }
}

TEST_F(Crosscheck, KnownWrongVariantsFail) {
  for (const char* d : {"rope-rotated-denominator", "norm-one-plus-w", "window-off-by-one"}) {
    const nlohmann::json j = run("f32", std::string("--deviation ") + d);
    EXPECT_EQ(j["verdict"], "FAIL") << d;
    EXPECT_NE(j["exit_code"], 0) << d;
  }
  // The window variant cannot differ before the first position past the window (8).
  EXPECT_GE(run("f32", "--deviation window-off-by-one")["vs_f32_llamacpp_scale"]["first_failing_position"], 8);
}

TEST_F(Crosscheck, TokenizerMatchesLlamaCppsGemma4Tokenizer) {
  // Issue oracle (b): llama.cpp's own gemma4 tokenizer, reading the vocabulary and merges our exporter wrote into
  // the GGUF, against our tokenizer.json path — on the bundled text plus the 2,320-line hostile corpus.
  testing::TempDir d("llama_tokenizer");
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " export-gguf --model " + testing::tiny_checkpoint() +
                                     " --out " + (d / "t.gguf") + " --type f32 2>&1",
                                 &out),
            0)
      << out;
  std::vector<std::string> lines;
  for (const char* f : {G4REF_SOURCE_DIR "/datasets/synth_tokenizer_corpus.txt",
                        G4REF_SOURCE_DIR "/tests/oracles/tokenizer_corpus.txt"}) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  {
    std::ofstream o(d / "lines.txt");
    for (const auto& l : lines) o << l << "\n";
  }
  ASSERT_EQ(testing::run_command("node " G4REF_SOURCE_DIR "/eval/adapters/llamacpp/tokenize.mjs " + (d / "t.gguf") +
                                     " " + (d / "lines.txt"),
                                 &out),
            0)
      << out;
  auto tok = load_tokenizer(testing::tiny_checkpoint() + "/tokenizer.json");
  std::istringstream theirs(out);
  int mismatches = 0;
  size_t n = 0;
  for (std::string row; std::getline(theirs, row); ++n) {
    ASSERT_LT(n, lines.size());
    const std::vector<int> ids = nlohmann::json::parse(row).get<std::vector<int>>();
    if (ids != tok->encode(lines[n]) && ++mismatches <= 5) ADD_FAILURE() << "ids differ on: " << lines[n];
  }
  EXPECT_EQ(n, lines.size());
  std::cout << "[ oracle ] llama.cpp gemma4 tokenizer vs tokenizer.json: " << n << " lines, " << mismatches
            << " mismatches\n";
}

}  // namespace
}  // namespace g4ref
