// Whisper's EnglishNumberNormalizer (whisper/normalizers/english.py), reimplemented from its rules: spelled-out
// numbers become digits ("twenty five" → "25", "one oh one" → "101", "two point five" → "2.5", "three hundred
// and six" → "306", "five million dollars" → "$5000000", "fifty percent" / "per cent" → "50%",
// "double seven" → "77", ordinals and plurals keep their suffix: "twenty first" → "21st", "sixties" → "60s"), with
// its preprocessing ("and a half" → "point five", spaces at digit/letter boundaries, suffixes re-attached) and
// postprocessing ("$2 and ¢7" → "$2.07", "$0.5" → "¢5", "1" / "1s" → "one" / "ones").
// Integers have no size limit (decimal strings, as Python's int). Differences: only ASCII digits count as digits
// (Python's \d also takes other Unicode digits).
#pragma once

#include <string>

namespace g4ref::scoring {

std::string whisper_english_numbers(const std::string& text);

}  // namespace g4ref::scoring
