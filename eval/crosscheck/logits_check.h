// Judging a candidate's logits against the reference's, position by position, with the compare metrics
// (eval/compare/metrics.h): NMSE per position, KL, top-1 and top-10 agreement; a position fails when its NMSE
// exceeds the threshold, and the verdict also needs the top-1 agreement.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "numerics/eigen_core.h"
#include "compare/metrics.h"

namespace g4ref {

struct LogitsJudgement {
  std::vector<int64_t> positions;  // the prompt positions compared, one per row
  std::vector<double> nmse;        // per row
  LogitsMetrics logits;
  double worst_nmse = 0;
  int64_t first_failing_position = -1;  // a prompt position, -1 if none
  bool pass = false;
};

// GOLDEN and CANDIDATE: the rows at POSITIONS (same order), [positions, vocab]. Tokens −inf on one side only
// (suppressed tokens) are left out of that row's NMSE, as of its KL.
LogitsJudgement judge_logits(const Eigen::MatrixXd& golden, const Eigen::MatrixXd& candidate,
                             const std::vector<int64_t>& positions, double max_nmse, double min_top1);

// The rows of ALL at POSITIONS.
Eigen::MatrixXd pick_rows(const Eigen::MatrixXd& all, const std::vector<int64_t>& positions);

nlohmann::json judgement_json(const LogitsJudgement& j, bool with_rows);

}  // namespace g4ref
