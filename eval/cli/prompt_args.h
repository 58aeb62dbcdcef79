// The prompt options shared by every command that runs the model: token ids, or text through the chat template.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "forward/session.h"
#include "prompt/request.h"
#include "prompt/tokenizer.h"

namespace g4ref {

// The prompt a command runs: the library's Prompt (prompt/request.h) and the tokenizer that made it (null for
// --tokens).
struct PreparedPrompt : Prompt {
  std::unique_ptr<Tokenizer> tokenizer;
};

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
  std::string messages;             // a JSON file of messages (the request form), instead of --prompt
  std::string alpha = "drop";       // image alpha: drop or composite (over white)
  std::string orientation = "apply";  // EXIF orientation: apply or ignore
  void add_to(CLI::App& cmd);
  MediaOptions media_options() const;
  // The conversation of --prompt/--system/--image/... or --messages (no --tokens).
  Conversation conversation() const;
  // Throws a CLI error unless exactly one of --tokens / --prompt / --messages was given.
  void check(const CLI::App& cmd) const;
  PreparedPrompt prepare(const std::string& model_dir, const ModelConfig& c) const;
};

struct ForwardArgs;

// The metadata entries of a trace that name its options: "option.*" (compare refuses traces whose option entries
// differ) and "deviations".
std::map<std::string, std::string> trace_options(const ForwardArgs& forward, const MediaOptions& media, bool has_media);
class Model;

struct TraceSummary {
  size_t tensors = 0;
  uint64_t bytes = 0;
  std::string config_hash;
};

// One forward pass over the prompt with every tap (matching `filter`) streamed to the trace file at `path`.
// The trace's metadata records the options actually used (forward switches, deviations, MEDIA), so that compare
// refuses two traces computed under different options.
TraceSummary record_trace(const Model& model, const std::string& model_dir, const PreparedPrompt& p,
                          const ForwardArgs& forward, const MediaOptions& media, const std::string& path,
                          const std::string& filter);

}  // namespace g4ref
