#include "convert/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/output_file.h"
#include "io/safetensors.h"
#include "convert/synth_tokenizer.h"
#include "model/tensor_names.h"
#include "numerics/bf16.h"

namespace g4ref {

namespace fs = std::filesystem;

int synth_token_id(const std::string& piece) {
  const auto& tokens = gemma4_control_tokens();
  const auto it = std::find(tokens.begin(), tokens.end(), piece);
  if (it == tokens.end()) fail("synth", "'" + piece + "' is not a control token");
  return 4 + static_cast<int>(it - tokens.begin());
}

ModelConfig synth_preset(const std::string& name) {
  ModelConfig c;
  c.vision.present = true;
  c.audio.present = true;
  TextConfig& t = c.text;
  if (name == "12b") {
    t.layer_types.assign(t.num_hidden_layers, LayerType::sliding);
    for (int l = 5; l < t.num_hidden_layers; l += 6) t.layer_types[l] = LayerType::full;
    return c;
  }
  if (name == "tiny") {
    // Every feature of the 12B at toy size: 4 sliding + 2 full layers, GQA (4 query heads on 2 KV heads) on
    // sliding layers, k_eq_v MQA with a head twice as wide on full layers, proportional RoPE rotating 8 of 32
    // pairs, and a window of 8 tokens — shorter than the test prompts.
    t.vocab_size = 1024;
    t.hidden_size = 64;
    t.intermediate_size = 128;
    t.num_hidden_layers = 6;
    t.num_attention_heads = 4;
    t.num_key_value_heads = 2;
    t.head_dim = 32;
    t.global_head_dim = 64;
    t.num_global_key_value_heads = 1;
    t.sliding_window = 8;
    t.layer_types = {LayerType::sliding, LayerType::sliding, LayerType::full,
                     LayerType::sliding, LayerType::sliding, LayerType::full};
    c.vision.mm_embed_dim = 64;
    c.vision.output_proj_dims = 64;
  } else if (name == "small") {
    t.vocab_size = 8192;
    t.hidden_size = 512;
    t.intermediate_size = 2048;
    t.num_hidden_layers = 12;
    t.num_attention_heads = 8;
    t.num_key_value_heads = 4;
    t.head_dim = 64;
    t.global_head_dim = 128;
    t.num_global_key_value_heads = 1;
    t.sliding_window = 64;
    t.layer_types.assign(12, LayerType::sliding);
    t.layer_types[5] = t.layer_types[11] = LayerType::full;
    c.vision.mm_embed_dim = 512;
    c.vision.output_proj_dims = 512;
  } else {
    fail("--preset", "unknown preset '" + name + "' (expected tiny, small or 12b)");
  }
  // The small presets get a trained tokenizer (synth_tokenizer.h): pad/eos/bos/unk at 0–3, then the control
  // tokens as user-defined symbols in the order of gemma4_control_tokens(). Everything reads them from here.
  c.boi_token_id = synth_token_id("<|image>");
  c.eoi_token_id = synth_token_id("<image|>");
  c.image_token_id = synth_token_id("<|image|>");
  c.video_token_id = synth_token_id("<|video|>");
  c.boa_token_id = synth_token_id("<|audio>");
  c.eoa_token_id = synth_token_id("<audio|>");
  c.audio_token_id = synth_token_id("<|audio|>");
  t.eos_token_ids = {1, synth_token_id("<turn|>")};  // as the instruction-tuned config: <eos> and <turn|>
  return c;
}

std::vector<std::string> synth_preset_names() { return {"tiny", "small", "12b"}; }

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// How a tensor's values are spread: value = center + amplitude · u, u uniform in [−1, 1).
struct Spread {
  float center;
  float amplitude;
};

Spread spread_for(const std::string& name, const std::vector<int64_t>& shape, const ModelConfig& c) {
  const float sqrt3 = std::sqrt(3.0f);
  if (ends_with(name, "layer_scalar")) return {0.75f, 0.25f};                // learned scalars in [0.5, 1)
  if (ends_with(name, ".bias")) return {0.0f, 0.1f};
  if (name.find("embed_tokens") != std::string::npos) {
    // std 3/sqrt(hidden): tied logits h·Eᵀ of a unit-RMS final state then spread by about ±3.
    return {0.0f, sqrt3 * 3.0f / std::sqrt(static_cast<float>(c.text.hidden_size))};
  }
  if (name.find("pos_embedding") != std::string::npos) return {0.0f, 0.5f};
  if (ends_with(name, "q_norm.weight") || ends_with(name, "k_norm.weight")) {
    // Scores are q·k of two unit-RMS heads (scaling 1.0), which spread like sqrt(D) for random weights and
    // make a random network chaotic; D^(-1/4) on each side brings them to order one, as trained norms do.
    const float center = std::pow(static_cast<float>(shape[0]), -0.25f);
    return {center, 0.25f * center};
  }
  if (shape.size() == 1) return {1.0f, 0.25f};  // norm weights: not all ones, around one
  // Linear [out, in]: std 1/sqrt(in), so outputs keep the scale of their inputs.
  return {0.0f, sqrt3 / std::sqrt(static_cast<float>(shape.back()))};
}

struct Plan {
  std::vector<TensorSpec> tensors;
  std::vector<std::vector<size_t>> shards;  // tensor indices per output file
};

uint64_t tensor_bytes(const TensorSpec& t) {
  uint64_t n = dtype_size(t.dtype);
  for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
  return n;
}

void write_json_atomically(const fs::path& path, const nlohmann::json& j) {
  write_file_atomically(path.string(), j.dump(2) + "\n");
}

}  // namespace

float synth_value(uint64_t seed, const std::string& name, int64_t index, const ModelConfig& c) {
  const TensorSpec* spec = nullptr;
  static thread_local std::vector<TensorSpec> cache;
  static thread_local std::string cache_hash;
  if (cache_hash != c.hash()) {
    cache = expected_tensors(c);
    cache_hash = c.hash();
  }
  for (const auto& t : cache) {
    if (t.name == name) spec = &t;
  }
  if (!spec) fail("synth", "no tensor named '" + name + "'");
  const Spread s = spread_for(name, spec->shape, c);
  const uint64_t key = splitmix64(seed ^ fnv1a(name));
  const uint64_t bits = splitmix64(key + static_cast<uint64_t>(index));
  const float u = static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-52 - 1.0);
  return s.center + s.amplitude * u;
}

SynthSummary write_synthetic_checkpoint(const SynthOptions& o) {
  const ModelConfig c = synth_preset(o.preset);
  if (o.out_dir.empty()) fail("--out", "no output directory given");
  const fs::path dir(o.out_dir);
  if (fs::exists(dir) && !fs::is_directory(dir)) fail(o.out_dir, "exists and is not a directory");
  if (!fs::exists(dir)) {
    // Only the final directory is created (as for every output, io/output_file.h): a mistyped path must not
    // grow a tree of directories.
    const fs::path parent = dir.parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::is_directory(parent, ec)) {
      fail(o.out_dir, "its parent directory " + parent.string() + " does not exist; only the final directory is created");
    }
    if (!fs::create_directory(dir, ec) && ec) fail(o.out_dir, "cannot create the directory: " + ec.message());
  }
  if (!o.force && (fs::exists(dir / "config.json") || fs::exists(dir / "model.safetensors") ||
                   fs::exists(dir / "model.safetensors.index.json"))) {
    fail(o.out_dir, "already holds a checkpoint (use --force to overwrite it)");
  }
  // An overwritten checkpoint must not look whole while its weights are being replaced.
  fs::remove(dir / "config.json");

  Plan plan;
  plan.tensors = expected_tensors(c);
  plan.shards.emplace_back();
  uint64_t shard_bytes = 0;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const uint64_t b = tensor_bytes(plan.tensors[i]);
    if (o.max_shard_bytes > 0 && shard_bytes > 0 && shard_bytes + b > o.max_shard_bytes) {
      plan.shards.emplace_back();
      shard_bytes = 0;
    }
    plan.shards.back().push_back(i);
    shard_bytes += b;
  }
  const bool sharded = o.max_shard_bytes > 0;
  const size_t n_shards = plan.shards.size();

  SynthSummary summary;
  summary.tensors = static_cast<int64_t>(plan.tensors.size());
  summary.parameters = parameter_count(plan.tensors);
  nlohmann::json weight_map = nlohmann::json::object();
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"g4ref_synthetic", o.preset + " seed " + std::to_string(o.seed)}};

  constexpr int64_t kChunk = 1 << 20;
  std::vector<uint16_t> chunk(kChunk);
  for (size_t s = 0; s < n_shards; ++s) {
    char name[64];
    if (sharded) {
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, n_shards);
    } else {
      std::snprintf(name, sizeof name, "model.safetensors");
    }
    std::vector<TensorSpec> specs;
    for (size_t i : plan.shards[s]) specs.push_back(plan.tensors[i]);
    SafetensorsWriter writer((dir / name).string(), specs, metadata);
    // The writer lays tensors out sorted by name; generate them in that order.
    std::sort(specs.begin(), specs.end(), [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
    for (const TensorSpec& t : specs) {
      const Spread sp = spread_for(t.name, t.shape, c);
      const uint64_t key = splitmix64(o.seed ^ fnv1a(t.name));
      int64_t numel = 1;
      for (int64_t d : t.shape) numel *= d;
      for (int64_t start = 0; start < numel; start += kChunk) {
        const int64_t n = std::min(kChunk, numel - start);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
          const uint64_t bits = splitmix64(key + static_cast<uint64_t>(start + i));
          const float u = static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-52 - 1.0);
          chunk[i] = float_to_bf16_bits(sp.center + sp.amplitude * u);
        }
        writer.write(chunk.data(), static_cast<size_t>(n) * 2);
      }
      weight_map[t.name] = name;
      summary.bytes += tensor_bytes(t);
    }
    writer.finish();
    summary.files.push_back(name);
  }
  if (sharded) {
    nlohmann::json index = {{"metadata", {{"total_size", summary.bytes}}}, {"weight_map", weight_map}};
    write_json_atomically(dir / "model.safetensors.index.json", index);
    summary.files.push_back("model.safetensors.index.json");
  } else {
    fs::remove(dir / "model.safetensors.index.json");
  }
  nlohmann::json gen = {{"bos_token_id", c.text.bos_token_id},
                        {"eos_token_id", c.text.eos_token_ids},
                        {"pad_token_id", c.text.pad_token_id},
                        {"suppress_tokens", {c.eoa_token_id, c.eoi_token_id}},
                        {"do_sample", true},
                        {"temperature", 1.0},
                        {"top_k", 64},
                        {"top_p", 0.95}};
  write_json_atomically(dir / "generation_config.json", gen);
  if (o.preset != "12b") {
    // The 12B's vocabulary of 262,144 pieces cannot be learned from a bundled text: bring the real tokenizer.
    const SynthTokenizer tok = train_synth_tokenizer(static_cast<int>(c.text.vocab_size));
    for (const std::string& piece : gemma4_control_tokens()) {
      const int id = tok.special_ids.at(piece);
      if (id != synth_token_id(piece)) {
        fail("synth", "the trained tokenizer put '" + piece + "' at id " + std::to_string(id) + " (expected " +
                          std::to_string(synth_token_id(piece)) + ")");
      }
    }
    write_file_atomically((dir / "tokenizer.model").string(), tok.sentencepiece_model);
    write_file_atomically((dir / "tokenizer.json").string(), tok.tokenizer_json);
    write_json_atomically(dir / "tokenizer_config.json",
                          {{"add_bos_token", false}, {"bos_token", "<bos>"}, {"eos_token", "<eos>"},
                           {"pad_token", "<pad>"}, {"unk_token", "<unk>"}, {"tokenizer_class", "GemmaTokenizer"}});
    summary.files.insert(summary.files.end(), {"tokenizer.model", "tokenizer.json", "tokenizer_config.json"});
  }
  write_json_atomically(dir / "config.json", config_to_json(c));
  summary.files.push_back("generation_config.json");
  summary.files.push_back("config.json");
  return summary;
}

}  // namespace g4ref
