// Answer extraction as the published protocols do it (claims-and-evals §3.1–3.4). Each returns nullopt when the
// output does not parse, so the harness can count unparsed outputs apart from wrong ones.
#pragma once

#include <optional>
#include <string>

namespace g4ref::scoring {

// MMLU-Pro (§3.1). lm-eval's mmlu_pro filter: the first match of `answer is \(?([ABCDEFGHIJ])\)?`.
// With `fallbacks`, the TIGER-Lab evaluation script's chain follows when that fails: `.*[aA]nswer:\s*([A-J])`
// (the last such label on the first line that has one), then the last standalone letter A–J (\b[A-J]\b).
std::optional<std::string> extract_mmlu_pro_answer(const std::string& output, bool fallbacks = false);

// GPQA (§3.2), simple-evals ANSWER_PATTERN_MULTICHOICE: the first `(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?`.
// The letter is returned as written: a lower-case letter then fails the comparison, as in simple-evals.
std::optional<std::string> extract_simple_evals_answer(const std::string& output);

// MMMLU (§3.4), simple-evals mmlu_eval: the response loses markdown bold and some LaTeX wrappers
// (normalize_response); then the localized answer labels are tried in simple-evals' order, each followed by
// [ \t]* and a letter — A–D, the Arabic letters أ–د (the range U+0623–U+062F of its pattern), Bengali অ ব ড ঢ or
// full-width Ａ–Ｄ — and the first label that matches gives the answer, mapped to A–D (normalize_extracted_answer).
std::optional<std::string> extract_multilingual_answer(const std::string& output);

// simple-evals' normalize_response (exposed for tests).
std::string simple_evals_normalize_response(const std::string& response);

// AIME (§3.3): the content of the last \boxed{…} (or \fbox{…}, or "\boxed X" up to the next "$"), as an integer
// after removing whitespace, commas, "$" and leading zeros. nullopt when there is no box or no integer in it.
std::optional<long long> extract_boxed_integer(const std::string& output);
// The raw content of the last box (lm-eval's last_boxed_only_string + remove_boxed).
std::optional<std::string> last_boxed_content(const std::string& output);

// A bare letter answer for mcq_accuracy: the text stripped of whitespace and of one pair of brackets or a
// trailing period or parenthesis ("B", "(B)", "B.", "B)"); nullopt unless a single letter A–Z remains.
std::optional<std::string> extract_letter(const std::string& output);

}  // namespace g4ref::scoring
