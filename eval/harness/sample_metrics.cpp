#include "harness/sample_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "base/error.h"
#include "harness/scoring/anls.h"
#include "harness/scoring/answer_extraction.h"
#include "harness/scoring/bleu.h"
#include "harness/scoring/error_rate.h"
#include "harness/scoring/mrcr.h"
#include "harness/scoring/translation_label.h"
#include "harness/scoring/unicode_text.h"
#include "harness/scoring/whisper_normalizer.h"

namespace g4ref {
namespace {

using ojson = nlohmann::ordered_json;
using scoring::u32_to_utf8;
using scoring::utf8_to_u32;

bool listed(const ojson& spec, const std::string& key, const std::string& value) {
  if (!spec.contains(key)) return false;
  for (const ojson& v : spec[key])
    if (v.is_string() && v.get<std::string>() == value) return true;
  return false;
}

std::string field_text(const Sample& s, const std::string& field, const std::string& where) {
  if (!s.doc.contains(field)) fail(where, "record " + s.doc_id + " lacks the field \"" + field + "\"");
  const ojson& v = s.doc[field];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Drops the model's special-token spellings (<turn|>, <|channel>, <eos>, …) from a transcript.
std::u32string without_special_tags(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == U'<') {
      const size_t close = s.find(U'>', i);
      if (close != std::u32string::npos) {
        const std::u32string inner = s.substr(i + 1, close - i - 1);
        const bool tag = !inner.empty() && inner.find(U' ') == std::u32string::npos &&
                         (inner.find(U'|') != std::u32string::npos || inner == U"eos" || inner == U"bos" || inner == U"pad");
        if (tag) {
          i = close;
          continue;
        }
      }
    }
    out += s[i];
  }
  return out;
}

bool punctuation_only(const std::u32string& token) {
  for (char32_t c : token) {
    const std::string cat = scoring::unicode_category(c);
    if (cat[0] != 'P' && cat[0] != 'S') return false;
  }
  return !token.empty();
}

// Lower case, then the tokens made only of punctuation and symbols dropped (lmms-eval's last step before FLEURS'
// error rate and CoVoST's normalized BLEU).
std::string lower_without_punctuation_tokens(const std::string& text, const std::string& where) {
  std::u32string kept;
  for (const std::u32string& tok : scoring::python_split(scoring::python_lower(utf8_to_u32(text, where)))) {
    if (punctuation_only(tok)) continue;
    if (!kept.empty()) kept += U' ';
    kept += tok;
  }
  return u32_to_utf8(kept);
}

// lmms-eval's FLEURS path (claims-and-evals §3.8): tags stripped, whitespace collapsed, no space before
// punctuation; Whisper's English normalizer (then the basic one) for English, the basic one otherwise; lower case,
// punctuation-only tokens dropped; character-scored languages lose every space.
std::string asr_normalize(const std::string& text, bool english, bool characters, const std::string& normalizer,
                          const std::string& where) {
  std::u32string u = scoring::collapse_whitespace(without_special_tags(utf8_to_u32(text, where)));
  std::u32string tight;
  for (size_t i = 0; i < u.size(); ++i) {
    if (u[i] == U' ' && i + 1 < u.size() && (u[i + 1] == U',' || u[i + 1] == U'.' || u[i + 1] == U'!' ||
                                             u[i + 1] == U'?' || u[i + 1] == U';' || u[i + 1] == U':'))
      continue;
    tight += u[i];
  }
  std::string s = u32_to_utf8(scoring::python_strip(tight));
  if (normalizer == "lmms_eval") {
    if (english) {
      static const scoring::EnglishTextNormalizer en;
      s = en(s);
    }
    s = lower_without_punctuation_tokens(scoring::whisper_basic_normalize(s), where);
  } else if (normalizer != "none") {
    fail(where, "scoring.normalizer must be lmms_eval or none, found \"" + normalizer + "\"");
  }
  if (characters) {
    std::u32string c;
    for (char32_t ch : utf8_to_u32(s, where))
      if (!scoring::is_python_space(ch)) c += ch;
    s = u32_to_utf8(c);
  }
  return s;
}

scoring::BleuOptions bleu_options(const ojson& sc) {
  scoring::BleuOptions o;
  o.tokenize = sc.value("tokenize", "13a");
  o.lowercase = sc.value("lowercase", false);
  return o;
}

std::string bleu_side(const std::string& text, bool normalize, const std::string& where) {
  if (!normalize) return text;
  // lmms-eval's CoVoST path: Whisper's English normalizer on both sides, lower case, punctuation-only tokens out.
  static const scoring::EnglishTextNormalizer en;
  return lower_without_punctuation_tokens(en(text), where);
}

// MATH-Vision answers compared as strings after light LaTeX clean-up, or as numbers.
std::string math_clean(const std::string& s) {
  std::string t;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '$') t += c;
  for (const std::string w : {"\\left", "\\right", "\\!", "\\,", "^\\circ", "^{\\circ}", "\\%", "%", "\\dfrac", "\\tfrac"}) {
    for (size_t at = t.find(w); at != std::string::npos; at = t.find(w)) t.replace(at, w.size(), w == "\\dfrac" || w == "\\tfrac" ? "\\frac" : "");
  }
  for (const std::string w : {"\\text{", "\\mathrm{", "\\mbox{"}) {
    for (size_t at = t.find(w); at != std::string::npos; at = t.find(w)) {
      const size_t close = t.find('}', at);
      if (close == std::string::npos) break;
      t = t.substr(0, at) + t.substr(at + w.size(), close - at - w.size()) + t.substr(close + 1);
    }
  }
  while (!t.empty() && t.back() == '.') t.pop_back();
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

bool as_number(const std::string& s, double* v) {
  if (s.empty()) return false;
  std::string t = s;
  const size_t frac = t.find("\\frac{");
  if (frac == 0) {  // \frac{a}{b}
    const size_t m = t.find("}{");
    if (m == std::string::npos || t.back() != '}') return false;
    double a = 0, b = 0;
    if (!as_number(t.substr(6, m - 6), &a) || !as_number(t.substr(m + 2, t.size() - m - 3), &b) || b == 0) return false;
    *v = a / b;
    return true;
  }
  t.erase(std::remove(t.begin(), t.end(), ','), t.end());
  char* end = nullptr;
  *v = std::strtod(t.c_str(), &end);
  return end && *end == '\0' && std::isfinite(*v);
}

bool math_equal(const std::string& a, const std::string& b) {
  const std::string x = math_clean(a), y = math_clean(b);
  if (x == y && !x.empty()) return true;
  double u = 0, v = 0;
  if (as_number(x, &u) && as_number(y, &v)) return std::fabs(u - v) <= 1e-6 * std::max(1.0, std::fabs(v));
  return false;
}

}  // namespace

bool is_sample_metric(const std::string& m) {
  return m == "anls" || m == "asr_error_rate" || m == "bleu" || m == "mrcr" || m == "math_vision";
}

bool is_corpus_metric(const std::string& m) { return m == "asr_error_rate" || m == "bleu"; }

bool higher_is_better(const std::string& m) { return m != "asr_error_rate"; }

SampleScore score_sample(const Task& task, const Sample& s, const std::string& output) {
  SampleScore r;
  const std::string& m = task.metric;
  const std::string where = task.path + ": sample " + s.id;
  const ojson sc = task.spec.value("scoring", ojson::object());
  const std::string text = u32_to_utf8(scoring::python_strip(utf8_to_u32(output, where + ": model output")));
  if (m == "anls") {
    // The output as generated: lmms-eval's ANLS measures the raw strings' lengths (§4.4).
    r.extraction = {!text.empty(), output, "whole output"};
    r.score = scoring::anls_question(s.targets, output);
    return r;
  }
  if (m == "mrcr") {
    const std::string prefix = field_text(s, sc.value("prefix_field", "random_string_to_prepend"), where);
    r.extraction = {text.rfind(prefix, 0) == 0, output, "starts with the prefix"};
    // The grade reads the response as given (a leading space fails the prefix rule, as in openai/mrcr).
    r.score = scoring::mrcr_grade(output, s.target, prefix);
    return r;
  }
  if (m == "math_vision") {
    const auto boxed = scoring::last_boxed_content(output);
    r.extraction.parsed = boxed.has_value();
    r.extraction.rule = "last \\boxed{}";
    if (!boxed) return r;
    r.extraction.answer = *boxed;
    bool right = math_equal(*boxed, s.target);
    // With options, the letter or the correct option's value (MATH-Vision's answer is the letter then).
    if (!right && !s.choices.empty() && s.target.size() == 1) {
      std::string letter = math_clean(*boxed);
      if (letter.size() == 3 && letter.front() == '(' && letter.back() == ')') letter = letter.substr(1, 1);
      const size_t at = task.letters.find(s.target[0]);
      right = letter.size() == 1 && std::toupper(static_cast<unsigned char>(letter[0])) == s.target[0];
      if (!right && at != std::string::npos && at < s.choices.size()) right = math_equal(*boxed, s.choices[at]);
    }
    r.score = right ? 1.0 : 0.0;
    return r;
  }
  if (m == "asr_error_rate") {
    const std::string lang = field_text(s, sc.value("language_field", "lang"), where);
    const bool english = listed(sc, "english", lang);
    const bool chars = listed(sc, "characters", lang);
    const std::string norm = sc.value("normalizer", "lmms_eval");
    const std::string hyp = asr_normalize(output, english, chars, norm, where + ": hypothesis");
    const std::string ref = asr_normalize(s.target, english, chars, norm, where + ": reference");
    const scoring::ErrorRates e = scoring::error_rates({ref}, {hyp}, chars ? scoring::ErrorUnit::characters : scoring::ErrorUnit::words);
    r.extraction = {true, hyp, norm == "none" ? "raw transcript" : "lmms-eval normalization"};
    r.score = e.reference_length ? static_cast<double>(e.counts.distance()) / e.reference_length : static_cast<double>(e.counts.distance());
    r.stats = {{"unit", chars ? "characters" : "words"},
               {"errors", e.counts.distance()},
               {"reference_length", e.reference_length},
               {"substitutions", e.counts.substitutions},
               {"deletions", e.counts.deletions},
               {"insertions", e.counts.insertions},
               {"hypothesis", hyp},
               {"reference", ref}};
    return r;
  }
  if (m == "bleu") {
    const ojson ex = task.spec.value("extract", ojson::object());
    std::string hyp;
    if (ex.contains("after_label")) {
      const auto t = scoring::text_after_label(output, ex["after_label"].get<std::string>());
      r.extraction = {t.has_value(), t.value_or(""), "after the label " + ex["after_label"].get<std::string>()};
      hyp = t.value_or("");
    } else {
      r.extraction = {true, text, "whole output"};
      hyp = text;
    }
    const bool normalize = sc.value("normalize", false);
    const scoring::BleuOptions o = bleu_options(sc);
    const std::string h = bleu_side(hyp, normalize, where), ref = bleu_side(s.target, normalize, where);
    const scoring::BleuStatistics st = scoring::bleu_statistics({h}, {{ref}}, o).at(0);
    scoring::BleuOptions sentence = o;  // sacrebleu.sentence_bleu: effective order
    sentence.effective_order = true;
    r.score = scoring::sentence_bleu(h, {ref}, sentence).score;
    r.stats = {{"correct", st.correct}, {"total", st.total}, {"sys_len", st.sys_len}, {"ref_len", st.ref_len},
               {"hypothesis", h}, {"reference", ref}};
    return r;
  }
  fail(where, "\"" + m + "\" is not a sample metric");
}

double corpus_value(const std::string& metric, const ojson& spec, const std::vector<const ojson*>& records,
                    std::string* signature) {
  if (metric == "asr_error_rate") {
    double errors = 0, length = 0;
    for (const ojson* r : records) {
      errors += r->at("stats").at("errors").get<double>();
      length += r->at("stats").at("reference_length").get<double>();
    }
    return length > 0 ? errors / length : errors;
  }
  if (metric == "bleu") {
    std::vector<scoring::BleuStatistics> segs;
    for (const ojson* r : records) {
      const ojson& st = r->at("stats");
      scoring::BleuStatistics b;
      b.correct = st.at("correct").get<std::vector<double>>();
      b.total = st.at("total").get<std::vector<double>>();
      b.sys_len = st.at("sys_len").get<long>();
      b.ref_len = st.at("ref_len").get<long>();
      segs.push_back(std::move(b));
    }
    const scoring::BleuResult b = scoring::bleu_from_statistics(segs, 1, bleu_options(spec.value("scoring", ojson::object())));
    if (signature) *signature = b.signature;
    return segs.empty() ? 0.0 : b.score;
  }
  fail("results", "\"" + metric + "\" is not a corpus metric");
}

}  // namespace g4ref
