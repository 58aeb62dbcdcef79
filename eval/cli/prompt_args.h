// The prompt options shared by every command that runs the model: token ids, or text through the chat template.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "forward/session.h"
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"
#include "prompt/tokenizer.h"

namespace g4ref {

struct PreparedPrompt {
  std::vector<int> ids;
  std::vector<int> token_types;
  std::string rendered;                  // the chat-template text ("" for --tokens)
  std::unique_ptr<Tokenizer> tokenizer;  // null for --tokens
  std::vector<MediaInput> media;
};

// Each audio file: decoded, mono, 16 kHz, cut into frames of audio_embed_dim samples (spec §4); appends its
// marker to `content`, its token count to `tokens` and its frames to `media`.
void add_audio(const std::vector<std::string>& files, double max_seconds, const ModelConfig& c,
               std::vector<ContentItem>& content, std::vector<MediaTokens>& tokens, std::vector<MediaInput>& media);

// Each image file through spec §3.1 (decode dropping alpha, target size for the budget, bicubic, 48×48
// patches); appends its marker, its token count and its patches.
void add_images(const std::vector<std::string>& files, int budget, const ModelConfig& c,
                std::vector<ContentItem>& content, std::vector<MediaTokens>& tokens, std::vector<MediaInput>& media);

// Each video (a file, or a directory of frame images): 32 frames sampled as spec §3.4, each prepared like an image
// at the per-frame budget (70) and embedded as one image item; one marker, N per frame, the frames' timestamps.
void add_videos(const std::vector<std::string>& paths, const ModelConfig& c, std::vector<ContentItem>& content,
                std::vector<MediaTokens>& tokens, std::vector<MediaInput>& media);

struct PromptArgs {
  std::string tokens;
  std::string prompt;
  std::string system;
  std::string tokenizer;
  std::string mmproj;                // vision/audio weights from an mmproj GGUF
  bool think = false;
  bool raw = false;
  std::vector<std::string> images;  // image files, first in the user turn
  int image_tokens = 0;             // soft-token budget per image (0: the config's num_soft_tokens)
  std::vector<std::string> videos;  // video files or frame directories, after the images
  std::vector<std::string> audio;   // audio files, in the user turn after the images, before the text
  double max_audio_seconds = 0;     // cap each clip (0: none)
  void add_to(CLI::App& cmd);
  // Throws a CLI error unless exactly one of --tokens / --prompt was given.
  void check(const CLI::App& cmd) const;
  PreparedPrompt prepare(const std::string& model_dir, const ModelConfig& c) const;
};

struct ForwardArgs;
class Model;

struct TraceSummary {
  size_t tensors = 0;
  uint64_t bytes = 0;
  std::string config_hash;
};

// One forward pass over the prompt with every tap (matching `filter`) streamed to the trace file at `path`.
TraceSummary record_trace(const Model& model, const std::string& model_dir, const PreparedPrompt& p,
                          const ForwardArgs& forward, const std::string& path, const std::string& filter);

}  // namespace g4ref
