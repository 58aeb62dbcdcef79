// llama.cpp's quantizer (llama_model_quantize, "pure": every 2-D tensor in the one type) and export-gguf on the same
// f32 GGUF: every tensor both wrote in the same type must be byte-identical.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace g4ref {

// The report: counts (identical, identical_in_requested_type, differing, different_type), one row per tensor,
// and the verdict (PASS when nothing differs and at least one tensor was compared in TYPE).
nlohmann::json check_quantizer(const std::string& model_dir, const std::string& type, const std::string& keep_dir);

}  // namespace g4ref
