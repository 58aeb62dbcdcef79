#include "crosscheck/media_check.h"

#include <limits>

#include "compare/metrics.h"

namespace g4ref {

namespace {

TensorMetrics metrics_of(const Eigen::MatrixXd& golden, const Eigen::MatrixXd& candidate) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor g = golden, c = candidate;
  return tensor_metrics(g.data(), c.data(), g.size());
}

}  // namespace

MediaJudgement judge_media(Backend& candidate, const MediaInput& item, int index, const Eigen::MatrixXd& ref_exact,
                           const Eigen::MatrixXd& ref_f32, double max_nmse) {
  MediaJudgement r;
  r.kind = item.kind == MediaInput::Kind::image ? "image" : "audio";
  r.index = index;
  r.tokens = item.rows;
  const Eigen::MatrixXd theirs = candidate.embed_media(item);
  r.candidate_tokens = theirs.rows();
  if (theirs.rows() != ref_exact.rows() || theirs.cols() != ref_exact.cols()) {
    // A different token count fails the item (the candidate resized the image or framed the audio otherwise).
    r.nmse_f32 = r.nmse_exact = r.max_abs_f32 = std::numeric_limits<double>::infinity();
    return r;
  }
  const TensorMetrics vs_f32 = metrics_of(ref_f32, theirs);
  r.nmse_f32 = vs_f32.nmse;
  r.max_abs_f32 = vs_f32.max_abs;
  r.nmse_exact = metrics_of(ref_exact, theirs).nmse;
  r.pass = r.nmse_exact <= max_nmse;  // judged against the truth; the f32 figure shows how much is f32 rounding
  return r;
}

nlohmann::json media_json(const std::vector<MediaJudgement>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const MediaJudgement& r : items) {
    out.push_back({{"kind", r.kind}, {"index", r.index}, {"tokens", r.tokens}, {"llamacpp_tokens", r.candidate_tokens},
                   {"nmse_vs_f32", r.nmse_f32}, {"nmse_vs_exact", r.nmse_exact}, {"max_abs_vs_f32", r.max_abs_f32},
                   {"last_position", r.last_position}, {"verdict", r.pass ? "PASS" : "FAIL"}});
  }
  return out;
}

}  // namespace g4ref
