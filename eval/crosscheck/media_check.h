// Judging a candidate's projected media embeddings (image patches, audio frames) against the reference's on
// the same item: token count, then NMSE with the compare metrics against exact (the verdict) and f32.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "numerics/eigen_core.h"
#include "backends/backend.h"

namespace g4ref {

struct MediaJudgement {
  std::string kind;  // image or audio
  int index = 0;     // among the items of its kind
  int64_t tokens = 0, candidate_tokens = 0;
  double nmse_f32 = 0, nmse_exact = 0, max_abs_f32 = 0;
  int64_t last_position = -1;  // of its placeholder run in the prompt
  bool pass = false;
};

// CANDIDATE embeds ITEM; REF_EXACT and REF_F32 are the reference's embeddings of it.
MediaJudgement judge_media(Backend& candidate, const MediaInput& item, int index, const Eigen::MatrixXd& ref_exact,
                           const Eigen::MatrixXd& ref_f32, double max_nmse);

nlohmann::json media_json(const std::vector<MediaJudgement>& items);

}  // namespace g4ref
