// The chat-template request: bytes parsed as JSON, then both ways a request reaches the template (spec §5): the
// official template's renderer on the messages as they are (what `g4ref template` does), and the request type
// (prompt/request.h: roles, parts, tool calls checked; OpenAI parts normalized) rendered. Either may refuse the
// input with a g4ref::Error; anything else (a crash, a bare library exception) is a finding.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "prompt/chat_template.h"
#include "prompt/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::ordered_json request = nlohmann::ordered_json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return 0;
  g4ref::fuzz::expect_clean([&] {
    g4ref::ChatOptions options;
    const nlohmann::ordered_json* messages = &request;
    if (request.is_object()) {
      if (!request.contains("messages")) return;
      messages = &request.at("messages");
      if (request.contains("tools") && request.at("tools").is_array()) options.tools = request.at("tools");
      if (request.contains("add_generation_prompt") && request.at("add_generation_prompt").is_boolean()) {
        options.add_generation_prompt = request.at("add_generation_prompt").get<bool>();
      }
      if (request.contains("thinking") && request.at("thinking").is_boolean()) options.thinking = request.at("thinking").get<bool>();
    }
    if (messages->is_array()) (void)g4ref::render_chat(*messages, options);
  });
  g4ref::fuzz::expect_clean([&] { (void)g4ref::render(g4ref::Conversation::from_json(request, "request")); });
  return 0;
}
