// Writing a checkpoint as a llama.cpp GGUF file (spec §7.1): the text model (architecture "gemma4") with the
// metadata, tensor names and layouts llama.cpp's converter writes. Tensors are streamed one at a time from the bound weights.
#pragma once

#include <string>

#include "model/weights.h"
#include "numerics/quant.h"

namespace g4ref {

// The types export-gguf can write for 2-D weights.
bool gguf_export_type_supported(GgmlType t);  // F32 F16 BF16 Q8_0 Q4_0 Q4_K Q6_K
GgmlType parse_gguf_export_type(const std::string& name);  // "f32" "f16" "bf16" "q8_0" "q4_0" "q4_k" "q6_k"

// The type a tensor of NE (ggml order) is stored in when REQUESTED is asked for: 1-D tensors (norms, scalars)
// always F32; a 2-D weight in REQUESTED when its row length ne[0] is a whole number of blocks, otherwise in a
// fallback whose block divides it: Q4_K -> Q4_0 and Q6_K -> Q8_0 (llama.cpp's quantizer falls back to Q5_0 for
// Q4_K, which this project cannot write; Q6_K -> Q8_0 is llama.cpp's own choice), and Q8_0/Q4_0 -> F16 when
// even 32 does not divide the row.
GgmlType gguf_storage_type(GgmlType requested, const std::vector<int64_t>& ne);

// llama.cpp's general.file_type for a requested type (LLAMA_FTYPE_ALL_F32, _MOSTLY_F16, ...).
uint32_t gguf_file_type(GgmlType requested);

// The text model: general.*, gemma4.* (spec §7.1) and tokenizer.* metadata, rope_freqs.weight, and every text
// tensor under its llama.cpp name with ne reversed. TOKENIZER_PATH is a tokenizer.json, a tokenizer.model, or
// the directory holding one; suppress tokens come from the model directory's generation_config.json.
void export_text_gguf(const Model& model, const std::string& tokenizer_path, GgmlType type, const std::string& out);


}  // namespace g4ref
