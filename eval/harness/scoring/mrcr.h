// MRCR's grade (openai/mrcr; claims-and-evals §3.10): 0 unless the response starts with the sample's
// random_string_to_prepend; otherwise that prefix is removed from the response and from the answer (if the answer
// starts with it) and the score is difflib SequenceMatcher(None, response, answer).ratio().
#pragma once

#include <string>

namespace g4ref::scoring {

double mrcr_grade(const std::string& response, const std::string& answer, const std::string& random_string_to_prepend);

}  // namespace g4ref::scoring
