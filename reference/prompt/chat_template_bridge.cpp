// Messages as JSON → the chat template (spec §5), through the Message form of chat_template.h.
#include "base/error.h"
#include "prompt/chat_template.h"

namespace g4ref {

std::string render_chat(const nlohmann::ordered_json& messages, const ChatOptions& options) {
  std::vector<Message> out;
  for (const auto& m : messages) {
    Message msg;
    msg.role = m.at("role").get<std::string>();
    if (m.contains("content") && m.at("content").is_string()) {
      msg.content.push_back({ContentItem::Kind::text, m.at("content").get<std::string>()});
    } else if (m.contains("content") && m.at("content").is_array()) {
      for (const auto& part : m.at("content")) {
        const std::string t = part.at("type").get<std::string>();
        if (t == "text") msg.content.push_back({ContentItem::Kind::text, part.at("text").get<std::string>()});
        else if (t == "image") msg.content.push_back({ContentItem::Kind::image, ""});
        else if (t == "audio") msg.content.push_back({ContentItem::Kind::audio, ""});
        else if (t == "video") msg.content.push_back({ContentItem::Kind::video, ""});
      }
    }
    if (m.contains("tool_calls") && m.at("tool_calls").is_array()) {
      for (const auto& call : m.at("tool_calls")) {
        ToolCall c;
        c.name = call.at("function").at("name").get<std::string>();
        if (call.at("function").contains("arguments")) {
          const auto& a = call.at("function").at("arguments");
          c.arguments = a.is_string() ? nlohmann::json::parse(a.get<std::string>(), nullptr, false) : nlohmann::json(a);
        }
        msg.tool_calls.push_back(c);
      }
    }
    if (m.contains("name") && m.at("name").is_string()) msg.tool_name = m.at("name").get<std::string>();
    out.push_back(std::move(msg));
  }
  return render_chat(out, options);
}

}  // namespace g4ref
