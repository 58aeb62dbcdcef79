// VQAv2 soft accuracy as lmms-eval's vqav2 task computes it (claims-and-evals §3.11, §4.5): the prediction and
// every gold answer go through the EvalAI answer processor (punctuation rules, number words to digits, articles
// dropped, contractions restored); for each gold answer, the accuracy against the other answers is
// min(1, matches / 3); the question scores the mean of these leave-one-out values (10 for VQAv2).
#pragma once

#include <string>
#include <vector>

namespace g4ref::scoring {

// EvalAI's processPunctuation and processDigitArticle, in that order (lmms-eval applies both to both sides).
std::string vqa_normalize_answer(const std::string& answer);

double vqa_accuracy_question(const std::vector<std::string>& gold_answers, const std::string& prediction);
double vqa_accuracy(const std::vector<std::vector<std::string>>& gold_answers,
                    const std::vector<std::string>& predictions);

}  // namespace g4ref::scoring
