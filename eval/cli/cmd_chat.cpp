// g4ref chat: an interactive multi-turn conversation through the chat template (spec §5). Each turn renders the
// whole conversation and runs it from the start — the reference recomputes rather than reuses a cache.
#include <iostream>

#include "base/error.h"

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "forward/generate.h"
#include "forward/session.h"
#include "model/weights.h"
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"
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
  std::vector<Message> messages;
  std::vector<MediaTokens> media_tokens;  // every media item of the conversation, in order
  std::vector<MediaInput> media;
  std::vector<ContentItem> pending;       // media attached to the next user message
  if (!a.system.empty()) messages.push_back(Message::text("system", a.system));
  ChatOptions options;
  options.thinking = a.think;
  const bool interactive = !a.json;
  if (interactive) {
    std::cout << "g4ref chat — /image, /video or /audio FILE attaches media to your next message, /reset starts "
                 "over, /quit or end of input ends\n> "
              << std::flush;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "/quit") break;
    if (const size_t space = line.find(' '); line[0] == '/' && space != std::string::npos) {
      // /image FILE, /video FILE, /audio FILE: attach to the next user message.
      const std::string command = line.substr(0, space), file = line.substr(space + 1);
      const ModelConfig& c = model->config();
      try {
        if (command == "/image") add_images({file}, 0, c, pending, media_tokens, media);
        else if (command == "/video") add_videos({file}, c, pending, media_tokens, media);
        else if (command == "/audio") add_audio({file}, 0, c, pending, media_tokens, media);
        else throw Error("unknown command '" + command + "' (known: /image FILE, /video FILE, /audio FILE, /reset, /quit)");
        if (interactive) std::cout << "(" << command.substr(1) << " attached to your next message)\n> " << std::flush;
      } catch (const Error& e) {
        std::cerr << "g4ref: error: " << e.what() << "\n";
        if (interactive) std::cout << "> " << std::flush;
      }
      continue;
    }
    if (line == "/reset") {
      messages.resize(a.system.empty() ? 0 : 1);
      media_tokens.clear();
      media.clear();
      pending.clear();
      if (interactive) std::cout << "(conversation cleared)\n> " << std::flush;
      continue;
    }
    if (line.rfind("/", 0) == 0) {
      std::cerr << "unknown command '" << line << "' (known: /image FILE, /video FILE, /audio FILE, /reset, /quit)\n";
      if (interactive) std::cout << "> " << std::flush;
      continue;
    }
    Message user;
    user.role = "user";
    user.content = pending;
    user.content.push_back({ContentItem::Kind::text, line});
    pending.clear();
    messages.push_back(user);
    const std::vector<int> prompt =
        tokenizer->encode(expand_media_markers(render_chat(messages, options), media_tokens));
    auto session = make_session(*model, a.forward.run_options());
    const GenerationResult r = generate(*session, prompt, token_types_for(prompt, model->config()), media,
                                        a.max_new_tokens, a.forward.sampling(), gen);
    std::vector<int> reply_ids = r.generated;
    if (r.stop_reason == "stop_token") reply_ids.pop_back();  // the end-of-turn token is not part of the text
    const std::string reply = tokenizer->decode(reply_ids);
    messages.push_back(Message::text("assistant", reply));
    if (a.json) {
      std::cout << nlohmann::json{{"user", line}, {"prompt_ids", r.prompt}, {"generated_ids", r.generated},
                                  {"reply", reply}, {"stop_reason", r.stop_reason}}
                       .dump()
                << "\n";
    } else {
      std::cout << reply << "\n> " << std::flush;
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
