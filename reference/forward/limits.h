// Size limits of one forward call, checked before anything is allocated (README "Limits"). Past them the
// failure names the limit instead of ending in a bare std::bad_alloc deep inside attention.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "base/error.h"

namespace g4ref {

// Spec §1.2 max_position_embeddings: the model's context.
inline constexpr int64_t kMaxContextTokens = 262144;
// Attention computes one score matrix (new tokens × all tokens) per head at a time; this bounds its size.
// 4 GiB allows a prefill of 23,170 tokens in exact mode (float64) and 32,768 in f32/bf16.
inline constexpr int64_t kMaxScoreMatrixBytes = int64_t(4) << 30;

inline void check_forward_size(int64_t cached, int64_t n, size_t elem_bytes) {
  const int64_t total = cached + n;
  if (total > kMaxContextTokens) {
    fail("prompt", std::to_string(n) + " new tokens after " + std::to_string(cached) + " make " +
                       std::to_string(total) + " positions, past the model's context of " +
                       std::to_string(kMaxContextTokens) + " (spec §1.2 max_position_embeddings)");
  }
  const double bytes = static_cast<double>(n) * static_cast<double>(total) * static_cast<double>(elem_bytes);
  if (bytes > static_cast<double>(kMaxScoreMatrixBytes)) {
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.1f", bytes / double(int64_t(1) << 30));
    fail("prompt", std::to_string(n) + " tokens in one forward pass (after " + std::to_string(cached) +
                       " cached) need attention score matrices of " + gib + " GiB, over this reference's limit of " +
                       std::to_string(kMaxScoreMatrixBytes >> 30) + " GiB (README \"Limits\"): shorten the prompt");
  }
}

}  // namespace g4ref
