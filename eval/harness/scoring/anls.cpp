#include "harness/scoring/anls.h"

#include <algorithm>

#include "base/error.h"
#include "harness/scoring/edit_alignment.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

std::vector<uint32_t> ids(const std::u32string& s) { return std::vector<uint32_t>(s.begin(), s.end()); }

// " ".join(s.strip().lower().split())
std::u32string normalize(const std::u32string& s) {
  std::u32string out;
  for (const auto& w : python_split(python_lower(python_strip(s)))) {
    if (!out.empty()) out.push_back(U' ');
    out += w;
  }
  return out;
}

}  // namespace

double anls_question(const std::vector<std::string>& answers, const std::string& prediction, AnlsVariant variant,
                     double threshold) {
  if (answers.empty()) fail("ANLS", "a question has no accepted answers");
  const std::u32string pred_raw = utf8_to_u32(prediction, "prediction");
  const std::u32string pred = normalize(pred_raw);
  double min_nl = 1e300;
  for (const auto& a : answers) {
    const std::u32string gold_raw = utf8_to_u32(a, "answer");
    const std::u32string gold = normalize(gold_raw);
    const double dist = static_cast<double>(levenshtein_distance(ids(gold), ids(pred)));
    size_t length = 0;
    if (variant == AnlsVariant::lmms_eval) {
      length = std::max(python_upper(gold_raw).size(), python_upper(pred_raw).size());
    } else {
      length = std::max(gold.size(), pred.size());
    }
    const double nl = length == 0 ? 0.0 : dist / static_cast<double>(length);
    min_nl = std::min(min_nl, nl);
  }
  if (variant == AnlsVariant::lmms_eval) {
    const double score = 1 - min_nl;
    return score < threshold ? 0.0 : score;
  }
  return min_nl < threshold ? 1 - min_nl : 0.0;
}

double anls(const std::vector<std::vector<std::string>>& answers, const std::vector<std::string>& predictions,
            AnlsVariant variant, double threshold) {
  if (answers.size() != predictions.size()) {
    fail("ANLS", "the answers and predictions differ in number (" + std::to_string(answers.size()) + " vs " +
                     std::to_string(predictions.size()) + ")");
  }
  if (answers.empty()) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < answers.size(); ++i) sum += anls_question(answers[i], predictions[i], variant, threshold);
  return sum / static_cast<double>(answers.size());
}

}  // namespace g4ref::scoring
