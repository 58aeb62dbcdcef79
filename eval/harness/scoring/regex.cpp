#include "harness/scoring/regex.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>

#include "base/error.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

icu::UnicodeString to_icu(const std::u32string& s) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
}

std::u32string from_icu(const icu::UnicodeString& u) {
  std::u32string out;
  for (int32_t i = 0; i < u.length();) {
    const UChar32 c = u.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

}  // namespace

struct Regex::Impl {
  std::unique_ptr<icu::RegexPattern> pattern;
  std::string where;
};

Regex::Regex(const std::u32string& pattern, const std::string& where) : impl_(std::make_unique<Impl>()) {
  impl_->where = where;
  UErrorCode err = U_ZERO_ERROR;
  UParseError perr;
  impl_->pattern.reset(icu::RegexPattern::compile(to_icu(pattern), UREGEX_UNIX_LINES, perr, err));
  if (U_FAILURE(err)) {
    fail(where, "invalid regular expression \"" + u32_to_utf8(pattern) + "\" (" + u_errorName(err) + " at offset " +
                    std::to_string(perr.offset) + ")");
  }
}

Regex::Regex(const std::string& pattern_utf8, const std::string& where) : Regex(utf8_to_u32(pattern_utf8, where), where) {}
Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::u32string Regex::sub(const std::u32string& text, const std::u32string& replacement, int count) const {
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString input = to_icu(text);
  std::unique_ptr<icu::RegexMatcher> m(impl_->pattern->matcher(input, err));
  if (U_FAILURE(err)) fail(impl_->where, std::string("regex matcher: ") + u_errorName(err));
  const icu::UnicodeString repl = to_icu(replacement);
  icu::UnicodeString out;
  int done = 0;
  while ((count == 0 || done < count) && m->find()) {
    m->appendReplacement(out, repl, err);
    if (U_FAILURE(err)) fail(impl_->where, std::string("regex replacement: ") + u_errorName(err));
    ++done;
  }
  m->appendTail(out);
  return from_icu(out);
}

std::u32string Regex::sub_with(const std::u32string& text,
                               const std::function<std::u32string(const std::vector<std::u32string>&)>& replace) const {
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString input = to_icu(text);
  std::unique_ptr<icu::RegexMatcher> m(impl_->pattern->matcher(input, err));
  if (U_FAILURE(err)) fail(impl_->where, std::string("regex matcher: ") + u_errorName(err));
  icu::UnicodeString out;
  int32_t last = 0;
  while (m->find()) {
    std::vector<std::u32string> groups;
    for (int32_t g = 0; g <= m->groupCount(); ++g) {
      groups.push_back(m->start(g, err) < 0 ? std::u32string() : from_icu(m->group(g, err)));
    }
    const int32_t start = m->start(err);
    out.append(input, last, start - last);
    out.append(to_icu(replace(groups)));
    last = m->end(err);
  }
  out.append(input, last, input.length() - last);
  return from_icu(out);
}

std::optional<std::vector<std::u32string>> Regex::search(const std::u32string& text) const {
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString input = to_icu(text);
  std::unique_ptr<icu::RegexMatcher> m(impl_->pattern->matcher(input, err));
  if (U_FAILURE(err)) fail(impl_->where, std::string("regex matcher: ") + u_errorName(err));
  if (!m->find()) return std::nullopt;
  std::vector<std::u32string> groups;
  for (int32_t g = 0; g <= m->groupCount(); ++g) {
    const int32_t start = m->start(g, err);
    if (start < 0) {
      groups.emplace_back();
      continue;
    }
    groups.push_back(from_icu(m->group(g, err)));
  }
  return groups;
}

std::vector<std::u32string> Regex::find_all(const std::u32string& text) const {
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString input = to_icu(text);
  std::unique_ptr<icu::RegexMatcher> m(impl_->pattern->matcher(input, err));
  if (U_FAILURE(err)) fail(impl_->where, std::string("regex matcher: ") + u_errorName(err));
  std::vector<std::u32string> out;
  while (m->find()) out.push_back(from_icu(m->group(err)));
  return out;
}

}  // namespace g4ref::scoring
