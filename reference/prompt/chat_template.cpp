#include "prompt/chat_template.h"

#include "base/error.h"

namespace g4ref {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\n\r";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

const char* marker(ContentItem::Kind k) {
  switch (k) {
    case ContentItem::Kind::image: return "<|image|>";
    case ContentItem::Kind::audio: return "<|audio|>";
    case ContentItem::Kind::video: return "<|video|>";
    case ContentItem::Kind::text: break;
  }
  return "";
}

// Text and media markers in order. Text is trimmed as a whole turn (the template trims the content string).
std::string render_content(const std::vector<ContentItem>& items) {
  std::string s;
  for (const auto& it : items) s += it.kind == ContentItem::Kind::text ? it.text : marker(it.kind);
  return trim(s);
}

std::string render_declaration(const nlohmann::json& tool) {
  // A declaration may come wrapped as {"type": "function", "function": {...}}.
  const nlohmann::json& f = tool.contains("function") ? tool.at("function") : tool;
  if (!f.contains("name") || !f.at("name").is_string()) fail("tools", "a tool declaration has no string 'name'");
  nlohmann::json body = nlohmann::json::object();
  if (f.contains("description")) body["description"] = f.at("description");
  if (f.contains("parameters")) body["parameters"] = f.at("parameters");
  return "<|tool>declaration:" + f.at("name").get<std::string>() + render_tool_value(body) + "<tool|>";
}

}  // namespace

Message Message::text(std::string role, std::string text) {
  Message m;
  m.role = std::move(role);
  m.content.push_back({ContentItem::Kind::text, std::move(text)});
  return m;
}

std::string render_tool_value(const nlohmann::json& v) {
  if (v.is_string()) return "<|\"|>" + v.get<std::string>() + "<|\"|>";
  if (v.is_object()) {
    std::string s = "{";
    bool first = true;
    for (auto& [k, val] : v.items()) {
      if (!first) s += ",";
      first = false;
      s += k + ":" + render_tool_value(val);
    }
    return s + "}";
  }
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ",";
      s += render_tool_value(v[i]);
    }
    return s + "]";
  }
  return v.dump();  // numbers, booleans, null as JSON writes them
}

std::string strip_thought_channels(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t b = text.find("<|channel>", pos);
    if (b == std::string::npos) break;
    const size_t e = text.find("<channel|>", b);
    if (e == std::string::npos) break;
    out += text.substr(pos, b - pos);
    pos = e + std::string("<channel|>").size();
  }
  return out + text.substr(pos);
}

std::string render_chat(const std::vector<Message>& messages, const ChatOptions& o) {
  std::string s = "<bos>";
  size_t first = 0;
  const bool has_system = !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
  const bool has_tools = o.tools.is_array() && !o.tools.empty();
  if (o.thinking || has_tools || has_system) {
    s += "<|turn>system\n";
    if (o.thinking) s += "<|think|>";
    if (has_system) {
      s += render_content(messages[0].content);
      first = 1;
    }
    if (has_tools) {
      for (const auto& t : o.tools) s += render_declaration(t);
    }
    s += "<turn|>\n";
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "system" || m.role == "developer") {
      fail("messages", "a " + m.role + " message may only come first (found at index " + std::to_string(i) + ")");
    }
    if (m.role == "tool") {
      // The response body is rendered like call arguments (spec §5). Which turn carries it is UNCONFIRMED
      // (spec §9.4): it is placed in a user turn here.
      const std::string body = render_content(m.content);
      const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      const nlohmann::json value = parsed.is_object() ? parsed : nlohmann::json{{"result", body}};
      s += "<|turn>user\n<|tool_response>response:" + m.tool_name + render_tool_value(value) +
           "<tool_response|><turn|>\n";
      continue;
    }
    if (m.role != "user" && m.role != "assistant" && m.role != "model") {
      fail("messages", "unknown role '" + m.role + "' at index " + std::to_string(i));
    }
    const bool model = m.role != "user";
    std::string body = render_content(m.content);
    if (model) body = trim(strip_thought_channels(body));
    s += std::string("<|turn>") + (model ? "model" : "user") + "\n" + body;
    for (const auto& call : m.tool_calls) {
      s += "<|tool_call>call:" + call.name + render_tool_value(call.arguments) + "<tool_call|>";
    }
    s += "<turn|>\n";
  }
  if (o.add_generation_prompt) {
    s += "<|turn>model\n";
    // The 12B template pre-closes an empty thought channel when thinking is off (spec §5).
    if (!o.thinking) s += "<|channel>thought\n<channel|>";
  }
  return s;
}

}  // namespace g4ref
