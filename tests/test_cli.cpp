// The g4ref program end to end: determinism of `run`, its JSON, and clear errors for bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
    j.erase("seconds");
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

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"", "synth", "run", "demo"}) {
    std::string out;
    EXPECT_EQ(testing::run_command(g4ref_cmd(std::string(cmd) + " --help"), &out), 0) << cmd;
    EXPECT_NE(out.find("Usage"), std::string::npos) << cmd << ": " << out;
  }
}

TEST(Cli, DemoSaysTheWeightsAreRandom) {
  testing::TempDir home("demo_home");
  std::string out;
  ASSERT_EQ(testing::run_command("G4REF_HOME=" + home.str() + " " + g4ref_cmd("demo"), &out), 0) << out;
  EXPECT_NE(out.find("weights are random"), std::string::npos) << out;
  EXPECT_NE(out.find("layers.5.out"), std::string::npos) << out;
  EXPECT_NE(out.find("generated ids"), std::string::npos) << out;
}

}  // namespace
}  // namespace g4ref
