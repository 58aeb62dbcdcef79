#include "forward/session.h"

#include <omp.h>

#include "base/error.h"
#include "forward/kv_cache.h"
#include "forward/limits.h"
#include "base/profile.h"
#include "layers/audio_embedder.h"
#include "layers/decoder_layer.h"
#include "layers/embedding.h"
#include "layers/logits.h"
#include "layers/vision_embedder.h"
#include "prompt/media_placeholders.h"

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
    embed_scale_ = embedding_scale(t.hidden_size, model.embedding_scale_dtype(), options.embed_scale);
    // Each layer's shapes, mask rule and RoPE frequencies depend only on the config and the options.
    for (int l = 0; l < t.num_hidden_layers; ++l) {
      LayerSetup s;
      s.shape.layer = l;
      s.shape.type = t.layer_types[l];
      s.shape.heads = t.num_attention_heads;
      s.shape.kv_heads = t.layer_kv_heads(l);
      s.shape.head_dim = t.layer_head_dim(l);
      s.shape.eps = t.rms_norm_eps;
      s.rule.layer_type = s.shape.type;
      s.rule.window = t.sliding_window;
      s.rule.variant = options.window;
      s.rule.window_off_by_one = options.deviations.window_off_by_one;
      s.rule.image_attention = options.image_attention;
      s.inv_freq = t.is_full(l) ? &inv_full_ : &inv_sliding_;
      layers_.push_back(s);
    }
  }

  Eigen::MatrixXd forward(const std::vector<int>& tokens, const std::vector<int>& token_types, LogitRows rows,
                          const std::vector<MediaInput>& media) override {
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
    check_forward_size(position_, n, sizeof(T));

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

    // Placeholders are looked up as PAD, then overwritten by the media features, which are not scaled (§2.2).
    std::vector<int> lookup = tokens;
    for (int64_t i = 0; i < n && !options_.token_types_for_masks_only; ++i) {
      if (types[i] != kText) lookup[i] = t.pad_token_id;
    }
    StageTimer t_embed(Stage::embed);
    Mat<T> h = embed_tokens<P>(w.embed, lookup, embed_scale_);
    t_embed.stop();
    if (!options_.token_types_for_masks_only) scatter_media(h, types, media);
    trace(tracer_, "embed.out", h);

    for (int l = 0; l < t.num_hidden_layers; ++l) {
      const LayerSetup& s = layers_[static_cast<size_t>(l)];
      h = decoder_layer<P>(h, w.layers[l], s.shape, s.rule, *s.inv_freq, positions, blocks, options_.deviations,
                           caches_[l], tracer_);
    }
    position_ += n;

    if (rows == LogitRows::none && !(tracer_ && tracer_->wants("final_norm"))) return Eigen::MatrixXd(0, 0);
    // Only the rows asked for go through the final norm and the 262144-row output head.
    Mat<T> h_out = rows == LogitRows::last ? Mat<T>(h.bottomRows(1)) : h;
    StageTimer t_final_norm(Stage::norms);
    const Vec<T> w_final = convert_vector<T>(w.final_norm);
    Mat<T> normed = rms_norm<P>(h_out, t.hidden_size, &w_final, t.rms_norm_eps, options_.deviations.norm_one_plus_w);
    t_final_norm.stop();
    trace(tracer_, "final_norm", normed);
    if (rows == LogitRows::none) return Eigen::MatrixXd(0, 0);
    StageTimer t_logits(Stage::logits);
    Mat<T> z = logits<P>(normed, w.embed, t.final_logit_softcapping, tracer_);
    t_logits.stop();
    trace(tracer_, "logits", z);
    return z.template cast<double>();
  }

  int64_t position() const override { return position_; }

 private:
  // Embeds each media item and writes its rows over the placeholders of its kind, in order.
  void scatter_media(Mat<T>& h, const std::vector<int>& types, const std::vector<MediaInput>& media) {
    StageTimer t_media(Stage::media);  // placeholders without media still go through the checks below
    const ModelConfig& c = model_.config();
    std::vector<Mat<T>> image_rows, audio_rows;
    for (const MediaInput& m : media) {
      require_media_tokens(c, m.kind == MediaInput::Kind::image ? MediaKind::image : MediaKind::audio, model_.dir());
      if (m.values.size() != static_cast<size_t>(m.rows * m.cols)) {
        fail("media input", "holds " + std::to_string(m.values.size()) + " values for " + std::to_string(m.rows) +
                                " × " + std::to_string(m.cols));
      }
      Mat<T> x(m.rows, m.cols);
      for (int64_t i = 0; i < m.rows * m.cols; ++i) x.data()[i] = static_cast<T>(m.values[i]);
      if (m.kind == MediaInput::Kind::image) {
        if (!model_.vision()) fail(model_.dir(), "the checkpoint has no vision embedder, but the input has an image");
        if (m.cols != c.vision.patch_values() || m.xy.size() != static_cast<size_t>(m.rows)) {
          fail("image input", "expected " + std::to_string(c.vision.patch_values()) +
                                  " values and one (x, y) per patch, found " + std::to_string(m.cols) + " and " +
                                  std::to_string(m.xy.size()));
        }
        const std::string pre = "image." + std::to_string(images_seen_++) + ".";
        image_rows.push_back(vision_embed<P>(x, m.xy, *model_.vision(), c.vision, pre, tracer_));
      } else {
        if (!model_.audio()) fail(model_.dir(), "the checkpoint has no audio embedder, but the input has audio");
        if (m.cols != c.audio.audio_embed_dim) {
          fail("audio input", "frames of " + std::to_string(m.cols) + " samples (expected audio_embed_dim = " +
                                  std::to_string(c.audio.audio_embed_dim) + ")");
        }
        const std::string pre = "audio." + std::to_string(audio_seen_++) + ".";
        audio_rows.push_back(audio_embed<P>(x, model_.audio()->projection, c.audio.rms_norm_eps, pre, tracer_));
      }
    }
    auto place = [&](std::vector<Mat<T>>& items, bool (*is_kind)(int), const char* what) {
      size_t item = 0;
      int64_t row = 0;
      for (size_t i = 0; i < types.size(); ++i) {
        if (!is_kind(types[i])) continue;
        while (item < items.size() && row >= items[item].rows()) {
          ++item;
          row = 0;
        }
        if (item >= items.size()) fail("prompt", std::string("more ") + what + " placeholders than " + what + " features");
        h.row(static_cast<Eigen::Index>(i)) = items[item].row(row++);
      }
      const int64_t left = item < items.size() ? items[item].rows() - row : 0;
      int64_t unused = left;
      for (size_t k = item + 1; k < items.size(); ++k) unused += items[k].rows();
      if (unused > 0) fail("prompt", std::to_string(unused) + " " + what + " features have no placeholder");
    };
    place(image_rows, [](int t) { return t == kImage || t == kVideo; }, "image");
    place(audio_rows, [](int t) { return t == kAudio; }, "audio");
  }

  void record_ints(const std::string& name, const std::vector<int>& v) {
    if (!tracer_->wants(name)) return;
    std::vector<double> d(v.begin(), v.end());
    tracer_->record(name, {static_cast<int64_t>(v.size())}, d.data());
  }

  const Model& model_;
  RunOptions options_;
  Tracer* tracer_;
  struct LayerSetup {
    AttentionShape shape;
    MaskRule rule;
    const std::vector<float>* inv_freq = nullptr;
  };
  std::vector<LayerSetup> layers_;
  std::vector<LayerCache<T>> caches_;
  std::vector<float> inv_sliding_, inv_full_;
  double embed_scale_ = 1.0;
  int64_t position_ = 0;
  int next_block_ = 0;
  int images_seen_ = 0;
  int audio_seen_ = 0;
};

}  // namespace

namespace {

template <class P>
Eigen::MatrixXd embed_media_as(const Model& model, const MediaInput& m) {
  using T = typename P::T;
  const ModelConfig& c = model.config();
  if (m.values.size() != static_cast<size_t>(m.rows * m.cols)) fail("media input", "values do not match its shape");
  Mat<T> x(m.rows, m.cols);
  for (int64_t i = 0; i < m.rows * m.cols; ++i) x.data()[i] = static_cast<T>(m.values[static_cast<size_t>(i)]);
  if (m.kind == MediaInput::Kind::image) {
    if (!model.vision()) fail(model.dir(), "the checkpoint has no vision embedder");
    return vision_embed<P>(x, m.xy, *model.vision(), c.vision, "", nullptr).template cast<double>();
  }
  if (!model.audio()) fail(model.dir(), "the checkpoint has no audio embedder");
  return audio_embed<P>(x, model.audio()->projection, c.audio.rms_norm_eps, "", nullptr).template cast<double>();
}

}  // namespace

Eigen::MatrixXd embed_media(const Model& model, const MediaInput& item, Precision precision) {
  switch (precision) {
    case Precision::exact: return embed_media_as<ExactPolicy>(model, item);
    case Precision::f32: return embed_media_as<F32Policy>(model, item);
    case Precision::bf16: return embed_media_as<BF16Policy>(model, item);
  }
  fail("precision", "unknown precision");
}

std::unique_ptr<Session> make_session(const Model& model, const RunOptions& options, Tracer* tracer) {
  switch (options.precision) {
    case Precision::exact: return std::make_unique<SessionImpl<ExactPolicy>>(model, options, tracer);
    case Precision::f32: return std::make_unique<SessionImpl<F32Policy>>(model, options, tracer);
    case Precision::bf16: return std::make_unique<SessionImpl<BF16Policy>>(model, options, tracer);
  }
  fail("precision", "unknown precision");
}

}  // namespace g4ref
