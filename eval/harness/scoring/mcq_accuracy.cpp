#include "harness/scoring/mcq_accuracy.h"

#include <optional>

#include "base/error.h"
#include "harness/scoring/answer_extraction.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

LetterExtractor parse_letter_extractor(const std::string& name) {
  std::string n = name;
  for (auto& c : n) {
    if (c == '-') c = '_';
  }
  if (n == "letter") return LetterExtractor::letter;
  if (n == "mmlu_pro") return LetterExtractor::mmlu_pro;
  if (n == "mmlu_pro_fallbacks") return LetterExtractor::mmlu_pro_fallbacks;
  if (n == "simple_evals" || n == "gpqa") return LetterExtractor::simple_evals;
  if (n == "multilingual" || n == "mmmlu") return LetterExtractor::multilingual;
  fail("--extract", "unknown answer extractor \"" + name +
                        "\" (expected letter, mmlu-pro, mmlu-pro-fallbacks, simple-evals or multilingual)");
}

McqResult mcq_accuracy(const std::vector<std::string>& outputs, const std::vector<std::string>& gold,
                       LetterExtractor e) {
  if (outputs.size() != gold.size()) {
    fail("mcq accuracy", "the outputs and gold letters differ in number (" + std::to_string(outputs.size()) +
                             " vs " + std::to_string(gold.size()) + ")");
  }
  McqResult r;
  double sum = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::optional<std::string> a;
    switch (e) {
      case LetterExtractor::letter: a = extract_letter(outputs[i]); break;
      case LetterExtractor::mmlu_pro: a = extract_mmlu_pro_answer(outputs[i], false); break;
      case LetterExtractor::mmlu_pro_fallbacks: a = extract_mmlu_pro_answer(outputs[i], true); break;
      case LetterExtractor::simple_evals: a = extract_simple_evals_answer(outputs[i]); break;
      case LetterExtractor::multilingual: a = extract_multilingual_answer(outputs[i]); break;
    }
    McqItem item;
    item.parsed = a.has_value();
    if (a) item.extracted = *a;
    const std::string g = u32_to_utf8(python_strip(utf8_to_u32(gold[i], "gold letter " + std::to_string(i + 1))));
    item.score = a && *a == g ? 1.0 : 0.0;
    r.unparsed += a ? 0 : 1;
    sum += item.score;
    r.items.push_back(item);
  }
  r.accuracy = outputs.empty() ? 0.0 : sum / static_cast<double>(outputs.size());
  return r;
}

}  // namespace g4ref::scoring
