// The Hugging Face tokenizer.json of a Gemma checkpoint (spec §5): added tokens matched first, then
// " " -> "▁", then BPE with byte fallback over each span between added tokens.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "prompt/tokenizer.h"

namespace g4ref {

// Reads and checks PATH. Only the pipeline Gemma uses is accepted (a Replace " " -> "▁" normalizer or
// none, a Split on " " pre-tokenizer or none, a BPE model, Replace/ByteFallback/Fuse decoders); anything
// else, and any malformed or inconsistent field, is a g4ref::Error naming the file and the field.
// The post-processor (which would add <bos>) is ignored on purpose: encode() never adds <bos>.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path);
// The same from tokenizer.json TEXT held in memory; NAME stands for the file in errors.
std::unique_ptr<Tokenizer> load_hf_tokenizer_text(const std::string& name, std::string_view text);

}  // namespace g4ref
