// Oracle: RoPE inverse-frequency tables equal, bit for bit, what PyTorch computes in float32 (spec §2.6).
// At long context one ulp of an inverse frequency moves the angle by up to ~0.016 rad, which survives bf16
// rounding of cos/sin — so "close" is not enough. PyTorch comes from Debian's python3-torch.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "layers/rope.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

std::vector<uint32_t> torch_table(const std::string& args) {
  std::string out;
  const std::string cmd = testing::torch_python() + " " G4REF_SOURCE_DIR "/tests/oracles/rope_inv_freq.py " + args;
  EXPECT_EQ(testing::run_command(cmd, &out), 0) << cmd;
  std::vector<uint32_t> bits;
  std::istringstream in(out);
  std::string word;
  while (in >> word) bits.push_back(static_cast<uint32_t>(std::stoul(word, nullptr, 16)));
  return bits;
}

void expect_bit_identical(const RopeParams& r, int head_dim, const std::string& args) {
  const std::vector<uint32_t> expected = torch_table(args);
  const std::vector<float> ours = rope_inv_freq(r, head_dim);
  ASSERT_EQ(ours.size(), expected.size()) << args;
  int mismatches = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &ours[i], 4);
    if (u != expected[i]) {
      ++mismatches;
      ADD_FAILURE() << args << ": entry " << i << " is 0x" << std::hex << u << ", PyTorch has 0x" << expected[i];
    }
  }
  std::cout << "[ oracle ] " << args << ": " << ours.size() << " values, " << mismatches << " differ from PyTorch\n";
}

class RopeTorch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::torch_python().empty()) GTEST_SKIP() << "Debian's python3-torch is not installed (run setup.sh)";
  }
};

TEST_F(RopeTorch, TwelveBSlidingDefault) {
  expect_bit_identical({"default", 10000.0, 1.0, 1.0}, 256, "default 10000 256");
}

TEST_F(RopeTorch, TwelveBFullProportional) {
  expect_bit_identical({"proportional", 1000000.0, 0.25, 1.0}, 512, "proportional 1000000 512 0.25");
}

TEST_F(RopeTorch, SyntheticPresets) {
  for (const char* preset : {"tiny", "small"}) {
    const ModelConfig c = synth_preset(preset);
    const TextConfig& t = c.text;
    expect_bit_identical(t.rope_sliding, t.head_dim, "default 10000 " + std::to_string(t.head_dim));
    expect_bit_identical(t.rope_full, t.global_head_dim,
                         "proportional 1000000 " + std::to_string(t.global_head_dim) + " 0.25");
  }
}

}  // namespace
}  // namespace g4ref
