// One interface over "an implementation of Gemma 4": the reference in process, llama.cpp through its adapter, an
// OpenAI-compatible server. The cross-checks, the server and the benchmark harness talk to a Backend and nothing
// else, so a task or a check written once runs on every implementation that can take its inputs.
//
// Every backend reads the same Prompt (reference/prompt/request.h): the ids, token types and prepared media that
// the reference's own tokenizer, chat template and preprocessing produced. A backend that tokenizes or renders
// itself (a server) reports the ids it actually used, so a caller can prove both sides fed the model the same ids
// before it compares anything.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "numerics/eigen_core.h"
#include "forward/generate.h"
#include "prompt/request.h"

namespace g4ref {

struct TopLogprob {
  int id = 0;
  double logprob = 0;
};

// The log-probability of one token at one position, and the distribution's top entries there.
struct TokenLogprob {
  int id = 0;
  double logprob = 0;          // log-softmax of the backend's logits (suppressed tokens excluded), at T = 1
  int rank = 0;                // 1-based rank of `id` among all tokens; 0 when the backend cannot tell
  bool censored = false;       // the backend did not return `id`'s logprob (outside its top-k): logprob is an upper bound
  std::vector<TopLogprob> top; // descending
};

// Teacher-forced scores of CONTINUATION after PROMPT.
struct ScoreResult {
  std::vector<int> prompt_ids;          // the context as the backend fed it (must equal the request's)
  std::vector<TokenLogprob> tokens;     // one per continuation token
  double sum_logprob() const;
  bool greedy() const;                  // every continuation token was the backend's argmax (rank 1)
};

struct GenerateOptions {
  int max_new_tokens = 256;
  SamplingOptions sampling;                // temperature 0: greedy
  std::vector<std::string> stop;           // stop strings (excluded from the text)
  int top_logprobs = 0;                    // > 0: return each generated token's logprob and its top entries
  std::function<bool()> cancelled;         // asked after each token where the backend can stop early (a client left)
};

struct GenerateResult {
  std::vector<int> prompt_ids;
  std::vector<int> ids;                    // generated, the stop token included when one ended it
  std::string text;                        // decoded, without a final stop token or stop string
  std::string finish_reason;               // "stop" (a stop token or string) or "length"
  std::vector<TokenLogprob> logprobs;      // when asked for
  double prompt_seconds = 0, decode_seconds = 0;
  int64_t reported_prompt_tokens = -1;     // a server's own count of the prompt (usage.prompt_tokens), when it gives one
};

// Which operations a backend offers; a caller asks before it relies on one.
struct BackendCapabilities {
  bool score = true;          // teacher-forced logprobs of given tokens
  bool full_logits = false;   // logits over the whole vocabulary (logits())
  bool images = false, audio = false, video = false;
  bool media_embeddings = false;
  int max_top_logprobs = 20;
  int64_t max_context = 0;    // 0: unknown
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;           // "reference exact", "llama.cpp q8_0", "endpoint http://…"
  virtual nlohmann::json describe() const = 0;    // what results record: kind, model, weights, precision, versions
  virtual BackendCapabilities capabilities() const = 0;

  virtual std::vector<int> tokenize(const std::string& text) = 0;   // no <bos> added
  virtual std::string detokenize(const std::vector<int>& ids) = 0;
  // The rendered chat text of CONVERSATION (media as single markers) and the full Prompt.
  virtual std::string render(const Conversation& conversation) = 0;
  virtual Prompt prepare(const Conversation& conversation, const MediaOptions& media) = 0;

  virtual ScoreResult score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) = 0;
  virtual GenerateResult generate(const Prompt& prompt, const GenerateOptions& options,
                                  const std::function<void(int)>& on_token = {}) = 0;
  // Softcapped logits at every position of PROMPT ([positions, vocab], suppressed tokens −inf), where
  // capabilities().full_logits.
  virtual Eigen::MatrixXd logits(const Prompt& prompt);
  // Projected embeddings of one prepared media item ([tokens, hidden]), where capabilities().media_embeddings.
  virtual Eigen::MatrixXd embed_media(const MediaInput& item);
};

// log-softmax statistics of one logits row: the entry for TARGET and the top K.
TokenLogprob token_logprob(const Eigen::VectorXd& logits, int target, int top_k);

}  // namespace g4ref
