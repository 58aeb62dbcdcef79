// The chat template (spec §5) and media placeholder layout (spec §3.3, §3.4, §4): rendered strings held by hand.
#include <gtest/gtest.h>

#include "base/error.h"
#include "layers/attention_mask.h"
#include "convert/synth.h"
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"

namespace g4ref {
namespace {

using Kind = ContentItem::Kind;

TEST(ChatTemplate, SpecExampleThinkingOff) {
  // Spec §5: one user message "Hi", thinking off.
  EXPECT_EQ(render_chat({Message::text("user", "Hi")}, {}),
            "<bos><|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
}

TEST(ChatTemplate, ThinkingOnPutsThinkInTheSystemTurn) {
  ChatOptions o;
  o.thinking = true;
  EXPECT_EQ(render_chat({Message::text("user", "Hi")}, o),
            "<bos><|turn>system\n<|think|><turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST(ChatTemplate, SystemTurnIsTrimmedAndDeveloperCounts) {
  EXPECT_EQ(render_chat({Message::text("system", "  Be brief.\n"), Message::text("user", " Hi ")}, {}),
            "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  ChatOptions o;
  o.add_generation_prompt = false;
  EXPECT_EQ(render_chat({Message::text("developer", "Rules."), Message::text("user", "Hi")}, o),
            "<bos><|turn>system\nRules.<turn|>\n<|turn>user\nHi<turn|>\n");
}

TEST(ChatTemplate, MultiTurnStripsEarlierThoughtChannels) {
  ChatOptions o;
  o.add_generation_prompt = false;
  const std::vector<Message> m = {Message::text("user", "2+2?"),
                                  Message::text("assistant", "<|channel>thought\nadd them<channel|>4"),
                                  Message::text("user", "And 3+3?")};
  EXPECT_EQ(render_chat(m, o),
            "<bos><|turn>user\n2+2?<turn|>\n<|turn>model\n4<turn|>\n<|turn>user\nAnd 3+3?<turn|>\n");
}

TEST(ChatTemplate, ToolDeclarationCallAndResponse) {
  ChatOptions o;
  o.tools = nlohmann::json::array(
      {{{"name", "get_weather"},
        {"description", "Weather of a city"},
        {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}});
  Message call;
  call.role = "assistant";
  call.tool_calls.push_back({"get_weather", {{"city", "Paris"}}});
  Message response;
  response.role = "tool";
  response.tool_name = "get_weather";
  response.content.push_back({Kind::text, R"({"temp": 21})"});
  const std::string s = render_chat({Message::text("user", "Weather in Paris?"), call, response}, o);
  EXPECT_EQ(s,
            "<bos><|turn>system\n"
            "<|tool>declaration:get_weather{description:<|\"|>Weather of a city<|\"|>,parameters:{properties:{city:{"
            "type:<|\"|>string<|\"|>}},type:<|\"|>object<|\"|>}}<tool|><turn|>\n"
            "<|turn>user\nWeather in Paris?<turn|>\n"
            "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|><turn|>\n"
            "<|turn>user\n<|tool_response>response:get_weather{temp:21}<tool_response|><turn|>\n"
            "<|turn>model\n<|channel>thought\n<channel|>");
}

TEST(ChatTemplate, MediaItemsRenderAsMarkersInOrder) {
  Message m;
  m.role = "user";
  m.content = {{Kind::image, ""}, {Kind::text, "Compare "}, {Kind::image, ""}, {Kind::text, " with"},
               {Kind::audio, ""}};
  ChatOptions o;
  o.add_generation_prompt = false;
  EXPECT_EQ(render_chat({m}, o), "<bos><|turn>user\n<|image|>Compare <|image|> with<|audio|><turn|>\n");
}

TEST(ChatTemplate, BadRolesAreRefused) {
  EXPECT_THROW(render_chat({Message::text("user", "a"), Message::text("system", "b")}, {}), Error);
  EXPECT_THROW(render_chat({Message::text("robot", "a")}, {}), Error);
}


TEST(MediaPlaceholders, TokenTypesAndBlocks) {
  // Ids as the 12B config gives them: two images (3 and 2 placeholders), one audio clip (2 frames), text.
  const ModelConfig c = synth_preset("12b");
  const int B = c.boi_token_id, I = c.image_token_id, E = c.eoi_token_id;
  const int BA = c.boa_token_id, A = c.audio_token_id, EA = c.eoa_token_id;
  const std::vector<int> ids = {2, 105, B, I, I, I, E, 10, B, I, I, E, BA, A, A, EA, 106};
  const std::vector<int> types = token_types_for(ids, c);
  EXPECT_EQ(types, (std::vector<int>{0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 3, 3, 0, 0}));
  EXPECT_EQ(block_ids_from_token_types(types),
            (std::vector<int>{-1, -1, -1, 0, 0, 0, -1, -1, -1, 1, 1, -1, -1, -1, -1, -1, -1}));
}

}  // namespace
}  // namespace g4ref
