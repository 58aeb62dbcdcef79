#include "backends/reference_backend.h"

#include <chrono>

#include "base/error.h"

namespace g4ref {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}


}  // namespace

ReferenceBackend::ReferenceBackend(const ReferenceBackendOptions& o)
    : owned_model_(Model::load(o.model, o.mmproj)),
      owned_tokenizer_(load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer)),
      model_(owned_model_.get()),
      tokenizer_(owned_tokenizer_.get()),
      run_(o.run),
      model_path_(o.model),
      gen_(load_generation_config(o.model, owned_model_->config())) {}

ReferenceBackend::ReferenceBackend(const Model& model, const Tokenizer& tokenizer, const RunOptions& run,
                                   std::string model_path)
    : model_(&model),
      tokenizer_(&tokenizer),
      run_(run),
      model_path_(std::move(model_path)),
      gen_(load_generation_config(model_path_, model.config())) {}

std::string ReferenceBackend::name() const { return "reference " + precision_name(run_.precision); }

nlohmann::json ReferenceBackend::describe() const {
  return {{"kind", "reference"},
          {"precision", precision_name(run_.precision)},
          {"config_hash", model_->config().hash()},
          {"embed_scale", run_.embed_scale == EmbedScale::hf ? "hf" : "llamacpp"},
          {"window", run_.window == WindowVariant::lower ? "lower" : "symmetric"},
          {"image_attention", run_.image_attention == ImageAttention::sliding_layers ? "sliding" : "all"},
          {"g4ref_version", G4REF_VERSION}};
}

BackendCapabilities ReferenceBackend::capabilities() const {
  BackendCapabilities c;
  c.full_logits = true;
  c.images = c.video = model_->config().vision.present;
  c.audio = model_->config().audio.present;
  c.media_embeddings = true;
  c.max_top_logprobs = static_cast<int>(model_->config().text.vocab_size);
  return c;
}

std::vector<int> ReferenceBackend::tokenize(const std::string& text) { return tokenizer_->encode(text); }

std::string ReferenceBackend::detokenize(const std::vector<int>& ids) { return tokenizer_->decode(ids); }

std::string ReferenceBackend::render(const Conversation& conversation) { return g4ref::render(conversation); }

Prompt ReferenceBackend::prepare(const Conversation& conversation, const MediaOptions& media) {
  return build_prompt(conversation, *tokenizer_, model_->config(), media);
}

ScoreResult ReferenceBackend::score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) {
  if (prompt.ids.empty()) fail(name(), "cannot score after an empty prompt");
  ScoreResult r;
  r.prompt_ids = prompt.ids;
  auto session = make_session(*model_, run_);
  // The prompt's last row predicts the first continuation token; each continuation token's row the next one.
  const Eigen::MatrixXd first = session->forward(prompt, LogitRows::last);
  std::vector<int> tail(continuation.begin(), continuation.empty() ? continuation.end() : continuation.end() - 1);
  const Eigen::MatrixXd rest = tail.empty() ? Eigen::MatrixXd() : session->forward(tail, {}, LogitRows::all);
  for (size_t i = 0; i < continuation.size(); ++i) {
    Eigen::VectorXd row = i == 0 ? Eigen::VectorXd(first.row(0).transpose()) : Eigen::VectorXd(rest.row(i - 1).transpose());
    suppress(row, gen_.suppress_tokens);
    r.tokens.push_back(token_logprob(row, continuation[i], top_k));
  }
  return r;
}

GenerateResult ReferenceBackend::generate(const Prompt& prompt, const GenerateOptions& o,
                                          const std::function<void(int)>& on_token) {
  GenerateResult r;
  r.prompt_ids = prompt.ids;
  auto session = make_session(*model_, run_);
  const auto t0 = std::chrono::steady_clock::now();
  auto t_first = t0;
  bool first = true;
  std::string stop_hit;
  GenerationHooks hooks;
  hooks.on_logits = [&](int id, const Eigen::VectorXd& logits) {
    if (first) {
      t_first = std::chrono::steady_clock::now();
      first = false;
    }
    if (o.top_logprobs > 0) r.logprobs.push_back(token_logprob(logits, id, o.top_logprobs));
  };
  hooks.on_token = on_token;
  if (!o.stop.empty() || o.cancelled) {
    hooks.stop_now = [&](const std::vector<int>& ids) {
      if (o.cancelled && o.cancelled()) return true;
      if (o.stop.empty()) return false;
      const std::string text = tokenizer_->decode(ids);
      for (const std::string& s : o.stop) {
        if (!s.empty() && text.find(s) != std::string::npos) {
          stop_hit = s;
          return true;
        }
      }
      return false;
    };
  }
  const GenerationResult g = g4ref::generate(*session, prompt, o.max_new_tokens, o.sampling, gen_, hooks);
  r.prompt_seconds = std::chrono::duration<double>(t_first - t0).count();
  r.decode_seconds = seconds_since(t_first);
  r.ids = g.generated;
  std::vector<int> text_ids = g.generated;
  if (g.stop_reason == "stop_token" && !text_ids.empty()) text_ids.pop_back();
  r.text = tokenizer_->decode(text_ids);
  if (!stop_hit.empty()) r.text = r.text.substr(0, r.text.find(stop_hit));
  r.finish_reason = g.stop_reason == "max_new_tokens" ? "length" : "stop";
  return r;
}

Eigen::MatrixXd ReferenceBackend::logits(const Prompt& prompt) {
  Eigen::MatrixXd z = make_session(*model_, run_)->forward(prompt, LogitRows::all);
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    Eigen::VectorXd row = z.row(i).transpose();
    suppress(row, gen_.suppress_tokens);
    z.row(i) = row.transpose();
  }
  return z;
}

Eigen::MatrixXd ReferenceBackend::embed_media(const MediaInput& item) {
  return g4ref::embed_media(*model_, item, run_.precision);
}

}  // namespace g4ref
