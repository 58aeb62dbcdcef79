#include "backends/backend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"

namespace g4ref {

double ScoreResult::sum_logprob() const {
  double s = 0;
  for (const TokenLogprob& t : tokens) s += t.logprob;
  return s;
}

bool ScoreResult::greedy() const {
  return std::all_of(tokens.begin(), tokens.end(), [](const TokenLogprob& t) { return t.rank == 1; });
}

Eigen::MatrixXd Backend::logits(const Prompt&) { fail(name(), "this backend cannot give whole-vocabulary logits"); }

Eigen::MatrixXd Backend::embed_media(const MediaInput&) { fail(name(), "this backend cannot give media embeddings"); }

TokenLogprob token_logprob(const Eigen::VectorXd& logits, int target, int top_k) {
  if (target < 0 || target >= logits.size()) {
    fail("score", "token id " + std::to_string(target) + " is outside the vocabulary of " + std::to_string(logits.size()));
  }
  // log-softmax over the finite entries (suppressed tokens are −inf and carry no mass), in double.
  double max = -std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < logits.size(); ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i])) sum += std::exp(logits[i] - max);
  }
  const double log_z = max + std::log(sum);
  TokenLogprob t;
  t.id = target;
  t.logprob = logits[target] - log_z;
  // Rank: 1 + the entries strictly above the target, and equal ones with a lower id (ties go to the lowest id, as
  // greedy argmax does).
  int rank = 1;
  for (Eigen::Index i = 0; i < logits.size(); ++i) {
    if (logits[i] > logits[target] || (logits[i] == logits[target] && i < target)) ++rank;
  }
  t.rank = rank;
  for (const TopEntry& e : top_k_entries(logits, top_k)) t.top.push_back({e.id, e.logit - log_z});
  return t;
}

}  // namespace g4ref
