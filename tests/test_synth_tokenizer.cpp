// The synthetic checkpoints' tokenizer: trained SentencePiece BPE and the generated tokenizer.json must be the
// same tokenizer — two independent encoders (the sentencepiece library and g4ref's BPE on tokenizer.json) agree
// on every line — and the chat prompt of spec §5 renders to the expected ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "convert/synth.h"
#include "convert/synth_tokenizer.h"
#include "layers/attention_mask.h"
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"
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

TEST(SynthTokenizer, TwoImagesAudioAndTextLayout) {
  // One user message: image, text, image, audio, text, with test-double token counts 3, 2 and 4. The expected
  // ids are written out from the spec's layout (§3.3, §4): begin + N placeholders + end per item.
  const std::string dir = testing::tiny_checkpoint();
  auto tok = load_tokenizer(dir + "/tokenizer.model");
  const ModelConfig c = synth_preset("tiny");
  Message m;
  m.role = "user";
  m.content = {{ContentItem::Kind::image, ""}, {ContentItem::Kind::text, "Compare "}, {ContentItem::Kind::image, ""},
               {ContentItem::Kind::audio, ""}, {ContentItem::Kind::text, " please"}};
  ChatOptions o;
  o.add_generation_prompt = false;
  const std::string text = expand_media_markers(
      render_chat({m}, o), {{MediaKind::image, 3, {}}, {MediaKind::image, 2, {}},
                            {MediaKind::audio, 4, {}}});
  const std::vector<int> ids = tok->encode(text);
  const int B = c.boi_token_id, I = c.image_token_id, E = c.eoi_token_id;
  const int BA = c.boa_token_id, A = c.audio_token_id, EA = c.eoa_token_id;
  std::vector<int> expected = {2, tok->token_id("<|turn>")};
  auto add = [&](const std::vector<int>& v) { expected.insert(expected.end(), v.begin(), v.end()); };
  add(tok->encode("user\n"));
  add({B, I, I, I, E});
  add(tok->encode("Compare"));  // each text part is trimmed on its own (official template)
  add({B, I, I, E, BA, A, A, A, A, EA});
  add(tok->encode("please"));
  add({tok->token_id("<turn|>")});
  add(tok->encode("\n"));
  EXPECT_EQ(ids, expected);

  const std::vector<int> types = token_types_for(ids, c);
  const std::vector<int> blocks = block_ids_from_token_types(types);
  std::string layout;  // one character per token: t text, i image, a audio; block ids beside
  for (size_t i = 0; i < ids.size(); ++i) layout += types[i] == 1 ? 'i' : types[i] == 3 ? 'a' : 't';
  const size_t first = layout.find('i');
  EXPECT_EQ(layout.substr(first - 1, 5), "tiiit");
  EXPECT_EQ(std::count(layout.begin(), layout.end(), 'i'), 5);
  EXPECT_EQ(std::count(layout.begin(), layout.end(), 'a'), 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (types[i] == 1) EXPECT_EQ(blocks[i], i < first + 3 ? 0 : 1) << i;  // each image its own block
    else EXPECT_EQ(blocks[i], -1) << i;  // text, markers and audio are never in a block
  }
}

}  // namespace
}  // namespace g4ref
