// ChartQA relaxed accuracy, lmms-eval / VLMEvalKit semantics (both from pix2struct via Qwen-VL; claims-and-evals
// §3.11, §4.5): a text ending in "%" is its number / 100 (all trailing "%" dropped); when the prediction and
// the target both parse as Python floats and the target is non-zero, the prediction is right within a relative
// change of 5 %; otherwise the two must be equal ignoring case.
// Divergence, kept on purpose: a zero target falls back to the string test ("0.0" vs "0" is wrong), "1,000"
// does not parse, and "12%" vs "12" is 0.12 vs 12 (wrong) — other codebases' tests count the last two right.
#pragma once

#include <optional>
#include <string>

namespace g4ref::scoring {

// Python's float(text): surrounding whitespace, sign, digits with single underscores between them, decimal
// point, exponent, inf/infinity/nan in any case. ASCII digits only (Python also takes other Unicode digits).
std::optional<double> python_float(const std::string& text);

bool relaxed_correct(const std::string& prediction, const std::string& target, double max_relative_change = 0.05);

}  // namespace g4ref::scoring
