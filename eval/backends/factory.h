// Makes a Backend from settings, as the harness, the cross-checks and the server name them:
//   {"kind": "reference", "model": DIR|FILE.gguf, "mmproj"?, "tokenizer"?, "precision"?: exact|f32|bf16,
//    "embed_scale"?: hf|llamacpp, "window"?: lower|symmetric, "image_attention"?: sliding|all}
//   {"kind": "llamacpp", "model": DIR, "type"?: f32|f16|bf16|q8_0|q4_0|q4_k|q6_k, "mmproj_type"?, "kv"?: f16|f32,
//    "flash_attn"?: auto|on|off, "tokenizer"?}
//   {"kind": "endpoint", "url": http://host:port, "model": the checkpoint it serves, "tokenizer"?, "served_model"?,
//    "api_key"?, "score_method"?: auto|prompt_logprobs|completion_n_probs, "precision"?: a label of what it claims}
// Unknown kinds and keys are errors naming the key.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "backends/backend.h"

namespace g4ref {

std::unique_ptr<Backend> make_backend(const nlohmann::json& settings);
std::unique_ptr<Backend> make_llamacpp_backend(const nlohmann::json& settings);

// The RunOptions a reference backend's settings ask for (precision and the switches above).
RunOptions run_options_from_settings(const nlohmann::json& settings);

}  // namespace g4ref
