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
