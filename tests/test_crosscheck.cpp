// The llama.cpp cross-check end to end (spec §7): the tiny checkpoint exported to GGUF, evaluated by llama.cpp's
// prebuilt CPU build (node-llama-cpp 3.22.1), compared at every position of a prompt three sliding windows long
// with the reference on the same (dequantized) weights. A correct export passes for F32, Q8_0 and Q4_K; the known
// wrong variants (run on the reference side) fail.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace g4ref
