// Switches of a forward pass: precision, threads, and the documented alternatives of the spec.
#pragma once

#include "numerics/precision.h"

namespace g4ref {

// Spec §2.2 / §7.3: Hugging Face multiplies by sqrt(hidden) cast to the table's dtype (62.0 for bf16);
// llama.cpp multiplies by sqrtf(hidden) in f32 (61.9677…).
enum class EmbedScale { hf, llamacpp };

// Spec §2.7: for a bidirectional image block longer than the window, Hugging Face and vLLM bound the window
// from below only (k > q − W); the official JAX code is symmetric (|q − k| < W). They differ nowhere else.
enum class WindowVariant { lower, symmetric };

// Spec §2.7 / §7.3: the same-image bidirectional rule holds on sliding layers only (Hugging Face; full layers stay
// causal). llama.cpp builds before PR #28335 decode an image chunk non-causally in every layer, full layers too;
// `all_layers` reproduces that, to show how much of a difference from such a build it explains.
enum class ImageAttention { sliding_layers, all_layers };

// Deliberately wrong variants, for tests that prove a comparison catches and localizes each known mistake
// (spec §8). Never on in a real run.
struct Deviations {
  bool norm_one_plus_w = false;           // RMSNorm with (1 + w), as in Gemma 1–3
  bool rope_rotated_denominator = false;  // proportional RoPE exponent 2i/(2·rotated pairs) instead of 2i/head_dim
  bool window_off_by_one = false;         // sliding window k >= q − W (one key too many)
  bool v_after_k_norm = false;            // k_eq_v taking V after k_norm instead of the raw projection
  bool any() const { return norm_one_plus_w || rope_rotated_denominator || window_off_by_one || v_after_k_norm; }
};

struct RunOptions {
  Precision precision = Precision::exact;
  int threads = 0;  // 0: OpenMP's default
  EmbedScale embed_scale = EmbedScale::hf;
  WindowVariant window = WindowVariant::lower;
  ImageAttention image_attention = ImageAttention::sliding_layers;
  Deviations deviations;
  // Testing aid: token types shape only the attention masks, and placeholder positions keep their token-table
  // rows instead of taking media features — so the masks of §2.7 can be checked against an oracle without images.
  bool token_types_for_masks_only = false;
};

}  // namespace g4ref
