// Gemma's speech-translation prompt (claims-and-evals §2.4, §3.9) asks for the transcription, a newline, then
// "{TARGET_LANGUAGE}: " and the translation; the CoVoST scorer keeps only the text after that label.
#pragma once

#include <optional>
#include <string>

namespace g4ref::scoring {

// The text after the last occurrence of `label` (e.g. "English:"), stripped; nullopt when the label is absent.
std::optional<std::string> text_after_label(const std::string& output, const std::string& label);

}  // namespace g4ref::scoring
