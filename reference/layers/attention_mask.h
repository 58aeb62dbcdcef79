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
#include "model/token_types.h"

namespace g4ref {

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
