// The synthetic checkpoints' tokenizer: trained SentencePiece BPE and the generated tokenizer.json must be the
// same tokenizer — two independent encoders (the sentencepiece library and g4ref's BPE on tokenizer.json) agree
// on every line — and the chat prompt of spec §5 renders to the expected ids.
#include <gtest/gtest.h>

#include <fstream>

#include "model/synth.h"
#include "model/synth_tokenizer.h"
#include "prompt/chat_template.h"
#include "prompt/tokenizer.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

TEST(SynthTokenizer, ControlTokensSitWhereTheConfigSays) {
  const std::string dir = testing::tiny_checkpoint();
  auto tok = load_tokenizer(dir + "/tokenizer.model");
  const ModelConfig c = synth_preset("tiny");
  EXPECT_EQ(tok->token_id("<pad>"), 0);
  EXPECT_EQ(tok->token_id("<eos>"), 1);
  EXPECT_EQ(tok->token_id("<bos>"), 2);
  EXPECT_EQ(tok->token_id("<unk>"), 3);
  EXPECT_EQ(tok->token_id("<|image>"), c.boi_token_id);
  EXPECT_EQ(tok->token_id("<image|>"), c.eoi_token_id);
  EXPECT_EQ(tok->token_id("<|image|>"), c.image_token_id);
  EXPECT_EQ(tok->token_id("<|video|>"), c.video_token_id);
  EXPECT_EQ(tok->token_id("<|audio>"), c.boa_token_id);
  EXPECT_EQ(tok->token_id("<audio|>"), c.eoa_token_id);
  EXPECT_EQ(tok->token_id("<|audio|>"), c.audio_token_id);
  EXPECT_EQ(c.text.eos_token_ids, (std::vector<int>{1, tok->token_id("<turn|>")}));
  for (const auto& piece : gemma4_control_tokens()) EXPECT_GE(tok->token_id(piece), 4) << piece;
  EXPECT_LE(tok->vocab_size(), c.text.vocab_size);
}

TEST(SynthTokenizer, JsonAndSentencePieceAgreeOnEveryLine) {
  const std::string dir = testing::tiny_checkpoint();
  auto sp = load_tokenizer(dir + "/tokenizer.model");
  auto hf = load_tokenizer(dir + "/tokenizer.json");
  std::vector<std::string> lines = lines_of(G4REF_SOURCE_DIR "/datasets/synth_tokenizer_corpus.txt");
  const std::vector<std::string> hostile = lines_of(G4REF_SOURCE_DIR "/tests/oracles/tokenizer_corpus.txt");
  lines.insert(lines.end(), hostile.begin(), hostile.end());
  lines.push_back(render_chat({Message::text("user", "Hello\n\nworld  <|image|> x")}, {}));
  int mismatches = 0, round_trip_failures = 0;
  for (const auto& line : lines) {
    const std::vector<int> a = sp->encode(line), b = hf->encode(line);
    if (a != b && ++mismatches <= 5) ADD_FAILURE() << "ids differ on: " << line;
    // A literal "▁" (U+2581) in the text decodes as a space — the tokenizer.json semantics (spec §5).
    if (line.find("\xE2\x96\x81") != std::string::npos) continue;
    if (hf->decode(b) != line && ++round_trip_failures <= 5) ADD_FAILURE() << "decode(encode(x)) != x: " << line;
    if (sp->decode(a) != line && ++round_trip_failures <= 5) ADD_FAILURE() << "sp decode(encode(x)) != x: " << line;
  }
  std::cout << "[ oracle ] sentencepiece vs tokenizer.json: " << lines.size() << " lines, " << mismatches
            << " mismatches, " << round_trip_failures << " round-trip failures\n";
  EXPECT_GE(lines.size(), 2000u);
}

TEST(SynthTokenizer, SpecExampleRendering) {
  // Spec §5: <bos><|turn>user\nHello<turn|>\n<|turn>model\n<|channel>thought\n<channel|> — control tokens as single
  // ids, the text between them through BPE.
  const std::string dir = testing::tiny_checkpoint();
  auto tok = load_tokenizer(dir + "/tokenizer.json");
  const std::string rendered = render_chat({Message::text("user", "Hello")}, {});
  ASSERT_EQ(rendered, "<bos><|turn>user\nHello<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  std::vector<int> expected;
  auto add = [&](const std::vector<int>& v) { expected.insert(expected.end(), v.begin(), v.end()); };
  add({tok->token_id("<bos>"), tok->token_id("<|turn>")});
  add(tok->encode("user\nHello"));
  add({tok->token_id("<turn|>")});
  add(tok->encode("\n"));
  add({tok->token_id("<|turn>")});
  add(tok->encode("model\n"));
  add({tok->token_id("<|channel>")});
  add(tok->encode("thought\n"));
  add({tok->token_id("<channel|>")});
  EXPECT_EQ(tok->encode(rendered), expected);
  EXPECT_EQ(tok->encode(rendered)[0], 2) << "exactly one <bos>, first";
}

}  // namespace
}  // namespace g4ref
