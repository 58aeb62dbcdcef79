// A SentencePiece tokenizer.model (the file Gemma's tokenizer.json was converted from, spec §5),
// run by the SentencePiece library itself.
#pragma once

#include <memory>
#include <string>

#include "prompt/tokenizer.h"

namespace g4ref {

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path);

}  // namespace g4ref
