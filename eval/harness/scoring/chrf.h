// chrF and chrF++ as sacreBLEU 2.6.0's CHRF computes them: character n-grams of orders 1…char_order (whitespace
// removed unless `whitespace`), word n-grams of orders 1…word_order on words with one leading or trailing ASCII
// punctuation mark split off (chrF++: word_order 2); per segment the reference with the best F is kept, the
// statistics are pooled over the corpus, and the F_beta of the averaged precision and recall is returned.
// sacreBLEU's defaults: char_order 6, word_order 0, beta 2, effective-order averaging (eps_smoothing false);
// eps_smoothing averages the per-order F scores with 1e-16 for empty orders (chrF++.py, Moses, NLTK).
#pragma once

#include <string>
#include <vector>

namespace g4ref::scoring {

struct ChrfOptions {
  int char_order = 6;
  int word_order = 0;
  double beta = 2;
  bool lowercase = false;
  bool whitespace = false;
  bool eps_smoothing = false;
};

struct ChrfResult {
  double score = 0;                 // 0–100
  std::vector<long> statistics;     // [hyp, ref, match] per order, characters first
  std::string name;                 // chrF2, chrF2++
  std::string signature;            // nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0
};

// references[k][i]: the k-th reference of hypothesis i.
ChrfResult corpus_chrf(const std::vector<std::string>& hypotheses,
                       const std::vector<std::vector<std::string>>& references, const ChrfOptions& options = {});
// Per-segment [hyp, ref, match] statistics of the best reference (what corpus_chrf pools), for resampling.
std::vector<std::vector<long>> chrf_statistics(const std::vector<std::string>& hypotheses,
                                               const std::vector<std::vector<std::string>>& references,
                                               const ChrfOptions& options = {});
ChrfResult chrf_from_statistics(const std::vector<std::vector<long>>& segments, size_t nrefs, const ChrfOptions& options,
                                const std::vector<size_t>* indices = nullptr);
ChrfResult sentence_chrf(const std::string& hypothesis, const std::vector<std::string>& references,
                         const ChrfOptions& options = {});

}  // namespace g4ref::scoring
