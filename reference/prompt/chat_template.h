// The Gemma 4 instruction-tuned chat template (spec §5), rendered to the string the model reads. Media items
// render as their single marker token (<|image|>, <|audio|>, <|video|>); the processor step
// (expand_media_markers) turns each marker into begin + N placeholders + end (spec §3.3, §3.4, §4).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace g4ref {

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

struct ChatOptions {
  bool add_generation_prompt = true;
  bool thinking = false;                         // <|think|> in the system turn; no empty thought channel
  nlohmann::json tools = nlohmann::json::array();  // function declarations: {name, description, parameters}
};

std::string render_chat(const std::vector<Message>& messages, const ChatOptions& options);
// MESSAGES in the Hugging Face JSON form (prompt/request.h).
std::string render_chat(const nlohmann::ordered_json& messages, const ChatOptions& options);

// Tool syntax of the template: strings wrapped in <|"|>, objects {key:value,…}, lists […].
std::string render_tool_value(const nlohmann::json& v);

// Removes every <|channel>…<channel|> span (prior reasoning) from a model turn.
std::string strip_thought_channels(const std::string& text);

}  // namespace g4ref
