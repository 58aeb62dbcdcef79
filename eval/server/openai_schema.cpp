#include "server/openai_schema.h"

#include <set>

#include "base/error.h"

namespace g4ref {

namespace {

using ojson = nlohmann::ordered_json;

// Fields that change what is computed and that this server does not offer: refused, never silently ignored.
const std::set<std::string> kUnsupported = {"logit_bias", "presence_penalty", "frequency_penalty", "response_format",
                                            "functions", "function_call", "prediction", "audio", "modalities",
                                            "best_of", "suffix", "guided_json", "guided_regex", "grammar"};

bool has(const ojson& j, const char* k) { return j.contains(k) && !j.at(k).is_null(); }

double number(const ojson& j, const char* k, double lo, double hi) {
  const ojson& v = j.at(k);
  if (!v.is_number()) throw ApiError(400, std::string("'") + k + "' must be a number", k);
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) {
    throw ApiError(400, std::string("'") + k + "' must be between " + ojson(lo).dump() + " and " + ojson(hi).dump(), k);
  }
  return x;
}

int64_t integer(const ojson& j, const char* k, int64_t lo, int64_t hi) {
  const ojson& v = j.at(k);
  if (!v.is_number_integer()) throw ApiError(400, std::string("'") + k + "' must be an integer", k);
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) throw ApiError(400, std::string("'") + k + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi), k);
  return x;
}

bool boolean(const ojson& j, const char* k) {
  if (!j.at(k).is_boolean()) throw ApiError(400, std::string("'") + k + "' must be a boolean", k);
  return j.at(k).get<bool>();
}

void check_common(const ojson& body) {
  for (const auto& [key, value] : body.items()) {
    if (!kUnsupported.count(key) || value.is_null()) continue;
    if (key == "logit_bias" && value.is_object() && value.empty()) continue;
    if ((key == "presence_penalty" || key == "frequency_penalty") && value.is_number() && value.get<double>() == 0) continue;
    if (key == "response_format" && value.is_object() && value.value("type", "") == "text") continue;
    throw ApiError(400, "'" + key + "' is not supported by this server (it would change the result)", key);
  }
  if (has(body, "n") && integer(body, "n", 1, 128) != 1) throw ApiError(400, "only n = 1 is supported", "n");
}

void sampling(const ojson& body, GenerateOptions& g, int default_max_tokens) {
  g.max_new_tokens = default_max_tokens;
  if (has(body, "max_tokens")) g.max_new_tokens = static_cast<int>(integer(body, "max_tokens", 0, 1 << 20));
  // max_completion_tokens is the current field and wins over the deprecated max_tokens.
  if (has(body, "max_completion_tokens")) g.max_new_tokens = static_cast<int>(integer(body, "max_completion_tokens", 0, 1 << 20));
  if (has(body, "temperature")) g.sampling.temperature = number(body, "temperature", 0, 2);
  else g.sampling.temperature = 1.0;  // OpenAI's default
  if (has(body, "top_p")) g.sampling.top_p = number(body, "top_p", 0, 1);
  else g.sampling.top_p = 1.0;
  if (has(body, "top_k")) g.sampling.top_k = static_cast<int>(integer(body, "top_k", -1, 1 << 30));
  else g.sampling.top_k = 0;
  if (g.sampling.top_k < 0) g.sampling.top_k = 0;  // -1: no limit (vLLM's spelling)
  if (has(body, "seed")) g.sampling.seed = static_cast<uint64_t>(integer(body, "seed", INT64_MIN, INT64_MAX));
  if (has(body, "stop")) {
    const ojson& s = body.at("stop");
    if (s.is_string()) g.stop = {s.get<std::string>()};
    else if (s.is_array()) {
      if (s.size() > 4) throw ApiError(400, "'stop' holds at most 4 sequences", "stop");
      for (const auto& x : s) {
        if (!x.is_string()) throw ApiError(400, "'stop' must be a string or a list of strings", "stop");
        g.stop.push_back(x.get<std::string>());
      }
    } else {
      throw ApiError(400, "'stop' must be a string or a list of strings", "stop");
    }
  }
}

std::string model_of(const ojson& body) {
  if (!has(body, "model")) return "";
  if (!body.at("model").is_string()) throw ApiError(400, "'model' must be a string", "model");
  return body.at("model").get<std::string>();
}

// OpenAI clients may send system content as a list of text parts; the official template would print that list's
// Python repr, so the server joins the text parts into one string first (the one normalization it makes).
ojson join_system_parts(ojson messages) {
  for (auto& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m.at("content").is_array()) continue;
    if (m.at("role") != "system" && m.at("role") != "developer") continue;
    std::string text;
    for (const auto& part : m.at("content")) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part.at("text").is_string()) {
        throw ApiError(400, "a system or developer message may only hold text parts", "messages");
      }
      text += part.at("text").get<std::string>();
    }
    m["content"] = text;
  }
  return messages;
}

}  // namespace

nlohmann::json error_json(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
            {"code", e.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.code)}}}};
}

ChatRequest parse_chat_request(const ojson& body, int default_max_tokens) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  check_common(body);
  ChatRequest r;
  r.model = model_of(body);
  if (!has(body, "messages")) throw ApiError(400, "'messages' is required", "messages");
  if (!body.at("messages").is_array()) throw ApiError(400, "'messages' must be a list", "messages");
  ojson conv = {{"messages", join_system_parts(body.at("messages"))}};
  if (has(body, "tools")) {
    if (!body.at("tools").is_array()) throw ApiError(400, "'tools' must be a list", "tools");
    conv["tools"] = body.at("tools");
  }
  if (has(body, "chat_template_kwargs")) {
    if (!body.at("chat_template_kwargs").is_object()) throw ApiError(400, "'chat_template_kwargs' must be an object", "chat_template_kwargs");
    conv["chat_template_kwargs"] = body.at("chat_template_kwargs");
  }
  try {
    r.conversation = Conversation::from_json(conv, "messages");
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "messages");
  }
  sampling(body, r.generate, default_max_tokens);
  if (has(body, "logprobs")) r.logprobs = boolean(body, "logprobs");
  if (has(body, "top_logprobs")) {
    r.top_logprobs = static_cast<int>(integer(body, "top_logprobs", 0, 20));
    if (!r.logprobs) throw ApiError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
  }
  if (has(body, "stream")) r.stream = boolean(body, "stream");
  if (has(body, "stream_options")) {
    const ojson& so = body.at("stream_options");
    if (!so.is_object()) throw ApiError(400, "'stream_options' must be an object", "stream_options");
    if (!r.stream) throw ApiError(400, "'stream_options' needs 'stream': true", "stream_options");
    if (has(so, "include_usage")) r.include_usage = boolean(so, "include_usage");
  }
  if (r.logprobs) r.generate.top_logprobs = std::max(r.top_logprobs, 1);
  return r;
}

CompletionRequest parse_completion_request(const ojson& body, int default_max_tokens) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  check_common(body);
  CompletionRequest r;
  r.model = model_of(body);
  if (!has(body, "prompt")) throw ApiError(400, "'prompt' is required", "prompt");
  const ojson& p = body.at("prompt");
  if (p.is_string()) {
    r.text = p.get<std::string>();
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    for (const auto& x : p) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) {
        throw ApiError(400, "a token-id prompt must be a list of non-negative integers", "prompt");
      }
      r.ids.push_back(x.get<int>());
    }
    r.ids_given = true;
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    r.text = p[0].get<std::string>();
  } else {
    throw ApiError(400, "'prompt' must be a string, a list of token ids, or a list of one string", "prompt");
  }
  if (!r.ids_given && r.text.empty()) throw ApiError(400, "'prompt' is empty", "prompt");
  sampling(body, r.generate, default_max_tokens);
  if (has(body, "echo")) r.echo = boolean(body, "echo");
  if (has(body, "logprobs")) r.logprobs = static_cast<int>(integer(body, "logprobs", 0, 20));
  if (has(body, "prompt_logprobs")) r.prompt_logprobs = static_cast<int>(integer(body, "prompt_logprobs", 0, 20));
  if (has(body, "stream")) r.stream = boolean(body, "stream");
  if (r.stream && (r.echo || r.prompt_logprobs >= 0)) throw ApiError(400, "prompt logprobs cannot be streamed", "stream");
  if (r.logprobs >= 0) r.generate.top_logprobs = std::max(r.logprobs, 1);
  return r;
}

nlohmann::json chat_logprob_json(const TokenLogprob& t, Backend& backend, int top_k) {
  auto entry = [&](int id, double logprob) {
    const std::string piece = backend.detokenize({id});
    nlohmann::json bytes = nlohmann::json::array();
    for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
    return nlohmann::json{{"token", piece}, {"logprob", logprob}, {"bytes", bytes}, {"id", id}};
  };
  nlohmann::json j = entry(t.id, t.logprob);
  nlohmann::json top = nlohmann::json::array();
  for (size_t k = 0; k < t.top.size() && static_cast<int>(k) < top_k; ++k) top.push_back(entry(t.top[k].id, t.top[k].logprob));
  j["top_logprobs"] = top;
  return j;
}

namespace {

// The tool syntax's values (spec §5: strings in <|"|>, objects {key:value,…} with bare keys, lists […], numbers,
// true/false/null) back to JSON. Returns false on anything else.
struct ToolValueParser {
  const std::string& s;
  size_t i = 0;
  static constexpr const char* kQuote = "<|\"|>";
  bool at_quote() const { return s.compare(i, 5, kQuote) == 0; }
  bool value(nlohmann::json& out) {
    if (at_quote()) {
      const size_t end = s.find(kQuote, i + 5);
      if (end == std::string::npos) return false;
      out = s.substr(i + 5, end - i - 5);
      i = end + 5;
      return true;
    }
    if (i < s.size() && s[i] == '{') return object(out);
    if (i < s.size() && s[i] == '[') {
      ++i;
      out = nlohmann::json::array();
      while (i < s.size() && s[i] != ']') {
        nlohmann::json v;
        if (!value(v)) return false;
        out.push_back(v);
        if (i < s.size() && s[i] == ',') ++i;
      }
      if (i >= s.size()) return false;
      ++i;
      return true;
    }
    size_t end = i;
    while (end < s.size() && s[end] != ',' && s[end] != '}' && s[end] != ']') ++end;
    const std::string word = s.substr(i, end - i);
    i = end;
    const nlohmann::json parsed = nlohmann::json::parse(word, nullptr, false);
    out = parsed.is_discarded() ? nlohmann::json(word) : parsed;
    return true;
  }
  bool object(nlohmann::json& out) {
    if (i >= s.size() || s[i] != '{') return false;
    ++i;
    out = nlohmann::json::object();
    while (i < s.size() && s[i] != '}') {
      std::string key;
      if (at_quote()) {
        const size_t end = s.find(kQuote, i + 5);
        if (end == std::string::npos) return false;
        key = s.substr(i + 5, end - i - 5);
        i = end + 5;
      } else {
        const size_t colon = s.find(':', i);
        if (colon == std::string::npos) return false;
        key = s.substr(i, colon - i);
        i = colon;
      }
      if (i >= s.size() || s[i] != ':') return false;
      ++i;
      nlohmann::json v;
      if (!value(v)) return false;
      out[key] = v;
      if (i < s.size() && s[i] == ',') ++i;
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  }
};

}  // namespace

nlohmann::json parse_tool_calls(const std::string& text, std::string* content) {
  static const std::string open = "<|tool_call>call:", close = "<tool_call|>";
  nlohmann::json calls = nlohmann::json::array();
  std::string rest;
  size_t pos = 0;
  while (true) {
    const size_t b = text.find(open, pos);
    if (b == std::string::npos) break;
    const size_t e = text.find(close, b);
    if (e == std::string::npos) break;
    const std::string body = text.substr(b + open.size(), e - b - open.size());
    const size_t brace = body.find('{');
    nlohmann::json args = nlohmann::json::object();
    std::string name = body.substr(0, brace);
    if (brace != std::string::npos) {
      ToolValueParser p{body, brace};
      if (!p.object(args)) args = nlohmann::json::object();
    }
    rest += text.substr(pos, b - pos);
    calls.push_back({{"id", "call_" + std::to_string(calls.size())},
                     {"type", "function"},
                     {"function", {{"name", name}, {"arguments", args.dump()}}}});
    pos = e + close.size();
  }
  rest += text.substr(pos);
  if (content) *content = rest;
  return calls;
}

}  // namespace g4ref
