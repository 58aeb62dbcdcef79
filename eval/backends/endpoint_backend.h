// Any OpenAI-compatible server as a Backend (vLLM, llama.cpp's llama-server, g4ref serve, …). Prompts are built
// here by the reference's tokenizer and chat template from the checkpoint the server serves, and sent to the server
// as token ids, so the server reads exactly the reference's ids (its echoed prompt_token_ids are checked when it
// returns them). Teacher-forced scores come from /v1/completions with prompt_logprobs (vLLM, g4ref serve) or, on a
// llama-server, from /completion with n_probs one prefix at a time; generation from /v1/completions with the same
// ids and the sampling settings (temperature, top_k, top_p, seed, stop) as the server takes them.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/http_endpoint.h"
#include "forward/generate.h"
#include "model/config.h"

namespace g4ref {

class Tokenizer;

struct EndpointBackendOptions {
  std::string url;             // http://host:port
  std::string model;           // the checkpoint the server serves (its config, tokenizer, generation config)
  std::string tokenizer;       // optional; default the model's
  std::string served_model;    // "": the first of /v1/models
  std::string api_key;
  std::string score_method = "auto";  // auto | prompt_logprobs | completion_n_probs
  std::string precision;       // what the server is said to compute in (a label for the records)
  int max_top_logprobs = 20;   // the largest top-k the server returns (OpenAI's limit is 20)
  // Prompts with media: must_match refuses an answer whose usage.prompt_tokens differs from the count g4ref's
  // preprocessing gives (another image budget, another template); record keeps both counts in each sample.
  std::string media_tokens = "must_match";
};

class EndpointBackend final : public Backend {
 public:
  explicit EndpointBackend(const EndpointBackendOptions& options);
  ~EndpointBackend() override;
  std::string name() const override;
  nlohmann::json describe() const override;
  BackendCapabilities capabilities() const override;
  std::vector<int> tokenize(const std::string& text) override;
  std::string detokenize(const std::vector<int>& ids) override;
  std::string render(const Conversation& conversation) override;
  // The reference's prompt (its ids count the media tokens the server must count too). A prompt with media
  // cannot travel as token ids: generate() sends the conversation it was prepared from to /v1/chat/completions
  // with the media inline (image_url, input_audio, video_url data URLs); score() refuses it.
  Prompt prepare(const Conversation& conversation, const MediaOptions& media) override;
  // TOP_K is capped at max_top_logprobs. With completion_n_probs a continuation token outside the server's top K is
  // asked for again with the whole vocabulary listed; it comes back censored (its logprob an upper bound, its rank
  // 0) only when the server lists fewer.
  ScoreResult score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) override;
  // The generated ids are the server's when it returns them (g4ref serve's logprobs.token_ids, vLLM's token_ids),
  // otherwise the text tokenized again here (recorded in last_ids_source()).
  GenerateResult generate(const Prompt& prompt, const GenerateOptions& options,
                          const std::function<void(int)>& on_token = {}) override;
  const std::string& score_method() const { return score_method_; }
  const std::string& last_ids_source() const { return last_ids_source_; }

 private:
  GenerateResult generate_chat(const Conversation& conversation, const Prompt& prompt, const GenerateOptions& options);
  void check_prompt_ids(const nlohmann::json& answer, const std::vector<int>& sent, const std::string& path) const;
  int id_of_piece(const std::string& piece);

  EndpointBackendOptions options_;
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<HttpEndpoint> http_;
  std::string served_model_, score_method_, last_ids_source_;
  nlohmann::json server_model_entry_;
  std::pair<std::string, Conversation> pending_chat_;  // the rendered text and conversation of the last media prompt
  std::map<std::string, int> by_piece_;  // vocabulary pieces spelled by one id only (-1: by several)
};

}  // namespace g4ref
