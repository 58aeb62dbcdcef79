// Token generation on a Session: greedy or seeded sampling (temperature, top-k, top-p), suppress tokens and
// stop tokens (spec §2.9 "Generation-time extras").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "numerics/eigen_core.h"
#include "model/config.h"
#include "forward/sampling.h"
#include "forward/session.h"

namespace g4ref {

struct GenerationConfig {
  std::vector<int> suppress_tokens;  // logits set to −inf before choosing
  std::vector<int> stop_tokens;      // generation ends after emitting one
};

// generation_config.json of the checkpoint if present (suppress_tokens, eos_token_id); otherwise the spec's
// defaults from the config: suppress EOA and EOI, stop on the eos ids.
GenerationConfig load_generation_config(const std::string& model_dir, const ModelConfig& c);

// Sets the logits of IDS to −inf (ids outside the row are ignored).
void suppress(Eigen::VectorXd& logits, const std::vector<int>& ids);

struct TopEntry {
  int id;
  double logit;
};
std::vector<TopEntry> top_k_entries(const Eigen::VectorXd& logits, int k);  // descending, ties to lowest id

struct GenerationResult {
  std::vector<int> prompt;
  std::vector<int> generated;
  Eigen::VectorXd prompt_logits;  // next-token logits after the prompt (suppression applied)
  Eigen::VectorXd last_logits;    // logits the last generated token was chosen from
  std::string stop_reason;        // "stop_token", "max_new_tokens" or "stopped" (stop_now)
};

// Runs the prompt through the session, then generates up to max_new_tokens, calling on_token after each.
// What a caller may watch or decide during generation; every member is optional.
struct GenerationHooks {
  std::function<void(int)> on_token;                                  // after each chosen token
  std::function<void(int, const Eigen::VectorXd&)> on_logits;         // the logits a token was chosen from
  std::function<bool(const std::vector<int>&)> stop_now;              // asked after each token with the tokens so
                                                                      // far; true ends generation ("stopped")
};

GenerationResult generate(Session& session, const Prompt& prompt, int max_new_tokens, const SamplingOptions& sampling,
                          const GenerationConfig& gen, const GenerationHooks& hooks = {});
inline GenerationResult generate(Session& session, const Prompt& prompt, int max_new_tokens,
                                 const SamplingOptions& sampling, const GenerationConfig& gen,
                                 const std::function<void(int)>& on_token) {
  GenerationHooks h;
  h.on_token = on_token;
  return generate(session, prompt, max_new_tokens, sampling, gen, h);
}

}  // namespace g4ref
