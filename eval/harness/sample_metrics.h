// The metrics that read more of a sample than one extracted answer and one target string: document QA (ANLS over
// every accepted answer), speech recognition (FLEURS word or character error rate, pooled over the corpus),
// speech translation (CoVoST 2 corpus BLEU on the text after the target-language label), MRCR (its prefix rule and
// difflib ratio) and MATH-Vision (the last \boxed{} against the answer letter or the option's value). Each sample
// gets its own score (a sentence-level value for the corpus metrics) and, for a corpus metric, the sufficient
// statistics its record keeps, so results.json pools them exactly as the published scorer pools a corpus.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/scoring_bridge.h"
#include "harness/task.h"

namespace g4ref {

// anls | asr_error_rate | bleu | mrcr | math_vision
bool is_sample_metric(const std::string& metric);
// asr_error_rate | bleu: results pool the records' statistics instead of averaging their scores.
bool is_corpus_metric(const std::string& metric);
// false for error rates (lower is better).
bool higher_is_better(const std::string& metric);

struct SampleScore {
  Extraction extraction;
  double score = 0;
  nlohmann::ordered_json stats;    // corpus metrics: what the record keeps for pooling (also the normalized texts)
};

// OUTPUT is the model's answer with its thought channel removed. The task's "scoring" object holds the metric's
// options (see eval/tasks/README.md): asr_error_rate — language_field, english (languages given Whisper's English
// normalizer), characters (languages scored by characters), normalizer (lmms_eval | none); bleu — tokenize,
// lowercase, normalize (lmms-eval's Whisper-English normalization of both sides, off by default); the task's
// "extract.after_label" (bleu: the label the translation follows, e.g. "English:").
SampleScore score_sample(const Task& task, const Sample& sample, const std::string& output);

// The corpus value of RECORDS (their "stats"): asr_error_rate the pooled edit distance over the pooled reference
// length; bleu sacreBLEU's corpus score of the pooled n-gram statistics (SIGNATURE: its sacreBLEU signature).
double corpus_value(const std::string& metric, const nlohmann::ordered_json& task_spec,
                    const std::vector<const nlohmann::ordered_json*>& records, std::string* signature = nullptr);

}  // namespace g4ref
