// The checkpoint's tensors as they are named and shaped on disk (spec §6), derived from the config alone.
// The loader checks a checkpoint against this list; `synth` writes exactly this list.
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"

namespace g4ref {

std::string layer_prefix(int layer);  // "model.language_model.layers.L."

// Every tensor of the checkpoint (text decoder, and the vision/audio embedders when the config has them),
// in stored dtype bf16, sorted by name as Hugging Face writes them.
std::vector<TensorSpec> expected_tensors(const ModelConfig& c);

int64_t parameter_count(const std::vector<TensorSpec>& tensors);

}  // namespace g4ref
