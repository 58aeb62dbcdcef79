#include "harness/scoring/english_number_normalizer.h"

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "harness/scoring/regex.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

// ---- non-negative integers as decimal strings (Python ints are unbounded)

std::string strip_zeros(const std::string& s) {
  const size_t nz = s.find_first_not_of('0');
  return nz == std::string::npos ? "0" : s.substr(nz);
}

std::string add(const std::string& a, const std::string& b) {
  std::string out;
  int carry = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    int d = carry;
    if (i < a.size()) d += a[a.size() - 1 - i] - '0';
    if (i < b.size()) d += b[b.size() - 1 - i] - '0';
    out.insert(out.begin(), static_cast<char>('0' + d % 10));
    carry = d / 10;
  }
  return strip_zeros(out);
}

long last_digits(const std::string& s, size_t k) {  // s % 10^k
  return std::stol(s.size() <= k ? s : s.substr(s.size() - k));
}

std::string floor_thousands(const std::string& s) {  // s // 1000 * 1000
  return s.size() <= 3 ? "0" : strip_zeros(s.substr(0, s.size() - 3) + "000");
}

std::string times_pow10(const std::string& s, int k) { return s == "0" ? "0" : s + std::string(k, '0'); }

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// re.match(r"^\d+(\.\d+)?$")
bool is_numeric(const std::string& s) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos) return all_digits(s);
  return all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

// Fraction(s) * 10^k when that is an integer (nullopt when s is no number or the product is not whole).
std::optional<std::string> fraction_times_pow10(const std::string& s, int k) {
  const size_t dot = s.find('.');
  std::string whole = s, frac;
  if (dot != std::string::npos) {
    whole = s.substr(0, dot);
    frac = s.substr(dot + 1);
  }
  if (!(whole.empty() || all_digits(whole)) || !(frac.empty() || all_digits(frac))) return std::nullopt;
  if (whole.empty() && frac.empty()) return std::nullopt;
  if (whole.empty() && dot == std::string::npos) return std::nullopt;
  std::string digits = whole + frac + std::string(k, '0');
  const size_t f = frac.size();
  for (size_t i = 0; i < f; ++i) {
    if (digits[digits.size() - 1 - i] != '0') return std::nullopt;
  }
  return strip_zeros(digits.substr(0, digits.size() - f));
}

// A value of process_words: a Python int (decimal string) or a str.
struct Value {
  bool is_int = true;
  std::string s;
};

struct Tables {
  std::set<std::string> zeros = {"o", "oh", "zero"};
  std::map<std::string, int> ones, tens;
  std::map<std::string, std::pair<int, std::string>> ones_suffixed, tens_suffixed;
  std::map<std::string, int> multipliers;  // value: log10
  std::map<std::string, std::pair<int, std::string>> multipliers_suffixed;
  std::map<std::string, std::string> preceding = {{"minus", "-"}, {"negative", "-"}, {"plus", "+"}, {"positive", "+"}};
  std::map<std::string, std::string> following = {{"pound", "£"}, {"pounds", "£"}, {"euro", "€"}, {"euros", "€"},
                                                  {"dollar", "$"}, {"dollars", "$"}, {"cent", "¢"}, {"cents", "¢"}};
  std::vector<std::string> prefixes = {"-", "+", "£", "€", "$", "¢"};
  std::set<std::string> specials = {"and", "double", "triple", "point"};
  std::set<std::string> words, decimals;

  Tables() {
    const char* names[] = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                           "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                           "eighteen", "nineteen"};
    for (int i = 0; i < 19; ++i) ones[names[i]] = i + 1;
    for (const auto& [name, v] : ones) ones_suffixed[name == "six" ? "sixes" : name + "s"] = {v, "s"};
    std::map<std::string, std::pair<int, std::string>> ordinal = {
        {"zeroth", {0, "th"}}, {"first", {1, "st"}}, {"second", {2, "nd"}},
        {"third", {3, "rd"}},  {"fifth", {5, "th"}}, {"twelfth", {12, "th"}}};
    for (const auto& [name, v] : ones) {
      if (v > 3 && v != 5 && v != 12) ordinal[name + (name.back() == 't' ? "h" : "th")] = {v, "th"};
    }
    for (const auto& kv : ordinal) ones_suffixed[kv.first] = kv.second;  // plurals first, ordinals override
    tens = {{"twenty", 20}, {"thirty", 30}, {"forty", 40}, {"fifty", 50},
            {"sixty", 60},  {"seventy", 70}, {"eighty", 80}, {"ninety", 90}};
    for (const auto& [name, v] : tens) {
      const std::string stem = name.substr(0, name.size() - 1);  // every name ends in its only "y"
      tens_suffixed[stem + "ies"] = {v, "s"};
    }
    for (const auto& [name, v] : tens) tens_suffixed[name.substr(0, name.size() - 1) + "ieth"] = {v, "th"};
    const char* mult[] = {"hundred", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion",
                          "sextillion", "septillion", "octillion", "nonillion", "decillion"};
    const int exps[] = {2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33};
    for (int i = 0; i < 12; ++i) multipliers[mult[i]] = exps[i];
    for (const auto& [name, e] : multipliers) multipliers_suffixed[name + "s"] = {e, "s"};
    for (const auto& [name, e] : multipliers) multipliers_suffixed[name + "th"] = {e, "th"};
    for (const auto& z : zeros) words.insert(z);
    for (const auto& kv : ones) words.insert(kv.first);
    for (const auto& kv : ones_suffixed) words.insert(kv.first);
    for (const auto& kv : tens) words.insert(kv.first);
    for (const auto& kv : tens_suffixed) words.insert(kv.first);
    for (const auto& kv : multipliers) words.insert(kv.first);
    for (const auto& kv : multipliers_suffixed) words.insert(kv.first);
    for (const auto& kv : preceding) words.insert(kv.first);
    for (const auto& kv : following) words.insert(kv.first);
    words.insert("per");
    words.insert("percent");
    for (const auto& sp : specials) words.insert(sp);
    for (const auto& z : zeros) decimals.insert(z);
    for (const auto& kv : ones) decimals.insert(kv.first);
    for (const auto& kv : tens) decimals.insert(kv.first);
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

std::vector<std::string> process_words(const std::vector<std::string>& words) {
  const Tables& T = tables();
  std::vector<std::string> out;
  std::optional<std::string> prefix;
  std::optional<Value> value;
  bool skip = false;
  auto output = [&](const std::string& result) {
    std::string r = prefix ? *prefix + result : result;
    value.reset();
    prefix.reset();
    out.push_back(r);
  };
  auto str_of = [](const Value& v) { return v.s; };
  auto or_empty = [](const std::optional<Value>& v) -> std::string {  // str(value or "")
    if (!v) return "";
    if (v->is_int && v->s == "0") return "";
    return v->s;
  };
  auto in = [](const auto& m, const std::optional<std::string>& w) { return w && m.count(*w) > 0; };
  for (size_t k = 0; k < words.size(); ++k) {
    const std::optional<std::string> prev = k > 0 ? std::optional<std::string>(words[k - 1]) : std::nullopt;
    const std::string& current = words[k];
    const std::optional<std::string> next = k + 1 < words.size() ? std::optional<std::string>(words[k + 1]) : std::nullopt;
    if (skip) {
      skip = false;
      continue;
    }
    const bool next_is_numeric = next && is_numeric(*next);
    std::string has_prefix;
    for (const auto& p : T.prefixes) {
      if (current.compare(0, p.size(), p) == 0) {
        has_prefix = p;
        break;
      }
    }
    const std::string without_prefix = current.substr(has_prefix.size());
    if (is_numeric(without_prefix)) {
      const auto whole = fraction_times_pow10(without_prefix, 0);
      if (value) {
        if (!value->is_int && !value->s.empty() && value->s.back() == '.') {
          value->s += current;  // decimals or IP address parts
          continue;
        }
        output(str_of(*value));
      }
      if (!has_prefix.empty()) prefix = has_prefix;
      if (whole) {
        value = Value{true, *whole};
      } else {
        value = Value{false, without_prefix};
      }
    } else if (!T.words.count(current)) {
      if (value) output(str_of(*value));
      output(current);
    } else if (T.zeros.count(current)) {
      value = Value{false, or_empty(value) + "0"};
    } else if (T.ones.count(current)) {
      const int ones = T.ones.at(current);
      if (!value) {
        value = Value{true, std::to_string(ones)};
      } else if (!value->is_int || in(T.ones, prev)) {
        if (in(T.tens, prev) && ones < 10) {
          value = Value{false, value->s.substr(0, value->s.size() - 1) + std::to_string(ones)};
        } else {
          value = Value{false, value->s + std::to_string(ones)};
        }
      } else if (ones < 10) {
        if (last_digits(value->s, 1) == 0) {
          value->s = add(value->s, std::to_string(ones));
        } else {
          value = Value{false, value->s + std::to_string(ones)};
        }
      } else {
        if (last_digits(value->s, 2) == 0) {
          value->s = add(value->s, std::to_string(ones));
        } else {
          value = Value{false, value->s + std::to_string(ones)};
        }
      }
    } else if (T.ones_suffixed.count(current)) {
      const auto& [ones, suffix] = T.ones_suffixed.at(current);
      if (!value) {
        output(std::to_string(ones) + suffix);
      } else if (!value->is_int || in(T.ones, prev)) {
        if (in(T.tens, prev) && ones < 10) {
          output(value->s.substr(0, value->s.size() - 1) + std::to_string(ones) + suffix);
        } else {
          output(value->s + std::to_string(ones) + suffix);
        }
      } else if (ones < 10) {
        output(last_digits(value->s, 1) == 0 ? add(value->s, std::to_string(ones)) + suffix
                                              : value->s + std::to_string(ones) + suffix);
      } else {
        output(last_digits(value->s, 2) == 0 ? add(value->s, std::to_string(ones)) + suffix
                                              : value->s + std::to_string(ones) + suffix);
      }
      value.reset();
    } else if (T.tens.count(current)) {
      const int tens = T.tens.at(current);
      if (!value) {
        value = Value{true, std::to_string(tens)};
      } else if (!value->is_int) {
        value->s += std::to_string(tens);
      } else if (last_digits(value->s, 2) == 0) {
        value->s = add(value->s, std::to_string(tens));
      } else {
        value = Value{false, value->s + std::to_string(tens)};
      }
    } else if (T.tens_suffixed.count(current)) {
      const auto& [tens, suffix] = T.tens_suffixed.at(current);
      if (!value) {
        output(std::to_string(tens) + suffix);
      } else if (!value->is_int) {
        output(value->s + std::to_string(tens) + suffix);
      } else {
        output(last_digits(value->s, 2) == 0 ? add(value->s, std::to_string(tens)) + suffix
                                              : value->s + std::to_string(tens) + suffix);
      }
    } else if (T.multipliers.count(current)) {
      const int e = T.multipliers.at(current);
      std::string multiplier(static_cast<size_t>(e) + 1, '0');
      multiplier[0] = '1';
      if (!value) {
        value = Value{true, multiplier};
      } else if (!value->is_int || value->s == "0") {
        const auto p = fraction_times_pow10(value->s, e);
        if (p) {
          value = Value{true, *p};
        } else {
          output(value->s);
          value = Value{true, multiplier};
        }
      } else {
        const std::string before = floor_thousands(value->s);
        const std::string residual = std::to_string(last_digits(value->s, 3));
        value->s = add(before, times_pow10(strip_zeros(residual), e));
      }
    } else if (T.multipliers_suffixed.count(current)) {
      const auto& [e, suffix] = T.multipliers_suffixed.at(current);
      std::string multiplier(static_cast<size_t>(e) + 1, '0');
      multiplier[0] = '1';
      if (!value) {
        output(multiplier + suffix);
      } else if (!value->is_int) {
        const auto p = fraction_times_pow10(value->s, e);
        if (p) {
          output(*p + suffix);
        } else {
          output(value->s);
          output(multiplier + suffix);
        }
      } else {
        const std::string before = floor_thousands(value->s);
        const std::string residual = std::to_string(last_digits(value->s, 3));
        output(add(before, times_pow10(strip_zeros(residual), e)) + suffix);
      }
      value.reset();
    } else if (T.preceding.count(current)) {
      if (value) output(str_of(*value));
      if ((next && T.words.count(*next)) || next_is_numeric) {
        prefix = T.preceding.at(current);
      } else {
        output(current);
      }
    } else if (T.following.count(current)) {
      if (value) {
        prefix = T.following.at(current);
        output(str_of(*value));
      } else {
        output(current);
      }
    } else if (current == "per" || current == "percent") {
      if (value) {
        if (current == "per") {
          if (next && *next == "cent") {
            output(value->s + "%");
            skip = true;
          } else {
            output(value->s);
            output(current);
          }
        } else {
          output(value->s + "%");
        }
      } else {
        output(current);
      }
    } else {  // specials
      if (!(next && T.words.count(*next)) && !next_is_numeric) {
        if (value) output(str_of(*value));
        output(current);
      } else if (current == "and") {
        if (!in(T.multipliers, prev)) {
          if (value) output(str_of(*value));
          output(current);
        }
      } else if (current == "double" || current == "triple") {
        if (in(T.ones, next) || in(T.zeros, next)) {
          const int repeats = current == "double" ? 2 : 3;
          const int ones = T.ones.count(*next) ? T.ones.at(*next) : 0;
          std::string v = or_empty(value);
          for (int r = 0; r < repeats; ++r) v += std::to_string(ones);
          value = Value{false, v};
          skip = true;
        } else {
          if (value) output(str_of(*value));
          output(current);
        }
      } else if (current == "point") {
        if (in(T.decimals, next) || next_is_numeric) value = Value{false, or_empty(value) + "."};
      }
    }
  }
  if (value) output(str_of(*value));
  return out;
}

std::u32string preprocess(const std::u32string& s) {
  const Tables& T = tables();
  static const Regex half(std::string(R"(\band\s+a\s+half\b)"), "English number normalizer");
  // re.split: the pieces between matches.
  std::vector<std::u32string> segments;
  {
    const std::u32string marker = U"\U0010FFFF";  // a code point absent from normalized text
    const std::u32string marked = half.sub(s, marker);
    size_t i = 0;
    while (true) {
      const size_t p = marked.find(marker, i);
      segments.push_back(marked.substr(i, p == std::u32string::npos ? std::u32string::npos : p - i));
      if (p == std::u32string::npos) break;
      i = p + marker.size();
    }
  }
  std::vector<std::u32string> results;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (python_strip(segments[i]).empty()) continue;
    results.push_back(segments[i]);
    if (i + 1 < segments.size()) {
      const auto parts = python_split(segments[i]);
      const std::string last = u32_to_utf8(parts.back());
      results.push_back(T.decimals.count(last) || T.multipliers.count(last) ? U"point five" : U"and a half");
    }
  }
  std::u32string joined;
  for (size_t i = 0; i < results.size(); ++i) {
    if (i) joined.push_back(U' ');
    joined += results[i];
  }
  static const Regex letter_digit(std::string(R"(([a-z])([0-9]))"), "English number normalizer");
  static const Regex digit_letter(std::string(R"(([0-9])([a-z]))"), "English number normalizer");
  static const Regex suffix(std::string(R"(([0-9])\s+(st|nd|rd|th|s)\b)"), "English number normalizer");
  joined = letter_digit.sub(joined, U"$1 $2");
  joined = digit_letter.sub(joined, U"$1 $2");
  return suffix.sub(joined, U"$1$2");
}

std::u32string postprocess(const std::u32string& s) {
  static const Regex cents(std::string(R"(([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b)"), "English number normalizer");
  static const Regex only_cents(std::string(R"([€£$]0.([0-9]{1,2})\b)"), "English number normalizer");
  static const Regex one(std::string(R"(\b1(s?)\b)"), "English number normalizer");
  std::u32string t = cents.sub_with(s, [](const std::vector<std::u32string>& g) {
    const int c = std::stoi(u32_to_utf8(g[3]));
    std::string two = std::to_string(c);
    if (two.size() < 2) two = "0" + two;
    return g[1] + g[2] + U"." + utf8_to_u32(two);
  });
  t = only_cents.sub_with(t, [](const std::vector<std::u32string>& g) {
    std::u32string r = U"¢";
    r += utf8_to_u32(std::to_string(std::stoi(u32_to_utf8(g[1]))));
    return r;
  });
  return one.sub(t, U"one$1");
}

}  // namespace

std::string whisper_english_numbers(const std::string& text) {
  const std::u32string s = preprocess(utf8_to_u32(text, "text"));
  std::vector<std::string> words;
  for (const auto& w : python_split(s)) words.push_back(u32_to_utf8(w));
  std::u32string joined;
  for (const auto& w : process_words(words)) {
    if (!joined.empty()) joined.push_back(U' ');
    joined += utf8_to_u32(w);
  }
  return u32_to_utf8(postprocess(joined));
}

}  // namespace g4ref::scoring
