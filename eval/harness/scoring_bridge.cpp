// Provisional scorers, to be replaced by the calls into eval/harness/scoring/ (the metric library) when it is
// merged: the regex chain of the task files, exact and integer match, and the percentile bootstrap.
#include "harness/scoring_bridge.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "base/error.h"

namespace g4ref {
namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// simple-evals' normalize_response: markdown bold and LaTeX wrappers removed before the answer patterns.
std::string normalize_step(const std::string& step, std::string s, const std::string& where) {
  if (step == "strip_markdown_latex") {
    for (const char* w : {"**", "$\\boxed{", "}$", "\\$", "$\\text{", "$", "\\mathrm{", "\\{", "\\text", "\\(", "\\mathbf{", "{", "\\boxed"})
      s = replace_all(s, w, "");
    return s;
  }
  if (step == "trim") return trim(s);
  fail(where, "unknown extract.normalize step \"" + step + "\" (known: strip_markdown_latex, trim)");
}

std::string canonical_integer(const std::string& text) {
  std::string s;
  for (char c : text)
    if (c != ',' && c != ' ') s += c;
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.erase(0, 1);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return "";
  s.erase(0, std::min(s.find_first_not_of('0'), s.size() - 1));
  return (neg && s != "0" ? "-" : "") + s;
}

}  // namespace

Extraction extract_answer(const nlohmann::ordered_json& spec, const std::string& text, const std::string& where) {
  std::string s = text;
  if (spec.contains("normalize"))
    for (const auto& step : spec["normalize"]) s = normalize_step(step.get<std::string>(), s, where);
  const std::string kind = spec.value("kind", "text");
  Extraction out;
  const auto& patterns = spec.contains("patterns") ? spec["patterns"] : nlohmann::ordered_json::array();
  for (size_t i = 0; i < patterns.size() && !out.parsed; ++i) {
    const auto& p = patterns[i];
    auto flags = std::regex::ECMAScript;
    if (p.value("icase", false)) flags |= std::regex::icase;
    std::regex re;
    try {
      re = std::regex(p.at("regex").get<std::string>(), flags);
    } catch (const std::regex_error& e) {
      fail(where, "extract.patterns[" + std::to_string(i) + "]: bad regex (" + e.what() + ")");
    }
    const int group = p.value("group", 1);
    const bool last = p.value("pick", "first") == "last";
    std::string found;
    bool any = false;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it) {
      found = (*it)[group].str();
      any = true;
      if (!last) break;
    }
    if (!any) continue;
    found = trim(found);
    if (spec.contains("map") && spec["map"].contains(found)) found = spec["map"][found].get<std::string>();
    if (kind == "integer") {
      found = canonical_integer(found);
      if (found.empty()) continue;
    }
    out.parsed = true;
    out.answer = found;
    out.rule = "pattern " + std::to_string(i);
  }
  return out;
}

double score_answer(const std::string& metric, const Extraction& answer, const std::string& target,
                    const std::string& where) {
  if (!answer.parsed) return 0.0;
  if (metric == "mcq_accuracy" || metric == "exact_match") return answer.answer == trim(target) ? 1.0 : 0.0;
  if (metric == "integer_match") {
    const std::string t = canonical_integer(target);
    return !t.empty() && answer.answer == t ? 1.0 : 0.0;
  }
  fail(where, "unknown metric \"" + metric + "\" (known: mcq_accuracy, exact_match, integer_match)");
}

Summary summarize(const std::vector<double>& x, uint64_t seed, int iterations) {
  Summary s;
  s.n = static_cast<int64_t>(x.size());
  if (x.empty()) return s;
  double sum = 0;
  for (double v : x) sum += v;
  s.mean = sum / x.size();
  if (x.size() > 1) {
    double ss = 0;
    for (double v : x) ss += (v - s.mean) * (v - s.mean);
    s.stderr_ = std::sqrt(ss / (x.size() - 1) / x.size());
  }
  std::vector<double> means(iterations);
  uint64_t state = seed ^ 0x5851F42D4C957F2Dull;
  auto next = [&state] {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (int b = 0; b < iterations; ++b) {
    double t = 0;
    for (size_t i = 0; i < x.size(); ++i) t += x[next() % x.size()];
    means[b] = t / x.size();
  }
  std::sort(means.begin(), means.end());
  s.ci_low = means[static_cast<size_t>(std::floor(0.025 * (iterations - 1)))];
  s.ci_high = means[static_cast<size_t>(std::ceil(0.975 * (iterations - 1)))];
  return s;
}

}  // namespace g4ref
