// llama.cpp as a Backend: the checkpoint exported to GGUF (and its projector to an mmproj) in the chosen types,
// run by llama.cpp's own code through the adapter (backends/llamacpp_adapter.h). Prompts are built by the
// reference's tokenizer and template (llama.cpp's tokenizer agrees with it on the exported vocabulary: the
// tokenizer oracle test), so both sides read the same ids; media go through llama.cpp's mtmd.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/llamacpp_adapter.h"
#include "forward/generate.h"
#include "convert/mmproj_export.h"
#include "model/weights.h"

namespace g4ref {

struct LlamaCppBackendOptions {
  std::string model;             // the checkpoint directory to export
  std::string tokenizer;         // optional; default the model's
  std::string type = "f32";      // GGUF weight type
  std::string mmproj_type;       // "": default_mmproj_type(type)
  std::string kv = "f16";        // llama.cpp's KV-cache type
  std::string flash_attn = "off";  // llama.cpp's flash attention (auto|on|off); off keeps long prompts exact to ~1e-6
  std::string keep;              // keep the exported files here
  // Test-only wrong variants on llama.cpp's side (a converter bug a cross-check must catch).
  MmprojDeviations mmproj_deviations;
  bool shift_audio = false;      // every audio frame one sample late
};

class LlamaCppBackend final : public Backend {
 public:
  explicit LlamaCppBackend(const LlamaCppBackendOptions& options);
  std::string name() const override;
  nlohmann::json describe() const override;
  BackendCapabilities capabilities() const override;
  std::vector<int> tokenize(const std::string& text) override;
  std::string detokenize(const std::vector<int>& ids) override;
  std::string render(const Conversation& conversation) override;
  Prompt prepare(const Conversation& conversation, const MediaOptions& media) override;
  ScoreResult score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) override;
  // llama.cpp's logits, the next token chosen by the reference's own sampler (forward/sampling.h) with the same
  // suppressed ids: greedy (ties to the lowest id) or seeded sampling that takes the reference's path wherever the
  // logits agree.
  GenerateResult generate(const Prompt& prompt, const GenerateOptions& options,
                          const std::function<void(int)>& on_token = {}) override;
  // Rows inside a media block are NaN: llama.cpp gives logits only after a whole media chunk. A text-only prompt
  // goes through node-llama-cpp's build (logits.mjs), one with media through g4ref-llamacpp's.
  Eigen::MatrixXd logits(const Prompt& prompt) override;
  // The positions logits() fills for PROMPT: every text token and the last position of each media block.
  static std::vector<int64_t> logit_positions(const Prompt& prompt);
  Eigen::MatrixXd embed_media(const MediaInput& item) override;

  const std::string& gguf() const { return gguf_; }
  const std::string& mmproj();  // exported on first use
  const Model& source() const { return *source_; }

 private:
  // Runs PROMPT (+ EXTRA tokens, + a final plan line) through g4ref-llamacpp logits; returns its JSON line and
  // the rows. Text positions below FIRST_ROW are decoded without writing their logits.
  nlohmann::json last_run_;  // what g4ref-llamacpp or logits.mjs printed for the last call

 public:
  const nlohmann::json& last_run() const { return last_run_; }

 private:
  nlohmann::json run_plan(const Prompt& prompt, const std::vector<int>& extra, int64_t first_row,
                          const std::string& final_line, std::map<int64_t, Eigen::VectorXd>* rows);

  LlamaCppBackendOptions options_;
  std::unique_ptr<Model> source_;
  std::unique_ptr<Tokenizer> tokenizer_;
  GenerationConfig gen_;
  std::unique_ptr<WorkDir> work_;
  std::string gguf_, mmproj_;
  std::string mmproj_type_;
  int calls_ = 0;
};

}  // namespace g4ref
