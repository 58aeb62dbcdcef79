#include "crosscheck/logits_check.h"

#include "base/error.h"

namespace g4ref {

Eigen::MatrixXd pick_rows(const Eigen::MatrixXd& all, const std::vector<int64_t>& positions) {
  Eigen::MatrixXd picked(static_cast<Eigen::Index>(positions.size()), all.cols());
  for (size_t r = 0; r < positions.size(); ++r) {
    if (positions[r] < 0 || positions[r] >= all.rows()) fail("logits", "position " + std::to_string(positions[r]) + " is outside the prompt");
    picked.row(static_cast<Eigen::Index>(r)) = all.row(positions[r]);
  }
  return picked;
}

LogitsJudgement judge_logits(const Eigen::MatrixXd& golden, const Eigen::MatrixXd& candidate,
                             const std::vector<int64_t>& positions, double max_nmse, double min_top1) {
  if (golden.rows() != candidate.rows() || golden.cols() != candidate.cols() ||
      golden.rows() != static_cast<Eigen::Index>(positions.size())) {
    fail("logits", "the candidate gave " + std::to_string(candidate.rows()) + " × " + std::to_string(candidate.cols()) +
                       " logits (expected " + std::to_string(golden.rows()) + " × " + std::to_string(golden.cols()) + ")");
  }
  LogitsJudgement j;
  j.positions = positions;
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor g = golden, c = candidate;
  j.logits = logits_metrics(g.data(), c.data(), g.rows(), g.cols());
  MetricOptions o;
  o.skip_one_sided_neg_inf = true;
  for (Eigen::Index p = 0; p < g.rows(); ++p) {
    const TensorMetrics m = tensor_metrics(g.data() + p * g.cols(), c.data() + p * c.cols(), g.cols(), o);
    j.nmse.push_back(m.nmse);
    j.worst_nmse = std::max(j.worst_nmse, m.nmse);
    if (j.first_failing_position < 0 && !(m.nmse <= max_nmse)) j.first_failing_position = positions[static_cast<size_t>(p)];
  }
  j.pass = j.first_failing_position < 0 && j.logits.top1_fraction >= min_top1;
  return j;
}

nlohmann::json judgement_json(const LogitsJudgement& j, bool with_rows) {
  nlohmann::json out = {{"worst_nmse", j.worst_nmse},
                        {"nmse", j.nmse},
                        {"worst_kl", j.logits.max_kl},
                        {"top1_agreement", j.logits.top1_fraction},
                        {"mean_top10_overlap", j.logits.mean_top10_overlap},
                        {"first_failing_position", j.first_failing_position}};
  if (with_rows) {
    const int64_t worst = j.logits.worst_position;
    out["worst_kl_position"] = worst >= 0 ? j.positions[static_cast<size_t>(worst)] : -1;
  }
  return out;
}

}  // namespace g4ref
