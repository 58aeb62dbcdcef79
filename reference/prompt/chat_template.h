// The Gemma 4 instruction-tuned chat template (spec §5), rendered to the string the model reads. The authority is
// the official template text (google-gemma-4-31B-it.jinja) as Hugging Face's apply_chat_template renders it with
// Jinja; render_chat reproduces that text exactly, which tests/test_chat_template.cpp checks against Jinja itself.
// Media items render as their single marker token (<|image|>, <|audio|>, <|video|>); the processor step
// (expand_media_markers) turns each marker into begin + N placeholders + end (spec §3.3, §3.4, §4).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace g4ref {

struct ChatOptions {
  bool add_generation_prompt = true;
  bool thinking = false;  // enable_thinking: <|think|> in the system turn; no empty thought channel
  // Function declarations as apply_chat_template takes them: [{"type": "function", "function": {name,
  // description, parameters, response}}]. Ordered: the template keeps a mapping's order where keys tie.
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  std::string bos_token = "<bos>";
};

// MESSAGES is the Hugging Face message list: [{"role", "content", "tool_calls", "tool_call_id", "name",
// "reasoning_content", …}], content a string or a list of parts ({"type": "text", "text"}, {"type": "image"},
// {"type": "audio"}, {"type": "video"}). Wherever the official template raises, this throws a g4ref::Error that
// names the message and field (messages[3].tool_calls[0].function.name: …). One deliberate refusal where the
// template does not raise: system or developer content given as a list of parts (the template would print
// Python's repr of the list into the system turn).
std::string render_chat(const nlohmann::ordered_json& messages, const ChatOptions& options);

// The older structured form, kept for callers that build a single prompt; converted to the message JSON above.
struct ContentItem {
  enum class Kind { text, image, audio, video };
  Kind kind = Kind::text;
  std::string text;  // for text items
};

struct ToolCall {
  std::string name;
  nlohmann::json arguments = nlohmann::json::object();
};

struct Message {
  std::string role;  // system, developer, user, assistant (rendered "model"), tool
  std::vector<ContentItem> content;
  std::vector<ToolCall> tool_calls;  // assistant messages
  std::string tool_name;             // tool messages: the function whose response this is
  static Message text(std::string role, std::string text);
};

// Text-only content becomes one string, content with media a list of parts; system content must be text.
nlohmann::ordered_json to_message_json(const std::vector<Message>& messages);

std::string render_chat(const std::vector<Message>& messages, const ChatOptions& options);


}  // namespace g4ref
