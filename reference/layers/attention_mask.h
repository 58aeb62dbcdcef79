// Attention masks (spec §2.7). Full layers: causal only. Sliding layers:
//   allowed = ( k ≤ q  or  same_block(q, k) )  and  window(q, k)
//   window: k > q − W  (Hugging Face, vLLM; default)   or   |q − k| < W  (official JAX; switch)
// A block is a maximal run of image (type 1) or video (type 2) placeholders; audio (type 3) never is one.
// Switch (llama.cpp before PR #28335): blocks are bidirectional on full layers too.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/options.h"

namespace g4ref {

// Token types of mm_token_type_ids (spec §3.3): 0 text, 1 image, 2 video, 3 audio placeholder.
enum TokenType : int { kText = 0, kImage = 1, kVideo = 2, kAudio = 3 };

// Block id per token: −1 for tokens outside any block, else 0, 1, 2, … in order of appearance, starting at
// `first_id` (so ids stay unique across several prefill calls).
std::vector<int> block_ids_from_token_types(const std::vector<int>& token_types, int first_id = 0);

struct MaskRule {
  LayerType layer_type = LayerType::sliding;
  int64_t window = 0;
  WindowVariant variant = WindowVariant::lower;
  bool window_off_by_one = false;  // test-only wrong variant: k ≥ q − W
  ImageAttention image_attention = ImageAttention::sliding_layers;
};

inline bool attention_allowed(const MaskRule& r, int64_t q, int64_t k, int block_q, int block_k) {
  const bool causal = k <= q;
  const bool same_block = block_q >= 0 && block_q == block_k;
  if (r.layer_type == LayerType::full) return causal || (r.image_attention == ImageAttention::all_layers && same_block);
  bool in_window = r.window_off_by_one ? k >= q - r.window : k > q - r.window;
  if (r.variant == WindowVariant::symmetric) in_window = in_window && k < q + r.window;
  return (causal || same_block) && in_window;
}

}  // namespace g4ref
