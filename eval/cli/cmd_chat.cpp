// g4ref chat: an interactive multi-turn conversation through the chat template (spec §5). Each turn renders the
// whole conversation and runs it from the start — the reference recomputes rather than reuses a cache.
#include <iostream>

#include "base/error.h"

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "forward/generate.h"
#include "forward/session.h"
#include "model/weights.h"
#include "prompt/request.h"
#include "prompt/tokenizer.h"

namespace g4ref {

namespace {

struct ChatArgs {
  std::string model;
  std::string tokenizer;
  std::string mmproj;
  std::string system;
  bool think = false;
  int max_new_tokens = 256;
  bool json = false;
  ForwardArgs forward;
};

void chat(const ChatArgs& a) {
  auto model = Model::load(a.model, a.mmproj);
  auto tokenizer = load_tokenizer(a.tokenizer.empty() ? a.model : a.tokenizer);
  const GenerationConfig gen = load_generation_config(a.model, model->config());
  const Conversation empty = Conversation::single_turn("", a.system);
  Conversation conversation;
  if (!a.system.empty()) conversation.messages.push_back(empty.messages.front());
  conversation.thinking = a.think;
  nlohmann::ordered_json pending = nlohmann::ordered_json::array();  // media parts for the next user message
  const bool interactive = !a.json;
  const char* known = "known: /image FILE, /video FILE, /audio FILE, /reset, /quit";
  if (interactive) {
    std::cout << "g4ref chat — /image, /video or /audio FILE attaches media to your next message, /reset starts "
                 "over, /quit or end of input ends\n> "
              << std::flush;
  }
  auto prompt_again = [&] {
    if (interactive) std::cout << "> " << std::flush;
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "/quit") break;
    if (line == "/reset") {
      conversation.messages.erase(conversation.messages.begin() + (a.system.empty() ? 0 : 1), conversation.messages.end());
      pending = nlohmann::ordered_json::array();
      if (interactive) std::cout << "(conversation cleared)\n";
      prompt_again();
      continue;
    }
    if (line.rfind("/", 0) == 0) {
      // /image FILE, /video FILE, /audio FILE: attach to the next user message, prepared now so a bad file is
      // reported at once.
      const size_t space = line.find(' ');
      const std::string command = line.substr(0, space);
      if (space == std::string::npos || (command != "/image" && command != "/video" && command != "/audio")) {
        std::cerr << "g4ref: error: unknown command '" << line << "' (" << known << ")\n";
        prompt_again();
        continue;
      }
      const nlohmann::ordered_json part = {{"type", command.substr(1)}, {"path", line.substr(space + 1)}};
      try {
        prepare_media_part(part, model->config(), MediaOptions{}, part["path"].get<std::string>());
        pending.push_back(part);
        if (interactive) std::cout << "(" << command.substr(1) << " attached to your next message)\n";
      } catch (const Error& e) {
        std::cerr << "g4ref: error: " << e.what() << "\n";
      }
      prompt_again();
      continue;
    }
    nlohmann::ordered_json content = pending;
    content.push_back({{"type", "text"}, {"text", line}});
    pending = nlohmann::ordered_json::array();
    conversation.add({{"role", "user"}, {"content", content}});
    // The whole conversation is rendered and run from the start each turn: the reference recomputes rather than
    // reuses a cache.
    const Prompt prompt = build_prompt(conversation, *tokenizer, model->config());
    auto session = make_session(*model, a.forward.run_options());
    const GenerationResult r = generate(*session, prompt, a.max_new_tokens, a.forward.sampling(), gen);
    std::vector<int> reply_ids = r.generated;
    if (r.stop_reason == "stop_token") reply_ids.pop_back();  // the end-of-turn token is not part of the text
    const std::string reply = tokenizer->decode(reply_ids);
    conversation.add({{"role", "assistant"}, {"content", reply}});
    if (a.json) {
      std::cout << nlohmann::json{{"user", line}, {"prompt_ids", r.prompt}, {"generated_ids", r.generated},
                                  {"reply", reply}, {"stop_reason", r.stop_reason}}
                       .dump()
                << "\n";
    } else {
      std::cout << reply << "\n";
      prompt_again();
    }
  }
  if (interactive) std::cout << "\n";
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat with a checkpoint (one user turn per line)");
  cmd->add_option("--model", a->model, "checkpoint directory")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json or tokenizer.model (default: the model directory's)");
  cmd->add_option("--mmproj", a->mmproj, "mmproj GGUF (export-gguf --mmproj) with the vision and audio weights")
      ->check(CLI::ExistingFile);
  cmd->add_option("--system", a->system, "system turn text");
  cmd->add_flag("--think", a->think, "enable thinking");
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "longest reply")->capture_default_str();
  cmd->add_flag("--json", a->json, "one JSON object per turn on standard output, no prompts");
  a->forward.add_to(*cmd, true);
  cmd->callback([a] { chat(*a); });
}

}  // namespace g4ref
