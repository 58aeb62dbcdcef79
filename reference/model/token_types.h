// Token types of mm_token_type_ids (spec §3.3) and the bidirectional blocks they form (spec §2.7): what the prompt
// produces and the attention masks read.
#pragma once

#include <cstddef>
#include <vector>

namespace g4ref {

// 0 text, 1 image, 2 video, 3 audio placeholder.
enum TokenType : int { kText = 0, kImage = 1, kVideo = 2, kAudio = 3 };

// Block id per token: −1 for tokens outside any block, else 0, 1, 2, … in order of appearance, starting at
// `first_id` (so ids stay unique across several prefill calls). A block is a maximal run of image (type 1) or
// video (type 2) placeholders; audio (type 3) never is one.
std::vector<int> block_ids_from_token_types(const std::vector<int>& token_types, int first_id = 0);

}  // namespace g4ref
