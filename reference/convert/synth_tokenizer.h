// A genuine tokenizer for the synthetic checkpoints: a SentencePiece BPE model trained at synthesis time on a
// bundled text (datasets/synth_tokenizer_corpus.txt), carrying every Gemma 4 control token of spec §5 as a
// user-defined symbol, plus the equivalent Hugging Face tokenizer.json. Its ids are whatever training gives:
// the checkpoint's config.json carries them, and no code assumes the 12B's literal ids.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace g4ref {

struct SynthTokenizer {
  std::string sentencepiece_model;  // serialized ModelProto (tokenizer.model)
  std::string tokenizer_json;       // Hugging Face tokenizer.json with the same vocabulary and merges
  int vocab_size = 0;
  std::map<std::string, int> special_ids;  // "<bos>", "<|turn>", "<|image|>", … -> id
};

// The Gemma 4 control tokens of spec §5 that are not SentencePiece's own pad/eos/bos/unk.
const std::vector<std::string>& gemma4_control_tokens();

// Deterministic: the same max_vocab always gives the same model. The vocabulary may come out smaller than
// max_vocab when the bundled text has too few distinct merges.
SynthTokenizer train_synth_tokenizer(int max_vocab);

// tokenizer.json for any SentencePiece BPE model (serialized), with merges extracted from its pieces.
std::string sentencepiece_bpe_to_tokenizer_json(const std::string& serialized_model);

}  // namespace g4ref
