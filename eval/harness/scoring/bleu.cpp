#include "harness/scoring/bleu.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "base/error.h"
#include "harness/scoring/bleu_tokenizers.h"
#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

namespace {

constexpr const char* kSacrebleuVersion = "2.6.0";

std::optional<double> default_smooth_value(const std::string& method) {
  if (method == "floor") return 0.1;
  if (method == "add-k") return 1.0;
  if (method == "exp" || method == "none") return std::nullopt;
  fail("--smooth", "unknown BLEU smoothing \"" + method + "\" (expected exp, none, floor or add-k)");
}

double my_log(double x) { return x == 0 ? -9999999999.0 : std::log(x); }

using NgramCounts = std::unordered_map<std::u32string, long>;

// extract_all_word_ngrams: n-grams of the whitespace-split tokens, joined by a space (tokens hold none).
NgramCounts ngrams_of(const std::vector<std::u32string>& tokens, int max_order) {
  NgramCounts counts;
  for (int n = 1; n <= max_order; ++n) {
    for (size_t i = 0; i + n <= tokens.size(); ++i) {
      std::u32string key;
      for (int k = 0; k < n; ++k) {
        if (k) key.push_back(U' ');
        key += tokens[i + k];
      }
      ++counts[key];
    }
  }
  return counts;
}

int order_of(const std::u32string& key) {
  int n = 1;
  for (char32_t c : key) n += c == U' ';
  return n;
}

std::vector<std::u32string> preprocess(const std::string& text, const BleuOptions& o, const std::string& where) {
  std::u32string s = utf8_to_u32(text, where);
  if (o.lowercase) s = python_lower(s);
  // _preprocess_segment: tokenizer(sent.rstrip())
  size_t e = s.size();
  while (e > 0 && is_python_space(s[e - 1])) --e;
  s.resize(e);
  return python_split(bleu_tokenize(s, o.tokenize));
}

std::string signature(size_t nrefs, const BleuOptions& o) {
  std::string smooth = o.smooth_method;
  const auto def = default_smooth_value(o.smooth_method);
  if (def) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "[%.2f]", o.smooth_value.value_or(*def));
    smooth += buf;
  }
  return "nrefs:" + std::to_string(nrefs) + "|case:" + (o.lowercase ? "lc" : "mixed") +
         "|eff:" + (o.effective_order ? "yes" : "no") + "|tok:" + o.tokenize + "|smooth:" + smooth +
         "|version:" + kSacrebleuVersion;
}

}  // namespace

BleuResult compute_bleu(std::vector<double> correct, std::vector<double> total, long sys_len, long ref_len,
                        const BleuOptions& o) {
  const int max_order = o.max_ngram_order;
  const double smooth_value = o.smooth_value.value_or(default_smooth_value(o.smooth_method).value_or(0.0));
  BleuResult r;
  r.sys_len = sys_len;
  r.ref_len = ref_len;
  r.bp = 1.0;
  if (sys_len < ref_len) {
    r.bp = sys_len > 0 ? std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(sys_len)) : 0.0;
  }
  r.precisions.assign(max_order, 0.0);
  bool any = false;
  for (double c : correct) any = any || c != 0;
  if (!any) {
    r.counts = correct;
    r.totals = total;
    r.score = 0.0;
    return r;
  }
  double smooth_mteval = 1.0;
  int eff_order = max_order;
  for (int n = 1; n <= max_order; ++n) {
    if (o.smooth_method == "add-k" && n > 1) {
      correct[n - 1] += smooth_value;
      total[n - 1] += smooth_value;
    }
    if (total[n - 1] == 0) break;
    if (o.effective_order) eff_order = n;
    if (correct[n - 1] == 0) {
      if (o.smooth_method == "exp") {
        smooth_mteval *= 2;
        r.precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
      } else if (o.smooth_method == "floor") {
        r.precisions[n - 1] = 100.0 * smooth_value / total[n - 1];
      }
    } else {
      r.precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
    }
  }
  double sum = 0;
  for (int n = 0; n < eff_order; ++n) sum += my_log(r.precisions[n]);
  r.score = r.bp * std::exp(sum / eff_order);
  r.counts = std::move(correct);
  r.totals = std::move(total);
  return r;
}

std::vector<BleuStatistics> bleu_statistics(const std::vector<std::string>& hyps,
                                            const std::vector<std::vector<std::string>>& refs, const BleuOptions& o) {
  default_smooth_value(o.smooth_method);  // validates the name
  if (!is_known_bleu_tokenizer(o.tokenize)) bleu_tokenize(U"", o.tokenize);
  if (o.max_ngram_order < 1) fail("--max-ngram-order", "must be at least 1");
  if (refs.empty()) fail("BLEU", "no reference stream given");
  for (size_t k = 0; k < refs.size(); ++k) {
    if (refs[k].size() != hyps.size()) {
      fail("BLEU", "reference stream " + std::to_string(k + 1) + " has " + std::to_string(refs[k].size()) +
                       " lines, the hypotheses " + std::to_string(hyps.size()));
    }
  }
  const int N = o.max_ngram_order;
  std::vector<BleuStatistics> out;
  out.reserve(hyps.size());
  for (size_t i = 0; i < hyps.size(); ++i) {
    NgramCounts ref_max;
    std::vector<long> ref_lens;
    for (size_t k = 0; k < refs.size(); ++k) {
      const auto tokens = preprocess(refs[k][i], o, "reference " + std::to_string(i + 1));
      ref_lens.push_back(static_cast<long>(tokens.size()));
      for (const auto& [ng, c] : ngrams_of(tokens, N)) {
        long& m = ref_max[ng];
        m = std::max(m, c);
      }
    }
    const auto hyp_tokens = preprocess(hyps[i], o, "hypothesis " + std::to_string(i + 1));
    const long hyp_len = static_cast<long>(hyp_tokens.size());
    long closest_diff = -1, closest_len = -1;
    for (long rl : ref_lens) {
      const long diff = std::labs(hyp_len - rl);
      if (closest_diff == -1 || diff < closest_diff) {
        closest_diff = diff;
        closest_len = rl;
      } else if (diff == closest_diff && rl < closest_len) {
        closest_len = rl;
      }
    }
    BleuStatistics st;
    st.correct.assign(N, 0.0);
    st.total.assign(N, 0.0);
    st.sys_len = hyp_len;
    st.ref_len = closest_len;
    for (const auto& [ng, c] : ngrams_of(hyp_tokens, N)) {
      const int n = order_of(ng) - 1;
      st.total[n] += static_cast<double>(c);
      auto it = ref_max.find(ng);
      if (it != ref_max.end()) st.correct[n] += static_cast<double>(std::min(c, it->second));
    }
    out.push_back(std::move(st));
  }
  return out;
}

BleuResult bleu_from_statistics(const std::vector<BleuStatistics>& segments, size_t nrefs, const BleuOptions& o,
                                const std::vector<size_t>* indices) {
  const int N = o.max_ngram_order;
  std::vector<double> correct(N, 0.0), total(N, 0.0);
  long sys_len = 0, ref_len = 0;
  auto add = [&](const BleuStatistics& st) {
    for (int n = 0; n < N; ++n) {
      correct[n] += st.correct[n];
      total[n] += st.total[n];
    }
    sys_len += st.sys_len;
    ref_len += st.ref_len;
  };
  if (indices) {
    for (size_t i : *indices) add(segments.at(i));
  } else {
    for (const auto& st : segments) add(st);
  }
  BleuResult r = compute_bleu(correct, total, sys_len, ref_len, o);
  r.signature = signature(nrefs, o);
  return r;
}

BleuResult corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                       const BleuOptions& o) {
  return bleu_from_statistics(bleu_statistics(hyps, refs, o), refs.size(), o);
}

BleuResult sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs) {
  BleuOptions o;
  o.effective_order = true;
  return sentence_bleu(hyp, refs, o);
}

BleuResult sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs, const BleuOptions& o) {
  std::vector<std::vector<std::string>> streams;
  for (const auto& r : refs) streams.push_back({r});
  return corpus_bleu({hyp}, streams, o);
}

BleuResult raw_corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                           double floor) {
  BleuOptions o;
  o.tokenize = "none";
  o.smooth_method = "floor";
  o.smooth_value = floor;
  o.effective_order = true;
  return corpus_bleu(hyps, refs, o);
}

}  // namespace g4ref::scoring
