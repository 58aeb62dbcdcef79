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
#include "numerics/quant.h"

namespace g4ref {

// GGUF tensor names of the projector, keyed by checkpoint name (spec §6 -> §7.2).
struct MmprojTensorName {
  std::string hf;
  std::string gguf;
};
const std::vector<MmprojTensorName>& gguf_mmproj_tensor_names();

// Types the projector can be written in: f32, f16, bf16, q8_0 (what llama.cpp's converter offers for mmproj).
GgmlType parse_mmproj_type(const std::string& name);
// The projector type that goes with a text export of type TEXT: the same for f32/f16/bf16/q8_0, f16 for the
// 4- and 6-bit types (llama.cpp's published quantized models ship f16 or bf16 projectors).
GgmlType default_mmproj_type(GgmlType text);

// Writes MODEL's vision and audio weights as an mmproj GGUF. Norms and biases are f32; v.patch_embd.weight is
// f16 when TYPE is f16 and f32 otherwise (the converter's rule); the other 2-D/3-D weights are TYPE where their
// rows are whole blocks (gguf_storage_type). The model must have both modalities.
// DEVIATIONS are test-only wrong layouts (a converter bug a cross-check must catch); both off by default.
struct MmprojDeviations {
  bool hwc_patches = false;      // skip the HWC -> CHW permutation
  bool swap_position_axes = false;  // write the y table where the x table belongs
};
void export_mmproj_gguf(const Model& model, GgmlType type, const std::string& out, const MmprojDeviations& deviations = {});

}  // namespace g4ref
