// g4ref tokenize / detokenize: text <-> token ids with a checkpoint's tokenizer.json or tokenizer.model
// (spec §5). No <bos> is added: the chat template writes it itself.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/common.h"
#include "base/error.h"
#include "prompt/tokenizer.h"

namespace g4ref {

namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text;
  std::string text_file;
  bool json = false;
};

struct DetokenizeArgs {
  std::string tokenizer;
  std::string ids;
  bool json = false;
};

// The lines of PATH, split on "\n" only (a "\r" stays in its line); a final "\n" ends the last line.
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read the text file");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string comma_list(const std::vector<int>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out;
}

// Text that may hold bytes that are not UTF-8 (a decode of a partial character) still prints as JSON.
std::string dump(const nlohmann::json& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Text to token ids (never adds <bos>; the chat template writes it)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json, tokenizer.model, or a directory holding one")
      ->required();
  CLI::Option_group* input = cmd->add_option_group("input", "the text to tokenize");
  input->add_option("--text", args->text, "the text itself");
  input->add_option("--text-file", args->text_file, "a UTF-8 file: one id list per line (lines split on \\n only)");
  input->require_option(1);
  cmd->add_flag("--json", args->json, "machine-readable output (ids and pieces)");
  cmd->callback([args] {
    const std::unique_ptr<Tokenizer> tok = load_tokenizer(args->tokenizer);
    if (!args->text_file.empty()) {
      nlohmann::json lines = nlohmann::json::array();
      for (const std::string& line : read_lines(args->text_file)) {
        const std::vector<int> ids = tok->encode(line);
        if (args->json) {
          lines.push_back(ids);
        } else {
          std::cout << comma_list(ids) << "\n";
        }
      }
      if (args->json) std::cout << dump({{"tokenizer", args->tokenizer}, {"lines", lines}}) << "\n";
      return;
    }
    const std::vector<int> ids = tok->encode(args->text);
    if (args->json) {
      nlohmann::json pieces = nlohmann::json::array();
      for (int id : ids) pieces.push_back(tok->piece(id));
      std::cout << dump({{"tokenizer", args->tokenizer}, {"ids", ids}, {"pieces", pieces}, {"count", ids.size()}})
                << "\n";
    } else {
      std::cout << comma_list(ids) << "\n";
    }
  });
}

void add_detokenize_command(CLI::App& app) {
  auto args = std::make_shared<DetokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Token ids to text (every id rendered, special tokens included)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json, tokenizer.model, or a directory holding one")
      ->required();
  cmd->add_option("--ids", args->ids, "comma-separated token ids, e.g. 2,105,2364")->required();
  cmd->add_flag("--json", args->json, "machine-readable output");
  cmd->callback([args] {
    const std::vector<int> ids = parse_token_list(args->ids, "--ids");
    const std::unique_ptr<Tokenizer> tok = load_tokenizer(args->tokenizer);
    const std::string text = tok->decode(ids);
    if (args->json) {
      std::cout << dump({{"tokenizer", args->tokenizer}, {"ids", ids}, {"text", text}}) << "\n";
    } else {
      std::cout << text << "\n";
    }
  });
}

}  // namespace g4ref
