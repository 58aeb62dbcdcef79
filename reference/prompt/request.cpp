#include "prompt/request.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/error.h"
#include "model/token_types.h"
#include "preprocess/audio.h"
#include "preprocess/video.h"

namespace g4ref {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const char* const kRoles[] = {"system", "developer", "user", "assistant", "tool"};

std::string at(const std::string& where, size_t i) { return where + ": message " + std::to_string(i); }

// RFC 4648 base64 (padding optional, whitespace ignored); anything else is an error naming WHERE.
std::vector<uint8_t> base64_decode(const std::string& text, const std::string& where) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = value(c);
    if (v < 0 || pad > 0) fail(where, "invalid base64 at character " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2 || bits >= 6) fail(where, "truncated base64 data");
  return out;
}

// Where a media part's bytes come from: a file, or bytes carried in the request.
struct MediaSource {
  std::string path;            // a file (or, for video, a directory of frames)
  std::vector<uint8_t> bytes;  // inline data
  std::string name;            // for messages
  bool inline_data() const { return path.empty(); }
};

MediaSource media_source(const ojson& part, const std::string& kind, const std::string& where) {
  std::string ref;
  for (const char* key : {"path", "url", kind.c_str()}) {
    if (part.contains(key)) {
      if (!part.at(key).is_string()) fail(where, std::string("'") + key + "' of a " + kind + " part must be a string");
      ref = part.at(key).get<std::string>();
      break;
    }
  }
  if (ref.empty() && part.contains("data") && part.at("data").is_string()) ref = "data:;base64," + part.at("data").get<std::string>();
  if (ref.empty()) fail(where, "a " + kind + " part names no source (path, url, data or " + kind + ")");
  MediaSource s;
  if (ref.rfind("data:", 0) == 0) {
    const size_t comma = ref.find(',');
    if (comma == std::string::npos || ref.substr(0, comma).find(";base64") == std::string::npos) {
      fail(where, "a data: URL must carry base64 bytes (data:TYPE;base64,...)");
    }
    s.bytes = base64_decode(ref.substr(comma + 1), where);
    s.name = where + " (inline " + kind + ", " + std::to_string(s.bytes.size()) + " bytes)";
    if (s.bytes.empty()) fail(where, "the inline " + kind + " is empty");
    return s;
  }
  if (ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0) {
    fail(where, "media URLs are not fetched (no network access): give a file path or a data: URL");
  }
  s.path = ref.rfind("file://", 0) == 0 ? ref.substr(7) : ref;
  s.name = s.path;
  return s;
}

// Inline bytes for a decoder that reads files: a private temporary file, removed when this goes.
struct TempFile {
  std::string path;
  explicit TempFile(const std::vector<uint8_t>& bytes, const std::string& suffix) {
    static int counter = 0;
    path = (fs::temp_directory_path() / ("g4ref_media_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + suffix))
               .string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail(path, "cannot write the temporary media file");
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

MediaInput image_input(const PreparedImage& im) {
  MediaInput m;
  m.kind = MediaInput::Kind::image;
  m.rows = im.patches.n;
  m.cols = static_cast<int64_t>(im.patches.values.size()) / std::max(im.patches.n, 1);
  m.values = im.patches.values;
  m.xy = im.patches.xy;
  return m;
}

std::string part_type(const ojson& part) {
  return part.is_object() && part.contains("type") && part.at("type").is_string() ? part.at("type").get<std::string>() : "";
}

bool is_media_type(const std::string& t) { return t == "image" || t == "audio" || t == "video"; }

// OpenAI part spellings → the Hugging Face form the official template renders.
ojson normalize_part(const ojson& part, const std::string& where) {
  if (!part.is_object()) fail(where, "a content part must be an object");
  const std::string type = part_type(part);
  if (type.empty()) fail(where, "a content part has no string 'type'");
  if (type == "image_url" || type == "video_url") {
    const std::string key = type;
    const ojson& u = part.contains(key) ? part.at(key) : ojson();
    std::string url;
    if (u.is_string()) url = u.get<std::string>();
    else if (u.is_object() && u.contains("url") && u.at("url").is_string()) url = u.at("url").get<std::string>();
    else fail(where, "a " + type + " part needs " + key + ".url (a string)");
    return ojson{{"type", type == "image_url" ? "image" : "video"}, {"url", url}};
  }
  if (type == "input_audio") {
    const ojson& a = part.contains("input_audio") ? part.at("input_audio") : ojson();
    if (!a.is_object() || !a.contains("data") || !a.at("data").is_string()) {
      fail(where, "an input_audio part needs input_audio.data (base64, no data: prefix)");
    }
    std::string format = a.contains("format") && a.at("format").is_string() ? a.at("format").get<std::string>() : "wav";
    if (format != "wav" && format != "mp3" && format != "flac" && format != "ogg") {
      fail(where, "input_audio.format '" + format + "' is not one of wav, mp3 (flac and ogg are also read)");
    }
    return ojson{{"type", "audio"}, {"url", "data:audio/" + format + ";base64," + a.at("data").get<std::string>()}};
  }
  if (type == "text") {
    if (!part.contains("text") || !part.at("text").is_string()) fail(where, "a text part needs a string 'text'");
    return part;
  }
  if (is_media_type(type)) return part;
  fail(where, "unknown content part type '" + type + "' (known: text, image, audio, video, image_url, input_audio, video_url)");
}

ojson check_message(ojson m, const std::string& where) {
  if (!m.is_object()) fail(where, "is not an object");
  if (!m.contains("role") || !m.at("role").is_string()) fail(where, "has no string 'role'");
  const std::string role = m.at("role").get<std::string>();
  if (std::find(std::begin(kRoles), std::end(kRoles), role) == std::end(kRoles)) {
    fail(where, "role '" + role + "' is not one of system, developer, user, assistant, tool");
  }
  if (m.contains("content")) {
    ojson& c = m.at("content");
    if (c.is_array()) {
      for (size_t k = 0; k < c.size(); ++k) c[k] = normalize_part(c[k], where + " part " + std::to_string(k));
    } else if (!c.is_string() && !c.is_null()) {
      fail(where, "'content' must be a string, a list of parts or null");
    }
  }
  if (m.contains("tool_calls") && !m.at("tool_calls").is_null()) {
    const ojson& calls = m.at("tool_calls");
    if (!calls.is_array()) fail(where, "'tool_calls' must be a list");
    for (size_t k = 0; k < calls.size(); ++k) {
      const std::string w = where + " tool_calls[" + std::to_string(k) + "]";
      if (!calls[k].is_object() || !calls[k].contains("function") || !calls[k].at("function").is_object()) {
        fail(w, "needs a 'function' object");
      }
      const ojson& f = calls[k].at("function");
      if (!f.contains("name") || !f.at("name").is_string()) fail(w, "function.name must be a string");
      if (f.contains("arguments") && !f.at("arguments").is_object() && !f.at("arguments").is_string()) {
        fail(w, "function.arguments must be an object or a JSON string");
      }
    }
  }
  for (const char* key : {"reasoning_content", "reasoning", "tool_call_id", "name"}) {
    if (m.contains(key) && !m.at(key).is_string() && !m.at(key).is_null()) fail(where, std::string("'") + key + "' must be a string");
  }
  return m;
}

}  // namespace

Conversation Conversation::from_json(const ojson& j, const std::string& where) {
  Conversation c;
  const ojson* messages = &j;
  if (j.is_object()) {
    if (!j.contains("messages")) fail(where, "an object needs a 'messages' list");
    messages = &j.at("messages");
    if (j.contains("tools") && !j.at("tools").is_null()) c.tools = j.at("tools");
    if (j.contains("enable_thinking")) c.thinking = j.at("enable_thinking").is_boolean() && j.at("enable_thinking").get<bool>();
    if (j.contains("chat_template_kwargs") && j.at("chat_template_kwargs").is_object()) {
      const ojson& k = j.at("chat_template_kwargs");
      if (k.contains("enable_thinking")) c.thinking = k.at("enable_thinking").is_boolean() && k.at("enable_thinking").get<bool>();
    }
    if (j.contains("add_generation_prompt") && j.at("add_generation_prompt").is_boolean()) {
      c.add_generation_prompt = j.at("add_generation_prompt").get<bool>();
    }
  }
  if (!messages->is_array()) fail(where, "'messages' must be a JSON list of messages");
  if (messages->empty()) fail(where, "'messages' is empty");
  for (size_t i = 0; i < messages->size(); ++i) c.messages.push_back(check_message((*messages)[i], at(where, i)));
  if (!c.tools.is_array()) fail(where, "'tools' must be a list");
  for (size_t i = 0; i < c.tools.size(); ++i) {
    const ojson& t = c.tools[i];
    if (!t.is_object() || !t.contains("function") || !t.at("function").is_object() || !t.at("function").contains("name")) {
      fail(where, "tools[" + std::to_string(i) + "] must be {\"type\": \"function\", \"function\": {\"name\", ...}}");
    }
  }
  return c;
}

void Conversation::add(ojson message, const std::string& where) {
  messages.push_back(check_message(std::move(message), where));
}

Conversation Conversation::single_turn(const std::string& text, const std::string& system,
                                       const std::vector<std::string>& images, const std::vector<std::string>& videos,
                                       const std::vector<std::string>& audio) {
  Conversation c;
  if (!system.empty()) c.messages.push_back(ojson{{"role", "system"}, {"content", system}});
  if (images.empty() && videos.empty() && audio.empty()) {
    c.messages.push_back(ojson{{"role", "user"}, {"content", text}});
    return c;
  }
  ojson parts = ojson::array();
  for (const auto& f : images) parts.push_back(ojson{{"type", "image"}, {"path", f}});
  for (const auto& f : videos) parts.push_back(ojson{{"type", "video"}, {"path", f}});
  for (const auto& f : audio) parts.push_back(ojson{{"type", "audio"}, {"path", f}});
  parts.push_back(ojson{{"type", "text"}, {"text", text}});
  c.messages.push_back(ojson{{"role", "user"}, {"content", parts}});
  return c;
}

std::vector<ojson> Conversation::media_parts() const {
  std::vector<ojson> parts;
  for (const ojson& m : messages) {
    if (!m.contains("content") || !m.at("content").is_array()) continue;
    // The template renders media parts of every role but tool (whose content it reads as text only).
    if (m.at("role") == "tool") continue;
    for (const ojson& p : m.at("content")) {
      if (is_media_type(part_type(p))) parts.push_back(p);
    }
  }
  return parts;
}

Prompt Prompt::from_ids(std::vector<int> ids, const ModelConfig& c) {
  Prompt p;
  p.ids = std::move(ids);
  p.token_types = token_types_for(p.ids, c);
  p.block_ids = block_ids_from_token_types(p.token_types);
  return p;
}

int64_t Prompt::count_tokens(int token_type) const {
  return std::count(token_types.begin(), token_types.end(), token_type);
}

std::string render(const Conversation& conversation) {
  ChatOptions o;
  o.add_generation_prompt = conversation.add_generation_prompt;
  o.thinking = conversation.thinking;
  o.tools = conversation.tools;
  return render_chat(conversation.messages, o);
}

PreparedPart prepare_media_part(const ojson& part, const ModelConfig& c, const MediaOptions& media,
                                const std::string& where) {
  const std::string type = part_type(part);
  const MediaSource src = media_source(part, type, where);
  PreparedPart out;
  if (type == "image") {
    if (!c.vision.present) fail(src.name, "the checkpoint has no vision embedder (no vision_config)");
    // Alpha is dropped by default, as both current Hugging Face (convert_to_rgb is convert("RGB")) and the official
    // code do (spec §3.1 step 1, §9.6); see preprocess/image.h.
    const RgbImage decoded = src.inline_data() ? decode_image_bytes(src.bytes, src.name, media.alpha, {}, media.orientation)
                                               : decode_image(src.path, media.alpha, {}, media.orientation);
    const PreparedImage im = prepare_decoded(decoded, media.image_tokens > 0 ? media.image_tokens : c.vision.num_soft_tokens);
    out.tokens = {MediaKind::image, im.soft_tokens(), {}};
    out.items.push_back(image_input(im));
  } else if (type == "video") {
    if (!c.vision.present) fail(src.name, "the checkpoint has no vision embedder (no vision_config)");
    VideoFrames v;
    if (src.inline_data()) {
      const TempFile tmp(src.bytes, ".video");
      v = decode_video(tmp.path, media.video_frames);
    } else {
      v = fs::is_directory(src.path) ? load_frame_directory(src.path, kDefaultVideoFps, media.video_frames)
                                     : decode_video(src.path, media.video_frames);
    }
    out.tokens = {MediaKind::video, 0, v.times};
    for (const RgbImage& frame : v.frames) {
      const PreparedImage im = prepare_decoded(frame, media.video_frame_tokens);  // spec §3.4: 70 tokens per frame
      out.tokens.tokens = im.soft_tokens();  // every frame has the source size, so the same count
      out.items.push_back(image_input(im));
    }
  } else if (type == "audio") {
    if (!c.audio.present) fail(src.name, "the checkpoint has no audio embedder (no audio_config)");
    PreparedAudio a;
    const int frame = static_cast<int>(c.audio.audio_embed_dim);
    if (src.inline_data()) {
      const TempFile tmp(src.bytes, ".audio");
      a = prepare_audio(tmp.path, frame, media.max_audio_seconds);
    } else {
      a = prepare_audio(src.path, frame, media.max_audio_seconds);
    }
    if (a.frames.n_frames == 0) fail(src.name, "holds no audio samples");
    if (a.over_30s) {
      std::cerr << "g4ref: warning: " << src.name << " is longer than 30 s (" << a.frames.n_frames
                << " frames): out of distribution for the model (spec §4); a cap (max audio seconds) shortens it\n";
    }
    out.tokens = {MediaKind::audio, static_cast<int>(a.frames.n_frames), {}};
    MediaInput m;
    m.kind = MediaInput::Kind::audio;
    m.rows = a.frames.n_frames;
    m.cols = a.frames.frame_size;
    m.values = std::move(a.frames.values);
    out.items.push_back(std::move(m));
  } else {
    fail(where, "not a media part");
  }
  return out;
}

Prompt build_prompt(const Conversation& conversation, const Tokenizer& tokenizer, const ModelConfig& config,
                    const MediaOptions& media, bool raw) {
  Prompt p;
  std::string text;
  if (raw) {
    // The pre-trained model's form: one <bos>, then each user message's media markers and text as they come.
    text = "<bos>";
    for (const ojson& m : conversation.messages) {
      if (m.at("role") != "user" || !m.contains("content")) continue;
      const ojson& c = m.at("content");
      if (c.is_string()) {
        text += c.get<std::string>();
        continue;
      }
      if (!c.is_array()) continue;
      for (const ojson& part : c) {
        const std::string t = part_type(part);
        if (t == "text") text += part.at("text").get<std::string>();
        else if (is_media_type(t)) text += "<|" + t + "|>";
      }
    }
  } else {
    text = render(conversation);
  }
  const std::vector<ojson> parts = conversation.media_parts();
  if (static_cast<int>(parts.size()) > media.max_media_items) {
    fail("prompt", std::to_string(parts.size()) + " media items (the limit is " + std::to_string(media.max_media_items) + ")");
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    PreparedPart prepared = prepare_media_part(parts[i], config, media, "media item " + std::to_string(i));
    p.media_tokens.push_back(prepared.tokens);
    for (MediaInput& item : prepared.items) p.media.push_back(std::move(item));
  }
  p.rendered = expand_media_markers(text, p.media_tokens);
  p.ids = tokenizer.encode(p.rendered);
  p.token_types = token_types_for(p.ids, config);
  p.block_ids = block_ids_from_token_types(p.token_types);
  return p;
}

}  // namespace g4ref
