#include "crosscheck/endpoint_check.h"

#include <cmath>
#include <limits>
#include <map>

#include "backends/http_endpoint.h"
#include "base/error.h"

namespace g4ref {

namespace {

// The server, as the checks below talk to it.
struct Endpoint : HttpEndpoint {
  explicit Endpoint(const EndpointOptions& o) : HttpEndpoint(o.url, o.api_key) {}
};

// One scored position: the server's top entries (id → logprob) for the next token after the prefix.
using Distribution = std::map<int, double>;

struct Comparison {
  double kl = 0;
  bool top1 = false;
  int ref_argmax_rank = 0;  // 1-based rank of the reference's argmax in the server's list; 0: absent
};

Comparison compare_position(const Distribution& server, const TokenLogprob& ref_full, const Eigen::VectorXd& ref_logprobs) {
  Comparison c;
  // Renormalize both over the ids the server returned (the shared support).
  double zs = 0, zr = 0;
  for (const auto& [id, lp] : server) {
    zs += std::exp(lp);
    zr += std::exp(ref_logprobs[id]);
  }
  for (const auto& [id, lp] : server) {
    const double ps = std::exp(lp) / zs, pr = std::exp(ref_logprobs[id]) / zr;
    if (ps > 0) c.kl += ps * (std::log(ps) - std::log(pr));
  }
  int server_best = -1;
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& [id, lp] : server) {
    if (lp > best) best = lp, server_best = id;
  }
  const int ref_best = ref_full.top.empty() ? -1 : ref_full.top[0].id;
  c.top1 = server_best == ref_best || (server_best >= 0 && ref_logprobs[server_best] == ref_logprobs[ref_best]);
  std::vector<std::pair<double, int>> order;
  for (const auto& [id, lp] : server) order.push_back({-lp, id});
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i].second == ref_best) c.ref_argmax_rank = static_cast<int>(i) + 1;
  }
  return c;
}

Distribution from_prompt_logprobs_entry(const nlohmann::json& entry) {
  Distribution d;
  for (const auto& [id, v] : entry.items()) d[std::stoi(id)] = v.at("logprob").get<double>();
  return d;
}

Distribution from_top_logprobs(const nlohmann::json& list) {
  Distribution d;
  for (const auto& e : list) d[e.at("id").get<int>()] = e.at("logprob").get<double>();
  return d;
}

}  // namespace

bool endpoint_is_llamacpp(const EndpointOptions& o) {
  Endpoint e(o);
  int status = 0;
  const nlohmann::json props = e.get("/props", &status);
  return status == 200 && props.is_object() && (props.contains("build_info") || props.contains("default_generation_settings"));
}

double default_max_endpoint_kl(const std::string& claim) {
  // Worst per-position KL measured on the tiny checkpoint (a 37-token prompt, top-10 support) against exact on the
  // same weights: g4ref serve exact 3e-16, f32 1.1e-11, bf16 2.7e-3; llama-server F32 (f32 KV cache, flash
  // attention off) 3.4e-6, Q8_0 with its defaults (f16 KV cache) 2.2e-3. The defaults leave a margin of 3–7× above
  // those; one tensor perturbed in an F32 GGUF gives 1e-4 at its first failing position and 6.6e-3 at its worst.
  if (claim == "exact") return 1e-9;
  if (claim == "f32") return 1e-5;
  if (claim == "f16") return 1e-4;
  if (claim == "bf16") return 2e-2;
  return 1e-2;  // 8-bit and 4-bit quantized weights
}

nlohmann::json check_endpoint(const EndpointOptions& o, Backend& reference, const std::vector<Prompt>& prompts,
                              const std::vector<Conversation>& conversations) {
  Endpoint e(o);
  int status = 0;
  // What the server serves.
  const nlohmann::json models = e.get("/v1/models", &status);
  if (status == 401) fail(o.url, "the server wants an API key (--api-key)");
  if (status != 200 || !models.is_object() || !models.contains("data") || models["data"].empty()) {
    fail(o.url, "GET /v1/models did not answer with a model list (status " + std::to_string(status) + ")");
  }
  const std::string model = o.served_model.empty() ? models["data"][0].value("id", "") : o.served_model;
  // How it can score: probe with the first prompt, in the order of the header (or the method asked for).
  std::string method;
  const std::vector<int>& probe = prompts.at(0).ids;
  auto want = [&](const char* m) { return o.method == "auto" || o.method == m; };
  if (want("prompt_logprobs")) {
    const nlohmann::json vllm = e.post("/v1/completions",
                                       {{"model", model}, {"prompt", probe}, {"max_tokens", 1}, {"temperature", 0},
                                        {"echo", true}, {"logprobs", o.top_k}, {"prompt_logprobs", o.top_k}},
                                       &status);
    if (status == 200 && vllm.is_object() && vllm.contains("prompt_logprobs") && vllm["prompt_logprobs"].is_array()) {
      method = "prompt_logprobs";
    }
  }
  if (method.empty() && want("completion_n_probs")) {
    const nlohmann::json native = e.post("/completion", {{"prompt", probe}, {"n_predict", 1}, {"n_probs", o.top_k},
                                                         {"temperature", 0}, {"cache_prompt", true}},
                                         &status);
    if (status == 200 && native.is_object() && native.contains("completion_probabilities")) method = "completion_n_probs";
  }
  if (method.empty() && want("chat_logprobs") && conversations.size() == prompts.size()) method = "chat_logprobs";
  if (method.empty()) {
    fail(o.url, "offers no log-probabilities this check can use" +
                    std::string(o.method == "auto" ? "" : " by the method asked for (" + o.method + ")") +
                    " (/v1/completions with prompt_logprobs, llama-server's /completion with n_probs, or chat "
                    "logprobs for a prompt given as text or messages)");
  }
  const double max_kl = o.max_kl > 0 ? o.max_kl : default_max_endpoint_kl(o.precision_claim);

  nlohmann::json per_prompt = nlohmann::json::array();
  int64_t positions = 0, top1 = 0;
  double worst_kl = 0;
  nlohmann::json first_failure = nullptr;
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    Prompt scored_prompt = prompts[pi];
    std::vector<int>& ids = scored_prompt.ids;
    if (ids.size() < 2) fail("prompt " + std::to_string(pi), "needs at least two tokens to score");
    // The server's distribution after each prefix ids[0..i) for the scored positions i (predicting ids[i]): every
    // prompt position from 1, or (chat) the generated ones.
    std::vector<Distribution> server(ids.size());
    size_t first_scored = 1;
    std::string ids_proof;
    if (method == "chat_logprobs") {
      nlohmann::json body = {{"model", model}, {"messages", conversations[pi].messages}, {"temperature", 0},
                             {"max_completion_tokens", o.chat_tokens}, {"max_tokens", o.chat_tokens}, {"logprobs", true},
                             {"top_logprobs", o.top_k}};
      if (!conversations[pi].tools.empty()) body["tools"] = conversations[pi].tools;
      if (conversations[pi].thinking) body["chat_template_kwargs"] = {{"enable_thinking", true}};
      const nlohmann::json r = e.post("/v1/chat/completions", body, &status);
      if (status != 200) fail(o.url, "/v1/chat/completions answered " + std::to_string(status) + ": " + r.dump());
      // The prompt ids: returned (vLLM's return_token_ids, g4ref serve), or the server's /tokenize of our text.
      std::vector<int> theirs;
      if (r.contains("prompt_token_ids")) {
        theirs = r["prompt_token_ids"].get<std::vector<int>>();
        ids_proof = "prompt_token_ids returned equal";
      } else {
        const nlohmann::json tk = e.post("/tokenize", {{"content", prompts[pi].rendered}, {"add_special", false},
                                                       {"parse_special", true}},
                                         &status);
        if (status != 200 || !tk.contains("tokens")) {
          fail(o.url, "cannot prove which prompt ids the server used (no prompt_token_ids, no /tokenize)");
        }
        for (const auto& t : tk["tokens"]) theirs.push_back(t.is_object() ? t.at("id").get<int>() : t.get<int>());
        ids_proof = "/tokenize of the rendered prompt gives the same ids";
      }
      if (theirs != ids) {
        size_t k = 0;
        while (k < ids.size() && k < theirs.size() && ids[k] == theirs[k]) ++k;
        fail(o.url, "the server fed the model other prompt ids: first difference at position " + std::to_string(k));
      }
      // The generated tokens as ids (their "id", else the unique vocabulary entry with the same bytes).
      std::map<std::string, int> by_bytes;
      auto id_of = [&](const nlohmann::json& entry) {
        if (entry.contains("id") && entry["id"].is_number_integer()) return entry["id"].get<int>();
        if (by_bytes.empty()) {
          const int vocab = static_cast<int>(reference.capabilities().max_top_logprobs);
          for (int v = 0; v < vocab; ++v) {
            const auto [it, fresh] = by_bytes.emplace(reference.detokenize({v}), v);
            if (!fresh) it->second = -1;  // two ids spell the same bytes: not mappable
          }
        }
        std::string bytes;
        if (entry.contains("bytes") && entry["bytes"].is_array()) {
          for (const auto& b : entry["bytes"]) bytes += static_cast<char>(b.get<int>());
        } else {
          bytes = entry.value("token", "");
        }
        const auto it = by_bytes.find(bytes);
        if (it == by_bytes.end() || it->second < 0) fail(o.url, "the token " + nlohmann::json(bytes).dump() + " maps to no unique id");
        return it->second;
      };
      const nlohmann::json& content = r["choices"][0]["logprobs"]["content"];
      if (!content.is_array() || content.empty()) fail(o.url, "the chat answer carries no logprobs");
      first_scored = ids.size();
      for (const auto& step : content) {
        const int id = id_of(step);
        Distribution d;
        for (const auto& t : step["top_logprobs"]) d[id_of(t)] = t.at("logprob").get<double>();
        ids.push_back(id);
        scored_prompt.token_types.push_back(0);
        scored_prompt.block_ids.push_back(-1);
        server.push_back(d);
      }
    } else if (method == "prompt_logprobs") {
      const nlohmann::json r = e.post("/v1/completions",
                                      {{"model", model}, {"prompt", ids}, {"max_tokens", 1}, {"temperature", 0},
                                       {"echo", true}, {"logprobs", o.top_k}, {"prompt_logprobs", o.top_k}},
                                      &status);
      if (status != 200) fail(o.url, "/v1/completions answered " + std::to_string(status) + ": " + r.dump());
      if (r.contains("prompt_token_ids") && r["prompt_token_ids"] != nlohmann::json(ids)) {
        const std::vector<int> theirs = r["prompt_token_ids"].get<std::vector<int>>();
        size_t k = 0;
        while (k < ids.size() && k < theirs.size() && ids[k] == theirs[k]) ++k;
        fail(o.url, "the server fed the model other prompt ids: first difference at position " + std::to_string(k));
      }
      ids_proof = r.contains("prompt_token_ids") ? "prompt_token_ids returned equal" : "token ids sent as the prompt";
      const nlohmann::json& pl = r["prompt_logprobs"];
      if (pl.size() != ids.size()) fail(o.url, "prompt_logprobs has " + std::to_string(pl.size()) + " entries for " + std::to_string(ids.size()) + " tokens");
      for (size_t i = 1; i < ids.size(); ++i) server[i] = from_prompt_logprobs_entry(pl[i]);
    } else {
      // The server's tokenizer must give our ids for our text (llama-server /tokenize with special tokens parsed);
      // the ids are then sent as they are (a token prompt gets no extra <bos>).
      const nlohmann::json tk = e.post("/tokenize", {{"content", reference.detokenize(ids)}, {"add_special", false},
                                                     {"parse_special", true}},
                                       &status);
      if (status == 200 && tk.contains("tokens")) {
        std::vector<int> theirs;
        for (const auto& t : tk["tokens"]) theirs.push_back(t.is_object() ? t.at("id").get<int>() : t.get<int>());
        if (theirs != ids) {
          size_t k = 0;
          while (k < ids.size() && k < theirs.size() && ids[k] == theirs[k]) ++k;
          fail(o.url, "the server's tokenizer gives other ids for the prompt text: first difference at position " + std::to_string(k));
        }
        ids_proof = "/tokenize of the prompt text gives the same ids; ids sent as the prompt";
      } else {
        ids_proof = "token ids sent as the prompt (no /tokenize to confirm)";
      }
      for (size_t i = 1; i < ids.size(); ++i) {
        const std::vector<int> prefix(ids.begin(), ids.begin() + static_cast<long>(i));
        const nlohmann::json r = e.post("/completion", {{"prompt", prefix}, {"n_predict", 1}, {"n_probs", o.top_k},
                                                        {"temperature", 0}, {"cache_prompt", true}},
                                        &status);
        if (status != 200 || !r.contains("completion_probabilities") || r["completion_probabilities"].empty()) {
          fail(o.url, "/completion gave no probabilities at position " + std::to_string(i));
        }
        server[i] = from_top_logprobs(r["completion_probabilities"][0]["top_logprobs"]);
      }
    }
    // The reference: the full distribution after every prefix, in one pass.
    const Eigen::MatrixXd z = reference.logits(scored_prompt);
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = first_scored; i < ids.size(); ++i) {
      const Eigen::VectorXd logits = z.row(static_cast<Eigen::Index>(i) - 1).transpose();
      const TokenLogprob full = token_logprob(logits, ids[i], 1);
      Eigen::VectorXd lp(logits.size());
      const double log_z = logits[ids[i]] - full.logprob;
      for (Eigen::Index v = 0; v < logits.size(); ++v) lp[v] = logits[v] - log_z;
      for (const auto& [id, value] : server[i]) {
        if (id < 0 || id >= logits.size()) fail(o.url, "returned token id " + std::to_string(id) + " outside the vocabulary");
      }
      const Comparison c = compare_position(server[i], full, lp);
      ++positions;
      top1 += c.top1;
      worst_kl = std::max(worst_kl, c.kl);
      if (first_failure.is_null() && !(c.kl <= max_kl)) first_failure = {{"prompt", pi}, {"position", i}, {"kl", c.kl}};
      rows.push_back({{"position", i}, {"kl", c.kl}, {"top1", c.top1}, {"reference_argmax_rank", c.ref_argmax_rank}});
    }
    per_prompt.push_back({{"tokens", ids.size()}, {"ids", ids_proof}, {"positions", rows}});
  }
  const double top1_fraction = positions ? static_cast<double>(top1) / positions : 0;
  const bool pass = first_failure.is_null() && top1_fraction >= o.min_top1;
  return {{"url", o.url},
          {"served_model", model},
          {"method", method},
          {"precision_claim", o.precision_claim},
          {"top_k", o.top_k},
          {"reference", reference.describe()},
          {"positions", positions},
          {"worst_kl", worst_kl},
          {"top1_agreement", top1_fraction},
          {"thresholds", {{"max_kl", max_kl}, {"min_top1", o.min_top1}}},
          {"first_failure", first_failure},
          {"prompts", per_prompt},
          {"verdict", pass ? "PASS" : "FAIL"}};
}

}  // namespace g4ref
