#include "convert/synth_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "base/error.h"

namespace g4ref {

extern const char* const kSynthTokenizerCorpus;  // generated from datasets/synth_tokenizer_corpus.txt

const std::vector<std::string>& gemma4_control_tokens() {
  static const std::vector<std::string> tokens = {
      "<mask>",         "<|tool>",    "<tool|>",    "<|tool_call>", "<tool_call|>", "<|tool_response>",
      "<tool_response|>", "<|\"|>",   "<|think|>",  "<|channel>",   "<channel|>",   "<|turn>",
      "<turn|>",        "<|image>",   "<image|>",   "<|image|>",    "<|audio>",     "<audio|>",
      "<|audio|>",      "<|video|>"};
  return tokens;
}

namespace {

// Feeds the bundled text to the trainer, two lines per sentence so that newlines are part of the vocabulary.
class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  explicit CorpusIterator(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    for (size_t i = 0; i + 1 < lines.size(); i += 2) sentences_.push_back(lines[i] + "\n" + lines[i + 1]);
  }
  bool done() const override { return pos_ >= sentences_.size(); }
  void Next() override { ++pos_; }
  const std::string& value() const override { return sentences_[pos_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> sentences_;
  size_t pos_ = 0;
};

// UTF-8 character boundaries of s (byte offsets, excluding 0 and size).
std::vector<size_t> char_boundaries(const std::string& s) {
  std::vector<size_t> b;
  for (size_t i = 1; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) b.push_back(i);
  }
  return b;
}

}  // namespace

std::string sentencepiece_bpe_to_tokenizer_json(const std::string& serialized_model) {
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(serialized_model).ok()) fail("tokenizer.model", "not a SentencePiece model");
  const int n = sp.GetPieceSize();
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  nlohmann::json added = nlohmann::json::array();
  std::unordered_map<std::string, int> normal;  // pieces BPE can build
  const std::set<std::string> user_defined(gemma4_control_tokens().begin(), gemma4_control_tokens().end());
  for (int id = 0; id < n; ++id) {
    const std::string& piece = sp.IdToPiece(id);
    vocab[piece] = id;
    if (sp.IsControl(id) || sp.IsUnknown(id) || user_defined.count(piece)) {
      added.push_back({{"id", id}, {"content", piece}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", true}});
    } else if (!sp.IsByte(id)) {
      normal[piece] = id;
    }
  }
  // A BPE model's merges are implied by its pieces: every split of a piece into two pieces is a merge, ranked by
  // the merged piece's id (SentencePiece BPE scores fall with the id), then by the left and right ids.
  struct Merge {
    int merged, left, right;
    std::string a, b;
  };
  std::vector<Merge> merges;
  for (const auto& [piece, id] : normal) {
    for (size_t cut : char_boundaries(piece)) {
      const std::string a = piece.substr(0, cut), b = piece.substr(cut);
      auto ia = normal.find(a), ib = normal.find(b);
      if (ia != normal.end() && ib != normal.end()) merges.push_back({id, ia->second, ib->second, a, b});
    }
  }
  std::sort(merges.begin(), merges.end(), [](const Merge& x, const Merge& y) {
    return std::tie(x.merged, x.left, x.right) < std::tie(y.merged, y.left, y.right);
  });
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& m : merges) merge_list.push_back({m.a, m.b});

  const std::string space = "\xE2\x96\x81";  // U+2581 "▁"
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}};
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"},
                        {"invert", false}};
  j["post_processor"] = nullptr;
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}}}}};
  j["model"] = {{"type", "BPE"},         {"dropout", nullptr},       {"unk_token", sp.IdToPiece(sp.unk_id())},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
                {"byte_fallback", true}, {"ignore_merges", false}, {"vocab", vocab},
                {"merges", merge_list}};
  return j.dump(1);
}

SynthTokenizer train_synth_tokenizer(int max_vocab) {
  std::string symbols;
  for (const auto& t : gemma4_control_tokens()) symbols += (symbols.empty() ? "" : ",") + t;
  // Gemma's conventions (spec §5): no dummy prefix, whitespace kept as is, digits split, byte fallback,
  // pad/eos/bos/unk at 0/1/2/3.
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(max_vocab)},
      {"hard_vocab_limit", "false"},
      {"byte_fallback", "true"},
      {"character_coverage", "1.0"},
      {"pad_id", "0"}, {"eos_id", "1"}, {"bos_id", "2"}, {"unk_id", "3"},
      {"pad_piece", "<pad>"}, {"eos_piece", "<eos>"}, {"bos_piece", "<bos>"}, {"unk_piece", "<unk>"},
      {"user_defined_symbols", symbols},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      {"normalization_rule_name", "identity"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"split_by_whitespace", "false"},  // BPE over the whole text, as the tokenizer.json semantics have it
      {"num_threads", "1"},
      {"minloglevel", "2"},
  };
  CorpusIterator corpus(kSynthTokenizerCorpus);
  SynthTokenizer t;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &corpus, &t.sentencepiece_model);
  if (!status.ok()) fail("synth tokenizer", "SentencePiece training failed: " + status.ToString());
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(t.sentencepiece_model).ok()) fail("synth tokenizer", "trained model does not load");
  t.vocab_size = sp.GetPieceSize();
  for (const char* s : {"<pad>", "<eos>", "<bos>", "<unk>"}) t.special_ids[s] = sp.PieceToId(s);
  for (const auto& s : gemma4_control_tokens()) t.special_ids[s] = sp.PieceToId(s);
  t.tokenizer_json = sentencepiece_bpe_to_tokenizer_json(t.sentencepiece_model);
  return t;
}

}  // namespace g4ref
