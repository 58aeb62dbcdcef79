// Synthetic checkpoints: the real on-disk names, shapes and dtype (bf16, spec §6) with random weights that are
// a pure function of (seed, tensor name, element index). They let every test and the memory work run the
// exact code path of the 12B without the real weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace g4ref {

// "tiny" (every feature, a few MB), "small", or "12b" (the published shape, 11,959,730,224 parameters).
ModelConfig synth_preset(const std::string& name);
std::vector<std::string> synth_preset_names();

// Id of a Gemma 4 control token in the synthetic tokenizer (spec §5 pieces; see synth_tokenizer.h).
int synth_token_id(const std::string& piece);

struct SynthOptions {
  std::string preset = "tiny";
  uint64_t seed = 0;
  std::string out_dir;
  uint64_t max_shard_bytes = 0;  // 0: one model.safetensors; else sharded with model.safetensors.index.json
  bool force = false;            // overwrite an existing checkpoint in out_dir
};

struct SynthSummary {
  int64_t parameters = 0;
  int64_t tensors = 0;
  uint64_t bytes = 0;
  std::vector<std::string> files;
};

// Streams the weights to disk (never holding the model in memory). Files are written under temporary names and
// renamed when complete; config.json is written last, so a directory with config.json is always whole.
SynthSummary write_synthetic_checkpoint(const SynthOptions& options);

// The value of element `index` of tensor `name` (before bf16 rounding) — exposed for tests.
float synth_value(uint64_t seed, const std::string& name, int64_t index, const ModelConfig& c);

}  // namespace g4ref
