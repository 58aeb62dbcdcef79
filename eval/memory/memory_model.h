// An analytic memory model of Gemma 4 checkpoints: the bytes of every weight in each storage format, the KV cache
// per layer type, activations and media embeddings, and what each engine (this reference, llama.cpp, Hugging Face)
// allocates for a context. Every figure is a formula over the configuration; the assumptions behind each engine's
// figures are listed with it (Assumption). Byte counts are exact where a format defines them: safetensors element
// sizes, GGUF block sizes (numerics/quant.h) and export-gguf's type choice per row length (gguf_storage_type).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "numerics/quant.h"

namespace g4ref::memory {

// The shape facts the model needs, for any member of the family (spec §1.2 for the 12B; the published configs of
// E2B, E4B, 26B-A4B and 31B in eval/memory/configs/).
struct Arch {
  std::string name;
  int64_t vocab = 262144;
  int64_t hidden = 3840;
  int64_t intermediate = 15360;
  int layers = 48;
  int heads = 16;
  int kv_heads = 8;           // sliding layers
  int head_dim = 256;         // sliding layers
  int global_kv_heads = 1;    // full layers
  int global_head_dim = 512;  // full layers
  bool k_eq_v = true;         // full layers have no v_proj
  int sliding_window = 1024;
  std::vector<bool> full;     // per layer: full (global) attention
  int kv_shared_layers = 0;   // the last N layers reuse earlier layers' K/V (no cache, no k/v weights)
  bool double_wide_mlp = false;  // KV-shared layers have a 2x intermediate MLP
  int64_t ple_dim = 0;        // per-layer embeddings (PLE) width per layer; 0 = none
  int64_t ple_vocab = 0;
  bool moe = false;
  int experts = 0, top_k = 0;
  int64_t moe_intermediate = 0;
  // The 12B "unified" model's encoder-free embedders (spec §1.3, §1.4).
  bool unified_embedders = false;
  int64_t patch_values = 6912, posemb = 1120, audio_dim = 640;
  int64_t max_context = 262144;
  std::string source;  // where the numbers come from

  bool is_full(int l) const { return full[size_t(l)]; }
  bool kv_shared(int l) const { return kv_shared_layers > 0 && l >= layers - kv_shared_layers; }
  int layer_kv_heads(int l) const { return is_full(l) && k_eq_v ? global_kv_heads : kv_heads; }
  int layer_head_dim(int l) const { return is_full(l) ? global_head_dim : head_dim; }
  bool layer_has_v(int l) const { return !(is_full(l) && k_eq_v); }
};

Arch preset_12b();  // spec §1.2
// A Hugging Face config.json (top level with text_config, or a text config); unset keys take the HF defaults of
// Gemma4TextConfig. WHERE names the file in errors.
Arch arch_from_config(const nlohmann::json& j, const std::string& where);
Arch arch_from_config_file(const std::string& path);
// The architecture a llama.cpp GGUF declares (gemma4.* keys, spec §7.1).
Arch arch_from_gguf(const std::string& path);

enum class Group { embedding, per_layer_embedding, attention, mlp, experts, router, norms, vision, audio };
std::string group_name(Group g);

struct TensorInfo {
  std::string name;             // Hugging Face name
  Group group;
  std::vector<int64_t> shape;   // PyTorch order
  int64_t numel() const;
};

// Every tensor of the checkpoint (text decoder and, for the unified 12B, its embedders), in no particular order.
std::vector<TensorInfo> checkpoint_tensors(const Arch& a);
int64_t parameter_count(const Arch& a);
// Parameters a token touches: every non-expert weight, top_k of the experts; PLE tables excluded (a lookup).
int64_t active_parameter_count(const Arch& a);

// Bytes per group of one storage format.
struct WeightBytes {
  std::string format;                  // "bf16 safetensors", "q4_0 gguf", ...
  std::map<std::string, uint64_t> text_groups;  // group -> bytes in the text file
  uint64_t text_bytes = 0;             // tensor data of the text model (GGUF: with alignment padding)
  uint64_t projector_bytes = 0;        // the vision + audio projector (GGUF: the mmproj file's tensor data)
  std::map<std::string, int> text_types;  // GGUF type -> tensor count
  uint64_t total() const { return text_bytes + projector_bytes; }
};

// Safetensors (f32 / f16 / bf16: element size × count; one file for everything).
WeightBytes safetensors_bytes(const Arch& a, int element_bytes, const std::string& dtype);
// What export-gguf writes for REQUESTED: text tensors in gguf_storage_type(REQUESTED, ne), 1-D in f32, plus
// rope_freqs (global_head_dim / 2 f32), each at a 32-byte aligned offset; the mmproj with the projector types of mmproj_export.
// EMBEDDING, when given, is the token embedding's type instead (llama-quantize stores a tied embedding as Q6_K
// for the 4- and 5-bit file types: src/llama-quant.cpp).
WeightBytes gguf_bytes(const Arch& a, GgmlType requested, const GgmlType* embedding = nullptr);
// A real GGUF file's tensor table as it is (mixed types included).
WeightBytes gguf_file_bytes(const std::string& path);

// One entry of a breakdown: a name, bytes, and whether the pages are file-backed (mapped) or anonymous.
struct Item {
  std::string name;
  uint64_t bytes = 0;
  bool file_backed = false;
  bool resident = true;  // false: reserved address space the run does not touch (not in RSS)
  std::string note;
  std::string phase = "";  // empty: alive for the whole run; else only during that phase (Breakdown::phases)
};

struct KvLayerType {
  std::string layer_type;  // "sliding", "full", "shared"
  int layers = 0;
  int64_t cells = 0;           // tokens held per layer
  uint64_t bytes_per_cell = 0;  // K + V, one layer
  uint64_t bytes = 0;
};

struct Breakdown {
  std::string engine;
  std::vector<Item> items;
  std::vector<KvLayerType> kv;
  std::vector<std::string> assumptions;
  // Phases of the run whose live sets differ (the reference: the layers, then the logits). Empty: one phase. The
  // resident peak is the largest phase: the items of no phase plus the items of that phase.
  std::vector<std::string> phases;
  uint64_t total() const;                  // every item
  uint64_t resident() const;               // items in RSS at the peak
  uint64_t resident_anon() const;          // ... of them anonymous
  uint64_t resident_file() const;          // ... of them file-backed
  std::string peak_phase() const;          // the phase of the peak (empty without phases)
  uint64_t phase_bytes(const std::string& phase, bool file_backed) const;  // resident in that phase
};

struct Request {
  int64_t context = 4096;    // tokens the cache must hold
  int64_t batch = 512;       // llama.cpp n_ubatch; tokens per forward elsewhere
  GgmlType kv_type = GgmlType::F16;
  bool flash_attn = true;    // llama.cpp: quantized V needs it; off pads V to the widest layer
  bool swa_full = false;     // llama.cpp --swa-full
  int images = 0;
  int64_t image_tokens = 280;
  double audio_seconds = 0;
  std::string precision = "exact";  // the reference's precision
  int64_t prompt_tokens = -1;       // reference: tokens in the one prefill call (default: context)
  int64_t evaluated_tokens = -1;    // llama.cpp: tokens actually evaluated (compute pages touched); -1: context
  int threads = 1;                  // reference: OpenMP threads (attention's head groups run side by side)
  std::string repack = "avx2";      // llama.cpp CPU build: avx2, avx512 or none (see llamacpp_repacks)
};

// Whether llama.cpp's CPU backend copies a weight matrix of type T and ggml shape NE into its anonymous CPU_REPACK
// buffer (ggml-cpu/repack.cpp, ggml_repack_get_optimal_repack_type, x86): a build with AVX2 repacks Q4_0, Q4_K,
// IQ4_NL and MXFP4 matrices with ne[1] % 8 == 0; a build with AVX-512F Q2_K as well; "none" is llama.cpp's
// --no-repack (or a build without AVX2). The CPU features are those the build was compiled for, not the host's.
bool llamacpp_repacks(const std::string& build, GgmlType t, const std::vector<int64_t>& ne);

// The KV cache an ideal implementation needs: sliding layers the last window tokens, full layers every token,
// K = V on full layers stored once (the raw projection; k_norm, RoPE and the value norm recomputed), no cache on
// KV-shared layers.
std::vector<KvLayerType> kv_ideal(const Arch& a, int64_t context, GgmlType type, bool share_k_v);
// llama.cpp (src/llama-kv-cache-iswa.cpp, llama-kv-cache.cpp): full layers n_ctx cells padded to 256; SWA layers
// min(n_ctx, n_swa + n_ubatch) padded to 256 (n_ctx with --swa-full); K and V separate tensors; without flash
// attention V is transposed and every layer's V row padded to the widest (n_embd_v_gqa_max).
std::vector<KvLayerType> kv_llamacpp(const Arch& a, const Request& r);

// The weights in the format an engine runs: for llama.cpp and the reference a GGUF type or a safetensors dtype.
struct WeightsChoice {
  bool gguf = false;
  GgmlType type = GgmlType::BF16;
  std::string dtype = "bf16";  // safetensors: bf16 / f16 / f32
  std::string file;            // a real file (its tensor table), if given
  bool embedding_override = false;
  GgmlType embedding = GgmlType::Q6_K;
};

Breakdown reference_breakdown(const Arch& a, const WeightsChoice& w, const Request& r);
Breakdown llamacpp_breakdown(const Arch& a, const WeightsChoice& w, const Request& r);
Breakdown hf_breakdown(const Arch& a, const Request& r);

// The process baseline each engine has before any model-sized allocation (runtime, libraries, tokenizer); measured
// once and recorded in eval/memory/baselines.json by `g4ref memory measure --baseline`.
struct Baseline {
  uint64_t anon = 0, file = 0;
  std::string source;
};

nlohmann::json breakdown_json(const Breakdown& b);
nlohmann::json weights_json(const WeightBytes& w);

}  // namespace g4ref::memory
