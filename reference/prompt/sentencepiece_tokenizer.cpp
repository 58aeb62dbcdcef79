#include "prompt/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "base/error.h"

namespace g4ref {

namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    // SentencePiece reports most bad models in its status, but some only by throwing (its trie builder refuses a
    // zero-length piece with a Darts exception): both become an error naming the file.
    sentencepiece::util::Status status;
    try {
      status = sp_.Load(path);
    } catch (const std::exception& e) {
      fail(path, std::string("not a usable SentencePiece model: SentencePiece refused it (") + e.what() + ")");
    }
    if (!status.ok()) fail(path, "not a SentencePiece model: " + status.ToString());
    if (sp_.GetPieceSize() <= 0) fail(path, "the SentencePiece model has no pieces");
    for (int id = 0; id < sp_.GetPieceSize(); ++id) {
      if (sp_.IsControl(id) || sp_.IsUnknown(id)) specials_.push_back({sp_.IdToPiece(id), id});
    }
    // Longest first, so a special token that is a prefix of another never wins over it.
    std::sort(specials_.begin(), specials_.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }

  // SentencePiece never matches its control pieces (<bos>, <eos>, <pad>, <unk>) in text, but tokenizer.json
  // matches every special token before BPE, and the chat template writes "<bos>" as text (spec §5). So that both
  // files give one tokenizer, those pieces are matched here first; the text between them goes to SentencePiece
  // (which matches the user-defined symbols itself). Plain Encode adds neither <bos> nor <eos>.
  std::vector<int> encode(std::string_view text) const override {
    std::vector<int> ids;
    size_t start = 0, pos = 0;
    auto flush = [&](size_t end) {
      if (end <= start) return;
      std::vector<int> part;
      sentencepiece::util::Status status;
      try {
        status = sp_.Encode(text.substr(start, end - start), &part);
      } catch (const std::exception& e) {
        fail(path_, std::string("cannot encode: SentencePiece failed (") + e.what() + ")");
      }
      if (!status.ok()) fail(path_, "cannot encode: " + status.ToString());
      ids.insert(ids.end(), part.begin(), part.end());
    };
    while (pos < text.size()) {
      const auto* hit = match_special(text, pos);
      if (!hit) {
        ++pos;
        continue;
      }
      flush(pos);
      ids.push_back(hit->second);
      pos += hit->first.size();
      start = pos;
    }
    flush(text.size());
    return ids;
  }

  // SentencePiece's own decoding for runs of ordinary pieces (byte pieces fused into UTF-8, "▁" -> " "); control
  // pieces are written as their text, as tokenizer.json decoding does.
  std::string decode(const std::vector<int>& ids) const override {
    for (int id : ids) check_id(id);
    std::string text;
    std::vector<int> run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string part;
      const auto status = sp_.Decode(run, &part);
      if (!status.ok()) fail(path_, "cannot decode: " + status.ToString());
      text += part;
      run.clear();
    };
    for (int id : ids) {
      if (sp_.IsControl(id) || sp_.IsUnknown(id)) {
        flush();
        text += sp_.IdToPiece(id);
      } else {
        run.push_back(id);
      }
    }
    flush();
    return text;
  }

  int vocab_size() const override { return sp_.GetPieceSize(); }

  int token_id(std::string_view piece) const override {
    // PieceToId answers the <unk> id for a piece it does not know.
    const int id = sp_.PieceToId(piece);
    return id == sp_.unk_id() && piece != sp_.IdToPiece(id) ? -1 : id;
  }

  std::string piece(int id) const override {
    check_id(id);
    return sp_.IdToPiece(id);
  }

 private:
  void check_id(int id) const {
    if (id < 0 || id >= vocab_size()) {
      fail(path_,
           "token id " + std::to_string(id) + " is not in the vocabulary (" + std::to_string(vocab_size()) + " ids)");
    }
  }

  const std::pair<std::string, int>* match_special(std::string_view text, size_t pos) const {
    for (const auto& s : specials_) {
      if (text.compare(pos, s.first.size(), s.first) == 0) return &s;
    }
    return nullptr;
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::pair<std::string, int>> specials_;  // control and unknown pieces, longest first
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace g4ref
