#include "harness/scoring/chrf.h"

#include <cmath>
#include <map>

#include "base/error.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

using Counts = std::map<std::u32string, long>;

std::vector<Counts> char_ngrams(std::u32string line, int max_order, bool whitespace) {
  if (!whitespace) {
    std::u32string joined;
    for (const auto& w : python_split(line)) joined += w;
    line = joined;
  }
  std::vector<Counts> out(max_order);
  for (int n = 1; n <= max_order; ++n) {
    for (size_t i = 0; i + n <= line.size(); ++i) ++out[n - 1][line.substr(i, n)];
  }
  return out;
}

// CHRF._remove_punctuation: one ASCII punctuation mark at the end (else at the start) of a word is split off.
std::vector<std::u32string> chrf_words(const std::u32string& sent) {
  std::vector<std::u32string> out;
  for (const auto& w : python_split(sent)) {
    if (w.size() == 1) {
      out.push_back(w);
    } else if (is_ascii_punctuation(w.back())) {
      out.push_back(w.substr(0, w.size() - 1));
      out.push_back(w.substr(w.size() - 1));
    } else if (is_ascii_punctuation(w.front())) {
      out.push_back(w.substr(0, 1));
      out.push_back(w.substr(1));
    } else {
      out.push_back(w);
    }
  }
  return out;
}

Counts word_ngrams(const std::vector<std::u32string>& words, int n) {
  Counts c;
  for (size_t i = 0; i + n <= words.size(); ++i) {
    std::u32string key;
    for (int k = 0; k < n; ++k) {
      if (k) key.push_back(U' ');
      key += words[i + k];
    }
    ++c[key];
  }
  return c;
}

std::vector<Counts> all_ngrams(const std::u32string& s, const ChrfOptions& o) {
  auto out = char_ngrams(s, o.char_order, o.whitespace);
  if (o.word_order > 0) {
    const auto words = chrf_words(s);
    for (int n = 1; n <= o.word_order; ++n) out.push_back(word_ngrams(words, n));
  }
  return out;
}

double f_score(const std::vector<long>& st, const ChrfOptions& o) {
  const double eps = 1e-16;
  const double factor = o.beta * o.beta;
  const int order = o.char_order + o.word_order;
  double score = 0, avg_prec = 0, avg_rec = 0;
  int effective_order = 0;
  for (int i = 0; i < order; ++i) {
    const long n_hyp = st[3 * i], n_ref = st[3 * i + 1], n_match = st[3 * i + 2];
    const double prec = n_hyp > 0 ? static_cast<double>(n_match) / static_cast<double>(n_hyp) : eps;
    const double rec = n_ref > 0 ? static_cast<double>(n_match) / static_cast<double>(n_ref) : eps;
    const double denom = factor * prec + rec;
    score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (o.eps_smoothing) return 100 * score / order;
  if (effective_order == 0) {
    avg_prec = avg_rec = 0;
  } else {
    avg_prec /= effective_order;
    avg_rec /= effective_order;
  }
  if (avg_prec + avg_rec != 0) return 100 * (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec);
  return 0.0;
}

std::u32string prep(const std::string& text, const ChrfOptions& o, const std::string& where) {
  std::u32string s = utf8_to_u32(text, where);
  return o.lowercase ? python_lower(s) : s;
}

std::string format_beta(double beta) {
  if (beta == std::floor(beta)) return std::to_string(static_cast<long>(beta));
  std::string s = std::to_string(beta);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

}  // namespace

std::vector<std::vector<long>> chrf_statistics(const std::vector<std::string>& hyps,
                                               const std::vector<std::vector<std::string>>& refs,
                                               const ChrfOptions& o) {
  if (o.char_order < 0 || o.word_order < 0 || o.char_order + o.word_order < 1) {
    fail("chrF", "the character and word orders must be non-negative and not both 0");
  }
  if (refs.empty()) fail("chrF", "no reference stream given");
  for (size_t k = 0; k < refs.size(); ++k) {
    if (refs[k].size() != hyps.size()) {
      fail("chrF", "reference stream " + std::to_string(k + 1) + " has " + std::to_string(refs[k].size()) +
                       " lines, the hypotheses " + std::to_string(hyps.size()));
    }
  }
  const int order = o.char_order + o.word_order;
  std::vector<std::vector<long>> out;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const auto hyp = all_ngrams(prep(hyps[i], o, "hypothesis " + std::to_string(i + 1)), o);
    std::vector<long> best;
    double best_f = -1.0;
    for (size_t k = 0; k < refs.size(); ++k) {
      const auto ref = all_ngrams(prep(refs[k][i], o, "reference " + std::to_string(i + 1)), o);
      std::vector<long> st;
      for (int n = 0; n < order; ++n) {
        long match = 0, hyp_count = 0, ref_count = 0;
        for (const auto& [ng, c] : hyp[n]) {
          hyp_count += c;
          auto it = ref[n].find(ng);
          if (it != ref[n].end()) match += std::min(c, it->second);
        }
        for (const auto& [ng, c] : ref[n]) ref_count += c;
        // sacreBLEU counts no hypothesis n-grams for an order the reference has none of.
        st.insert(st.end(), {ref[n].empty() ? 0 : hyp_count, ref_count, match});
      }
      const double f = f_score(st, o);
      if (f > best_f) {
        best_f = f;
        best = st;
      }
    }
    out.push_back(best);
  }
  return out;
}

ChrfResult chrf_from_statistics(const std::vector<std::vector<long>>& segments, size_t nrefs, const ChrfOptions& o,
                                const std::vector<size_t>* indices) {
  const int order = o.char_order + o.word_order;
  std::vector<long> total(3 * order, 0);
  auto add = [&](const std::vector<long>& st) {
    for (int j = 0; j < 3 * order; ++j) total[j] += st[j];
  };
  if (indices) {
    for (size_t i : *indices) add(segments.at(i));
  } else {
    for (const auto& st : segments) add(st);
  }
  ChrfResult r;
  r.statistics = total;
  r.score = f_score(total, o);
  r.name = "chrF" + format_beta(o.beta) + std::string(static_cast<size_t>(o.word_order), '+');
  r.signature = "nrefs:" + std::to_string(nrefs) + "|case:" + (o.lowercase ? "lc" : "mixed") +
                "|eff:" + (o.eps_smoothing ? "no" : "yes") + "|nc:" + std::to_string(o.char_order) +
                "|nw:" + std::to_string(o.word_order) + "|space:" + (o.whitespace ? "yes" : "no") +
                "|version:2.6.0";
  return r;
}

ChrfResult corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                       const ChrfOptions& o) {
  return chrf_from_statistics(chrf_statistics(hyps, refs, o), refs.size(), o);
}

ChrfResult sentence_chrf(const std::string& hyp, const std::vector<std::string>& refs, const ChrfOptions& o) {
  std::vector<std::vector<std::string>> streams;
  for (const auto& r : refs) streams.push_back({r});
  return corpus_chrf({hyp}, streams, o);
}

}  // namespace g4ref::scoring
