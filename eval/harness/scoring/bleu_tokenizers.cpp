#include "harness/scoring/bleu_tokenizers.h"

#include <utility>

#include "base/error.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

std::u32string join_split(const std::u32string& s) {
  std::u32string out;
  for (const auto& w : python_split(s)) {
    if (!out.empty()) out.push_back(U' ');
    out += w;
  }
  return out;
}

// The four regular expressions of sacreBLEU's TokenizerRegexp, each a left-to-right re.sub pass.
std::u32string regexp_tokenize(const std::u32string& in) {
  auto isolated = [](char32_t c) {  // [\{-\~\[-\` -\&\(-\+\:-\@\/]
    return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
           (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
  };
  std::u32string a;
  for (char32_t c : in) {
    if (isolated(c)) {
      a.push_back(U' ');
      a.push_back(c);
      a.push_back(U' ');
    } else {
      a.push_back(c);
    }
  }
  auto period_or_comma = [](char32_t c) { return c == U'.' || c == U','; };
  std::u32string b;  // ([^0-9])([\.,]) -> \1 \2
  for (size_t i = 0; i < a.size();) {
    if (i + 1 < a.size() && !is_digit(a[i]) && period_or_comma(a[i + 1])) {
      b += {a[i], U' ', a[i + 1], U' '};
      i += 2;
    } else {
      b.push_back(a[i++]);
    }
  }
  std::u32string c;  // ([\.,])([^0-9]) -> " \1 \2"
  for (size_t i = 0; i < b.size();) {
    if (i + 1 < b.size() && period_or_comma(b[i]) && !is_digit(b[i + 1])) {
      c += {U' ', b[i], U' ', b[i + 1]};
      i += 2;
    } else {
      c.push_back(b[i++]);
    }
  }
  std::u32string d;  // ([0-9])(-) -> "\1 \2 "
  for (size_t i = 0; i < c.size();) {
    if (i + 1 < c.size() && is_digit(c[i]) && c[i + 1] == U'-') {
      d += {c[i], U' ', U'-', U' '};
      i += 2;
    } else {
      d.push_back(c[i++]);
    }
  }
  return join_split(d);
}

std::u32string tokenize_13a(std::u32string line) {
  line = replace_all(line, U"<skipped>", U"");
  line = replace_all(line, U"-\n", U"");
  line = replace_all(line, U"\n", U" ");
  if (line.find(U'&') != std::u32string::npos) {
    line = replace_all(line, U"&quot;", U"\"");
    line = replace_all(line, U"&amp;", U"&");
    line = replace_all(line, U"&lt;", U"<");
    line = replace_all(line, U"&gt;", U">");
  }
  return regexp_tokenize(U" " + line + U" ");
}

bool category_is(char32_t c, char major) { return unicode_category(c)[0] == major; }

std::u32string tokenize_intl(const std::u32string& line) {
  std::u32string a;  // (\P{N})(\p{P}) -> "\1 \2 "
  for (size_t i = 0; i < line.size();) {
    if (i + 1 < line.size() && !category_is(line[i], 'N') && category_is(line[i + 1], 'P')) {
      a += {line[i], U' ', line[i + 1], U' '};
      i += 2;
    } else {
      a.push_back(line[i++]);
    }
  }
  std::u32string b;  // (\p{P})(\P{N}) -> " \1 \2"
  for (size_t i = 0; i < a.size();) {
    if (i + 1 < a.size() && category_is(a[i], 'P') && !category_is(a[i + 1], 'N')) {
      b += {U' ', a[i], U' ', a[i + 1]};
      i += 2;
    } else {
      b.push_back(a[i++]);
    }
  }
  std::u32string c;  // (\p{S}) -> " \1 "
  for (char32_t ch : b) {
    if (category_is(ch, 'S')) {
      c += {U' ', ch, U' '};
    } else {
      c.push_back(ch);
    }
  }
  return join_split(c);
}

bool is_sacrebleu_chinese_char(char32_t c) {
  static constexpr std::pair<char32_t, char32_t> ranges[] = {
      {0x3400, 0x4DB5}, {0x4E00, 0x9FA5}, {0x9FA6, 0x9FBB}, {0xF900, 0xFA2D}, {0xFA30, 0xFA6A}, {0xFA70, 0xFAD9},
      {0x2001, 0x2A6D},  // written '\u20000'..'\u2a6d6' (see the header)
      {0x2F81, 0x2FA1},  // written '\u2f800'..'\u2fa1d'
      {0xFF00, 0xFFEF}, {0x2E80, 0x2EFF}, {0x3000, 0x303F}, {0x31C0, 0x31EF}, {0x2F00, 0x2FDF}, {0x2FF0, 0x2FFF},
      {0x3100, 0x312F}, {0x31A0, 0x31BF}, {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F}, {0x2600, 0x26FF}, {0x2700, 0x27BF},
      {0x3200, 0x32FF}, {0x3300, 0x33FF}};
  for (const auto& [lo, hi] : ranges) {
    if (c >= lo && c <= hi) return true;
  }
  return false;
}

std::u32string tokenize_zh(const std::u32string& line) {
  std::u32string chars;
  for (char32_t c : python_strip(line)) {
    if (is_sacrebleu_chinese_char(c)) {
      chars += {U' ', c, U' '};
    } else {
      chars.push_back(c);
    }
  }
  return regexp_tokenize(chars);
}

}  // namespace

bool is_known_bleu_tokenizer(const std::string& t) {
  return t == "13a" || t == "intl" || t == "zh" || t == "char" || t == "none";
}

std::u32string bleu_tokenize(const std::u32string& line, const std::string& tokenizer) {
  if (tokenizer == "13a") return tokenize_13a(line);
  if (tokenizer == "intl") return tokenize_intl(line);
  if (tokenizer == "zh") return tokenize_zh(line);
  if (tokenizer == "none") return line;
  if (tokenizer == "char") {
    std::u32string out;
    for (char32_t c : line) {
      if (!out.empty()) out.push_back(U' ');
      out.push_back(c);
    }
    return out;
  }
  fail("--tokenize", "unknown BLEU tokenizer \"" + tokenizer + "\" (expected 13a, intl, zh, char or none)");
}

}  // namespace g4ref::scoring
