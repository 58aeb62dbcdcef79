// The chat-template request: a JSON object {"messages": [...], "tools": [...], "add_generation_prompt",
// "thinking"} in the OpenAI shape, turned into prompt/chat_template.h messages and rendered (spec §5). Only
// the rendering is under test: values of the wrong type are skipped here rather than refused.
#include <nlohmann/json.hpp>
#include <vector>

#include "fuzz_util.h"
#include "prompt/chat_template.h"

namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

g4ref::Message to_message(const json& m) {
  g4ref::Message msg;
  msg.role = str(m, "role");
  msg.tool_name = str(m, "name");
  const auto c = m.find("content");
  if (c != m.end() && c->is_string()) {
    msg.content.push_back({g4ref::ContentItem::Kind::text, c->get<std::string>()});
  } else if (c != m.end() && c->is_array()) {
    for (const json& part : *c) {
      const std::string type = str(part, "type");
      g4ref::ContentItem item;
      if (type == "image") item.kind = g4ref::ContentItem::Kind::image;
      else if (type == "audio") item.kind = g4ref::ContentItem::Kind::audio;
      else if (type == "video") item.kind = g4ref::ContentItem::Kind::video;
      else item.text = str(part, "text");
      msg.content.push_back(item);
    }
  }
  const auto calls = m.find("tool_calls");
  if (calls != m.end() && calls->is_array()) {
    for (const json& call : *calls) {
      if (!call.is_object()) continue;
      const json fn = call.value("function", json::object());
      g4ref::ToolCall tc;
      tc.name = str(fn, "name");
      if (fn.is_object() && fn.contains("arguments")) tc.arguments = fn["arguments"];
      msg.tool_calls.push_back(tc);
    }
  }
  return msg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const json request = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object()) return 0;
  std::vector<g4ref::Message> messages;
  const auto ms = request.find("messages");
  if (ms != request.end() && ms->is_array()) {
    for (const json& m : *ms) {
      if (m.is_object()) messages.push_back(to_message(m));
    }
  }
  g4ref::ChatOptions options;
  const auto tools = request.find("tools");
  if (tools != request.end() && tools->is_array()) options.tools = *tools;
  const auto agp = request.find("add_generation_prompt");
  if (agp != request.end() && agp->is_boolean()) options.add_generation_prompt = agp->get<bool>();
  const auto think = request.find("thinking");
  if (think != request.end() && think->is_boolean()) options.thinking = think->get<bool>();
  g4ref::fuzz::expect_clean([&] {
    const std::string text = g4ref::render_chat(messages, options);
    (void)g4ref::strip_thought_channels(text);
  });
  return 0;
}
