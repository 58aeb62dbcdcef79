#include "harness/scoring/relaxed_accuracy.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

// digit (_? digit)* starting at i; returns the end, or i when there is no digit.
size_t digit_run(const std::u32string& s, size_t i, std::string& out) {
  if (i >= s.size() || !is_digit(s[i])) return i;
  out.push_back(static_cast<char>(s[i++]));
  while (i < s.size()) {
    if (is_digit(s[i])) {
      out.push_back(static_cast<char>(s[i++]));
    } else if (s[i] == U'_' && i + 1 < s.size() && is_digit(s[i + 1])) {
      ++i;
    } else {
      break;
    }
  }
  return i;
}

}  // namespace

std::optional<double> python_float(const std::string& text) {
  std::u32string s;
  try {
    s = python_strip(utf8_to_u32(text));
  } catch (...) {
    return std::nullopt;
  }
  std::string clean;
  size_t i = 0;
  if (i < s.size() && (s[i] == U'+' || s[i] == U'-')) clean.push_back(static_cast<char>(s[i++]));
  std::u32string rest = python_lower(s.substr(i));
  if (rest == U"inf" || rest == U"infinity") {
    return clean == "-" ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (rest == U"nan") return std::numeric_limits<double>::quiet_NaN();
  const size_t int_end = digit_run(s, i, clean);
  bool digits = int_end > i;
  i = int_end;
  if (i < s.size() && s[i] == U'.') {
    clean.push_back('.');
    const size_t frac_end = digit_run(s, i + 1, clean);
    digits = digits || frac_end > i + 1;
    i = frac_end;
  }
  if (!digits) return std::nullopt;
  if (i < s.size() && (s[i] == U'e' || s[i] == U'E')) {
    clean.push_back('e');
    ++i;
    if (i < s.size() && (s[i] == U'+' || s[i] == U'-')) clean.push_back(static_cast<char>(s[i++]));
    const size_t exp_end = digit_run(s, i, clean);
    if (exp_end == i) return std::nullopt;
    i = exp_end;
  }
  if (i != s.size()) return std::nullopt;
  return std::strtod(clean.c_str(), nullptr);
}

bool relaxed_correct(const std::string& prediction, const std::string& target, double max_relative_change) {
  auto to_float = [](const std::string& t) -> std::optional<double> {
    if (!t.empty() && t.back() == '%') {
      std::string u = t;
      while (!u.empty() && u.back() == '%') u.pop_back();
      auto v = python_float(u);
      if (!v) return std::nullopt;
      return *v / 100.0;
    }
    return python_float(t);
  };
  const auto p = to_float(prediction);
  const auto t = to_float(target);
  if (p && t && *t != 0.0) {  // Python: `target_float` is falsy at 0.0 (NaN is truthy)
    return std::fabs(*p - *t) / std::fabs(*t) <= max_relative_change;
  }
  return python_lower(utf8_to_u32(prediction, "prediction")) == python_lower(utf8_to_u32(target, "target"));
}

}  // namespace g4ref::scoring
