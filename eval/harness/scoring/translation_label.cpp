#include "harness/scoring/translation_label.h"

#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

std::optional<std::string> text_after_label(const std::string& output, const std::string& label) {
  if (label.empty()) return output;
  // The last occurrence: a transcription that happens to contain the label stays out of the translation.
  const size_t p = output.rfind(label);
  if (p == std::string::npos) return std::nullopt;
  return u32_to_utf8(python_strip(utf8_to_u32(output.substr(p + label.size()), "output")));
}

}  // namespace g4ref::scoring
