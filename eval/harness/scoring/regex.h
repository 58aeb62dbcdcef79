// Regular expressions over code points with the semantics closest to Python's `re` that a C++ program can get:
// ICU's engine (Perl syntax, lookaround, Unicode \s \d \w, inline (?i)), with `.` and `$` treating only "\n" as a
// line end, as Python does. Differences that remain: ICU's \w and \b also count combining marks as word
// characters, and replacement strings use $1 rather than \1.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace g4ref::scoring {

class Regex {
 public:
  // `where` names the option or file the pattern came from in the error for a bad pattern.
  explicit Regex(const std::u32string& pattern, const std::string& where = "regex");
  explicit Regex(const std::string& pattern_utf8, const std::string& where = "regex");
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // re.sub(pattern, replacement, text, count): replacement in ICU syntax ($1); count 0 = all.
  std::u32string sub(const std::u32string& text, const std::u32string& replacement, int count = 0) const;
  // re.sub with a function: each match's groups (group 0 first) → its replacement text.
  std::u32string sub_with(const std::u32string& text,
                          const std::function<std::u32string(const std::vector<std::u32string>&)>& replace) const;
  // re.search: the groups of the first match (group 0 = whole match); nullopt if none. Unmatched groups are "".
  std::optional<std::vector<std::u32string>> search(const std::u32string& text) const;
  // All non-overlapping matches, group 0 of each (re.findall without groups).
  std::vector<std::u32string> find_all(const std::u32string& text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace g4ref::scoring
