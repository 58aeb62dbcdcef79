// The runner's seam to the metric library (eval/harness/scoring/): a task names a published extractor
// ("extractor") or lists its own patterns ("patterns", in the library's Python-like regex dialect); the scores and
// their statistics are the library's.
#include "harness/scoring_bridge.h"

#include "base/error.h"
#include <algorithm>

#include "harness/scoring/answer_extraction.h"
#include "harness/scoring/exact_match.h"
#include "harness/scoring/regex.h"
#include "harness/scoring/statistics.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref {
namespace {

std::string canonical_integer(const std::string& text) {
  std::string s;
  for (char c : text)
    if (c != ',' && c != ' ' && c != '$') s += c;
  const bool neg = !s.empty() && s[0] == '-';
  if (neg) s.erase(0, 1);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return "";
  s.erase(0, std::min(s.find_first_not_of('0'), s.size() - 1));
  return (neg && s != "0" ? "-" : "") + s;
}

}  // namespace

Extraction extract_answer(const nlohmann::ordered_json& spec, const std::string& text, const std::string& where) {
  Extraction out;
  const std::string kind = spec.value("kind", "text");
  if (spec.contains("extractor")) {
    const std::string e = spec["extractor"].get<std::string>();
    std::optional<std::string> a;
    if (e == "mmlu_pro") a = scoring::extract_mmlu_pro_answer(text, false);
    else if (e == "mmlu_pro_fallbacks") a = scoring::extract_mmlu_pro_answer(text, true);
    else if (e == "simple_evals") a = scoring::extract_simple_evals_answer(text);
    else if (e == "multilingual") a = scoring::extract_multilingual_answer(text);
    else if (e == "letter") a = scoring::extract_letter(text);
    else if (e == "boxed_integer") {
      const auto v = scoring::extract_boxed_integer(text);
      if (v) a = std::to_string(*v);
    } else {
      fail(where, "unknown extract.extractor \"" + e + "\" (known: mmlu_pro, mmlu_pro_fallbacks, simple_evals, multilingual, letter, boxed_integer)");
    }
    if (a) {
      out.parsed = true;
      out.answer = *a;
      out.rule = e;
    }
    return out;
  }
  const auto& patterns = spec.contains("patterns") ? spec["patterns"] : nlohmann::ordered_json::array();
  const std::u32string u = scoring::utf8_to_u32(text, where + ": model output");
  for (size_t i = 0; i < patterns.size() && !out.parsed; ++i) {
    const auto& p = patterns[i];
    std::string re = p.at("regex").get<std::string>();
    if (p.value("icase", false)) re = "(?i)" + re;
    const scoring::Regex rx(re, where + ": extract.patterns[" + std::to_string(i) + "]");
    const size_t group = p.value("group", 1);
    const bool last = p.value("pick", "first") == "last";
    std::optional<std::u32string> found;
    if (last) {
      std::u32string rest = u;  // the last match: search again after each match
      while (auto m = rx.search(rest)) {
        if (m->size() <= group) break;
        found = (*m)[group];
        const size_t at = rest.find((*m)[0]);
        if (at == std::u32string::npos || (*m)[0].empty()) break;
        rest = rest.substr(at + (*m)[0].size());
      }
    } else if (auto m = rx.search(u)) {
      if (m->size() > group) found = (*m)[group];
    }
    if (!found) continue;
    std::string a = scoring::u32_to_utf8(scoring::python_strip(*found));
    if (spec.contains("map") && spec["map"].contains(a)) a = spec["map"][a].get<std::string>();
    if (kind == "integer") {
      a = canonical_integer(a);
      if (a.empty()) continue;
    }
    out.parsed = true;
    out.answer = a;
    out.rule = "pattern " + std::to_string(i);
  }
  return out;
}

double score_answer(const std::string& metric, const Extraction& answer, const std::string& target,
                    const std::string& where) {
  if (!answer.parsed) return 0.0;
  if (metric == "mcq_accuracy" || metric == "exact_match") return scoring::exact_match_item(answer.answer, target) ? 1.0 : 0.0;
  if (metric == "integer_match") {
    const std::string t = canonical_integer(target);
    return !t.empty() && canonical_integer(answer.answer) == t ? 1.0 : 0.0;
  }
  fail(where, "unknown metric \"" + metric + "\" (known: mcq_accuracy, exact_match, integer_match)");
}

Summary summarize(const std::vector<double>& x, uint64_t seed, int iterations) {
  Summary s;
  s.n = static_cast<int64_t>(x.size());
  if (x.empty()) return s;
  s.mean = scoring::mean(x);
  s.stderr_ = scoring::standard_error(x);
  const scoring::BootstrapResult b = scoring::bootstrap_mean(x, iterations, seed);
  s.ci_low = b.low;
  s.ci_high = b.high;
  return s;
}

}  // namespace g4ref
