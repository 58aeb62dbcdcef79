#include "prompt/gguf_tokenizer.h"

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "base/error.h"
#include "prompt/hf_tokenizer.h"

namespace g4ref {

namespace {

const std::string& string_item(const GgufScalar& s, const GgufFile& f, const std::string& key) {
  const auto* v = std::get_if<std::string>(&s);
  if (!v) fail(f.path(), key + " must hold strings");
  return *v;
}

// The byte offset of the first byte that breaks UTF-8 in S, or npos. (JSON strings must be UTF-8; nlohmann's
// dump() would otherwise throw a type_error without naming the token.)
size_t invalid_utf8_at(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (n < 0 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4) || i + size_t(n) >= s.size() + (n == 0)) return i;
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((d & 0xC0) != 0x80) return i;
      cp = cp << 6 | (d & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return i;
    }
    i += size_t(n) + 1;
  }
  return std::string::npos;
}

}  // namespace

std::string gguf_tokenizer_json(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model != "gemma4") {
    fail(f.path(), "tokenizer.ggml.model is '" + model + "'; only the Gemma 4 tokenizer ('gemma4') is understood");
  }
  const GgufArray& tokens = f.get_array("tokenizer.ggml.tokens");
  const GgufArray& types = f.get_array("tokenizer.ggml.token_type");
  if (types.items.size() != tokens.items.size()) {
    fail(f.path(), "tokenizer.ggml.token_type has " + std::to_string(types.items.size()) + " entries for " +
                       std::to_string(tokens.items.size()) + " tokens");
  }
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  nlohmann::json added = nlohmann::json::array();
  std::unordered_map<std::string, int> ids;
  std::string unk = "<unk>";
  for (size_t id = 0; id < tokens.items.size(); ++id) {
    const std::string& piece = string_item(tokens.items[id], f, "tokenizer.ggml.tokens");
    const int64_t type = gguf_scalar_int(types.items[id], f.path(), "tokenizer.ggml.token_type");
    if (const size_t bad = invalid_utf8_at(piece); bad != std::string::npos) {
      fail(f.path(), "tokenizer.ggml.tokens[" + std::to_string(id) + "] is not valid UTF-8 (byte " +
                         std::to_string(bad) + " of " + std::to_string(piece.size()) + ")");
    }
    if (!ids.emplace(piece, static_cast<int>(id)).second) {
      if (type == GgufTokenType::kUnused) continue;  // padding rows may repeat a spelling; they are never produced
      fail(f.path(), "tokenizer.ggml.tokens spells '" + piece + "' twice");
    }
    vocab[piece] = id;
    if (type == GgufTokenType::kUnknown) unk = piece;
    if (type == GgufTokenType::kControl || type == GgufTokenType::kUserDefined || type == GgufTokenType::kUnknown) {
      added.push_back({{"id", id}, {"content", piece}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}, {"special", type != GgufTokenType::kUserDefined}});
    }
  }
  nlohmann::json merges = nlohmann::json::array();
  if (f.find("tokenizer.ggml.merges")) {
    for (const GgufScalar& m : f.get_array("tokenizer.ggml.merges").items) {
      const std::string& text = string_item(m, f, "tokenizer.ggml.merges");
      if (const size_t bad = invalid_utf8_at(text); bad != std::string::npos) {
        fail(f.path(), "a tokenizer.ggml.merges entry is not valid UTF-8 (byte " + std::to_string(bad) + ")");
      }
      // "left right": the split is the space whose two sides are both pieces (a piece may hold a space itself).
      bool found = false;
      for (size_t cut = text.find(' '); cut != std::string::npos && !found; cut = text.find(' ', cut + 1)) {
        const std::string a = text.substr(0, cut), b = text.substr(cut + 1);
        if (ids.count(a) && ids.count(b)) {
          merges.push_back({a, b});
          found = true;
        }
      }
      if (!found) fail(f.path(), "tokenizer.ggml.merges entry '" + text + "' does not join two tokens");
    }
  }
  const std::string space = "\xE2\x96\x81";  // U+2581 "▁"
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["added_tokens"] = added;
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}};
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"},
                        {"invert", false}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}}}}};
  j["model"] = {{"type", "BPE"}, {"unk_token", unk}, {"fuse_unk", true}, {"byte_fallback", true},
                {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}};
  return j.dump();
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  auto f = GgufFile::open(path);
  return load_hf_tokenizer_text(path, gguf_tokenizer_json(*f));
}

}  // namespace g4ref
