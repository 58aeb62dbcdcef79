#include "cli/prompt_args.h"

#include <algorithm>
#include <iostream>

#include "cli/common.h"
#include "base/error.h"

#include <fstream>

namespace g4ref {

void PromptArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--mmproj", mmproj,
                 "mmproj GGUF (export-gguf --mmproj) whose vision and audio weights replace the model's; with a "
                 ".gguf --model this is where images and audio get their weights")
      ->check(CLI::ExistingFile);
  auto* t = cmd.add_option("--tokens", tokens, "prompt as comma-separated token ids, e.g. 2,105,10");
  auto* p = cmd.add_option("--prompt", prompt, "prompt text: rendered with the chat template, then tokenized");
  auto* msg = cmd.add_option("--messages", messages,
                             "a JSON file with the conversation: a list of messages as apply_chat_template takes them "
                             "(or {\"messages\", \"tools\"}); media parts name their files")
                  ->check(CLI::ExistingFile);
  t->excludes(p);
  t->excludes(msg);
  p->excludes(msg);
  cmd.add_option("--system", system, "system turn text (with --prompt)")->needs(p);
  cmd.add_flag("--think", think, "enable thinking (<|think|> in the system turn)");
  cmd.add_flag("--raw", raw, "no chat template: <bos> + the prompt text as is")->needs(p);
  cmd.add_option("--tokenizer", tokenizer, "tokenizer.json or tokenizer.model (default: the model directory's)")
      ->excludes(t);
  cmd.add_option("--image", images, "an image file (PNG, JPEG, BMP, GIF, PNM, TGA) in the user turn; repeatable")
      ->needs(p);
  cmd.add_option("--image-tokens", image_tokens, "soft tokens per image: 70, 140, 280, 560 or 1120 (default: config)")
      ->check(CLI::IsMember({70, 140, 280, 560, 1120}));
  cmd.add_option("--video", videos, "a video file, or a directory of frame images, in the user turn; repeatable")
      ->needs(p);
  cmd.add_option("--audio", audio, "an audio file (WAV, FLAC, OGG, Opus, MP3) in the user turn; repeatable")
      ->needs(p);
  cmd.add_option("--max-audio-seconds", max_audio_seconds, "cap each audio clip at this many seconds (0: none)")
      ->check(finite_in(0));
  cmd.add_option("--alpha", alpha, "an image's alpha channel: drop (Hugging Face, default) or composite over white")
      ->check(CLI::IsMember({"drop", "composite"}))
      ->capture_default_str();
  cmd.add_option("--exif-orientation", orientation, "an image's EXIF orientation: apply (Hugging Face) or ignore")
      ->check(CLI::IsMember({"apply", "ignore"}))
      ->capture_default_str();
}

void PromptArgs::check(const CLI::App& cmd) const {
  if (cmd.count("--tokens") + cmd.count("--prompt") + cmd.count("--messages") == 0) {
    throw CLI::RequiredError("one of --tokens, --prompt or --messages");
  }
}

MediaOptions PromptArgs::media_options() const {
  MediaOptions m;
  m.image_tokens = image_tokens;
  m.max_audio_seconds = max_audio_seconds;
  m.alpha = alpha == "composite" ? AlphaMode::composite_white : AlphaMode::drop;
  m.orientation = orientation == "ignore" ? ExifOrientation::ignore : ExifOrientation::apply;
  return m;
}

Conversation PromptArgs::conversation() const {
  if (!messages.empty()) {
    std::ifstream in(messages, std::ios::binary);
    if (!in) fail(messages, "cannot open the messages file");
    const nlohmann::ordered_json j = nlohmann::ordered_json::parse(in, nullptr, false);
    if (j.is_discarded()) fail(messages, "is not valid JSON");
    Conversation c = Conversation::from_json(j, messages);
    if (think) c.thinking = true;
    return c;
  }
  Conversation c = Conversation::single_turn(prompt, system, images, videos, audio);
  c.thinking = think;
  return c;
}

PreparedPrompt PromptArgs::prepare(const std::string& model_dir, const ModelConfig& c) const {
  PreparedPrompt p;
  if (prompt.empty() && messages.empty() && !tokens.empty()) {
    static_cast<Prompt&>(p) = Prompt::from_ids(parse_token_list(tokens, "--tokens"), c);
    return p;
  }
  p.tokenizer = load_tokenizer(tokenizer.empty() ? model_dir : tokenizer);
  static_cast<Prompt&>(p) = build_prompt(conversation(), *p.tokenizer, c, media_options(), raw);
  return p;
}

}  // namespace g4ref
