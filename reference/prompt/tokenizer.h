// Text <-> token ids (spec §5). One interface over the two files a Gemma checkpoint may ship:
// tokenizer.json (Hugging Face tokenizers) and tokenizer.model (SentencePiece).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace g4ref {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids of TEXT, special tokens written in the text included (`<|turn>` becomes 105).
  // Never adds <bos>: the chat template writes it itself, and a second one would be wrong (spec §5).
  virtual std::vector<int> encode(std::string_view text) const = 0;

  // The text of IDS; an id outside [0, vocab_size()) is an error.
  virtual std::string decode(const std::vector<int>& ids) const = 0;

  // One more than the largest id (special tokens included).
  virtual int vocab_size() const = 0;

  // The id of the piece spelled exactly PIECE ("<|turn>", "▁the", "<0x0A>"), or -1 if there is none.
  virtual int token_id(std::string_view piece) const = 0;

  // The stored spelling of one id ("▁the", not " the"); an id out of range is an error.
  virtual std::string piece(int id) const = 0;
};

// Loads PATH by what it is: a tokenizer.json (Hugging Face), a tokenizer.model (SentencePiece), a llama.cpp
// .gguf (its tokenizer.ggml.* vocabulary and merges), or a directory holding one of the first two
// (tokenizer.json preferred). Any problem is a g4ref::Error naming the file.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace g4ref
