// Trace names across implementations: g4ref's names (DESIGN "Trace names"), the Hugging Face module paths
// a forward-hook dump writes, and llama.cpp's graph callback names (spec §6, §7).
//
// A foreign tensor and ours may differ in layout but not in element order: HF's q_proj output is
// [B, T, heads·D] and llama.cpp's Qcur is ggml ne = [D, heads, T], both the same row-major bytes as our
// [T, heads, D]. Comparisons therefore go by flattened values whenever the element counts match.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace g4ref {

enum class MapKind {
  G4ref,        // identity
  Hf,           // Hugging Face module paths (`model.language_model.layers.L.self_attn.q_proj`) and `hidden_states.i`
  LlamaCpp,     // ggml callback names (`Qcur-L`, `l_out-L`, `result_norm`)
};

std::string map_kind_name(MapKind kind);                     // "g4ref", "hf", "llamacpp"
std::optional<MapKind> parse_map_kind(const std::string& s);  // the names above; nullopt otherwise

// The g4ref name a foreign tensor corresponds to, or nullopt when it has none.
// NUM_LAYERS is needed for HF `hidden_states.i` only: the last entry (i = num_layers) is taken AFTER the final
// norm, so it is `final_norm`, not `layers.{N-1}.out`. Without it (num_layers <= 0) only hidden_states.0 maps.
std::optional<std::string> to_g4ref(const std::string& foreign_name, MapKind kind, int num_layers = 0);

// The foreign names that map to G4REF_NAME (empty when the other implementation has no such tensor);
// the first is the canonical one.
std::vector<std::string> from_g4ref(const std::string& g4ref_name, MapKind kind, int num_layers = 0);

// A key that sorts g4ref names in data-flow order: input → image/audio embedders → embed.out → layers in
// numeric order (each in the order of the layer's taps) → final_norm → logits.raw → logits; names it does not
// know sort after all of these, alphabetically.
std::string data_flow_key(const std::string& g4ref_name);

// The taps of one decoder layer, in data-flow order (the suffixes of `layers.L.`).
const std::vector<std::string>& layer_taps();

}  // namespace g4ref
