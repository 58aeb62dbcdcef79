#include "harness/scoring/error_rate.h"

#include <map>

#include "base/error.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

// jiwer's RemoveMultipleSpaces: re.sub(r"\s\s+", " ", s) — a lone whitespace character is kept as it is.
std::u32string remove_multiple_spaces(const std::u32string& s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    if (is_python_space(s[i])) {
      size_t j = i;
      while (j < s.size() && is_python_space(s[j])) ++j;
      if (j - i >= 2) {
        out.push_back(U' ');
      } else {
        out.push_back(s[i]);
      }
      i = j;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// ReduceToListOfListOfWords: split on " " only, dropping empty strings.
std::vector<std::u32string> split_on_space(const std::u32string& s) {
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(U' ', i);
    if (j == std::u32string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

ErrorRates error_rates(const std::vector<std::string>& refs, const std::vector<std::string>& hyps, ErrorUnit unit) {
  if (refs.size() != hyps.size()) {
    fail("error rate", "the references and hypotheses differ in number (" + std::to_string(refs.size()) + " vs " +
                           std::to_string(hyps.size()) + ")");
  }
  std::map<std::u32string, uint32_t> vocabulary;
  auto to_ids = [&](const std::string& text, const std::string& where) {
    std::u32string s = utf8_to_u32(text, where);
    std::vector<uint32_t> ids;
    if (unit == ErrorUnit::characters) {
      for (char32_t c : python_strip(s)) ids.push_back(static_cast<uint32_t>(c));
      return ids;
    }
    for (const auto& w : split_on_space(python_strip(remove_multiple_spaces(s)))) {
      auto it = vocabulary.emplace(w, static_cast<uint32_t>(vocabulary.size())).first;
      ids.push_back(it->second);
    }
    return ids;
  };
  ErrorRates r;
  for (size_t k = 0; k < refs.size(); ++k) {
    const auto ref = to_ids(refs[k], "reference " + std::to_string(k + 1));
    const auto hyp = to_ids(hyps[k], "hypothesis " + std::to_string(k + 1));
    const EditCounts c = align(ref, hyp);
    r.counts.hits += c.hits;
    r.counts.substitutions += c.substitutions;
    r.counts.deletions += c.deletions;
    r.counts.insertions += c.insertions;
    r.reference_length += ref.size();
    r.hypothesis_length += hyp.size();
  }
  const auto H = static_cast<double>(r.counts.hits);
  const auto S = static_cast<double>(r.counts.substitutions);
  const auto D = static_cast<double>(r.counts.deletions);
  const auto I = static_cast<double>(r.counts.insertions);
  if (r.reference_length == 0) {
    r.wer = I;
    r.mer = r.hypothesis_length == 0 ? 0.0 : 1.0;
    r.wip = r.hypothesis_length == 0 ? 1.0 : 0.0;
  } else {
    r.wer = (S + D + I) / (H + S + D);
    r.mer = (S + D + I) / (H + S + D + I);
    r.wip = r.hypothesis_length >= 1
                ? (H / static_cast<double>(r.reference_length)) * (H / static_cast<double>(r.hypothesis_length))
                : 0.0;
  }
  r.wil = 1 - r.wip;
  return r;
}

}  // namespace g4ref::scoring
