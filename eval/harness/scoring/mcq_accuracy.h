// Multiple-choice accuracy on letter answers: the letter is extracted from each output with the protocol's
// extractor (answer_extraction.h) and compared with the gold letter; outputs that do not parse score 0 and are
// counted apart (claims-and-evals §4.6, §5 item 6).
#pragma once

#include <string>
#include <vector>

namespace g4ref::scoring {

enum class LetterExtractor {
  letter,            // the output is the letter ("B", "(B)", "B.")
  mmlu_pro,          // lm-eval: "answer is (X)"
  mmlu_pro_fallbacks,  // … then the TIGER-Lab fallbacks
  simple_evals,      // GPQA: "Answer: X"
  multilingual,      // MMMLU: localized "Answer: X" labels
};

LetterExtractor parse_letter_extractor(const std::string& name);  // the names above, '_' or '-'

struct McqItem {
  std::string extracted;  // "" when unparsed
  bool parsed = false;
  double score = 0;
};

struct McqResult {
  std::vector<McqItem> items;
  double accuracy = 0;
  size_t unparsed = 0;
};

McqResult mcq_accuracy(const std::vector<std::string>& outputs, const std::vector<std::string>& gold_letters,
                       LetterExtractor extractor = LetterExtractor::letter);

}  // namespace g4ref::scoring
