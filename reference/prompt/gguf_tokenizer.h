// The tokenizer a llama.cpp GGUF carries (tokenizer.ggml.*, spec §7.1), as the Hugging Face tokenizer.json it
// was converted from: the token list is the vocabulary, tokenizer.ggml.merges the BPE merges, and the CONTROL,
// USER_DEFINED and UNKNOWN tokens the added tokens (matched before BPE); the Gemma pipeline around them (" " -> "▁",
// byte fallback) is fixed by tokenizer.ggml.model = "gemma4".
#pragma once

#include <memory>
#include <string>

#include "io/gguf.h"
#include "prompt/tokenizer.h"

namespace g4ref {

// tokenizer.json text for the GGUF's vocabulary; errors name the file and the key.
std::string gguf_tokenizer_json(const GgufFile& f);

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace g4ref
