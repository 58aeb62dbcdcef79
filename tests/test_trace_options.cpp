// Traces record the options they were computed with (spec §2.2 embedding scale, §2.7 window and image attention,
// media options), and compare refuses two traces whose options differ instead of reporting their difference as
// an implementation error.
#include <gtest/gtest.h>

#include "test_helpers.h"
#include "trace/trace_file.h"

namespace g4ref {
namespace {

TEST(TraceOptions, RecordedAndCompareRefusesDifferentOnes) {
  testing::TempDir d("trace_options");
  const std::string dir = testing::tiny_checkpoint();
  const std::string cli = G4REF_CLI;
  std::string out;
  const std::string base = cli + " trace --model " + dir + " --tokens 2,105,10,20,30,40,50,60,70,80,90 --out ";
  ASSERT_EQ(testing::run_command(base + d / "lower.safetensors", &out), 0) << out;
  ASSERT_EQ(testing::run_command(base + d / "lower2.safetensors", &out), 0) << out;
  ASSERT_EQ(testing::run_command(base + d / "llama.safetensors --embed-scale llamacpp", &out), 0) << out;
  const Trace t = Trace::open(d / "llama.safetensors");
  EXPECT_EQ(t.meta().extra.at("option.embed_scale"), "llamacpp");
  EXPECT_EQ(t.meta().extra.at("option.window"), "lower");
  EXPECT_EQ(t.meta().extra.at("option.image_attention"), "sliding");
  EXPECT_EQ(t.meta().extra.at("deviations"), "");
  // Same options: compared (and identical, so it passes).
  EXPECT_EQ(testing::run_command(cli + " compare " + d / "lower.safetensors " + d / "lower2.safetensors 2>&1", &out), 0) << out;
  // Different embedding scale: refused, naming the option, exit 1 without a verdict.
  EXPECT_EQ(testing::run_command(cli + " compare " + d / "lower.safetensors " + d / "llama.safetensors 2>&1", &out), 1);
  EXPECT_NE(out.find("computed with different embed_scale ('llamacpp' vs 'hf')"), std::string::npos) << out;
  // A deviation is recorded but not refused: it stands in for the implementation under test.
  ASSERT_EQ(testing::run_command(base + d / "dev.safetensors --deviation norm-one-plus-w", &out), 0) << out;
  EXPECT_EQ(Trace::open(d / "dev.safetensors").meta().extra.at("deviations"), "norm-one-plus-w");
  EXPECT_EQ(testing::run_command(cli + " compare " + d / "lower.safetensors " + d / "dev.safetensors 2>&1", &out), 1);
  EXPECT_NE(out.find("first failing tensor"), std::string::npos) << out;
}

}  // namespace
}  // namespace g4ref
