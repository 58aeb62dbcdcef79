#include "cli/prompt_args.h"

#include <algorithm>
#include <iostream>

#include "cli/common.h"
#include "base/error.h"
#include "preprocess/audio.h"
#include "preprocess/image.h"
#include "preprocess/video.h"

#include <filesystem>
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"

namespace g4ref {

void PromptArgs::add_to(CLI::App& cmd) {
  cmd.add_option("--mmproj", mmproj,
                 "mmproj GGUF (export-gguf --mmproj) whose vision and audio weights replace the model's; with a "
                 ".gguf --model this is where images and audio get their weights")
      ->check(CLI::ExistingFile);
  auto* t = cmd.add_option("--tokens", tokens, "prompt as comma-separated token ids, e.g. 2,105,10");
  auto* p = cmd.add_option("--prompt", prompt, "prompt text: rendered with the chat template, then tokenized");
  t->excludes(p);
  cmd.add_option("--system", system, "system turn text (with --prompt)")->needs(p);
  cmd.add_flag("--think", think, "enable thinking (<|think|> in the system turn)")->needs(p);
  cmd.add_flag("--raw", raw, "no chat template: <bos> + the prompt text as is")->needs(p);
  cmd.add_option("--tokenizer", tokenizer, "tokenizer.json or tokenizer.model (default: the model directory's)")
      ->needs(p);
  cmd.add_option("--image", images, "an image file (PNG, JPEG, BMP, GIF, PNM, TGA) in the user turn; repeatable")
      ->needs(p);
  cmd.add_option("--image-tokens", image_tokens, "soft tokens per image: 70, 140, 280, 560 or 1120 (default: config)")
      ->check(CLI::IsMember({70, 140, 280, 560, 1120}));
  cmd.add_option("--video", videos, "a video file, or a directory of frame images, in the user turn; repeatable")
      ->needs(p);
  cmd.add_option("--audio", audio, "an audio file (WAV, FLAC, OGG, Opus, MP3) in the user turn; repeatable")
      ->needs(p);
  cmd.add_option("--max-audio-seconds", max_audio_seconds, "cap each audio clip at this many seconds (0: none)")
      ->check(CLI::NonNegativeNumber);
}

namespace {

MediaInput image_input(const PreparedImage& im) {
  MediaInput m;
  m.kind = MediaInput::Kind::image;
  m.rows = im.patches.n;
  m.cols = static_cast<int64_t>(im.patches.values.size()) / std::max(im.patches.n, 1);
  m.values = im.patches.values;
  m.xy = im.patches.xy;
  return m;
}

}  // namespace

void add_images(const std::vector<std::string>& files, int budget, const ModelConfig& c,
                std::vector<ContentItem>& content, std::vector<MediaTokens>& tokens, std::vector<MediaInput>& media) {
  for (const std::string& file : files) {
    if (!c.vision.present) fail(file, "the checkpoint has no vision embedder (no vision_config)");
    // Alpha is dropped, as both current Hugging Face (convert_to_rgb is convert("RGB")) and the official code do;
    // spec §3.1 step 1 and §9.6 expected white compositing — see preprocess/image.h.
    const PreparedImage im = prepare_image(file, budget > 0 ? budget : c.vision.num_soft_tokens, AlphaMode::drop);
    content.push_back({ContentItem::Kind::image, ""});
    tokens.push_back({MediaKind::image, im.soft_tokens(), {}});
    media.push_back(image_input(im));
  }
}

void add_videos(const std::vector<std::string>& paths, const ModelConfig& c, std::vector<ContentItem>& content,
                std::vector<MediaTokens>& tokens, std::vector<MediaInput>& media) {
  for (const std::string& path : paths) {
    if (!c.vision.present) fail(path, "the checkpoint has no vision embedder (no vision_config)");
    const VideoFrames v = std::filesystem::is_directory(path) ? load_frame_directory(path) : decode_video(path);
    MediaTokens t{MediaKind::video, 0, v.times};
    for (const RgbImage& frame : v.frames) {
      const PreparedImage im = prepare_decoded(frame, kVideoFrameBudget);
      t.tokens = im.soft_tokens();  // every frame has the source size, so the same count
      media.push_back(image_input(im));
    }
    content.push_back({ContentItem::Kind::video, ""});
    tokens.push_back(std::move(t));
  }
}

void add_audio(const std::vector<std::string>& files, double max_seconds, const ModelConfig& c,
               std::vector<ContentItem>& content, std::vector<MediaTokens>& tokens, std::vector<MediaInput>& media) {
  for (const std::string& file : files) {
    const PreparedAudio a = prepare_audio(file, static_cast<int>(c.audio.audio_embed_dim), max_seconds);
    if (a.frames.n_frames == 0) fail(file, "holds no audio samples");
    if (a.over_30s) {
      std::cerr << "g4ref: warning: " << file << " is longer than 30 s (" << a.frames.n_frames
                << " frames): out of distribution for the model (spec §4); --max-audio-seconds caps it\n";
    }
    content.push_back({ContentItem::Kind::audio, ""});
    tokens.push_back({MediaKind::audio, static_cast<int>(a.frames.n_frames), {}});
    MediaInput m;
    m.kind = MediaInput::Kind::audio;
    m.rows = a.frames.n_frames;
    m.cols = a.frames.frame_size;
    m.values = a.frames.values;
    media.push_back(std::move(m));
  }
}

void PromptArgs::check(const CLI::App& cmd) const {
  if (cmd.count("--tokens") + cmd.count("--prompt") == 0) throw CLI::RequiredError("one of --tokens or --prompt");
}

PreparedPrompt PromptArgs::prepare(const std::string& model_dir, const ModelConfig& c) const {
  PreparedPrompt p;
  if (prompt.empty() && !tokens.empty()) {
    p.ids = parse_token_list(tokens, "--tokens");
  } else {
    p.tokenizer = load_tokenizer(tokenizer.empty() ? model_dir : tokenizer);
    Message user;
    user.role = "user";
    std::vector<MediaTokens> media_tokens;
    add_images(images, image_tokens, c, user.content, media_tokens, p.media);
    add_videos(videos, c, user.content, media_tokens, p.media);
    add_audio(audio, max_audio_seconds, c, user.content, media_tokens, p.media);
    user.content.push_back({ContentItem::Kind::text, prompt});
    if (raw) {
      // The pre-trained model's form: one <bos>, the media markers, the text; no template.
      p.rendered = "<bos>";
      for (const auto& item : user.content) {
        p.rendered += item.kind == ContentItem::Kind::text    ? item.text
                      : item.kind == ContentItem::Kind::image ? "<|image|>"
                      : item.kind == ContentItem::Kind::video ? "<|video|>"
                                                              : "<|audio|>";
      }
    } else {
      std::vector<Message> messages;
      if (!system.empty()) messages.push_back(Message::text("system", system));
      messages.push_back(user);
      ChatOptions o;
      o.thinking = think;
      p.rendered = render_chat(messages, o);
    }
    p.rendered = expand_media_markers(p.rendered, media_tokens);
    p.ids = p.tokenizer->encode(p.rendered);
  }
  p.token_types = token_types_for(p.ids, c);
  return p;
}

}  // namespace g4ref
