// Word and character error rates as jiwer 4.0.0 computes them (jiwer.process_words / process_characters):
// each reference/hypothesis pair is aligned on its own and the counts are pooled over the corpus.
//   words:  default transform = collapse runs of 2+ whitespace to one space, strip, split on " " (no lowercasing,
//           no punctuation removal); a single tab stays inside a word, as in jiwer.
//   chars:  strip, then every code point is a symbol (spaces included).
// WER = (S+D+I)/(H+S+D); MER = (S+D+I)/(H+S+D+I); WIP = (H/N_ref)(H/N_hyp) (0 when N_hyp = 0); WIL = 1 − WIP.
// Empty references (jiwer 4 edge case): with N_ref = 0 the WER is the number of insertions, MER is 0 and WIP 1 when
// the hypotheses are empty as well, else MER 1 and WIP 0.
#pragma once

#include <string>
#include <vector>

#include "harness/scoring/edit_alignment.h"

namespace g4ref::scoring {

struct ErrorRates {
  EditCounts counts;
  size_t reference_length = 0;   // words (or characters) in the references
  size_t hypothesis_length = 0;  // words (or characters) in the hypotheses
  double wer = 0;  // for characters: the CER
  double mer = 0;
  double wil = 0;
  double wip = 0;
};

enum class ErrorUnit { words, characters };

// One item per pair; the two lists must have the same length (an error otherwise).
ErrorRates error_rates(const std::vector<std::string>& references, const std::vector<std::string>& hypotheses,
                       ErrorUnit unit);
inline ErrorRates word_error_rate(const std::vector<std::string>& r, const std::vector<std::string>& h) {
  return error_rates(r, h, ErrorUnit::words);
}
inline ErrorRates char_error_rate(const std::vector<std::string>& r, const std::vector<std::string>& h) {
  return error_rates(r, h, ErrorUnit::characters);
}

}  // namespace g4ref::scoring
