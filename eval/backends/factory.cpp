#include "backends/factory.h"

#include <set>

#include "backends/endpoint_backend.h"
#include "backends/reference_backend.h"
#include "base/error.h"

namespace g4ref {

namespace {

std::string get(const nlohmann::json& s, const char* key, const std::string& fallback, std::set<std::string> allowed = {}) {
  if (!s.contains(key) || s.at(key).is_null()) return fallback;
  if (!s.at(key).is_string()) fail("backend settings", std::string("'") + key + "' must be a string");
  const std::string v = s.at(key).get<std::string>();
  if (!allowed.empty() && !allowed.count(v)) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail("backend settings", std::string("'") + key + "' is '" + v + "' (expected one of " + list + ")");
  }
  return v;
}

void check_keys(const nlohmann::json& s, const std::set<std::string>& known) {
  for (const auto& [key, value] : s.items()) {
    if (!known.count(key)) fail("backend settings", "unknown key '" + key + "' for a " + s.value("kind", "?") + " backend");
  }
}

}  // namespace

RunOptions run_options_from_settings(const nlohmann::json& s) {
  RunOptions o;
  o.precision = parse_precision(get(s, "precision", "exact", {"exact", "f32", "bf16"}));
  o.embed_scale = get(s, "embed_scale", "hf", {"hf", "llamacpp"}) == "llamacpp" ? EmbedScale::llamacpp : EmbedScale::hf;
  o.window = get(s, "window", "lower", {"lower", "symmetric"}) == "symmetric" ? WindowVariant::symmetric : WindowVariant::lower;
  o.image_attention =
      get(s, "image_attention", "sliding", {"sliding", "all"}) == "all" ? ImageAttention::all_layers : ImageAttention::sliding_layers;
  if (s.contains("threads") && s.at("threads").is_number_integer()) o.threads = s.at("threads").get<int>();
  return o;
}

std::unique_ptr<Backend> make_backend(const nlohmann::json& s) {
  if (!s.is_object()) fail("backend settings", "must be a JSON object");
  const std::string kind = get(s, "kind", "");
  if (kind == "reference") {
    check_keys(s, {"kind", "model", "mmproj", "tokenizer", "precision", "embed_scale", "window", "image_attention", "threads"});
    ReferenceBackendOptions o;
    o.model = get(s, "model", "");
    if (o.model.empty()) fail("backend settings", "a reference backend needs 'model'");
    o.mmproj = get(s, "mmproj", "");
    o.tokenizer = get(s, "tokenizer", "");
    o.run = run_options_from_settings(s);
    return std::make_unique<ReferenceBackend>(o);
  }
  if (kind == "llamacpp") return make_llamacpp_backend(s);
  if (kind == "endpoint") {
    check_keys(s, {"kind", "url", "model", "tokenizer", "served_model", "api_key", "score_method", "precision", "media_tokens"});
    EndpointBackendOptions o;
    o.url = get(s, "url", "");
    if (o.url.empty()) fail("backend settings", "an endpoint backend needs 'url' (the server's http://host:port)");
    o.model = get(s, "model", "");
    if (o.model.empty()) {
      fail("backend settings", "an endpoint backend needs 'model': the checkpoint the server serves (for its tokenizer, "
                               "chat template and config)");
    }
    o.tokenizer = get(s, "tokenizer", "");
    o.served_model = get(s, "served_model", "");
    o.api_key = get(s, "api_key", "");
    o.score_method = get(s, "score_method", "auto", {"auto", "prompt_logprobs", "completion_n_probs"});
    o.precision = get(s, "precision", "");
    o.media_tokens = get(s, "media_tokens", "must_match", {"must_match", "record"});
    return std::make_unique<EndpointBackend>(o);
  }
  fail("backend settings", "unknown backend kind '" + kind + "' (known: reference, llamacpp, endpoint)");
}

}  // namespace g4ref
