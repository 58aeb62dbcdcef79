#include "harness/scoring/answer_extraction.h"

#include <vector>

#include "harness/scoring/regex.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

bool is_space(char32_t c) { return is_python_space(c); }

}  // namespace

std::optional<std::string> extract_mmlu_pro_answer(const std::string& output, bool fallbacks) {
  const std::u32string s = utf8_to_u32(output, "output");
  static const Regex primary(std::string(R"(answer is \(?([ABCDEFGHIJ])\)?)"), "MMLU-Pro pattern");
  if (auto m = primary.search(s)) return u32_to_utf8((*m)[1]);
  if (!fallbacks) return std::nullopt;
  // `.*` cannot cross a newline, so re.search settles on the first line that holds a label followed by
  // \s*[A-J] (\s may cross lines), and on that line takes the last such label.
  {
    std::optional<std::u32string> best;
    size_t best_line = 0, line = 0;
    for (size_t pos = 0; pos < s.size(); ++pos) {
      if (s[pos] == U'\n') ++line;
      if (!((s[pos] == U'a' || s[pos] == U'A') && s.compare(pos + 1, 6, U"nswer:") == 0)) continue;
      size_t k = pos + 7;
      while (k < s.size() && is_space(s[k])) ++k;
      if (k >= s.size() || s[k] < U'A' || s[k] > U'J') continue;
      if (best && line != best_line) break;
      best_line = line;
      best = std::u32string(1, s[k]);
    }
    if (best) return u32_to_utf8(*best);
  }
  // \b[A-J]\b(?!.*\b[A-J]\b) with DOTALL: the last letter A–J standing alone as a word.
  for (size_t p = s.size(); p-- > 0;) {
    if (s[p] < U'A' || s[p] > U'J') continue;
    const bool left = p == 0 || !is_python_word_char(s[p - 1]);
    const bool right = p + 1 == s.size() || !is_python_word_char(s[p + 1]);
    if (left && right) return u32_to_utf8(std::u32string(1, s[p]));
  }
  return std::nullopt;
}

std::optional<std::string> extract_simple_evals_answer(const std::string& output) {
  static const Regex pattern(std::string(R"((?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?)"), "GPQA pattern");
  if (auto m = pattern.search(utf8_to_u32(output, "output"))) return u32_to_utf8((*m)[1]);
  return std::nullopt;
}

std::string simple_evals_normalize_response(const std::string& response) {
  std::u32string s = utf8_to_u32(response, "response");
  static const char32_t* removals[] = {U"**",      U"$\\boxed{", U"}$",      U"\\$",       U"$\\text{",
                                       U"$",       U"\\mathrm{", U"\\{",     U"\\text",    U"\\(",
                                       U"\\mathbf{", U"{",       U"\\boxed"};
  for (const char32_t* r : removals) s = replace_all(s, r, U"");
  return u32_to_utf8(s);
}

std::optional<std::string> extract_multilingual_answer(const std::string& output) {
  // simple-evals MULTILINGUAL_ANSWER_REGEXES, in its order (the second entry ends in six U+200B).
  static const std::vector<std::string> labels = {
      R"(Answer\s*:)", "Answer\\s*:\u200b\u200b\u200b\u200b\u200b\u200b", R"(উত্তর\s*:)", R"(उत्तर\s*:)",
      "উত্তরঃ", R"(উত্তর\s*:)", R"(Antwort\s*:)", R"(답변\s*:)", R"(정답\s*:)", R"(답\s*:)", R"(答案\s*：)",
      R"(答案\s*:)", R"(答\s*：)", R"(答\s*:)", R"(答复\s*：)", R"(答曰\s*：)", "الإجابة:", "الجواب:", "إجابة:",
      "الإجابة النهائية:", "الإجابة الصحيحة:", "الإجابة الصحيحة هي:", "الإجابة هي:", "الجواب النهائي:",
      R"(Respuesta\s*:)", R"(Risposta\s*:)", R"(答え\s*:)", R"(答え\s*：)", R"(回答\s*:)", R"(回答\s*：)",
      R"(解答\s*:)", R"(Jawaban\s*:)", R"(Réponse\s*:)", R"(Resposta\s*:)", R"(Jibu\s*:)", R"(Idahun\s*:)",
      R"(Ìdáhùn\s*:)", R"(Idáhùn\s*:)", R"(Àmọ̀nà\s*:)", R"(Àdáhùn\s*:)", R"(Ànúgọ\s*:)", R"(Àṣàyàn\s*:)"};
  static const std::vector<Regex> patterns = [] {
    std::vector<Regex> v;
    for (const auto& l : labels) {
      v.emplace_back("(?i)" + l + "[ \t]*([A-D]|[أ-د]|[অ]|[ব]|[ড]|[ঢ]|[Ａ]|[Ｂ]|[Ｃ]|[Ｄ])", "MMMLU pattern");
    }
    return v;
  }();
  const std::u32string s = utf8_to_u32(simple_evals_normalize_response(output), "output");
  for (const auto& p : patterns) {
    if (auto m = p.search(s)) {
      std::u32string a = (*m)[1];
      static const std::pair<const char32_t*, const char32_t*> maps[] = {
          {U"أ", U" A"}, {U"ب", U" B"}, {U"ج", U" C"}, {U"د", U" D"}, {U"অ", U" A"}, {U"ব", U" B"},
          {U"ড", U" C"}, {U"ঢ", U" D"}, {U"Ａ", U" A"}, {U"Ｂ", U" B"}, {U"Ｃ", U" C"}, {U"Ｄ", U" D"}};
      for (const auto& [from, to] : maps) a = replace_all(a, from, to);
      return u32_to_utf8(python_strip(a));
    }
  }
  return std::nullopt;
}

std::optional<std::string> last_boxed_content(const std::string& output) {
  const std::u32string s = utf8_to_u32(output, "output");
  size_t idx = s.rfind(U"\\boxed");
  if (idx == std::u32string::npos) idx = s.rfind(U"\\fbox");
  if (idx == std::u32string::npos) return std::nullopt;
  if (s.compare(idx, 7, U"\\boxed ") == 0) {
    const size_t start = idx + 7;
    const size_t end = s.find(U'$', start);
    return u32_to_utf8(s.substr(start, end == std::u32string::npos ? std::u32string::npos : end - start));
  }
  const size_t open = s.find(U'{', idx);
  if (open == std::u32string::npos) return std::nullopt;
  // Only spaces may stand between the command and its brace.
  for (size_t k = idx + 1; k < open; ++k) {
    if (!((s[k] >= U'a' && s[k] <= U'z') || s[k] == U' ')) return std::nullopt;
  }
  int depth = 0;
  for (size_t k = open; k < s.size(); ++k) {
    if (s[k] == U'{') ++depth;
    if (s[k] == U'}' && --depth == 0) return u32_to_utf8(s.substr(open + 1, k - open - 1));
  }
  return std::nullopt;
}

std::optional<long long> extract_boxed_integer(const std::string& output) {
  const auto content = last_boxed_content(output);
  if (!content) return std::nullopt;
  std::string digits;
  bool negative = false;
  for (char32_t c : utf8_to_u32(*content, "box")) {
    if (is_python_space(c) || c == U',' || c == U'$') continue;
    if (c == U'-' && digits.empty() && !negative) {
      negative = true;
      continue;
    }
    if (c < U'0' || c > U'9') return std::nullopt;
    digits.push_back(static_cast<char>(c));
  }
  if (digits.empty() || digits.size() > 18) {
    size_t nz = digits.find_first_not_of('0');
    if (digits.empty() || (nz != std::string::npos && digits.size() - nz > 18)) return std::nullopt;
  }
  const size_t nz = digits.find_first_not_of('0');
  const long long v = nz == std::string::npos ? 0 : std::stoll(digits.substr(nz));
  return negative ? -v : v;
}

std::optional<std::string> extract_letter(const std::string& output) {
  std::u32string s = python_strip(utf8_to_u32(output, "output"));
  if (s.size() >= 2 && ((s.front() == U'(' && s.back() == U')') || (s.front() == U'[' && s.back() == U']'))) {
    s = python_strip(s.substr(1, s.size() - 2));
  } else if (s.size() == 2 && (s.back() == U'.' || s.back() == U')')) {
    s.pop_back();
  }
  if (s.size() == 1 && s[0] >= U'A' && s[0] <= U'Z') return u32_to_utf8(s);
  return std::nullopt;
}

}  // namespace g4ref::scoring
