// A forward-pass session over one sequence: prefill, then incremental decode with a KV cache.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "numerics/eigen_core.h"
#include "model/options.h"
#include "model/tracer.h"
#include "model/weights.h"
#include "prompt/request.h"

namespace g4ref {

enum class LogitRows { none, last, all };

class Session {
 public:
  virtual ~Session() = default;
  // Appends `tokens` (with their mm_token_type_ids; empty = all text) at the next positions and returns the
  // softcapped logits of the requested rows, as double whatever the precision.
  virtual Eigen::MatrixXd forward(const std::vector<int>& tokens, const std::vector<int>& token_types,
                                  LogitRows rows, const std::vector<MediaInput>& media = {}) = 0;
  // A whole prompt (prompt/request.h): its ids, token types and media.
  Eigen::MatrixXd forward(const Prompt& prompt, LogitRows rows) {
    return forward(prompt.ids, prompt.token_types, rows, prompt.media);
  }
  virtual int64_t position() const = 0;  // number of tokens processed so far
};

std::unique_ptr<Session> make_session(const Model& model, const RunOptions& options, Tracer* tracer = nullptr);

// One media item through its embedder alone (spec §3.2 or §4) in PRECISION: [tokens, hidden], as the session
// writes it over the placeholders.
Eigen::MatrixXd embed_media(const Model& model, const MediaInput& item, Precision precision);

}  // namespace g4ref
