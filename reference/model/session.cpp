#include "model/session.h"

#include <omp.h>

#include "io/error.h"
#include "layers/decoder_layer.h"
#include "layers/embedding.h"
#include "layers/logits.h"

namespace g4ref {

namespace {

template <class P>
class SessionImpl final : public Session {
  using T = typename P::T;

 public:
  SessionImpl(const Model& model, const RunOptions& options, Tracer* tracer)
      : model_(model), options_(options), tracer_(tracer), caches_(model.config().text.num_hidden_layers) {
    const TextConfig& t = model.config().text;
    const bool wrong_rope = options.deviations.rope_rotated_denominator;
    inv_sliding_ = rope_inv_freq(t.rope_sliding, t.head_dim, wrong_rope);
    inv_full_ = rope_inv_freq(t.rope_full, t.global_head_dim, wrong_rope);
    embed_scale_ = embedding_scale(t.hidden_size, model.text().embed.dtype, options.embed_scale);
  }

  Eigen::MatrixXd forward(const std::vector<int>& tokens, const std::vector<int>& token_types,
                          LogitRows rows) override {
    if (tokens.empty()) return Eigen::MatrixXd(0, 0);
    if (!token_types.empty() && token_types.size() != tokens.size()) {
      fail("input tokens", "token types (" + std::to_string(token_types.size()) + ") and tokens (" +
                               std::to_string(tokens.size()) + ") differ in length");
    }
    if (options_.threads > 0) omp_set_num_threads(options_.threads);
    const ModelConfig& c = model_.config();
    const TextConfig& t = c.text;
    const TextWeights& w = model_.text();
    const int64_t n = static_cast<int64_t>(tokens.size());

    std::vector<int> types = token_types.empty() ? std::vector<int>(tokens.size(), kText) : token_types;
    std::vector<int64_t> positions(n);
    for (int64_t i = 0; i < n; ++i) positions[i] = position_ + i;
    std::vector<int> blocks = block_ids_from_token_types(types, next_block_);
    for (int b : blocks) next_block_ = std::max(next_block_, b + 1);

    if (tracer_ && position_ == 0) {
      record_ints("input.tokens", tokens);
      record_ints("input.token_types", types);
      std::vector<int> pos_int(positions.begin(), positions.end());
      record_ints("input.positions", pos_int);
    }

    Mat<T> h = embed_tokens<P>(w.embed, tokens, embed_scale_);
    trace(tracer_, "embed.out", h);

    for (int l = 0; l < t.num_hidden_layers; ++l) {
      AttentionShape a;
      a.layer = l;
      a.type = t.layer_types[l];
      a.heads = t.num_attention_heads;
      a.kv_heads = t.layer_kv_heads(l);
      a.head_dim = t.layer_head_dim(l);
      a.eps = t.rms_norm_eps;
      MaskRule rule;
      rule.layer_type = a.type;
      rule.window = t.sliding_window;
      rule.variant = options_.window;
      rule.window_off_by_one = options_.deviations.window_off_by_one;
      const std::vector<float>& inv = t.is_full(l) ? inv_full_ : inv_sliding_;
      h = decoder_layer<P>(h, w.layers[l], a, rule, inv, positions, blocks, options_.deviations, caches_[l],
                           tracer_);
    }
    position_ += n;

    if (rows == LogitRows::none && !(tracer_ && tracer_->wants("final_norm"))) return Eigen::MatrixXd(0, 0);
    // Only the rows asked for go through the final norm and the 262144-row output head.
    Mat<T> h_out = rows == LogitRows::last ? Mat<T>(h.bottomRows(1)) : h;
    const Vec<T> w_final = convert_vector<T>(w.final_norm);
    Mat<T> normed = rms_norm<P>(h_out, t.hidden_size, &w_final, t.rms_norm_eps, options_.deviations.norm_one_plus_w);
    trace(tracer_, "final_norm", normed);
    if (rows == LogitRows::none) return Eigen::MatrixXd(0, 0);
    Mat<T> z = logits<P>(normed, w.embed, t.final_logit_softcapping, tracer_);
    trace(tracer_, "logits", z);
    return z.template cast<double>();
  }

  int64_t position() const override { return position_; }

 private:
  void record_ints(const std::string& name, const std::vector<int>& v) {
    if (!tracer_->wants(name)) return;
    std::vector<double> d(v.begin(), v.end());
    tracer_->record(name, {static_cast<int64_t>(v.size())}, d.data());
  }

  const Model& model_;
  RunOptions options_;
  Tracer* tracer_;
  std::vector<LayerCache<T>> caches_;
  std::vector<float> inv_sliding_, inv_full_;
  double embed_scale_ = 1.0;
  int64_t position_ = 0;
  int next_block_ = 0;
};

}  // namespace

std::unique_ptr<Session> make_session(const Model& model, const RunOptions& options, Tracer* tracer) {
  switch (options.precision) {
    case Precision::exact: return std::make_unique<SessionImpl<ExactPolicy>>(model, options, tracer);
    case Precision::f32: return std::make_unique<SessionImpl<F32Policy>>(model, options, tracer);
    case Precision::bf16: return std::make_unique<SessionImpl<BF16Policy>>(model, options, tracer);
  }
  fail("precision", "unknown precision");
}

}  // namespace g4ref
