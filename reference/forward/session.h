// A forward-pass session over one sequence: prefill, then incremental decode with a KV cache.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <utility>
#include <vector>

#include "model/options.h"
#include "model/tracer.h"
#include "model/weights.h"

namespace g4ref {

enum class LogitRows { none, last, all };

// One preprocessed media item, embedded by the session in its own precision. Placeholders take the rows of the
// items in order: image and video placeholders (token types 1, 2) the image items' patches, audio placeholders
// (type 3) the audio items' frames (spec §3.3, §4).
struct MediaInput {
  enum class Kind { image, audio };
  Kind kind = Kind::image;
  int64_t rows = 0, cols = 0;
  std::vector<float> values;              // rows × cols: image patches (HWC, in [0, 1]) or 16 kHz audio frames
  std::vector<std::pair<int, int>> xy;    // image only: (column, row) of each patch
};

class Session {
 public:
  virtual ~Session() = default;
  // Appends `tokens` (with their mm_token_type_ids; empty = all text) at the next positions and returns the
  // softcapped logits of the requested rows, as double whatever the precision.
  virtual Eigen::MatrixXd forward(const std::vector<int>& tokens, const std::vector<int>& token_types,
                                  LogitRows rows, const std::vector<MediaInput>& media = {}) = 0;
  virtual int64_t position() const = 0;  // number of tokens processed so far
};

std::unique_ptr<Session> make_session(const Model& model, const RunOptions& options, Tracer* tracer = nullptr);

}  // namespace g4ref
