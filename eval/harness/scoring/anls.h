// Average Normalized Levenshtein Similarity (DocVQA, InfographicVQA), τ = 0.5 (claims-and-evals §3.7, §4.4).
// Both strings are lowercased, stripped and their whitespace collapsed before the Levenshtein distance over
// code points. Per gold answer NL = distance / length; the question scores 1 − min NL, cut to 0 by τ.
//   lmms_eval (default; also VLMEvalKit, both from Qwen-VL's code): length = max of the raw, un-normalized
//     lengths (of their upper-cased forms, as that code measures them), and the score is 0 only when 1 − NL < τ,
//     so NL = 0.5 exactly scores 0.5.
//   standard (the DocVQA definition, ANLS* for strings): length from the normalized strings, and a gold answer
//     scores 1 − NL only when NL < τ, so NL = 0.5 scores 0.
#pragma once

#include <string>
#include <vector>

namespace g4ref::scoring {

enum class AnlsVariant { lmms_eval, standard };

// One question: its accepted answers and the prediction. No answers is an error.
double anls_question(const std::vector<std::string>& answers, const std::string& prediction,
                     AnlsVariant variant = AnlsVariant::lmms_eval, double threshold = 0.5);
// The mean over questions.
double anls(const std::vector<std::vector<std::string>>& answers, const std::vector<std::string>& predictions,
            AnlsVariant variant = AnlsVariant::lmms_eval, double threshold = 0.5);

}  // namespace g4ref::scoring
