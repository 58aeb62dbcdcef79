// g4ref template: the prompt text (and ids) the official chat template gives a Hugging Face message list (spec §5).
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "cli/common.h"
#include "prompt/chat_template.h"
#include "prompt/tokenizer.h"

namespace g4ref {

namespace {

using Json = nlohmann::ordered_json;

struct TemplateArgs {
  std::string model;
  std::string tokenizer;
  std::string messages;
  std::string tools;
  std::string cases;
  bool think = false;
  bool no_generation_prompt = false;
  bool json = false;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json read_json(const std::string& path) {
  const std::string text = read_text(path);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
}

std::string dump(const Json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One case a line ({"messages", "tools", "enable_thinking", "add_generation_prompt"}) in, one {"text"} or
// {"error"} a line out. A case the template refuses is an answer, not a failure of the command.
void render_cases(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read the cases file");
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    Json c;
    try {
      c = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail(where, std::string("not valid JSON: ") + e.what());
    }
    if (!c.is_object() || !c.contains("messages")) fail(where, "expected an object with \"messages\"");
    ChatOptions o;
    if (c.contains("tools")) o.tools = c.at("tools");
    o.thinking = c.value("enable_thinking", false);
    o.add_generation_prompt = c.value("add_generation_prompt", true);
    Json result;
    try {
      result = {{"text", render_chat(c.at("messages"), o)}};
    } catch (const Error& e) {
      result = {{"error", e.what()}};
    }
    std::cout << dump(result, -1) << "\n";
  }
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto args = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "template", "Renders a message list with the official chat template (what apply_chat_template gives)");
  cmd->add_option("--model", args->model, "checkpoint directory whose tokenizer gives the ids (--json)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json, tokenizer.model or .gguf for the ids (--json)");
  cmd->add_option("--messages", args->messages,
                  "JSON file: a list of messages, or {\"messages\": [...], \"tools\": [...]}");
  cmd->add_option("--tools", args->tools, "JSON file: a list of function declarations ({\"type\": \"function\", …})");
  cmd->add_flag("--think", args->think, "enable_thinking: <|think|> in the system turn, no empty thought channel");
  cmd->add_flag("--no-generation-prompt", args->no_generation_prompt, "leave out the closing <|turn>model prompt");
  cmd->add_flag("--json", args->json, "machine-readable output: {\"text\", \"ids\"} (needs --model or --tokenizer)");
  cmd->add_option("--cases", args->cases, "JSONL of test cases; one {\"text\"} or {\"error\"} line each")
      ->group("");  // for the oracle test
  cmd->callback([args] {
    if (!args->cases.empty()) {
      render_cases(args->cases);
      return;
    }
    if (args->messages.empty()) throw CLI::RequiredError("--messages");
    if (!args->model.empty() && !args->tokenizer.empty()) {
      fail("--tokenizer", "give either --model or --tokenizer, not both");
    }
    const Json input = read_json(args->messages);
    Json messages;
    ChatOptions o;
    if (input.is_object()) {
      if (!input.contains("messages")) fail(args->messages, "an object must hold \"messages\"");
      messages = input.at("messages");
      if (input.contains("tools")) o.tools = input.at("tools");
    } else if (input.is_array()) {
      messages = input;
    } else {
      fail(args->messages, "expected a list of messages or an object with \"messages\"");
    }
    if (!args->tools.empty()) {
      o.tools = read_json(args->tools);
      if (!o.tools.is_array()) fail(args->tools, "expected a list of function declarations");
    }
    o.thinking = args->think;
    o.add_generation_prompt = !args->no_generation_prompt;
    const std::string text = render_chat(messages, o);
    if (!args->json) {
      std::cout << text;
      return;
    }
    const std::string source = args->tokenizer.empty() ? args->model : args->tokenizer;
    if (source.empty()) fail("--json", "the ids need a tokenizer: give --model DIR or --tokenizer FILE");
    const std::unique_ptr<Tokenizer> tok = load_tokenizer(source);
    std::cout << dump({{"text", text}, {"ids", tok->encode(text)}}, 2) << "\n";
  });
}

}  // namespace g4ref
