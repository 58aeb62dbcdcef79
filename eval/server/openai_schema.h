// OpenAI's chat and completions request and response shapes (shared/research/openai-endpoints.md §1), translated to
// and from the library's types: a request becomes a Conversation (or prompt ids) and GenerateOptions; results
// become the response JSON, log-probabilities with their bytes and (an extension) token ids.
// A malformed request is an ApiError: the HTTP status and OpenAI's error object.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace g4ref {

struct ApiError : std::runtime_error {
  int status;
  std::string type, param, code;
  ApiError(int status, std::string message, std::string param = "", std::string type = "invalid_request_error",
           std::string code = "")
      : std::runtime_error(std::move(message)), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}
};

// {"error": {"message", "type", "param", "code"}}
nlohmann::json error_json(const ApiError& e);

struct ChatRequest {
  Conversation conversation;
  GenerateOptions generate;
  bool logprobs = false;
  int top_logprobs = 0;
  bool stream = false;
  bool include_usage = false;
  std::string model;  // "" when the request names none
};

// POST /v1/chat/completions. DEFAULT_MAX_TOKENS when the request sets neither max_completion_tokens nor max_tokens.
ChatRequest parse_chat_request(const nlohmann::ordered_json& body, int default_max_tokens);

struct CompletionRequest {
  std::string text;            // a text prompt ("" when ids are given)
  std::vector<int> ids;        // a token-id prompt
  bool ids_given = false;
  GenerateOptions generate;
  bool echo = false;
  int logprobs = -1;           // -1: none; else top-k per token
  int prompt_logprobs = -1;    // vLLM's extension: -1 none
  bool stream = false;
  std::string model;
};

// POST /v1/completions.
CompletionRequest parse_completion_request(const nlohmann::ordered_json& body, int default_max_tokens);

// One logprob entry in OpenAI's chat form: token (UTF-8, invalid bytes replaced), logprob, bytes, its first TOP_K
// top_logprobs, and the token id (an extension clients ignore).
nlohmann::json chat_logprob_json(const TokenLogprob& t, Backend& backend, int top_k);

// The model's tool-call syntax in generated text (<|tool_call>call:NAME{key:value,…}<tool_call|>, spec §5) as
// OpenAI tool_calls; the text outside the calls is returned in CONTENT.
nlohmann::json parse_tool_calls(const std::string& text, std::string* content);

}  // namespace g4ref
