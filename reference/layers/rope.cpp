#include "layers/rope.h"

#include <cstring>

#include "base/error.h"
#include "layers/rope_tables.h"

namespace g4ref {

int rope_rotated_pairs(const RopeParams& rope, int head_dim) {
  if (rope.rope_type == "proportional") {
    // HF: rope_angles = int(partial_rotary_factor · head_dim // 2)
    return static_cast<int>(std::floor(rope.partial_rotary_factor * head_dim / 2.0));
  }
  return head_dim / 2;
}

namespace {

// The 12B's two tables come from PyTorch bit for bit (rope_tables.cpp); nullptr for any other configuration.
const uint32_t* pytorch_table(const RopeParams& rope, int head_dim) {
  if (rope.factor != 1.0) return nullptr;
  if (rope.rope_type == "default" && rope.theta == 10000.0 && head_dim == 256) return kRopeInvFreq12BSliding;
  if (rope.rope_type == "proportional" && rope.theta == 1000000.0 && head_dim == 512 &&
      rope.partial_rotary_factor == 0.25) {
    return kRopeInvFreq12BFull;
  }
  return nullptr;
}

}  // namespace

std::vector<float> rope_inv_freq(const RopeParams& rope, int head_dim, bool rotated_denominator) {
  const int half = head_dim / 2;
  const int pairs = rope_rotated_pairs(rope, head_dim);
  if (const uint32_t* table = rotated_denominator ? nullptr : pytorch_table(rope, head_dim)) {
    std::vector<float> inv(half, 0.0f);
    std::memcpy(inv.data(), table, sizeof(float) * pairs);
    return inv;
  }
  // The exponent's denominator is the full head dim in both rope types (spec §2.6); the wrong variant uses the
  // rotated width, as ordinary partial rotary would.
  const float denominator = static_cast<float>(rotated_denominator ? 2 * pairs : head_dim);
  std::vector<float> inv(half, 0.0f);
  for (int i = 0; i < pairs; ++i) {
    // PyTorch: arange(0, dim, 2).float() / dim  (f32 division), then theta ** e (f32 pow), then 1.0 / (…) (f32).
    // The pow here is correctly rounded; PyTorch's is not always (see rope_tables.cpp), so configurations
    // other than the 12B's may differ from PyTorch by one ulp in an entry (the tests check the tiny ones).
    const float e = static_cast<float>(2 * i) / denominator;
    const float p = static_cast<float>(std::pow(rope.theta, static_cast<double>(e)));
    float v = 1.0f / p;
    if (rope.rope_type == "proportional" && rope.factor != 1.0) v = v / static_cast<float>(rope.factor);
    inv[i] = v;
  }
  return inv;
}

}  // namespace g4ref
