// Text as the Python scorers see it: a sequence of code points, with Python's own notions of whitespace,
// case and Unicode categories. Every benchmark metric is defined by a Python program (jiwer, sacreBLEU, lm-eval,
// lmms-eval, simple-evals, difflib), so the scorers work on code points, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace g4ref::scoring {

// UTF-8 → code points. Invalid UTF-8 is an error naming `where` (Python refuses to decode it as well).
std::u32string utf8_to_u32(std::string_view text, const std::string& where = "text");
std::string u32_to_utf8(std::u32string_view text);

// Python's str.isspace(): the characters str.split() and str.strip() treat as whitespace.
bool is_python_space(char32_t c);
// str.split() with no argument: runs of whitespace separate, no empty items.
std::vector<std::u32string> python_split(std::u32string_view text);
// str.strip() with no argument.
std::u32string python_strip(std::u32string_view text);
// Collapse every run of Python whitespace to one space (re.sub(r"\s+", " ", s)).
std::u32string collapse_whitespace(std::u32string_view text);

// str.lower() / str.upper(): full Unicode case mappings (ß → SS; final sigma in lower()).
std::u32string python_lower(std::u32string_view text);
std::u32string python_upper(std::u32string_view text);

// unicodedata.normalize("NFKC" / "NFKD", s).
std::u32string nfkc(std::u32string_view text);
std::u32string nfkd(std::u32string_view text);

// The two-letter Unicode general category of unicodedata.category(c), e.g. "Mn", "Po", "Nd".
std::string unicode_category(char32_t c);

// Python's str.isalnum() for one character, plus '_': the characters \w matches in Python's re.
bool is_python_word_char(char32_t c);

// ASCII string.punctuation: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
bool is_ascii_punctuation(char32_t c);

// Replace every occurrence of `from` by `to` (str.replace).
std::u32string replace_all(std::u32string_view text, std::u32string_view from, std::u32string_view to);

}  // namespace g4ref::scoring
