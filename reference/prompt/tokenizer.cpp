#include "prompt/tokenizer.h"

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "prompt/gguf_tokenizer.h"
#include "prompt/hf_tokenizer.h"
#include "prompt/sentencepiece_tokenizer.h"

namespace g4ref {

namespace fs = std::filesystem;

namespace {

// A tokenizer.json is a JSON object; a tokenizer.model is a serialized protocol buffer, which never
// starts with "{" (its first byte is a field tag).
bool looks_like_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c;
  while (in.get(c)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c == '{';
  }
  return false;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) fail(path, "no such file or directory (expected tokenizer.json or tokenizer.model)");
  if (fs::is_directory(status)) {
    for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
      const fs::path file = fs::path(path) / name;
      if (fs::exists(file, ec)) return load_tokenizer(file.string());
    }
    fail(path, "the directory holds neither tokenizer.json nor tokenizer.model");
  }
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return load_hf_tokenizer(path);
  if (ext == ".gguf") return load_gguf_tokenizer(path);
  if (ext == ".model") return load_sentencepiece_tokenizer(path);
  return looks_like_json(path) ? load_hf_tokenizer(path) : load_sentencepiece_tokenizer(path);
}

}  // namespace g4ref
