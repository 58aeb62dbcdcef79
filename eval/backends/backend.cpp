// Provisional defaults of the Backend interface (replaced by the reference backend's own file when it lands).
#include "backends/backend.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace g4ref {

double ScoreResult::sum_logprob() const {
  double s = 0;
  for (const auto& t : tokens) s += t.logprob;
  return s;
}

bool ScoreResult::greedy() const {
  return std::all_of(tokens.begin(), tokens.end(), [](const TokenLogprob& t) { return t.rank == 1; });
}

Eigen::MatrixXd Backend::logits(const Prompt&) { fail(name(), "this backend does not return full logits"); }
Eigen::MatrixXd Backend::embed_media(const MediaInput&) { fail(name(), "this backend does not return media embeddings"); }

TokenLogprob token_logprob(const Eigen::VectorXd& logits, int target, int top_k) {
  const double m = logits.maxCoeff();
  double z = 0;
  for (Eigen::Index i = 0; i < logits.size(); ++i)
    if (std::isfinite(logits[i])) z += std::exp(logits[i] - m);
  const double lse = m + std::log(z);
  TokenLogprob t;
  t.id = target;
  t.logprob = logits[target] - lse;
  t.rank = 1;
  for (Eigen::Index i = 0; i < logits.size(); ++i)
    if (logits[i] > logits[target] || (logits[i] == logits[target] && i < target)) ++t.rank;
  std::vector<int> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  const int k = std::min<int>(top_k, static_cast<int>(order.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  for (int i = 0; i < k; ++i) t.top.push_back({order[i], logits[order[i]] - lse});
  return t;
}

}  // namespace g4ref
