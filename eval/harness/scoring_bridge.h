// What the runner asks of the scorers: find the answer in a model's output by a task's extraction rules, score
// it against the target with the task's metric, and summarize a list of scores (mean, standard error, bootstrap
// 95 % interval). One seam, so the runner does not depend on how each metric is written.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace g4ref {

struct Extraction {
  bool parsed = false;
  std::string answer;   // normalized (a letter, an integer's digits, …)
  std::string rule;     // which rule matched ("pattern 0", …), for the sample record
};

// SPEC is the task's "extract" object: "extractor" (a published protocol's extraction, from the metric library:
// mmlu_pro, mmlu_pro_fallbacks, simple_evals, multilingual, letter, boxed_integer), or "patterns" (a task's own
// rules, tried in order, each {"regex" (Python re syntax), "group", "pick": first|last, "icase"}) with "map"
// (answer spellings → canonical) and "kind" (letter | integer | text).
Extraction extract_answer(const nlohmann::ordered_json& spec, const std::string& text, const std::string& where);

// 1 or 0 (or a fraction, for graded metrics) for ANSWER against TARGET; an unparsed answer scores 0.
double score_answer(const std::string& metric, const Extraction& answer, const std::string& target,
                    const std::string& where);

struct Summary {
  double mean = 0, stderr_ = 0, ci_low = 0, ci_high = 0;
  int64_t n = 0;
};
// CLUSTERS: one value per independent unit (a question's mean over its repeats). The bootstrap resamples units
// with a generator seeded by SEED, so the interval is a pure function of the values and the seed.
Summary summarize(const std::vector<double>& clusters, uint64_t seed, int iterations = 1000);

}  // namespace g4ref
