// Writing the multimodal projector as llama.cpp's "mmproj" GGUF (spec §7.2); the layout is described in
// model/gguf_mmproj.h, whose importer undoes what this writer does.
#pragma once

#include <string>

#include "model/weights.h"
#include "numerics/quant.h"

namespace g4ref {

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
