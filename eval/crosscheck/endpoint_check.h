// Judging any OpenAI-compatible server from outside (shared/research/openai-endpoints.md §2, §6): find out how it
// can return teacher-forced log-probabilities, prove it reads the same prompt ids as the reference, then compare its
// top log-probabilities at every scored position with the reference on the same weights.
//   methods, in the order tried:
//     prompt_logprobs      /v1/completions with token ids, echo + prompt_logprobs (vLLM, g4ref serve): one request
//     completion_n_probs   llama-server's /completion with token ids, n_predict 1, n_probs K: one request per prefix
//     chat_logprobs        plain /v1/chat/completions with logprobs + top_logprobs (what every OpenAI server offers):
//                          only the positions the server generates greedily are scored, the reference teacher-forced
//                          along the server's own path; token strings are mapped to ids by their bytes when the
//                          server gives no ids
// Per position: the reference's log-softmax restricted to the ids the server returned, both sides renormalized over
// that shared support, KL(server ‖ reference); top-1 agreement; the rank of the reference's argmax in the
// server's list. A position fails when its KL exceeds the threshold of the precision the server claims.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace g4ref {

struct EndpointOptions {
  std::string url;           // http://host:port
  std::string served_model;  // "": the first of /v1/models
  std::string api_key;
  int top_k = 10;
  std::string precision_claim = "f32";
  double max_kl = 0;         // 0: the default for the claim
  double min_top1 = 0.9;
  std::string method = "auto";  // auto (in the order above), prompt_logprobs, completion_n_probs or chat_logprobs
  int chat_tokens = 16;          // chat_logprobs: tokens generated (and scored) per prompt
};

// Worst per-position KL over the returned support of a correct server at that precision (measured; the numbers
// are in endpoint_check.cpp).
double default_max_endpoint_kl(const std::string& precision_claim);

// Whether the server is a llama.cpp llama-server (it answers GET /props with its build info).
bool endpoint_is_llamacpp(const EndpointOptions& options);

// PROMPTS are the reference's prompts (ids, media-free); REFERENCE computes the truth on the same weights.
// CONVERSATIONS (one per prompt, or empty for id prompts) are what the chat method sends.
nlohmann::json check_endpoint(const EndpointOptions& options, Backend& reference, const std::vector<Prompt>& prompts,
                              const std::vector<Conversation>& conversations = {});

}  // namespace g4ref
