// BLEU as sacreBLEU 2.6.0 computes it (sacrebleu.metrics.BLEU): corpus statistics pooled over segments, n-gram
// counts clipped by the maximum count over the references, the closest reference length (the shorter on a tie),
// brevity penalty exp(1 − r/c), the geometric mean of the precisions with one of four smoothings:
//   exp (default; mteval-v13a: the k-th zero precision becomes 1/(2^k · total)), none, floor (zero precisions
//   become value/total, default 0.1), add-k (k added to the counts and totals of orders ≥ 2, default 1).
// The score is 0 when no unigram matches. Effective order stops at the first order with no n-grams (sentence BLEU).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace g4ref::scoring {

struct BleuOptions {
  std::string tokenize = "13a";
  std::string smooth_method = "exp";    // exp | none | floor | add-k
  std::optional<double> smooth_value;   // floor: 0.1, add-k: 1 when unset
  bool lowercase = false;
  bool effective_order = false;
  int max_ngram_order = 4;
};

struct BleuResult {
  double score = 0;                 // 0–100
  std::vector<double> counts;       // matched n-grams per order (add-k adds to them, hence double)
  std::vector<double> totals;       // hypothesis n-grams per order
  std::vector<double> precisions;   // percent
  double bp = 0;
  long sys_len = 0;
  long ref_len = 0;
  std::string signature;            // nrefs:N|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0
};

// `references` are reference streams: references[k][i] is the k-th reference of hypothesis i.
BleuResult corpus_bleu(const std::vector<std::string>& hypotheses,
                       const std::vector<std::vector<std::string>>& references, const BleuOptions& options = {});
// sacrebleu.sentence_bleu: one hypothesis, its references, effective order on unless the options say otherwise.
BleuResult sentence_bleu(const std::string& hypothesis, const std::vector<std::string>& references,
                         const BleuOptions& options);
BleuResult sentence_bleu(const std::string& hypothesis, const std::vector<std::string>& references);
// sacrebleu.raw_corpus_bleu: no tokenization, floor smoothing with `floor`, effective order.
BleuResult raw_corpus_bleu(const std::vector<std::string>& hypotheses,
                           const std::vector<std::vector<std::string>>& references, double floor = 0.1);

// Per-segment sufficient statistics (what corpus_bleu pools), for resampling.
struct BleuStatistics {
  std::vector<double> correct, total;
  long sys_len = 0, ref_len = 0;
};
std::vector<BleuStatistics> bleu_statistics(const std::vector<std::string>& hypotheses,
                                            const std::vector<std::vector<std::string>>& references,
                                            const BleuOptions& options = {});
// Pools the statistics of the given segments (all of them when `indices` is null) and computes the score.
BleuResult bleu_from_statistics(const std::vector<BleuStatistics>& segments, size_t nrefs, const BleuOptions& options,
                                const std::vector<size_t>* indices = nullptr);

// compute_bleu from sufficient statistics (exposed for its own test vector).
BleuResult compute_bleu(std::vector<double> correct, std::vector<double> total, long sys_len, long ref_len,
                        const BleuOptions& options);

}  // namespace g4ref::scoring
