#include "forward/generate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "base/error.h"

namespace g4ref {

GenerationConfig load_generation_config(const std::string& model_dir, const ModelConfig& c) {
  GenerationConfig g;
  for (int id : {c.eoa_token_id, c.eoi_token_id}) {
    if (id != kAbsentTokenId) g.suppress_tokens.push_back(id);
  }
  g.stop_tokens = c.text.eos_token_ids;
  const auto path = std::filesystem::path(model_dir) / "generation_config.json";
  if (!std::filesystem::exists(path)) return g;
  std::ifstream in(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    fail(path.string(), std::string("malformed JSON: ") + e.what());
  }
  auto ids = [&](const char* key, std::vector<int>& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    out.clear();
    if (it->is_number_integer()) out.push_back(it->get<int>());
    else if (it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_number_integer()) fail(path.string(), std::string("key '") + key + "' must hold integers");
        out.push_back(e.get<int>());
      }
    } else {
      fail(path.string(), std::string("key '") + key + "' must be an integer or a list of integers");
    }
    for (int id : out) {
      if (id < 0 || id >= c.text.vocab_size) {
        fail(path.string(), std::string("key '") + key + "' holds id " + std::to_string(id) +
                                " outside the vocabulary [0, " + std::to_string(c.text.vocab_size) + ")");
      }
    }
  };
  ids("suppress_tokens", g.suppress_tokens);
  ids("eos_token_id", g.stop_tokens);
  return g;
}

std::vector<TopEntry> top_k_entries(const Eigen::VectorXd& logits, int k) {
  std::vector<int> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int>(k, static_cast<int>(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<TopEntry> out;
  for (int i = 0; i < k; ++i) out.push_back({idx[i], logits[idx[i]]});
  return out;
}

void suppress(Eigen::VectorXd& logits, const std::vector<int>& ids) {
  for (int id : ids) {
    if (id >= 0 && id < logits.size()) logits[id] = -std::numeric_limits<double>::infinity();
  }
}


GenerationResult generate(Session& session, const Prompt& prompt, int max_new_tokens, const SamplingOptions& sampling,
                          const GenerationConfig& gen, const GenerationHooks& hooks) {
  if (prompt.ids.empty()) fail("input tokens", "the prompt is empty");
  GenerationResult r;
  r.prompt = prompt.ids;
  r.stop_reason = "max_new_tokens";
  Sampler sampler(sampling);
  Eigen::VectorXd logits = session.forward(prompt, LogitRows::last).row(0).transpose();
  suppress(logits, gen.suppress_tokens);
  r.prompt_logits = logits;
  r.last_logits = logits;
  for (int step = 0; step < max_new_tokens; ++step) {
    if (step > 0) {
      logits = session.forward({r.generated.back()}, {}, LogitRows::last).row(0).transpose();
      suppress(logits, gen.suppress_tokens);
      r.last_logits = logits;
    }
    const int id = sampler.next(static_cast<int>(logits.size()), [&](int i) { return logits[i]; });
    r.generated.push_back(id);
    if (hooks.on_logits) hooks.on_logits(id, logits);
    if (hooks.on_token) hooks.on_token(id);
    if (std::find(gen.stop_tokens.begin(), gen.stop_tokens.end(), id) != gen.stop_tokens.end()) {
      r.stop_reason = "stop_token";
      break;
    }
    if (hooks.stop_now && hooks.stop_now(r.generated)) {
      r.stop_reason = "stopped";
      break;
    }
  }
  return r;
}

}  // namespace g4ref
