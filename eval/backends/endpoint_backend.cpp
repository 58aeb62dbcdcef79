#include "backends/endpoint_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "base/error.h"
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
          {"prompts", "token ids built by g4ref's tokenizer and chat template"}};
}

BackendCapabilities EndpointBackend::capabilities() const {
  BackendCapabilities c;
  c.score = score_method_ != "none";
  c.max_top_logprobs = options_.max_top_logprobs;
  return c;
}

std::vector<int> EndpointBackend::tokenize(const std::string& text) { return tokenizer_->encode(text); }

std::string EndpointBackend::detokenize(const std::vector<int>& ids) { return tokenizer_->decode(ids); }

std::string EndpointBackend::render(const Conversation& conversation) { return g4ref::render(conversation); }

Prompt EndpointBackend::prepare(const Conversation& conversation, const MediaOptions& media) {
  if (!conversation.media_parts().empty()) {
    fail(name(), "prompts travel to the server as token ids, which cannot carry images, audio or video");
  }
  return build_prompt(conversation, *tokenizer_, config_, media);
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
  if (!prompt.media.empty()) fail(name(), "prompts travel to the server as token ids, which cannot carry media");
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
