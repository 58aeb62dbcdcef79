// The request (prompt/request.h): conversations in the Hugging Face / OpenAI message form become the same Prompt
// whatever form the media come in, malformed messages are refused naming the message and field, and every command
// builds its prompt through it (--messages gives the ids --prompt gives).
#include <gtest/gtest.h>

#include <fstream>

#include "base/error.h"
#include "forward/session.h"
#include "model/token_types.h"
#include "model/weights.h"
#include "prompt/request.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

using ojson = nlohmann::ordered_json;

std::string base64(const std::string& bytes) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A 96×144 gradient PPM and a 0.5 s 16-bit WAV tone, written at test time.
struct SmallMedia {
  std::string image, audio;
};

SmallMedia small_media(testing::TempDir& d) {
  SmallMedia m{d / "grad.ppm", d / "tone.wav"};
  {
    std::ofstream o(m.image, std::ios::binary);
    o << "P6\n144 96\n255\n";
    for (int r = 0; r < 96; ++r) {
      for (int c = 0; c < 144; ++c) o.put(char(r * 2)).put(char(c)).put(char((r + c) & 255));
    }
  }
  std::vector<int16_t> saw(8000);
  for (size_t i = 0; i < saw.size(); ++i) saw[i] = static_cast<int16_t>((i * 37) % 20000 - 10000);
  testing::write_wav16(m.audio, saw);
  return m;
}

TEST(Request, OpenAiPartsBecomeTheHuggingFaceForm) {
  const ojson j = ojson::parse(R"([{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
      {"type": "input_audio", "input_audio": {"data": "BBBB", "format": "wav"}},
      {"type": "video_url", "video_url": {"url": "clip.mp4"}},
      {"type": "text", "text": "Hi"}]}])");
  const Conversation c = Conversation::from_json(j, "request");
  const ojson& parts = c.messages[0]["content"];
  EXPECT_EQ(parts[0], ojson::parse(R"({"type": "image", "url": "data:image/png;base64,AAAA"})"));
  EXPECT_EQ(parts[1], ojson::parse(R"({"type": "audio", "url": "data:audio/wav;base64,BBBB"})"));
  EXPECT_EQ(parts[2], ojson::parse(R"({"type": "video", "url": "clip.mp4"})"));
  EXPECT_EQ(c.media_parts().size(), 3u);
}

TEST(Request, MalformedMessagesNameTheMessageAndField) {
  auto from = [](const char* text) { return Conversation::from_json(ojson::parse(text), "req.json"); };
  testing::expect_error([&] { from(R"([{"role": "robot", "content": "x"}])"); }, "req.json: message 0", "role 'robot'");
  testing::expect_error([&] { from(R"([{"role": "user", "content": "a"}, {"role": "user", "content": 5}])"); },
                        "req.json: message 1", "'content' must be");
  testing::expect_error([&] { from(R"([{"role": "user", "content": [{"type": "hologram"}]}])"); },
                        "req.json: message 0 part 0", "unknown content part type 'hologram'");
  testing::expect_error([&] { from(R"([{"role": "assistant", "tool_calls": [{"function": {"arguments": 3}}]}])"); },
                        "req.json: message 0 tool_calls[0]", "function.name");
  testing::expect_error([&] { from(R"([])"); }, "req.json", "empty");
  testing::expect_error([&] { from(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"name": 1}]})"); },
                        "req.json", "tools[0]");
}

TEST(Request, NetworkUrlsAreRefused) {
  auto model = Model::load(testing::tiny_checkpoint());
  const ojson part = {{"type", "image"}, {"url", "https://example.org/cat.png"}};
  testing::expect_error([&] { prepare_media_part(part, model->config(), {}, "media item 0"); }, "media item 0",
                        "not fetched");
}

TEST(Request, InlineMediaGiveTheSamePromptAsFiles) {
  testing::TempDir d("request_media");
  const SmallMedia m = small_media(d);
  const std::string dir = testing::tiny_checkpoint();
  auto model = Model::load(dir);
  auto tok = load_tokenizer(dir);
  const Conversation files = Conversation::single_turn("Describe both.", "", {m.image}, {}, {m.audio});
  const ojson inline_form = {{{"role", "user"},
                              {"content",
                               {{{"type", "image_url"}, {"image_url", {{"url", "data:image/x-portable-pixmap;base64," + base64(read_all(m.image))}}}},
                                {{"type", "input_audio"}, {"input_audio", {{"data", base64(read_all(m.audio))}, {"format", "wav"}}}},
                                {{"type", "text"}, {"text", "Describe both."}}}}}};
  const Prompt a = build_prompt(files, *tok, model->config());
  const Prompt b = build_prompt(Conversation::from_json(inline_form, "inline"), *tok, model->config());
  EXPECT_EQ(a.rendered, b.rendered);
  EXPECT_EQ(a.ids, b.ids);
  ASSERT_EQ(a.media.size(), 2u);
  ASSERT_EQ(b.media.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(a.media[i].values, b.media[i].values) << i;
  // 96×144 at budget 280 resizes to a whole number of 48×48 patches; 8000 samples are 13 frames of 640 (spec §4).
  EXPECT_EQ(a.count_tokens(kImage), a.media[0].rows);
  EXPECT_EQ(a.count_tokens(kAudio), 13);
  EXPECT_EQ(a.block_ids.size(), a.ids.size());
}

TEST(Request, MessagesFileGivesTheIdsOfTheSamePrompt) {
  testing::TempDir d("request_cli");
  const std::string dir = testing::tiny_checkpoint();
  const std::string messages = d / "messages.json";
  std::ofstream(messages) << R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}])";
  std::string a, b;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " run --model " + dir +
                                     " --prompt 'Hello there' --system 'Be brief.' --max-new-tokens 0 --json",
                                 &a),
            0);
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " run --model " + dir + " --messages " + messages +
                                     " --max-new-tokens 0 --json",
                                 &b),
            0);
  EXPECT_EQ(nlohmann::json::parse(a)["prompt_ids"], nlohmann::json::parse(b)["prompt_ids"]);
  EXPECT_EQ(nlohmann::json::parse(a)["rendered_prompt"], nlohmann::json::parse(b)["rendered_prompt"]);
}

}  // namespace
}  // namespace g4ref
