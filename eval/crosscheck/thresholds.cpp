#include "crosscheck/thresholds.h"

namespace g4ref {

// Worst per-position logits NMSE of a correct llama.cpp, measured on the tiny checkpoint with a 24-token prompt
// (window 8, two full layers; KV cache f16): f32 8.1e-7, f16 2.2e-6, bf16 5.8e-5 (activations rounded to bf16 in
// the bf16 kernels), q8_0 6.3e-4, q6_k 7.1e-4, q4_k 7.5e-4, q4_0 9.1e-4 (quantized kernels quantize the activations
// to 8 bits). The defaults leave a margin of 5–12× above those, and stay 30× below the smallest error of a known
// wrong variant (RoPE denominator 0.16, window off by one 0.19, (1 + w) norm 1.1).
double default_max_nmse(const std::string& type) {
  if (type == "f32") return 1e-5;
  if (type == "f16") return 2e-5;
  if (type == "bf16") return 5e-4;
  return 5e-3;
}

// NMSE of llama.cpp's projected media embeddings against the exact reference on the same mmproj, measured on the
// tiny checkpoint (a 672×960 noise image = 280 patches; 1.3 s of a 440 Hz tone = 33 frames), image / audio:
// f32 1.7e-14 / 4.3e-15, f16 7.8e-8 / 4.3e-8, bf16 2.8e-6 / 3.1e-6, q8_0 3.2e-5 / 1.1e-5 (ggml's f16, bf16 and
// q8_0 kernels round the activations to the weight's type). The defaults leave 30× or more above those, and sit
// far below the O(1) errors of a projector written without the HWC -> CHW permutation or with the position
// tables swapped.
double default_max_embedding_nmse(GgmlType mmproj) {
  switch (mmproj) {
    case GgmlType::F32: return 1e-10;
    case GgmlType::F16: return 1e-5;
    case GgmlType::BF16: return 1e-4;
    default: return 1e-3;
  }
}

}  // namespace g4ref
