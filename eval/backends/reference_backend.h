// The reference as a Backend: the model in this process, in any precision mode (exact, f32, bf16), with the
// same switches as the commands (embedding scale, window variant, image attention).
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"
#include "forward/generate.h"
#include "forward/session.h"
#include "model/weights.h"

namespace g4ref {

struct ReferenceBackendOptions {
  std::string model;      // checkpoint directory or text GGUF
  std::string mmproj;     // optional mmproj GGUF
  std::string tokenizer;  // optional; default the model's
  RunOptions run;
};

class ReferenceBackend final : public Backend {
 public:
  explicit ReferenceBackend(const ReferenceBackendOptions& options);
  // A backend over a model already loaded (not owned; it must outlive the backend).
  ReferenceBackend(const Model& model, const Tokenizer& tokenizer, const RunOptions& run, std::string model_path);

  std::string name() const override;
  nlohmann::json describe() const override;
  BackendCapabilities capabilities() const override;
  std::vector<int> tokenize(const std::string& text) override;
  std::string detokenize(const std::vector<int>& ids) override;
  std::string render(const Conversation& conversation) override;
  Prompt prepare(const Conversation& conversation, const MediaOptions& media) override;
  ScoreResult score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) override;
  GenerateResult generate(const Prompt& prompt, const GenerateOptions& options,
                          const std::function<void(int)>& on_token = {}) override;
  Eigen::MatrixXd logits(const Prompt& prompt) override;
  Eigen::MatrixXd embed_media(const MediaInput& item) override;

  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const RunOptions& run_options() const { return run_; }

 private:
  std::unique_ptr<Model> owned_model_;
  std::unique_ptr<Tokenizer> owned_tokenizer_;
  const Model* model_ = nullptr;
  const Tokenizer* tokenizer_ = nullptr;
  RunOptions run_;
  std::string model_path_;
  GenerationConfig gen_;
};

}  // namespace g4ref
