// The multimodal projector as llama.cpp's "mmproj" GGUF (spec §7.2): architecture "clip", one file holding the
// vision embedder (projector type "gemma4uv") and the audio projection ("gemma4ua").
//
// Layout differences from the checkpoint, applied by the exporter and undone by the importer:
//   * v.patch_embd.weight columns and v.patch_norm.1.{weight,bias} are permuted from HWC to CHW order
//     (ggml's im2col yields channel-planar patches): stored[i] = checkpoint[perm[i]], perm from
//     gguf_patch_chw_permutation.
//   * v.position_embd.weight is the checkpoint's pos_embedding [posemb, 2, E] transposed to [2, posemb, E]
//     (ggml ne [E, posemb, 2]): the x table first, then the y table.
//   * pos_norm is stored as v.patch_norm.3; the projections as mm.input_projection / mm.a.input_projection.
#pragma once

#include <string>

#include "model/weights.h"

namespace g4ref {

// llama.cpp derives the 48-px model patch from the stored 16-px teacher patch and the merge factor 3, which
// clip.cpp hard-codes for gemma4uv (spec §7.2).
constexpr int kMergeFactor = 3;

// GGUF tensor names of the projector, keyed by checkpoint name (spec §6 -> §7.2).
struct MmprojTensorName {
  std::string hf;
  std::string gguf;
};
const std::vector<MmprojTensorName>& gguf_mmproj_tensor_names();

}  // namespace g4ref
