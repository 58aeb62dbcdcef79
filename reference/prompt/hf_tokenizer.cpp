// Encoding, in the order the Hugging Face pipeline runs (spec §5):
//   1. split the raw text on added tokens (leftmost match, longest first at that position);
//   2. normalize each span between them: " " -> "▁" (no prefix space);
//   3. each character becomes its vocabulary id, or its UTF-8 bytes as <0xNN> tokens (byte fallback);
//   4. BPE merges over the whole span — the pre-tokenizer's split on " " has nothing left to split.
// Decoding reverses it: "▁" -> " ", runs of <0xNN> tokens fused back into UTF-8.
#include "prompt/hf_tokenizer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "io/mapped_file.h"
#include "prompt/bpe.h"

namespace g4ref {

namespace {

using json = nlohmann::json;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";        // U+2581 "▁", what the normalizer writes for " "
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD, for byte runs that are not UTF-8
// A larger id means a corrupt or hostile file; refusing it keeps the id -> piece table bounded.
constexpr int64_t kMaxId = int64_t{1} << 24;

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

// ---- UTF-8 ----

// Length of the well-formed UTF-8 character at TEXT[I] (1 to 4), or 0 if the bytes there are not one
// (a stray continuation byte, an overlong form, a surrogate, a value above U+10FFFF, a cut-off sequence).
size_t utf8_length(std::string_view text, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  }
  size_t n;
  uint32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return n;
}

bool is_utf8(std::string_view text) {
  uint32_t cp;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(text, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, from.size(), from) == 0) {
      out += to;
      i += from.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// "<0x41>" -> 0x41, as the byte-fallback decoder reads it; -1 for any other piece.
int byte_of_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

std::string byte_piece(int byte) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("<0x") + kHex[byte >> 4] + kHex[byte & 15] + ">";
}

// ---- added tokens ----

// A byte trie of the added tokens: at each position of a text, the longest token starting there.
class TokenTrie {
 public:
  void insert(std::string_view token, int id) {
    int node = 0;
    for (unsigned char c : token) {
      int child = find_child(node, c);
      if (child < 0) {
        child = static_cast<int>(nodes_.size());
        nodes_[node].children.emplace_back(c, child);
        nodes_.emplace_back();
      }
      node = child;
    }
    nodes_[node].id = id;
    starts_[static_cast<unsigned char>(token[0])] = true;
  }

  bool empty() const { return nodes_.size() == 1; }

  // {length, id} of the longest token at TEXT[POS], or {0, -1}.
  std::pair<size_t, int> longest_at(std::string_view text, size_t pos) const {
    if (!starts_[static_cast<unsigned char>(text[pos])]) return {0, -1};
    std::pair<size_t, int> best{0, -1};
    int node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      node = find_child(node, static_cast<unsigned char>(text[i]));
      if (node < 0) break;
      if (nodes_[node].id >= 0) best = {i + 1 - pos, nodes_[node].id};
    }
    return best;
  }

 private:
  struct Node {
    int id = -1;
    std::vector<std::pair<unsigned char, int>> children;
  };
  int find_child(int node, unsigned char c) const {
    for (const auto& [byte, child] : nodes_[node].children) {
      if (byte == c) return child;
    }
    return -1;
  }
  std::vector<Node> nodes_ = std::vector<Node>(1);
  std::array<bool, 256> starts_{};
};

// Calls ON_TOKEN(id) for each added token in TEXT and ON_SPAN(text) for each stretch between them.
template <typename OnSpan, typename OnToken>
void split_on_tokens(const TokenTrie& trie, std::string_view text, OnSpan on_span, OnToken on_token) {
  if (trie.empty()) {
    if (!text.empty()) on_span(text);
    return;
  }
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const auto [length, id] = trie.longest_at(text, i);
    if (length == 0) {
      ++i;
      continue;
    }
    if (i > start) on_span(text.substr(start, i - start));
    on_token(id);
    i += length;
    start = i;
  }
  if (start < text.size()) on_span(text.substr(start));
}

// ---- checking the JSON ----

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, int, StringHash, std::equal_to<>>;

// Reads fields of one JSON object, naming the file and the field's dotted path in every error.
class Fields {
 public:
  Fields(const std::string& path, const json& object, std::string where)
      : path_(path), object_(object), where_(std::move(where)) {
    if (!object_.is_object()) fail(path_, where_ + " must be an object (found " + object_.type_name() + ")");
  }

  const json* find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  const json& required(const char* key) const {
    const json* j = find(key);
    if (!j) fail(path_, "missing " + name(key));
    return *j;
  }
  std::string string(const char* key) const { return as_string(required(key), name(key)); }
  std::string string_or(const char* key, const std::string& fallback) const {
    const json* j = find(key);
    return j ? as_string(*j, name(key)) : fallback;
  }
  bool boolean_or(const char* key, bool fallback) const {
    const json* j = find(key);
    if (!j) return fallback;
    if (!j->is_boolean()) fail(path_, name(key) + " must be true or false (found " + j->type_name() + ")");
    return j->get<bool>();
  }
  std::string name(const char* key) const { return (where_.empty() ? "" : where_ + ".") + key; }

 private:
  std::string as_string(const json& j, const std::string& field) const {
    if (!j.is_string()) fail(path_, field + " must be a string (found " + j.type_name() + ")");
    return j.get<std::string>();
  }
  const std::string& path_;
  const json& object_;
  std::string where_;
};

int parse_id(const std::string& path, const json& j, const std::string& field) {
  if (!j.is_number_integer()) fail(path, field + " must be an integer id (found " + j.type_name() + ")");
  if (!j.is_number_unsigned() || j.get<uint64_t>() >= static_cast<uint64_t>(kMaxId)) {
    fail(path, field + " is " + j.dump() + " (expected an id in [0, " + std::to_string(kMaxId) + "))");
  }
  return j.get<int>();
}

// {"String": " "} -> " "; a regular-expression pattern is not something Gemma uses.
std::string string_pattern(const std::string& path, const Fields& f) {
  const Fields pattern(path, f.required("pattern"), f.name("pattern"));
  if (pattern.find("Regex"))
    fail(path, f.name("pattern") + ": a Regex pattern is not supported (expected {\"String\": ...})");
  return pattern.string("String");
}

// ---- the tokenizer ----

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(const std::string& path) : path_(path) {
    const MappedFile file = MappedFile::open(path);
    if (file.size() == 0) fail(path, "file is empty (expected a tokenizer.json object)");
    load(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()));
  }
  HfTokenizer(const std::string& name, std::string_view text) : path_(name) { load(text); }

 private:
  void load(std::string_view text) {
    const std::string& path = path_;
    json root;
    try {
      root = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
      fail(path, std::string("not valid JSON: ") + e.what());
    }
    const Fields top(path, root, "");
    parse_model(Fields(path, top.required("model"), "model"));
    parse_added_tokens(top.find("added_tokens"));
    parse_normalizer(top.find("normalizer"));
    parse_pre_tokenizer(top.find("pre_tokenizer"));
    parse_decoder(top.find("decoder"));
    index_characters();
  }

 public:
  std::vector<int> encode(std::string_view text) const override {
    std::vector<int> out;
    out.reserve(text.size() / 3 + 1);
    Scratch scratch;
    split_on_tokens(
        raw_tokens_, text, [&](std::string_view span) { encode_span(span, out, scratch); },
        [&](int id) { out.push_back(id); });
    return out;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string out;
    std::string bytes;  // a run of <0xNN> tokens, fused once it ends
    const auto flush = [&] {
      if (bytes.empty()) return;
      if (is_utf8(bytes)) {
        out += replace_in_bytes_ ? replace_all(bytes, kMetaspace, " ") : bytes;
      } else {
        for (size_t i = 0; i < bytes.size(); ++i) out += kReplacementChar;  // one per byte, as Hugging Face does
      }
      bytes.clear();
    };
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string& p = piece_ref(ids[i]);
      if (!decoder_) {  // Hugging Face joins the raw pieces with spaces when there is no decoder
        if (i) out += ' ';
        out += p;
        continue;
      }
      if (decode_bytes_) {
        const int byte = byte_of_piece(p);
        if (byte >= 0) {
          bytes += static_cast<char>(byte);
          continue;
        }
      }
      flush();
      out += decode_metaspace_ ? replace_all(p, kMetaspace, " ") : p;
    }
    flush();
    return out;
  }

  int vocab_size() const override { return static_cast<int>(pieces_.size()); }

  int token_id(std::string_view piece) const override {
    if (auto it = added_ids_.find(piece); it != added_ids_.end()) return it->second;
    if (auto it = vocab_.find(piece); it != vocab_.end()) return it->second;
    return -1;
  }

  std::string piece(int id) const override { return piece_ref(id); }

 private:
  struct Scratch {
    std::vector<int> symbols;
    BpeMerges::Workspace bpe;
  };

  // ---- loading ----

  void parse_model(const Fields& model) {
    const std::string type = model.string_or("type", "BPE");
    if (type != "BPE") fail(path_, "model.type is " + in_quotes(type) + " (expected \"BPE\")");
    if (const json* d = model.find("dropout"); d && !(d->is_number() && d->get<double>() == 0.0)) {
      fail(path_, "model.dropout is " + d->dump() + ": BPE dropout is not supported (expected null)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (!model.string_or(key, "").empty()) fail(path_, model.name(key) + " is not supported (expected null)");
    }
    byte_fallback_ = model.boolean_or("byte_fallback", false);
    fuse_unk_ = model.boolean_or("fuse_unk", false);
    ignore_merges_ = model.boolean_or("ignore_merges", false);

    const json& vocab = model.required("vocab");
    if (!vocab.is_object())
      fail(path_, std::string("model.vocab must be an object of piece: id (found ") + vocab.type_name() + ")");
    if (vocab.empty()) fail(path_, "model.vocab is empty");
    vocab_.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const int id = parse_id(path_, it.value(), "model.vocab[" + in_quotes(it.key()) + "]");
      set_piece(id, it.key(), "model.vocab");
      vocab_.emplace(it.key(), id);
    }

    if (const json* unk = model.find("unk_token")) {
      if (!unk->is_string())
        fail(path_, std::string("model.unk_token must be a string (found ") + unk->type_name() + ")");
      auto it = vocab_.find(unk->get<std::string>());
      if (it == vocab_.end())
        fail(path_, "model.unk_token " + in_quotes(unk->get<std::string>()) + " is not in model.vocab");
      unk_id_ = it->second;
    }

    const json& merges = model.required("merges");
    if (!merges.is_array())
      fail(path_, std::string("model.merges must be an array (found ") + merges.type_name() + ")");
    for (size_t rank = 0; rank < merges.size(); ++rank) parse_merge(merges[rank], rank);
  }

  // One merge, as "left right" (tokenizers before 0.20) or ["left", "right"].
  void parse_merge(const json& m, size_t rank) {
    const std::string where = "model.merges[" + std::to_string(rank) + "]";
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos) fail(path_, where + " is " + in_quotes(s) + " (expected \"left right\")");
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      fail(path_, where + " is " + m.dump() + " (expected \"left right\" or [\"left\", \"right\"])");
    }
    const auto id_of = [&](const std::string& piece) {
      auto it = vocab_.find(piece);
      if (it == vocab_.end()) fail(path_, where + ": " + in_quotes(piece) + " is not in model.vocab");
      return it->second;
    };
    const int left_id = id_of(left);
    const int right_id = id_of(right);
    merges_.add(left_id, right_id, id_of(left + right));
  }

  void parse_added_tokens(const json* added) {
    if (!added) return;
    if (!added->is_array())
      fail(path_, std::string("added_tokens must be an array (found ") + added->type_name() + ")");
    for (size_t i = 0; i < added->size(); ++i) {
      const Fields t(path_, (*added)[i], "added_tokens[" + std::to_string(i) + "]");
      const int id = parse_id(path_, t.required("id"), t.name("id"));
      const std::string content = t.string("content");
      if (content.empty()) fail(path_, t.name("content") + " is empty");
      for (const char* key : {"lstrip", "rstrip", "single_word"}) {
        if (t.boolean_or(key, false))
          fail(path_, t.name(key) + " is true: not supported (Gemma's added tokens have none)");
      }
      const bool special = t.boolean_or("special", false);
      set_piece(id, content, "added_tokens");
      if (!added_ids_.emplace(content, id).second) {
        fail(path_, t.name("content") + " " + in_quotes(content) + " appears twice in added_tokens");
      }
      // Hugging Face's default: special tokens match the raw text, others the normalized text.
      if (t.boolean_or("normalized", !special)) {
        normalized_token_texts_.emplace_back(content, id);
      } else {
        raw_tokens_.insert(content, id);
      }
    }
  }

  void parse_normalizer(const json* j) {
    if (!j) return;
    const Fields f(path_, *j, "normalizer");
    const std::string type = f.string("type");
    if (type != "Replace" || string_pattern(path_, f) != " " || f.string("content") != kMetaspace) {
      fail(path_, "normalizer " + j->dump() + " is not supported (expected Replace \" \" -> \"▁\", or null)");
    }
    replace_spaces_ = true;
  }

  void parse_pre_tokenizer(const json* j) {
    if (!j) return;
    const Fields f(path_, *j, "pre_tokenizer");
    // After " " -> "▁" no space is left, so splitting on " " changes nothing; without that normalizer it would.
    if (f.string("type") != "Split" || string_pattern(path_, f) != " " || f.boolean_or("invert", false) ||
        !replace_spaces_) {
      fail(path_,
           "pre_tokenizer " + j->dump() +
               " is not supported (expected null, or Split on \" \" after the Replace \" \" -> \"▁\" normalizer)");
    }
  }

  void parse_decoder(const json* j) {
    if (!j) return;
    decoder_ = true;
    const Fields f(path_, *j, "decoder");
    if (f.string("type") == "Sequence") {
      const json& steps = f.required("decoders");
      if (!steps.is_array()) fail(path_, "decoder.decoders must be an array");
      for (size_t i = 0; i < steps.size(); ++i)
        parse_decoder_step(steps[i], "decoder.decoders[" + std::to_string(i) + "]");
    } else {
      parse_decoder_step(*j, "decoder");
    }
  }

  void parse_decoder_step(const json& j, const std::string& where) {
    const Fields f(path_, j, where);
    const std::string type = f.string("type");
    if (type == "Replace" && string_pattern(path_, f) == kMetaspace && f.string("content") == " ") {
      decode_metaspace_ = true;
      // Gemma replaces first, so bytes that spell "▁" stay "▁"; a Replace after ByteFallback would not.
      replace_in_bytes_ = decode_bytes_;
    } else if (type == "ByteFallback") {
      decode_bytes_ = true;
    } else if (type != "Fuse") {  // fusing is what concatenation does anyway
      fail(path_, where + " " + j.dump() + " is not supported (expected Replace \"▁\" -> \" \", ByteFallback or Fuse)");
    }
  }

  void set_piece(int id, const std::string& text, const char* list) {
    if (id >= static_cast<int>(pieces_.size())) {
      pieces_.resize(id + 1);
      has_piece_.resize(id + 1, false);
    }
    if (has_piece_[id] && pieces_[id] != text) {
      fail(path_, list + std::string(": id ") + std::to_string(id) + " is given to both " + in_quotes(pieces_[id]) +
                      " and " + in_quotes(text));
    }
    pieces_[id] = text;
    has_piece_[id] = true;
  }

  // Per-character ids and byte-fallback ids, looked up once per character of every text.
  void index_characters() {
    ascii_ids_.fill(-1);
    byte_ids_.fill(-1);
    for (const auto& [text, id] : vocab_) {
      uint32_t cp;
      if (!text.empty() && utf8_length(text, 0, &cp) == text.size()) {
        if (cp < 128) {
          ascii_ids_[cp] = id;
        } else {
          char_ids_.emplace(cp, id);
        }
      }
    }
    for (int b = 0; b < 256; ++b) {
      auto it = vocab_.find(byte_piece(b));
      if (it != vocab_.end()) byte_ids_[b] = it->second;
    }
    if (replace_spaces_) {
      std::vector<int> symbols;
      bool last_unk = false;
      uint32_t cp;
      utf8_length(kMetaspace, 0, &cp);
      push_character(kMetaspace, char_id(cp), symbols, last_unk);
      space_symbols_ = symbols;
    }
    for (const auto& [content, id] : normalized_token_texts_) {
      normalized_tokens_.insert(replace_spaces_ ? replace_all(content, " ", kMetaspace) : content, id);
    }
  }

  // ---- encoding ----

  void encode_span(std::string_view span, std::vector<int>& out, Scratch& s) const {
    if (normalized_tokens_.empty() && !ignore_merges_) {
      bpe(span, replace_spaces_, out, s);
      return;
    }
    const std::string normalized = replace_spaces_ ? replace_all(span, " ", kMetaspace) : std::string(span);
    split_on_tokens(
        normalized_tokens_, normalized, [&](std::string_view part) { bpe(part, false, out, s); },
        [&](int id) { out.push_back(id); });
  }

  // BPE over one span. With SPACES_ARE_METASPACE the normalizer is applied on the fly: " " enters as "▁".
  void bpe(std::string_view text, bool spaces_are_metaspace, std::vector<int>& out, Scratch& s) const {
    if (ignore_merges_) {
      const std::string normalized = spaces_are_metaspace ? replace_all(text, " ", kMetaspace) : std::string(text);
      if (auto it = vocab_.find(normalized); it != vocab_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    s.symbols.clear();
    bool last_unk = false;
    uint32_t cp;
    for (size_t i = 0; i < text.size();) {
      if (spaces_are_metaspace && text[i] == ' ') {
        s.symbols.insert(s.symbols.end(), space_symbols_.begin(), space_symbols_.end());
        last_unk = false;
        ++i;
        continue;
      }
      const size_t n = utf8_length(text, i, &cp);
      if (n == 0) {  // a byte that is not UTF-8 stands alone and can only fall back to <0xNN>
        push_character(text.substr(i, 1), -1, s.symbols, last_unk);
        ++i;
      } else {
        push_character(text.substr(i, n), char_id(cp), s.symbols, last_unk);
        i += n;
      }
    }
    merges_.merge(s.symbols, out, s.bpe);
  }

  int char_id(uint32_t cp) const {
    if (cp < 128) return ascii_ids_[cp];
    auto it = char_ids_.find(cp);
    return it == char_ids_.end() ? -1 : it->second;
  }

  // The initial symbol(s) of the character CH whose vocabulary id is ID (-1: none): the id; else its
  // bytes as <0xNN> (byte fallback); else <unk>, once per run of unknown characters when fuse_unk is set.
  void push_character(std::string_view ch, int id, std::vector<int>& symbols, bool& last_unk) const {
    if (id >= 0) {
      symbols.push_back(id);
      last_unk = false;
      return;
    }
    if (byte_fallback_ &&
        std::all_of(ch.begin(), ch.end(), [&](char b) { return byte_ids_[static_cast<unsigned char>(b)] >= 0; })) {
      for (char b : ch) symbols.push_back(byte_ids_[static_cast<unsigned char>(b)]);
      last_unk = false;
      return;
    }
    if (unk_id_ < 0) {
      fail(path_, "cannot encode the character " + in_quotes(ch) +
                      ": it is not in the vocabulary, byte fallback cannot spell it, and there is no unk_token");
    }
    if (!(fuse_unk_ && last_unk)) symbols.push_back(unk_id_);
    last_unk = true;
  }

  const std::string& piece_ref(int id) const {
    if (id < 0 || id >= vocab_size() || !has_piece_[id]) {
      fail(path_, "token id " + std::to_string(id) + " is not in the vocabulary (" + std::to_string(vocab_size()) +
                      " ids" + (id >= 0 && id < vocab_size() ? ", this one unused)" : ")"));
    }
    return pieces_[id];
  }

  std::string path_;
  PieceMap vocab_;                   // the BPE model's pieces
  PieceMap added_ids_;               // added_tokens, which take precedence in token_id()
  std::vector<std::string> pieces_;  // id -> spelling, model and added tokens together
  std::vector<bool> has_piece_;
  BpeMerges merges_;
  TokenTrie raw_tokens_;         // added tokens matched before normalization
  TokenTrie normalized_tokens_;  // added tokens with normalized = true, matched after it
  std::vector<std::pair<std::string, int>> normalized_token_texts_;
  std::array<int, 128> ascii_ids_{};
  std::unordered_map<uint32_t, int> char_ids_;
  std::array<int, 256> byte_ids_{};
  std::vector<int> space_symbols_;
  int unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  bool replace_spaces_ = false;
  bool decoder_ = false;
  bool decode_metaspace_ = false;
  bool decode_bytes_ = false;
  bool replace_in_bytes_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path) { return std::make_unique<HfTokenizer>(path); }

std::unique_ptr<Tokenizer> load_hf_tokenizer_text(const std::string& name, std::string_view text) {
  return std::make_unique<HfTokenizer>(name, text);
}

}  // namespace g4ref
