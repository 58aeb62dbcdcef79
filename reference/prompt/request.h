// The request: a conversation in the Hugging Face / OpenAI message form, turned into the Prompt the model reads
// (spec §5 chat template, §3.3 and §4 media placeholders, §3.1/§3.4/§4 preprocessing). Every command, the server
// and the harness build their input through here, so there is one path from messages to ids.
//
// Messages are what Hugging Face's apply_chat_template takes: a JSON list of {role, content, ...} with
//   role       system | developer | user | assistant | tool
//   content    a string, or a list of parts: {"type": "text", "text"}, {"type": "image" | "audio" | "video", ...}
//   tool_calls (assistant) [{"id", "type": "function", "function": {"name", "arguments": object | string}}]
//   tool_call_id, name (tool)
//   reasoning_content / reasoning (assistant): earlier thinking, rendered only where the template does
// A media part names its source with one of "path", "url" (a file path, file:// URL or data: URL with base64
// bytes), or the key of its own type ("image": ..., "audio": ..., "video": ...). The OpenAI spellings
// {"type": "image_url", "image_url": {"url"}}, {"type": "input_audio", "input_audio": {"data", "format"}} and
// {"type": "video_url", "video_url": {"url"}} are accepted and normalized to the Hugging Face form before
// rendering, since the official template knows only "image", "audio" and "video" parts. No network fetches:
// an http(s) URL is refused.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "preprocess/image.h"
#include "preprocess/video.h"
#include "prompt/chat_template.h"
#include "prompt/media_placeholders.h"
#include "prompt/tokenizer.h"

namespace g4ref {

// How media parts are prepared (spec §3.1 steps 1–2, §4).
struct MediaOptions {
  int image_tokens = 0;                             // soft-token budget per image; 0: the config's num_soft_tokens
  AlphaMode alpha = AlphaMode::drop;                // what an alpha channel does (spec §9.6)
  ExifOrientation orientation = ExifOrientation::apply;
  double max_audio_seconds = 0;                     // cap each clip; 0: none (clips over 30 s are out of distribution)
  int video_frames = kVideoFrames;                  // frames sampled from each video (spec §3.4: 32)
  int video_frame_tokens = kVideoFrameBudget;       // soft-token budget per video frame (spec §3.4: 70)
  int max_media_items = 64;                         // images + audio clips + videos in one conversation
};

// One preprocessed media item, embedded by the session in its own precision. Placeholders take the rows of the
// items in order: image and video placeholders (token types 1, 2) the image items' patches (a video is one item
// per frame), audio placeholders (type 3) the audio items' frames (spec §3.3, §4).
struct MediaInput {
  enum class Kind { image, audio };
  Kind kind = Kind::image;
  int64_t rows = 0, cols = 0;
  std::vector<float> values;              // rows × cols: image patches (HWC, in [0, 1]) or 16 kHz audio frames
  std::vector<std::pair<int, int>> xy;    // image only: (column, row) of each patch
};

struct Conversation {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();  // OpenAI function tools, as the template reads them
  bool thinking = false;               // enable_thinking
  bool add_generation_prompt = true;

  // MESSAGES is a JSON list of messages (what apply_chat_template takes), or an object with "messages" and
  // optionally "tools", "enable_thinking" / "chat_template_kwargs.enable_thinking", "add_generation_prompt".
  // Checks the shape (roles, content types, tool calls) and normalizes OpenAI media parts; errors name WHERE and
  // the message index and field.
  static Conversation from_json(const nlohmann::ordered_json& messages, const std::string& where);
  // One user turn: the media parts first (images, videos, audio, as the model card advises), then the text;
  // SYSTEM, when not empty, as the first message.
  static Conversation single_turn(const std::string& text, const std::string& system = "",
                                  const std::vector<std::string>& images = {},
                                  const std::vector<std::string>& videos = {},
                                  const std::vector<std::string>& audio = {});
  // Appends a message (as from_json checks it).
  void add(nlohmann::ordered_json message, const std::string& where = "message");
  // The media parts in the order the template renders their markers.
  std::vector<nlohmann::ordered_json> media_parts() const;
};

// The model's input.
struct Prompt {
  std::string rendered;                // the chat template's text with each media marker expanded ("" for raw ids)
  std::vector<int> ids;
  std::vector<int> token_types;        // mm_token_type_ids (spec §3.3)
  std::vector<int> block_ids;          // bidirectional blocks (spec §2.7)
  std::vector<MediaTokens> media_tokens;  // per media part: kind, soft tokens (per frame for video), frame times
  std::vector<MediaInput> media;       // prepared items in placeholder order
  // Only the ids (with their token types from the config's placeholder ids); no media.
  static Prompt from_ids(std::vector<int> ids, const ModelConfig& c);
  // The number of placeholder tokens of each kind (image, video, audio), for records that compare backends.
  int64_t count_tokens(int token_type) const;
};

// The chat template's text for CONVERSATION, media parts as their single markers (<|image|>, <|audio|>,
// <|video|>): what `g4ref template` prints and what the official template renders.
std::string render(const Conversation& conversation);

// The whole path: render, prepare every media part (decode, resize, patchify, frame), expand the markers
// (spec §3.3), tokenize, token types and block ids. RAW: no template, "<bos>" + the media markers + the text
// parts of the user messages (the pre-trained model's form).
Prompt build_prompt(const Conversation& conversation, const Tokenizer& tokenizer, const ModelConfig& config,
                    const MediaOptions& media = {}, bool raw = false);

// A media part prepared on its own: its placeholder expansion and its items (one per frame for a video).
struct PreparedPart {
  MediaTokens tokens;
  std::vector<MediaInput> items;
};
PreparedPart prepare_media_part(const nlohmann::ordered_json& part, const ModelConfig& config,
                                const MediaOptions& media, const std::string& where);

}  // namespace g4ref
