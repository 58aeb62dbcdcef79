// The text model in llama.cpp's GGUF vocabulary (spec §7.1): tensor names, the rope_freqs table, and the
// metadata keys of architecture "gemma4". Shared by the exporter and the importer so the two cannot drift.
#pragma once

#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/config.h"
#include "numerics/matmul.h"

namespace g4ref {

inline constexpr const char* kGgufArch = "gemma4";

// One text tensor under both names: the checkpoint's (spec §6) and llama.cpp's.
struct GgufTensorName {
  std::string hf;    // "model.language_model.layers.3.self_attn.q_proj.weight"
  std::string gguf;  // "blk.3.attn_q.weight"
};

// Every text tensor of the config, in the order llama.cpp's converter writes them: token_embd, the blocks in
// order, output_norm. (rope_freqs.weight, which has no checkpoint tensor, is not listed.)
std::vector<GgufTensorName> gguf_text_tensor_names(const ModelConfig& c);

// rope_freqs.weight: global_head_dim/2 frequency factors for the full layers — 1.0 for each rotated pair of
// the proportional scheme (partial_rotary_factor × global_head_dim / 2 of them), 1e30 for the rest, which makes
// their angles ≈ 0 in llama.cpp's NEOX RoPE (spec §7.1).
std::vector<float> gguf_rope_freqs(const TextConfig& t);

// Inverse of gguf_rope_freqs: the partial_rotary_factor a table encodes (the share of 1.0 entries, which must
// lead the table). WHERE names the file in errors.
double gguf_partial_rotary_factor(const std::vector<float>& freqs, const std::string& where);

// The f32 value of KEY as the shortest decimal that reads back as the same f32 (1e-6, not 9.99999997e-07): GGUF
// stores eps, RoPE bases and the softcap as f32 where the config holds the decimal the checkpoint wrote.
double gguf_f32_decimal(const GgufFile& f, const std::string& key);

// A GGUF tensor as a row-major matrix view in its stored type (ne[0] = columns); quantized types the
// reference decodes keep their ggml type in MatrixView::quant. Throws for types it cannot decode.
MatrixView gguf_matrix_view(const GgufTensor& t);

// The HWC -> CHW column permutation of spec §7.2 for square patches of side P with 3 channels:
// perm[chw] = hwc, i.e. the CHW-ordered vector is v_chw[i] = v_hwc[perm[i]].
std::vector<int64_t> gguf_patch_chw_permutation(int patch_side);

}  // namespace g4ref
