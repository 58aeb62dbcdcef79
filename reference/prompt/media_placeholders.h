// Media placeholders (spec §3.3, §3.4, §4): each marker of the rendered chat becomes begin + N soft-token
// placeholders + end, N coming from the item's preprocessor; video becomes one "mm:ss <|image>…<image|>" run per
// frame. Beside the tokens: mm_token_type_ids (1 image, 2 video, 3 audio placeholder, else 0).
#pragma once

#include <string>
#include <vector>

#include "model/config.h"

namespace g4ref {

enum class MediaKind { image, audio, video };

struct MediaTokens {
  MediaKind kind = MediaKind::image;
  int tokens = 0;                   // soft tokens (per frame for video)
  std::vector<double> frame_times;  // video only: each sampled frame's timestamp in seconds
};

// Replaces the i-th media marker of `rendered` with the expansion of media[i]; the kinds must agree, and there
// must be exactly as many markers as media items.
std::string expand_media_markers(const std::string& rendered, const std::vector<MediaTokens>& media);

// "mm:ss" of a timestamp: floor(t / 60) and floor(t mod 60), two digits each.
std::string mmss(double seconds);

// Fails, naming the missing piece, when the model's vocabulary does not define the tokens media of KIND needs
// (a text-only GGUF without media pieces: kAbsentTokenId). Called for each media item of a request.
void require_media_tokens(const ModelConfig& c, MediaKind kind, const std::string& model_name);

// mm_token_type_ids of a token sequence, from the config's placeholder ids.
std::vector<int> token_types_for(const std::vector<int>& ids, const ModelConfig& c);

}  // namespace g4ref
