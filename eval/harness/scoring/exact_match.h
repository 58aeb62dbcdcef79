// Exact match with lm-evaluation-harness semantics (lm_eval/api/metrics.py, exact_match_hf_evaluate;
// claims-and-evals §4.6): each regex of regexes_to_ignore is removed from both strings (re.sub(r, "", s), in
// order), then optionally str.lower() (ignore_case), deletion of ASCII string.punctuation (ignore_punctuation)
// and of ASCII digits (ignore_numbers); the strings then compare exactly. The score is the mean over items.
#pragma once

#include <string>
#include <vector>

namespace g4ref::scoring {

struct ExactMatchOptions {
  std::vector<std::string> regexes_to_ignore;  // ICU syntax (regex.h), applied in order
  bool ignore_case = false;
  bool ignore_punctuation = false;
  bool ignore_numbers = false;
};

// lm-eval's sentinel for an output the answer filter could not parse: it scores 0 like a wrong answer, and the
// harness counts it apart.
inline constexpr const char* kInvalidAnswer = "[invalid]";

bool exact_match_item(const std::string& prediction, const std::string& reference, const ExactMatchOptions& o = {});
// Per-item scores (0 or 1).
std::vector<double> exact_match(const std::vector<std::string>& predictions, const std::vector<std::string>& references,
                                const ExactMatchOptions& options = {});

}  // namespace g4ref::scoring
