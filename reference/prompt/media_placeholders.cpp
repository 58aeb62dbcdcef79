#include "prompt/media_placeholders.h"

#include <cmath>
#include <cstdio>

#include "base/error.h"
#include "model/token_types.h"

namespace g4ref {

namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string expansion(const MediaTokens& m) {
  switch (m.kind) {
    case MediaKind::image: return "<|image>" + repeat("<|image|>", m.tokens) + "<image|>";
    case MediaKind::audio: return "<|audio>" + repeat("<|audio|>", m.tokens) + "<audio|>";
    case MediaKind::video: {
      // Video frames use the image begin/end tokens; frames are joined with a single space (spec §3.4).
      std::string s;
      for (size_t f = 0; f < m.frame_times.size(); ++f) {
        if (f) s += " ";
        s += mmss(m.frame_times[f]) + " <|image>" + repeat("<|video|>", m.tokens) + "<image|>";
      }
      return s;
    }
  }
  return "";
}

}  // namespace

std::string mmss(double seconds) {
  const long t = static_cast<long>(std::floor(seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string expand_media_markers(const std::string& rendered, const std::vector<MediaTokens>& media) {
  static const std::pair<const char*, MediaKind> kMarkers[] = {
      {"<|image|>", MediaKind::image},
      {"<|audio|>", MediaKind::audio},
      {"<|video|>", MediaKind::video}};
  std::string out;
  size_t pos = 0, next_media = 0;
  while (pos < rendered.size()) {
    size_t best = std::string::npos;
    const std::pair<const char*, MediaKind>* found = nullptr;
    for (const auto& m : kMarkers) {
      const size_t p = rendered.find(m.first, pos);
      if (p < best) {
        best = p;
        found = &m;
      }
    }
    if (!found) break;
    out += rendered.substr(pos, best - pos);
    if (next_media >= media.size()) {
      fail("prompt", "the chat has more media markers than media items (" + std::to_string(media.size()) + ")");
    }
    const MediaTokens& m = media[next_media++];
    if (m.kind != found->second) fail("prompt", "media item " + std::to_string(next_media - 1) + " is not a " + found->first);
    out += expansion(m);
    pos = best + std::string(found->first).size();
  }
  if (next_media != media.size()) {
    fail("prompt", "the chat has " + std::to_string(next_media) + " media markers for " +
                       std::to_string(media.size()) + " media items");
  }
  return out + rendered.substr(std::min(pos, rendered.size()));
}

void require_media_tokens(const ModelConfig& c, MediaKind kind, const std::string& model_name) {
  struct Need {
    const char* piece;
    int id;
  };
  std::vector<Need> need;
  const char* what = "an image";
  switch (kind) {
    case MediaKind::image: need = {{"<|image>", c.boi_token_id}, {"<|image|>", c.image_token_id}, {"<image|>", c.eoi_token_id}}; break;
    case MediaKind::video:
      what = "a video";
      need = {{"<|image>", c.boi_token_id}, {"<|video|>", c.video_token_id}, {"<image|>", c.eoi_token_id}};
      break;
    case MediaKind::audio:
      what = "audio";
      need = {{"<|audio>", c.boa_token_id}, {"<|audio|>", c.audio_token_id}, {"<audio|>", c.eoa_token_id}};
      break;
  }
  for (const Need& n : need) {
    if (n.id == kAbsentTokenId) {
      fail(model_name, std::string("the request has ") + what + ", but the model's vocabulary has no '" + n.piece +
                           "' token (a text-only vocabulary); media cannot be placed in its prompt");
    }
  }
}

std::vector<int> token_types_for(const std::vector<int>& ids, const ModelConfig& c) {
  std::vector<int> types(ids.size(), kText);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) continue;
    if (ids[i] == c.image_token_id) types[i] = kImage;
    else if (ids[i] == c.video_token_id) types[i] = kVideo;
    else if (ids[i] == c.audio_token_id) types[i] = kAudio;
  }
  return types;
}

}  // namespace g4ref
