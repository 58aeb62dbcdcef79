#include "harness/scoring/exact_match.h"

#include "base/error.h"
#include "harness/scoring/regex.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

struct Prepared {
  std::vector<Regex> regexes;
  const ExactMatchOptions& o;
  explicit Prepared(const ExactMatchOptions& opts) : o(opts) {
    for (const auto& r : o.regexes_to_ignore) regexes.emplace_back(r, "--regex-ignore");
  }
  std::u32string apply(const std::string& text, const std::string& where) const {
    std::u32string s = utf8_to_u32(text, where);
    for (const auto& r : regexes) s = r.sub(s, U"");
    if (o.ignore_case) s = python_lower(s);
    if (o.ignore_punctuation || o.ignore_numbers) {
      std::u32string t;
      for (char32_t c : s) {
        if (o.ignore_punctuation && is_ascii_punctuation(c)) continue;
        if (o.ignore_numbers && c >= '0' && c <= '9') continue;
        t.push_back(c);
      }
      s = t;
    }
    return s;
  }
};

}  // namespace

bool exact_match_item(const std::string& prediction, const std::string& reference, const ExactMatchOptions& o) {
  const Prepared p(o);
  return p.apply(prediction, "prediction") == p.apply(reference, "reference");
}

std::vector<double> exact_match(const std::vector<std::string>& preds, const std::vector<std::string>& refs,
                                const ExactMatchOptions& o) {
  if (preds.size() != refs.size()) {
    fail("exact match", "the predictions and references differ in number (" + std::to_string(preds.size()) +
                            " vs " + std::to_string(refs.size()) + ")");
  }
  const Prepared p(o);
  std::vector<double> out;
  out.reserve(preds.size());
  for (size_t i = 0; i < preds.size(); ++i) {
    out.push_back(p.apply(preds[i], "prediction " + std::to_string(i + 1)) ==
                          p.apply(refs[i], "reference " + std::to_string(i + 1))
                      ? 1.0
                      : 0.0);
  }
  return out;
}

}  // namespace g4ref::scoring
