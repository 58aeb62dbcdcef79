// The chat template (spec §5): every conversation of a seeded generator rendered by Jinja with the official
// template and by render_chat must give the same text, or both refuse; a few renderings held by hand beside.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include "base/error.h"
#include "layers/attention_mask.h"
#include "convert/synth.h"
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"
#include "prompt/tokenizer.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

using Kind = ContentItem::Kind;
using Json = nlohmann::ordered_json;

// The expected strings below are read off the official template by hand; the oracle test checks the same
// conversations against Jinja.

TEST(ChatTemplate, SpecExampleThinkingOff) {
  // Spec §5: one user message "Hi", thinking off.
  EXPECT_EQ(render_chat({Message::text("user", "Hi")}, {}),
            "<bos><|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
}

TEST(ChatTemplate, ThinkingOnPutsThinkAndANewlineInTheSystemTurn) {
  ChatOptions o;
  o.thinking = true;
  EXPECT_EQ(render_chat({Message::text("user", "Hi")}, o),
            "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST(ChatTemplate, SystemTurnIsTrimmedAndDeveloperCounts) {
  EXPECT_EQ(render_chat({Message::text("system", "  Be brief.\n"), Message::text("user", " Hi ")}, {}),
            "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  ChatOptions o;
  o.add_generation_prompt = false;
  EXPECT_EQ(render_chat({Message::text("developer", "Rules."), Message::text("user", "Hi")}, o),
            "<bos><|turn>system\nRules.<turn|>\n<|turn>user\nHi<turn|>\n");
}

TEST(ChatTemplate, TrimUsesPythonWhitespace) {
  // NBSP, ideographic space and U+2029 are whitespace to str.strip(); a zero-width space is not.
  ChatOptions o;
  o.add_generation_prompt = false;
  EXPECT_EQ(render_chat(Json::parse(R"([{"role": "user", "content": "\u00a0\u3000Hi\u2029\u001c"}])"), o),
            "<bos><|turn>user\nHi<turn|>\n");
  EXPECT_EQ(render_chat(Json::parse(R"([{"role": "user", "content": "\u200bHi"}])"), o),
            "<bos><|turn>user\n\u200bHi<turn|>\n");
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

const char* kWeatherTool = R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])";

const char* kWeatherDeclaration =
    "<bos><|turn>system\n"
    "<|tool>declaration:get_weather{description:<|\"|>Weather of a city<|\"|>,parameters:{properties:{city:{"
    "type:<|\"|>STRING<|\"|>}},type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n";

TEST(ChatTemplate, ToolResponsesGoInsideTheModelTurn) {
  ChatOptions o;
  o.tools = Json::parse(kWeatherTool);
  Json m = Json::parse(R"([
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                          "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"}])");
  const std::string calls = std::string(kWeatherDeclaration) +
                            "<|turn>user\nWeather in Paris?<turn|>\n"
                            "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>"
                            "<|tool_response>response:get_weather{value:<|\"|>{\"temp\": 21}<|\"|>}<tool_response|>";
  // After responses with no content the turn stays open and no generation prompt follows.
  EXPECT_EQ(render_chat(m, o), calls);
  // The answer continues the same model turn.
  m.push_back({{"role", "assistant"}, {"content", "It is 21 degrees."}});
  EXPECT_EQ(render_chat(m, o), calls + "It is 21 degrees.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
}

TEST(ChatTemplate, UnansweredToolCallLeavesTheResponseOpen) {
  ChatOptions o;
  Json m = Json::parse(R"([{"role": "user", "content": "Hi"},
    {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1e-05, "A": [true, null]}}}]}])");
  EXPECT_EQ(render_chat(m, o),
            "<bos><|turn>user\nHi<turn|>\n<|turn>model\n<|tool_call>call:f{A:[true,None],b:1e-05}<tool_call|>"
            "<|tool_response>");
}

TEST(ChatTemplate, OldMessageFormStillRenders) {
  ChatOptions o;
  o.tools = Json::parse(kWeatherTool);
  Message call;
  call.role = "assistant";
  call.tool_calls.push_back({"get_weather", {{"city", "Paris"}}});
  Message response;
  response.role = "tool";
  response.tool_name = "get_weather";
  response.content.push_back({Kind::text, "sunny"});
  EXPECT_EQ(render_chat({Message::text("user", "Weather in Paris?"), call, response}, o),
            std::string(kWeatherDeclaration) +
                "<|turn>user\nWeather in Paris?<turn|>\n"
                "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>"
                "<|tool_response>response:get_weather{value:<|\"|>sunny<|\"|>}<tool_response|>");
}

TEST(ChatTemplate, MediaItemsRenderAsMarkersInOrder) {
  Message m;
  m.role = "user";
  m.content = {{Kind::image, ""}, {Kind::text, "Compare "}, {Kind::image, ""}, {Kind::text, " with"},
               {Kind::audio, ""}};
  ChatOptions o;
  o.add_generation_prompt = false;
  // Each text part is trimmed on its own.
  EXPECT_EQ(render_chat({m}, o), "<bos><|turn>user\n<|image|>Compare<|image|>with<|audio|><turn|>\n");
  EXPECT_EQ(render_chat(Json::parse(R"([{"role": "user", "content": [{"type": "video", "video": "v.mp4"}]}])"), o),
            "<bos><|turn>user\n<|video|><turn|>\n");
}

TEST(ChatTemplate, RolesRenderAsGiven) {
  // The official template writes any role after <|turn>; a system message later in the list is a system turn.
  ChatOptions o;
  o.add_generation_prompt = false;
  EXPECT_EQ(render_chat({Message::text("user", "a"), Message::text("system", "b")}, o),
            "<bos><|turn>user\na<turn|>\n<|turn>system\nb<turn|>\n");
}

TEST(ChatTemplate, WhatTheTemplateRefusesIsAnError) {
  using testing::expect_error;
  expect_error([] { render_chat(Json::array(), {}); }, "messages", "empty");
  expect_error([] { render_chat(Json::parse(R"([{"content": "Hi"}])"), {}); }, "messages[0].role", "missing");
  // No call has the tool_call_id and the message has no name: the template would concatenate None.
  expect_error(
      [] {
        render_chat(Json::parse(R"([{"role": "user", "content": "Hi"},
          {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f"}}]},
          {"role": "tool", "tool_call_id": "c9", "content": "x"}])"),
                    {});
      },
      "messages[2]", "name");
  expect_error(
      [] {
        render_chat(Json::parse(R"([{"role": "user", "content": "Hi"},
          {"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}])"),
                    {});
      },
      "messages[1].tool_calls[0].function.name", "expected a string");
  ChatOptions bare;
  bare.tools = Json::parse(R"([{"name": "f"}])");
  expect_error([&] { render_chat({Message::text("user", "a")}, bare); }, "tools[0].function", "missing");
  expect_error(
      [] { render_chat(Json::parse(R"([{"role": "system", "content": [{"type": "text", "text": "x"}]}])"), {}); },
      "messages[0].content", "must be a string");
}

TEST(ChatTemplateCli, TemplateCommandPrintsTheTextAndItsIds) {
  testing::TempDir dir("template_cli");
  const Json conv = {{"messages", Json::parse(R"([{"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "get_weather",
                                                                      "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}])")},
                     {"tools", Json::parse(kWeatherTool)}};
  {
    std::ofstream(dir / "conv.json") << conv.dump();
    std::ofstream(dir / "bad.json") << R"([{"role": "user", "content": "Hi"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f"}}]},
      {"role": "tool", "tool_call_id": "c9", "content": "x"}])";
  }
  ChatOptions o;
  o.tools = conv["tools"];
  const std::string want = render_chat(conv["messages"], o);
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " template --messages '" + (dir / "conv.json") + "'", &out), 0)
      << out;
  EXPECT_EQ(out, want);
  const std::string model = testing::tiny_checkpoint();
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " template --model " + model + " --json --messages '" +
                                     (dir / "conv.json") + "'",
                                 &out),
            0)
      << out;
  const Json j = Json::parse(out);
  EXPECT_EQ(j["text"], want);
  EXPECT_EQ(j["ids"], Json(load_tokenizer(model)->encode(want)));
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " template --messages '" + (dir / "bad.json") + "' 2>&1", &out),
            0);
  EXPECT_NE(out.find("messages[2]: a tool response needs a name"), std::string::npos) << out;
}

// --- The oracle: Jinja2 with the official template --------------------------------------------------------------

const char* kBundle = G4REF_SOURCE_DIR "/eval/adapters/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The first byte where A and B differ, with some context of each.
std::string first_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  const auto show = [&](const std::string& s) { return Json(from < s.size() ? s.substr(from, 120) : "").dump(); };
  return "at byte " + std::to_string(i) + "\n    jinja: " + show(a) + "\n    ours:  " + show(b);
}

TEST(ChatTemplateOracle, EveryConversationRendersAsJinjaRendersIt) {
  std::string out;
  if (testing::run_command("/usr/bin/python3 -c 'import jinja2' 2>/dev/null && echo ok", &out) != 0 ||
      out.find("ok") == std::string::npos) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import jinja2 (Debian's python3-jinja2; run setup.sh)";
  }
  if (!std::ifstream(kBundle)) {
    GTEST_SKIP() << "no llama.cpp source bundle at " << kBundle << " (npm install in eval/adapters/llamacpp; run setup.sh)";
  }
  testing::TempDir dir("chat_template_oracle");
  const std::string cases = dir / "cases.jsonl", expected = dir / "expected.jsonl", ours = dir / "ours.jsonl";
  ASSERT_EQ(testing::run_command("/usr/bin/python3 " G4REF_SOURCE_DIR "/tests/oracles/chat_template_oracle.py --bundle '" +
                                     std::string(kBundle) + "' --cases '" + cases + "' --expected '" + expected +
                                     "' 2>&1",
                                 &out),
            0)
      << out;
  for (size_t p = 0, e = 0; p < out.size(); p = e + 1) {
    e = out.find('\n', p);
    if (e == std::string::npos) e = out.size();
    if (e > p) std::cout << "[ oracle ] " << out.substr(p, e - p) << "\n";
  }
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " template --cases '" + cases + "' > '" + ours + "' 2>&1", &out),
            0)
      << out;
  const std::vector<std::string> c = read_lines(cases), e = read_lines(expected), r = read_lines(ours);
  ASSERT_EQ(e.size(), c.size());
  ASSERT_EQ(r.size(), c.size());
  size_t identical = 0, both_refuse = 0, mismatches = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const Json want = Json::parse(e[i]), got = Json::parse(r[i]);
    if (want.contains("text") && got.contains("text") && want["text"] == got["text"]) {
      ++identical;
      continue;
    }
    if (want.contains("error") && got.contains("error")) {
      ++both_refuse;
      continue;
    }
    if (++mismatches > 1) continue;
    std::string detail;
    if (want.contains("text") && got.contains("text")) {
      detail = first_difference(want["text"].get<std::string>(), got["text"].get<std::string>());
    } else {
      detail = "jinja: " + want.dump() + "\n    ours: " + got.dump();
    }
    ADD_FAILURE() << "case " << i << " differs: " << c[i] << "\n    " << detail;
  }
  std::cout << "[ oracle ] chat template: " << c.size() << " cases, " << identical << " identical, " << both_refuse
            << " both refuse, " << mismatches << " mismatches\n";
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GE(c.size(), 1200u);
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
