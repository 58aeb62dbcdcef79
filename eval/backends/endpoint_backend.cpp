#include "backends/endpoint_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "harness/dataset.h"
#include "model/weights.h"
#include "prompt/request.h"
#include "prompt/tokenizer.h"

namespace g4ref {

namespace {

std::string first_difference_at(const std::vector<int>& a, const std::vector<int>& b) {
  size_t k = 0;
  while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
  return std::to_string(k);
}

// The config of the checkpoint folder or GGUF file the server serves.
ModelConfig served_config(const std::string& path) {
  if (std::filesystem::is_directory(path)) return load_config((std::filesystem::path(path) / "config.json").string());
  return Model::load(path)->config();
}

}  // namespace

EndpointBackend::EndpointBackend(const EndpointBackendOptions& o)
    : options_(o),
      config_(served_config(o.model)),
      tokenizer_(load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer)),
      http_(std::make_unique<HttpEndpoint>(o.url, o.api_key)) {
  if (o.score_method != "auto" && o.score_method != "prompt_logprobs" && o.score_method != "completion_n_probs") {
    fail("endpoint backend", "score_method must be auto, prompt_logprobs or completion_n_probs, not '" + o.score_method + "'");
  }
  int status = 0;
  const nlohmann::json models = http_->get("/v1/models", &status);
  if (status == 401) fail(o.url, "the server wants an API key (--api-key)");
  if (status != 200 || !models.is_object() || !models.contains("data") || !models["data"].is_array() || models["data"].empty()) {
    fail(o.url, "GET /v1/models did not answer with a model list (status " + std::to_string(status) + ")");
  }
  for (const auto& m : models["data"]) {
    if (o.served_model.empty() || m.value("id", "") == o.served_model) {
      server_model_entry_ = m;
      break;
    }
  }
  if (server_model_entry_.is_null()) fail(o.url, "serves no model '" + o.served_model + "' (GET /v1/models)");
  served_model_ = server_model_entry_.value("id", "");
  // How it scores: prompt_logprobs if a probe answers with them, else llama-server's /completion with n_probs.
  const std::vector<int> probe = tokenizer_->encode("<bos>Hello");
  if (o.score_method == "auto" || o.score_method == "prompt_logprobs") {
    const nlohmann::json r = http_->post("/v1/completions",
                                         {{"model", served_model_}, {"prompt", probe}, {"max_tokens", 1}, {"temperature", 0},
                                          {"prompt_logprobs", 1}},
                                         &status);
    if (status == 200 && r.is_object() && r.contains("prompt_logprobs") && r["prompt_logprobs"].is_array()) {
      score_method_ = "prompt_logprobs";
    }
  }
  if (score_method_.empty() && (o.score_method == "auto" || o.score_method == "completion_n_probs")) {
    const nlohmann::json r = http_->post("/completion", {{"prompt", probe}, {"n_predict", 1}, {"n_probs", 1}, {"temperature", 0}}, &status);
    if (status == 200 && r.is_object() && r.contains("completion_probabilities")) score_method_ = "completion_n_probs";
  }
  if (score_method_.empty()) {
    score_method_ = "none";  // generation still works; score() says why it cannot
  }
}

EndpointBackend::~EndpointBackend() = default;

std::string EndpointBackend::name() const { return "endpoint " + served_model_; }

nlohmann::json EndpointBackend::describe() const {
  return {{"kind", "endpoint"},
          {"url", options_.url},
          {"served_model", served_model_},
          {"owned_by", server_model_entry_.value("owned_by", "")},
          {"score_method", score_method_},
          {"precision_claim", options_.precision},
          {"config_hash", config_.hash()},
          {"prompts", "token ids built by g4ref's tokenizer and chat template; with media, the chat messages"},
          {"media_tokens", options_.media_tokens}};
}

BackendCapabilities EndpointBackend::capabilities() const {
  BackendCapabilities c;
  c.score = score_method_ != "none";
  c.images = config_.vision.present;
  c.video = config_.vision.present;
  c.audio = config_.audio.present;
  c.max_top_logprobs = options_.max_top_logprobs;
  return c;
}

std::vector<int> EndpointBackend::tokenize(const std::string& text) { return tokenizer_->encode(text); }

std::string EndpointBackend::detokenize(const std::vector<int>& ids) { return tokenizer_->decode(ids); }

std::string EndpointBackend::render(const Conversation& conversation) { return g4ref::render(conversation); }

Prompt EndpointBackend::prepare(const Conversation& conversation, const MediaOptions& media) {
  Prompt p = build_prompt(conversation, *tokenizer_, config_, media);
  if (!p.media.empty()) {
    // Media cannot travel as token ids: the prompt goes to /v1/chat/completions as the messages it came from,
    // and the ids built here say how many tokens the server must count for it.
    p.media.clear();
    p.media.shrink_to_fit();
    pending_chat_ = {p.rendered, conversation};
  }
  return p;
}

namespace {

std::string base64_encode(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out += kAlphabet[(v >> (6 * k)) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string mime_of(const std::string& path, const std::string& type) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!ext.empty()) ext.erase(0, 1);
  if (type == "image") return "image/" + std::string(ext == "jpg" ? "jpeg" : ext.empty() ? "png" : ext);
  if (type == "video") return "video/" + std::string(ext.empty() ? "mp4" : ext);
  return "audio/" + std::string(ext.empty() ? "wav" : ext);
}

// A Hugging Face-form media part ({"type": "image", "path"}) as OpenAI's chat API spells it, with the bytes inline.
nlohmann::json openai_part(const nlohmann::ordered_json& part) {
  const std::string type = part.value("type", "");
  std::string ref;
  for (const char* key : {"path", "url", type.c_str()})
    if (part.contains(key) && part[key].is_string()) {
      ref = part[key].get<std::string>();
      break;
    }
  if (ref.rfind("file://", 0) == 0) ref = ref.substr(7);
  std::string url = ref;
  std::string b64;
  if (ref.rfind("data:", 0) == 0) {
    const size_t comma = ref.find(',');
    b64 = comma == std::string::npos ? "" : ref.substr(comma + 1);
  } else {
    b64 = base64_encode(read_text_file(ref));
    url = "data:" + mime_of(ref, type) + ";base64," + b64;
  }
  if (type == "image") return {{"type", "image_url"}, {"image_url", {{"url", url}}}};
  if (type == "video") return {{"type", "video_url"}, {"video_url", {{"url", url}}}};
  std::string format = std::filesystem::path(ref).extension().string();
  if (!format.empty()) format.erase(0, 1);
  return {{"type", "input_audio"}, {"input_audio", {{"data", b64}, {"format", format.empty() ? "wav" : format}}}};
}

}  // namespace

GenerateResult EndpointBackend::generate_chat(const Conversation& conversation, const Prompt& prompt,
                                              const GenerateOptions& o) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : conversation.messages) {
    nlohmann::json out = nlohmann::json::parse(m.dump());
    if (m.contains("content") && m["content"].is_array()) {
      out["content"] = nlohmann::json::array();
      for (const auto& part : m["content"]) {
        const std::string t = part.value("type", "");
        if (t == "image" || t == "audio" || t == "video") out["content"].push_back(openai_part(part));
        else out["content"].push_back(nlohmann::json::parse(part.dump()));
      }
    }
    messages.push_back(out);
  }
  nlohmann::json body = {{"model", served_model_},
                         {"messages", messages},
                         {"max_tokens", o.max_new_tokens},
                         {"temperature", o.sampling.temperature},
                         {"top_p", o.sampling.top_p},
                         {"top_k", o.sampling.top_k},
                         {"seed", static_cast<int64_t>(o.sampling.seed)},
                         {"chat_template_kwargs", {{"enable_thinking", conversation.thinking}}}};
  if (!o.stop.empty()) body["stop"] = o.stop;
  int status = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json r = http_->post("/v1/chat/completions", body, &status);
  GenerateResult g;
  g.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status != 200 || !r.is_object() || !r.contains("choices") || !r["choices"].is_array() || r["choices"].empty()) {
    std::string answer = r.dump();
    if (answer.size() > 400) answer = answer.substr(0, 400) + "…";
    fail(options_.url, "/v1/chat/completions answered " + std::to_string(status) + " to a prompt with media: " + answer);
  }
  const nlohmann::json& msg = r["choices"][0].value("message", nlohmann::json::object());
  g.text = msg.contains("content") && msg["content"].is_string() ? msg["content"].get<std::string>() : "";
  g.finish_reason = r["choices"][0].value("finish_reason", "") == "length" ? "length" : "stop";
  g.ids = tokenizer_->encode(g.text);
  last_ids_source_ = "the text tokenized again";
  if (r.contains("usage") && r["usage"].is_object() && r["usage"].contains("prompt_tokens")) {
    g.reported_prompt_tokens = r["usage"]["prompt_tokens"].get<int64_t>();
  }
  const int64_t ours = static_cast<int64_t>(prompt.ids.size());
  if (options_.media_tokens == "must_match") {
    if (g.reported_prompt_tokens < 0) {
      fail(options_.url, "does not report usage.prompt_tokens, so the media token budget it used cannot be checked "
                         "(media_tokens: record accepts that)");
    }
    if (g.reported_prompt_tokens != ours) {
      fail(options_.url, "counted " + std::to_string(g.reported_prompt_tokens) + " prompt tokens where g4ref's preprocessing gives " +
                             std::to_string(ours) + " (" + std::to_string(prompt.count_tokens(1)) + " image, " +
                             std::to_string(prompt.count_tokens(2)) + " video, " + std::to_string(prompt.count_tokens(3)) +
                             " audio): its media budget or template differs from the task's; give the server the task's "
                             "image budget, or run with media_tokens: record to keep both counts in each sample");
    }
  }
  g.prompt_ids = {};
  return g;
}

void EndpointBackend::check_prompt_ids(const nlohmann::json& answer, const std::vector<int>& sent, const std::string& path) const {
  if (!answer.contains("prompt_token_ids") || !answer["prompt_token_ids"].is_array()) return;
  const std::vector<int> theirs = answer["prompt_token_ids"].get<std::vector<int>>();
  if (theirs != sent) {
    fail(options_.url, path + ": the server fed the model other prompt ids than it was sent: first difference at position " +
                           first_difference_at(theirs, sent));
  }
}

ScoreResult EndpointBackend::score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) {
  if (prompt.count_tokens(1) + prompt.count_tokens(2) + prompt.count_tokens(3) > 0) {
    fail(options_.url, "cannot score a prompt with media: teacher-forced scores need the prompt as token ids, which "
                       "cannot carry images, audio or video (generation goes through /v1/chat/completions)");
  }
  if (score_method_ == "none") {
    fail(options_.url, "offers no teacher-forced log-probabilities (neither /v1/completions prompt_logprobs nor "
                       "llama-server's /completion n_probs answered)");
  }
  if (prompt.ids.empty()) fail(name(), "cannot score after an empty prompt");
  const int k = std::max(1, std::min(top_k, options_.max_top_logprobs));
  ScoreResult out;
  out.prompt_ids = prompt.ids;
  std::vector<int> ids = prompt.ids;
  ids.insert(ids.end(), continuation.begin(), continuation.end());
  int status = 0;
  if (score_method_ == "prompt_logprobs") {
    const nlohmann::json r = http_->post("/v1/completions",
                                         {{"model", served_model_}, {"prompt", ids}, {"max_tokens", 1}, {"temperature", 0},
                                          {"prompt_logprobs", k}},
                                         &status);
    if (status != 200 || !r.is_object()) fail(options_.url, "/v1/completions answered " + std::to_string(status) + ": " + r.dump());
    check_prompt_ids(r, ids, "/v1/completions");
    const nlohmann::json& pl = r.value("prompt_logprobs", nlohmann::json());
    if (!pl.is_array() || pl.size() != ids.size()) {
      fail(options_.url, "prompt_logprobs has " + std::to_string(pl.is_array() ? pl.size() : 0) + " entries for " +
                             std::to_string(ids.size()) + " prompt tokens");
    }
    for (size_t i = prompt.ids.size(); i < ids.size(); ++i) {
      // vLLM's shape: {"ID": {"logprob", "rank", "decoded_token"}, …}, the scored token always present.
      const nlohmann::json& entry = pl[i];
      const std::string key = std::to_string(ids[i]);
      if (!entry.is_object() || !entry.contains(key)) fail(options_.url, "prompt_logprobs entry " + std::to_string(i) + " lacks the prompt token " + key);
      TokenLogprob t;
      t.id = ids[i];
      t.logprob = entry[key].at("logprob").get<double>();
      t.rank = entry[key].value("rank", 0);
      std::vector<std::pair<int, TopLogprob>> top;
      for (const auto& [id, v] : entry.items()) {
        const int rank = v.value("rank", 0);
        if (rank >= 1 && rank <= k) top.push_back({rank, {std::stoi(id), v.at("logprob").get<double>()}});
      }
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [rank, e] : top) t.top.push_back(e);
      out.tokens.push_back(t);
    }
    return out;
  }
  // llama-server: the distribution after each prefix, one request per continuation token (its prompt cache keeps
  // the common prefix). A token outside the top K is asked for again with the whole vocabulary listed, so its
  // logprob is the real one; it stays censored (an upper bound) only if the server lists fewer.
  auto distribution = [&](const std::vector<int>& prefix, int n_probs, size_t position) {
    const nlohmann::json r = http_->post("/completion", {{"prompt", prefix}, {"n_predict", 1}, {"n_probs", n_probs},
                                                         {"temperature", 0}, {"cache_prompt", true}},
                                         &status);
    if (status != 200 || !r.is_object() || !r.contains("completion_probabilities") || !r["completion_probabilities"].is_array() ||
        r["completion_probabilities"].empty() || !r["completion_probabilities"][0].contains("top_logprobs")) {
      fail(options_.url, "/completion gave no probabilities at position " + std::to_string(position) + " (status " +
                             std::to_string(status) + ")");
    }
    std::vector<TopLogprob> list;
    for (const auto& e : r["completion_probabilities"][0]["top_logprobs"]) list.push_back({e.at("id").get<int>(), e.at("logprob").get<double>()});
    return list;
  };
  for (size_t i = prompt.ids.size(); i < ids.size(); ++i) {
    const std::vector<int> prefix(ids.begin(), ids.begin() + static_cast<long>(i));
    TokenLogprob t;
    t.id = ids[i];
    std::vector<TopLogprob> list = distribution(prefix, k, i);
    auto find = [&](const std::vector<TopLogprob>& l) {
      for (size_t e = 0; e < l.size(); ++e) {
        if (l[e].id == t.id) return static_cast<int>(e) + 1;
      }
      return 0;
    };
    int rank = find(list);
    if (rank == 0) {
      const std::vector<TopLogprob> all = distribution(prefix, static_cast<int>(config_.text.vocab_size), i);
      rank = find(all);
      if (rank > 0) t.logprob = all[static_cast<size_t>(rank) - 1].logprob;
      else t.logprob = all.empty() ? 0.0 : all.back().logprob;  // an upper bound: below every listed token
    } else {
      t.logprob = list[static_cast<size_t>(rank) - 1].logprob;
    }
    t.rank = rank;
    t.censored = rank == 0;
    for (size_t e = 0; e < list.size() && static_cast<int>(e) < k; ++e) t.top.push_back(list[e]);
    out.tokens.push_back(t);
  }
  return out;
}

int EndpointBackend::id_of_piece(const std::string& piece) {
  if (by_piece_.empty()) {
    for (int v = 0; v < config_.text.vocab_size; ++v) {
      const auto [it, fresh] = by_piece_.emplace(tokenizer_->decode({v}), v);
      if (!fresh) it->second = -1;
    }
  }
  const auto it = by_piece_.find(piece);
  return it == by_piece_.end() ? -1 : it->second;
}

GenerateResult EndpointBackend::generate(const Prompt& prompt, const GenerateOptions& o,
                                         const std::function<void(int)>& on_token) {
  if (!prompt.media.empty() || prompt.count_tokens(1) + prompt.count_tokens(2) + prompt.count_tokens(3) > 0) {
    if (pending_chat_.first != prompt.rendered || prompt.rendered.empty()) {
      fail(name(), "a prompt with media must come from this backend's prepare() (it is sent as chat messages)");
    }
    const Conversation conversation = std::move(pending_chat_.second);
    pending_chat_ = {};
    return generate_chat(conversation, prompt, o);
  }
  nlohmann::json body = {{"model", served_model_},
                         {"prompt", prompt.ids},
                         {"max_tokens", o.max_new_tokens},
                         {"temperature", o.sampling.temperature},
                         {"top_p", o.sampling.top_p},
                         {"top_k", o.sampling.top_k},
                         // OpenAI's and vLLM's seed is a signed 64-bit integer: the same 64 bits, read back
                         // unsigned by a g4ref server.
                         {"seed", static_cast<int64_t>(o.sampling.seed)},
                         // The generated ids come back with the logprobs (g4ref serve), or as vLLM's token_ids.
                         {"logprobs", std::max(1, std::min(o.top_logprobs, options_.max_top_logprobs))},
                         {"return_token_ids", true}};
  if (!o.stop.empty()) body["stop"] = o.stop;
  int status = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json r = http_->post("/v1/completions", body, &status);
  GenerateResult g;
  g.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (status != 200 || !r.is_object() || !r.contains("choices") || !r["choices"].is_array() || r["choices"].empty()) {
    fail(options_.url, "/v1/completions answered " + std::to_string(status) + ": " + r.dump());
  }
  check_prompt_ids(r, prompt.ids, "/v1/completions");
  g.prompt_ids = r.contains("prompt_token_ids") ? r["prompt_token_ids"].get<std::vector<int>>() : prompt.ids;
  const nlohmann::json& c = r["choices"][0];
  g.text = c.value("text", "");
  g.finish_reason = c.value("finish_reason", "") == "length" ? "length" : "stop";
  const nlohmann::json lp = c.value("logprobs", nlohmann::json());
  if (c.contains("token_ids") && c["token_ids"].is_array()) {
    g.ids = c["token_ids"].get<std::vector<int>>();
    last_ids_source_ = "token_ids";
  } else if (lp.is_object() && lp.contains("token_ids") && lp["token_ids"].is_array()) {
    g.ids = lp["token_ids"].get<std::vector<int>>();
    last_ids_source_ = "logprobs.token_ids";
  } else {
    g.ids = tokenizer_->encode(g.text);
    last_ids_source_ = "the text tokenized again";
  }
  if (o.top_logprobs > 0 && lp.is_object() && lp.contains("token_logprobs")) {
    const nlohmann::json& values = lp["token_logprobs"];
    const nlohmann::json& tops = lp.value("top_logprobs", nlohmann::json::array());
    for (size_t i = 0; i < g.ids.size() && i < values.size(); ++i) {
      TokenLogprob t;
      t.id = g.ids[i];
      t.logprob = values[i].is_number() ? values[i].get<double>() : NAN;
      if (i < tops.size() && tops[i].is_object()) {
        for (const auto& [piece, v] : tops[i].items()) {
          const int id = id_of_piece(piece);
          if (id >= 0) t.top.push_back({id, v.get<double>()});
        }
        std::sort(t.top.begin(), t.top.end(), [](const TopLogprob& a, const TopLogprob& b) { return a.logprob > b.logprob; });
        if (static_cast<int>(t.top.size()) > o.top_logprobs) t.top.resize(static_cast<size_t>(o.top_logprobs));
      }
      g.logprobs.push_back(t);
    }
  }
  if (on_token) {
    for (int id : g.ids) on_token(id);
  }
  return g;
}

}  // namespace g4ref
