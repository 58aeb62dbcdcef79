// Benchmark metrics (eval/harness/scoring) against published test vectors: the test files of jiwer 4.0.0
// (tests/test_measures.py, test_empty_ref.py, test_cer.py), sacreBLEU 2.6.0 (test/test_bleu.py,
// test_sentence_bleu.py, test_chrf.py), deepopinion/anls_star_metric (tests/test_anls_star.py), and the values
// claims-and-evals §4 derives by hand or from a run of the reference program; CPython itself (difflib, str,
// unicodedata, float, re) through tests/oracles/*.py; edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness/scoring/anls.h"
#include "harness/scoring/answer_extraction.h"
#include "harness/scoring/bleu.h"
#include "harness/scoring/bleu_tokenizers.h"
#include "harness/scoring/chrf.h"
#include "harness/scoring/english_number_normalizer.h"
#include "harness/scoring/error_rate.h"
#include "harness/scoring/exact_match.h"
#include "harness/scoring/mcq_accuracy.h"
#include "harness/scoring/mrcr.h"
#include "harness/scoring/relaxed_accuracy.h"
#include "harness/scoring/sequence_matcher.h"
#include "harness/scoring/statistics.h"
#include "harness/scoring/translation_label.h"
#include "harness/scoring/unicode_text.h"
#include "harness/scoring/vqa_accuracy.h"
#include "harness/scoring/whisper_normalizer.h"
#include "test_helpers.h"

namespace g4ref::scoring {
namespace {

using Strings = std::vector<std::string>;

// ---------------------------------------------------------------- WER / MER / WIL / WIP (claims-and-evals §4.1)

struct MeasureCase {
  Strings ref, hyp;
  double wer, mer, wil;
};

TEST(ScoringWer, JiwerMeasuresTestVectors) {
  // jiwer 4.0.0 tests/test_measures.py
  const std::vector<MeasureCase> cases = {
      {{"This is a test"}, {"This is a test"}, 0, 0, 0},
      {{"This is a test"}, {""}, 1, 1, 1},
      {{"This is a test"}, {"This test"}, 0.5, 0.5, 0.5},
      {{"X"}, {"X X Y Y"}, 3, 0.75, 0.75},
      {{"X Y X"}, {"X Z"}, 2.0 / 3, 2.0 / 3, 5.0 / 6},
      {{"X"}, {"Y"}, 1, 1, 1},
      {{"X"}, {"Y Z"}, 2, 1, 1},
      {{"i", "am i good"}, {"i am", "i good"}, 0.5, 0.4, 7.0 / 16},
      {{"am i good", "i"}, {"i good", "i am"}, 0.5, 0.4, 7.0 / 16},
  };
  for (const auto& c : cases) {
    const ErrorRates r = word_error_rate(c.ref, c.hyp);
    EXPECT_NEAR(r.wer, c.wer, 1e-12) << c.ref[0] << " / " << c.hyp[0];
    EXPECT_NEAR(r.mer, c.mer, 1e-12) << c.ref[0] << " / " << c.hyp[0];
    EXPECT_NEAR(r.wil, c.wil, 1e-12) << c.ref[0] << " / " << c.hyp[0];
    EXPECT_NEAR(r.wip, 1 - c.wil, 1e-12);
  }
}

TEST(ScoringWer, JiwerEmptyReferenceTestVectors) {
  // jiwer 4.0.0 tests/test_empty_ref.py
  {
    const ErrorRates r = word_error_rate({"hello world", ""}, {"hello world", "done"});
    EXPECT_EQ(r.counts.insertions, 1u);
    EXPECT_NEAR(r.wer, 0.5, 1e-12);
    EXPECT_NEAR(r.mer, 1.0 / 3, 1e-12);
    EXPECT_NEAR(r.wil, 1.0 / 3, 1e-12);
    EXPECT_NEAR(r.wip, 2.0 / 3, 1e-12);
  }
  {
    const ErrorRates r = word_error_rate({""}, {"hello"});
    EXPECT_EQ(r.counts.insertions, 1u);
    EXPECT_EQ(r.wer, 1);
    EXPECT_EQ(r.mer, 1);
    EXPECT_EQ(r.wip, 0);
    EXPECT_EQ(r.wil, 1);
  }
  for (int i = 2; i <= 10; ++i) {
    std::string hyp;
    for (int j = 0; j < i; ++j) {
      if (j) hyp += ' ';
      hyp += std::to_string(j);
    }
    const ErrorRates r = word_error_rate({""}, {hyp});
    EXPECT_EQ(r.counts.insertions, static_cast<size_t>(i));
    EXPECT_EQ(r.wer, i);
    EXPECT_EQ(r.mer, 1);
    EXPECT_EQ(r.wil, 1);
  }
  {
    const ErrorRates r = word_error_rate({"hello"}, {""});
    EXPECT_EQ(r.counts.deletions, 1u);
    EXPECT_EQ(r.wer, 1);
    EXPECT_EQ(r.mer, 1);
    EXPECT_EQ(r.wip, 0);
    EXPECT_EQ(r.wil, 1);
  }
  for (int i = 1; i < 10; ++i) {  // test_empty_ref_empty_hyp
    const ErrorRates r = word_error_rate(Strings(i, ""), Strings(i, ""));
    EXPECT_EQ(r.counts.hits + r.counts.distance(), 0u);
    EXPECT_EQ(r.wer, 0);
    EXPECT_EQ(r.mer, 0);
    EXPECT_EQ(r.wip, 1);
    EXPECT_EQ(r.wil, 0);
  }
}

TEST(ScoringWer, DefaultTransformAndEdgeCases) {
  // Strip and collapse of whitespace runs, no lowercasing, no punctuation removal.
  EXPECT_EQ(word_error_rate({"  hello   world "}, {"hello world"}).wer, 0);
  EXPECT_EQ(word_error_rate({"Hello world"}, {"hello world"}).wer, 0.5);
  EXPECT_EQ(word_error_rate({"hello, world"}, {"hello world"}).wer, 0.5);
  // Unicode words compare by code point.
  EXPECT_EQ(word_error_rate({"producţia de zahăr"}, {"producția de zahăr"}).wer, 1.0 / 3);
  // Mismatched numbers of items are an error.
  testing::expect_error([] { word_error_rate({"a", "b"}, {"a"}); }, "error rate", "differ in number");
  testing::expect_error([] { word_error_rate({"a"}, {std::string("\xff")}); }, "hypothesis 1", "invalid UTF-8");
}

TEST(ScoringWer, AlignmentTieBreakFollowsRapidfuzz) {
  // "a b" vs "b c": two substitutions or deletion + hit + insertion cost 2 alike. rapidfuzz's backtrace from
  // the end takes the diagonal at (2, 2) ("b" vs "c": no deletion, no insertion condition), then substitutes:
  // H = 0, S = 2 (hand-traced from recover_alignment).
  const ErrorRates r = word_error_rate({"a b"}, {"b c"});
  EXPECT_EQ(r.counts.distance(), 2u);
  EXPECT_EQ(r.counts.substitutions, 2u);
  EXPECT_EQ(r.counts.hits, 0u);
}

// ---------------------------------------------------------------- CER (§4.2)

TEST(ScoringCer, JiwerCerTestVectors) {
  // jiwer 4.0.0 tests/test_cer.py (spaces count as characters)
  EXPECT_NEAR(char_error_rate({"This is a test"}, {"This test"}).wer, 5.0 / 14, 1e-12);
  EXPECT_NEAR(char_error_rate({"This is a test"}, {""}).wer, 1.0, 1e-12);
  EXPECT_NEAR(char_error_rate({"X"}, {"X X Y Y"}).wer, 6, 1e-12);
  EXPECT_NEAR(char_error_rate({"X Y X"}, {"X Z"}).wer, 3.0 / 5, 1e-12);
  EXPECT_NEAR(char_error_rate({"X"}, {"Y Z"}).wer, 3, 1e-12);
  EXPECT_NEAR(char_error_rate({"i", "am i good"}, {"i am", "i good"}).wer, 0.6, 1e-12);
}

TEST(ScoringCer, CountsCodePointsNotBytes) {
  // Three CJK characters, one wrong: 1/3 (bytes would give another number).
  EXPECT_NEAR(char_error_rate({"你好吗"}, {"你好啊"}).wer, 1.0 / 3, 1e-12);
  EXPECT_NEAR(char_error_rate({"안녕하세요"}, {"안녕하세요"}).wer, 0.0, 1e-12);
}

// ---------------------------------------------------------------- BLEU (§4.3)

const Strings kHyps = {"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."};
const std::vector<Strings> kRefs = {
    {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
    {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."}};

TEST(ScoringBleu, SacrebleuCorpusTestVectors) {
  // sacreBLEU 2.6.0 test/test_bleu.py, test_corpus_bleu_cases (EPSILON 1e-8)
  EXPECT_NEAR(corpus_bleu(kHyps, kRefs).score, 48.530827, 1e-6);
  EXPECT_EQ(corpus_bleu({"", "", ""}, kRefs).score, 0.0);
  BleuOptions none;
  none.tokenize = "none";
  EXPECT_NEAR(corpus_bleu(kHyps, kRefs, none).score, 49.1919566, 1e-6);
  BleuOptions intl;
  intl.tokenize = "intl";
  EXPECT_NEAR(corpus_bleu(kHyps, kRefs, intl).score, 43.91623493, 1e-7);
  BleuOptions nosmooth;
  nosmooth.smooth_method = "none";
  EXPECT_NEAR(corpus_bleu(kHyps, kRefs, nosmooth).score, 48.530827, 1e-6);
}

TEST(ScoringBleu, StatisticsAndSignatureOfTheReferenceRun) {
  // claims-and-evals §4.3: a run of sacreBLEU 2.6.0 on the same example.
  const BleuResult r = corpus_bleu(kHyps, kRefs);
  EXPECT_EQ(r.counts, (std::vector<double>{14, 7, 5, 3}));
  EXPECT_EQ(r.totals, (std::vector<double>{17, 14, 11, 8}));
  EXPECT_EQ(r.sys_len, 17);
  EXPECT_EQ(r.ref_len, 18);
  EXPECT_NEAR(r.bp, 0.943, 5e-4);
  EXPECT_NEAR(r.precisions[0], 82.4, 0.05);
  EXPECT_NEAR(r.precisions[1], 50.0, 0.05);
  EXPECT_NEAR(r.precisions[2], 45.5, 0.05);
  EXPECT_NEAR(r.precisions[3], 37.5, 0.05);
  EXPECT_EQ(r.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
  const BleuResult one = corpus_bleu(kHyps, {kRefs[0]});
  EXPECT_NEAR(one.score, 45.0675, 5e-5);
  EXPECT_EQ(one.counts, (std::vector<double>{12, 6, 4, 3}));
  EXPECT_EQ(one.ref_len, 17);
  BleuOptions floor;
  floor.smooth_method = "floor";
  EXPECT_EQ(corpus_bleu(kHyps, kRefs, floor).signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0");
}

TEST(ScoringBleu, SacrebleuMaxNgramOrder) {
  // test_bleu.py test_max_ngram_order: the score printed with two decimals.
  const char* expected[] = {"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"};
  for (int order = 1; order <= 6; ++order) {
    BleuOptions o;
    o.max_ngram_order = order;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", corpus_bleu(kHyps, kRefs, o).score);
    EXPECT_EQ(std::string(buf), expected[order - 1]) << "order " << order;
  }
}

TEST(ScoringBleu, SacrebleuRawCorpusAndEffectiveOrder) {
  // test_bleu.py: test_raw_bleu, test_effective_order (raw_corpus_bleu with floor 0.01), test_statistics,
  // test_offset, test_scoring, test_degenerate_statistics.
  EXPECT_NEAR(raw_corpus_bleu({"this is a test", "another test"}, {{"ref1", "ref2"}}, 0.01).score / 100, 0.0, 1e-8);
  EXPECT_NEAR(raw_corpus_bleu({"this is a test"}, {{"this is a test"}}, 0.01).score / 100, 1.0, 1e-8);
  EXPECT_NEAR(raw_corpus_bleu({"this is a fest"}, {{"this is a test"}}, 0.01).score / 100, 0.223606797749979, 1e-8);
  EXPECT_NEAR(raw_corpus_bleu({"test"}, {{"a test"}}, 0.01).score / 100, 0.3678794411714425, 1e-8);
  EXPECT_NEAR(raw_corpus_bleu({"a test"}, {{"a test"}}, 0.01).score / 100, 1.0, 1e-8);
  EXPECT_NEAR(raw_corpus_bleu({"a little test"}, {{"a test"}}, 0.01).score / 100, 0.03218297948685433, 1e-8);
  const BleuResult st = raw_corpus_bleu({"am I am a character sequence"}, {{"I am a symbol string sequence a a"}}, 0.01);
  EXPECT_EQ(st.counts, (std::vector<double>{4, 2, 1, 0}));
  EXPECT_EQ(st.totals, (std::vector<double>{6, 5, 4, 3}));
  EXPECT_NEAR(raw_corpus_bleu({"am I am a character sequence"}, {{"I am a symbol string sequence a a"}}, 0.0).score / 100,
              0.0, 1e-8);
  EXPECT_NEAR(raw_corpus_bleu({"am I am a character sequence"}, {{"I am a symbol string sequence a a"}}).score / 100,
              0.1555722182, 1e-8);
  BleuOptions none;
  none.smooth_method = "none";
  EXPECT_NEAR(compute_bleu({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, none).score / 100, 0.8375922397, 1e-8);
  struct Degenerate {
    std::vector<double> c, t;
    long sys, ref;
    double floor;
  };
  for (const auto& d : std::vector<Degenerate>{{{0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1, 0.0},
                                               {{0, 0, 0, 0}, {10, 11, 12, 0}, 14, 10, 0.0},
                                               {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0.0},
                                               {{6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6, 0.0},
                                               {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, 0.1},
                                               {{0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5, 0.01}}) {
    BleuOptions o;
    o.smooth_method = "floor";
    o.smooth_value = d.floor;
    EXPECT_EQ(compute_bleu(d.c, d.t, d.sys, d.ref, o).score, 0.0);
  }
}

TEST(ScoringBleu, SacrebleuSentenceTestVectors) {
  // sacreBLEU 2.6.0 test/test_sentence_bleu.py (EPSILON 1e-3): the references differ from the hypothesis in
  // ţ (cedilla, U+0163) against ț (comma below, U+021B).
  const std::string ref = "producţia de zahăr brut se exprimă în zahăr alb;";
  const std::string sys = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
  struct Case {
    const char* smooth;
    double value;  // < 0: default
    bool lowercase;
    const char* tok;
    double expected;
  };
  const Case cases[] = {{"exp", -1, false, "13a", 8.493},    {"none", -1, false, "13a", 0.0},
                        {"floor", -1, false, "13a", 4.51688}, {"floor", 0.1, false, "13a", 4.51688},
                        {"floor", 0.5, false, "13a", 10.10},  {"add-k", -1, false, "13a", 14.882},
                        {"add-k", 1, false, "13a", 14.882},   {"add-k", 2, false, "13a", 21.389},
                        {"exp", -1, false, "none", 7.347},    {"exp", -1, false, "intl", 8.493},
                        {"exp", -1, false, "char", 40.8759},  {"exp", -1, true, "char", 42.0267}};
  for (const auto& c : cases) {
    BleuOptions o;
    o.smooth_method = c.smooth;
    if (c.value >= 0) o.smooth_value = c.value;
    o.lowercase = c.lowercase;
    o.tokenize = c.tok;
    o.effective_order = true;
    EXPECT_NEAR(sentence_bleu(sys, {ref}, o).score, c.expected, 1e-3) << c.smooth << " " << c.tok;
  }
  // Example of sacreBLEU issue #141: no unigram matches, 0 under every smoothing.
  for (const char* smooth : {"exp", "none", "floor", "add-k"}) {
    BleuOptions o;
    o.smooth_method = smooth;
    o.effective_order = true;
    EXPECT_EQ(sentence_bleu("this is a cat", {"okay thanks"}, o).score, 0.0) << smooth;
  }
  EXPECT_NEAR(sentence_bleu(sys, {ref}).score, 8.493, 1e-3);
}

TEST(ScoringBleu, Tokenizer13aCheck) {
  // claims-and-evals §4.3: digits keep their inner period, the apostrophe stays in the word.
  EXPECT_EQ(u32_to_utf8(bleu_tokenize(utf8_to_u32(R"(It wasn't surprising. (Really!) 3.5, "ok")"), "13a")),
            R"(It wasn't surprising . ( Really ! ) 3.5 , " ok ")");
  EXPECT_EQ(u32_to_utf8(bleu_tokenize(utf8_to_u32("a &amp; b<skipped> 1-2"), "13a")), "a & b 1 - 2");
  // intl: the apostrophe is punctuation there.
  EXPECT_EQ(u32_to_utf8(bleu_tokenize(utf8_to_u32("It wasn't 3.5 $5"), "intl")), "It wasn ' t 3.5 $ 5");
  // zh: CJK characters split (note the quirk range U+2001–U+2A6D includes the em dash U+2014).
  EXPECT_EQ(u32_to_utf8(bleu_tokenize(utf8_to_u32("我爱北京 ok—yes"), "zh")), "我 爱 北 京 ok — yes");
  testing::expect_error([] { bleu_tokenize(U"x", "ja-mecab"); }, "--tokenize", "unknown BLEU tokenizer");
}

std::string oracle_path(const std::string& name) { return std::string(G4REF_SOURCE_DIR) + "/tests/oracles/" + name; }

// Runs a Python oracle with a JSON request; returns its JSON reply (or skips when python3 is missing).
nlohmann::json run_python_oracle(const std::string& script, const nlohmann::json& request) {
  testing::TempDir dir("scoring_oracle");
  const std::string in = dir / "request.json";
  std::ofstream(in) << request.dump();
  std::string out;
  const int rc = testing::run_command("/usr/bin/python3 " + oracle_path(script) + " < " + in, &out);
  if (rc != 0) throw std::runtime_error("oracle " + script + " failed (rc " + std::to_string(rc) + ")");
  return nlohmann::json::parse(out);
}

bool have_python() {
  std::string out;
  return testing::run_command("/usr/bin/python3 -c 'print(1)' 2>/dev/null", &out) == 0;
}

TEST(ScoringBleu, Tokenizer13aAgreesWithPythonRe) {
  if (!have_python()) GTEST_SKIP() << "/usr/bin/python3 is missing (Debian's python3; run setup.sh)";
  const Strings items = {"It wasn't surprising. (Really!) 3.5, \"ok\"", "a.b,c 1,000.5 x-1 2-3 ..,,",
                         "&quot;q&quot; &lt;tag&gt; a&amp;b", "hy-\nphen\nline", "é.ü,ø. 3.x .5 5. {[|]}~`^_",
                         "", "   ", "Ünïcödé — “quotes” ... 1.2.3", "end.", ".start", "$5 @home #tag 50%"};
  const auto expected = run_python_oracle("python_text.py", {{"op", "tok13a"}, {"items", items}});
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(u32_to_utf8(bleu_tokenize(utf8_to_u32(items[i]), "13a")), expected[i].get<std::string>()) << items[i];
  }
}

TEST(ScoringBleu, TokenizerIntlAgreesWithPythonRegex) {
  std::string out;
  if (testing::run_command("/usr/bin/python3 -c 'import regex' 2>/dev/null", &out) != 0) {
    GTEST_SKIP() << "Debian's python3-regex is not installed (run setup.sh)";
  }
  const Strings items = {"It wasn't surprising. (Really!) 3.5, \"ok\"", "1,000.5 and 2.", "Ünïcödé — “quotes” …",
                         "$5 + €3 = £8 ©™", "a-b_c/d", "1.2.3 end.", "¿Qué? ¡Sí!", "x²+y³", "", "。你好，世界！"};
  const auto expected = run_python_oracle("python_text.py", {{"op", "tokintl"}, {"items", items}});
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(u32_to_utf8(bleu_tokenize(utf8_to_u32(items[i]), "intl")), expected[i].get<std::string>()) << items[i];
  }
}

// ---------------------------------------------------------------- chrF (§4.3)

TEST(ScoringChrf, SacrebleuChrfTestVectors) {
  // sacreBLEU 2.6.0 test/test_chrf.py test_chrf: char_order 6, word_order 0, beta 3, eps_smoothing (EPSILON 1e-4)
  ChrfOptions o;
  o.beta = 3;
  o.eps_smoothing = true;
  struct Case {
    Strings hyp, ref;
    double expected;
  };
  const std::vector<Case> cases = {
      {{"abcdefg"}, {"hijklmnop"}, 0.0},
      {{"a"}, {"b"}, 0.0},
      {{""}, {"b"}, 0.0},
      {{""}, {"ref"}, 0.0},
      {{""}, {"reference"}, 0.0},
      {{"aa"}, {"ab"}, 8.3333},
      {{"a", "b"}, {"a", "c"}, 8.3333},
      {{"a"}, {"a"}, 16.6667},
      {{"a b c"}, {"a b c"}, 50.0},
      {{"a b c"}, {"abc"}, 50.0},
      {{" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
       {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."},
       63.361730},
      {{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
       {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 64.1302698},
      {{"Niemand hat die Absicht, eine Mauer zu errichten"}, {"Niemand hat die Absicht, eine Mauer zu errichten"}, 100.0},
  };
  for (const auto& c : cases) EXPECT_NEAR(corpus_chrf(c.hyp, {c.ref}, o).score, c.expected, 1e-4) << c.hyp[0];
}

TEST(ScoringChrf, SacrebleuEffectiveOrderAndWhitespace) {
  // test_chrf.py test_chrf_eff_order (beta 3, eps_smoothing off) and test_chrf_keep_whitespace.
  ChrfOptions o;
  o.beta = 3;
  struct Case {
    Strings hyp, ref;
    double expected;
  };
  for (const auto& c : std::vector<Case>{{{"a"}, {"a"}, 100.0},
                                         {{""}, {"reference"}, 0.0},
                                         {{"a b c"}, {"a b c"}, 100.0},
                                         {{"a b c"}, {"abc"}, 100.0},
                                         {{""}, {"c"}, 0.0},
                                         {{"a", "b"}, {"a", "c"}, 50.0},
                                         {{"aa"}, {"ab"}, 25.0}}) {
    EXPECT_NEAR(corpus_chrf(c.hyp, {c.ref}, o).score, c.expected, 1e-4) << c.hyp[0];
  }
  o.whitespace = true;
  EXPECT_NEAR(corpus_chrf({"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
                          {{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}}, o)
                  .score,
              67.3481606, 1e-4);
  EXPECT_NEAR(corpus_chrf({"risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
                          {{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}},
                          o)
                  .score,
              65.2414427, 1e-4);
}

TEST(ScoringChrf, SacrebleuSentenceLevelCzech) {
  // test_chrf.py test_chrf_sentence_level: sentence_chrf defaults (beta 2) with eps_smoothing.
  ChrfOptions o;
  o.eps_smoothing = true;
  EXPECT_NEAR(sentence_chrf("Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
                            {"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."}, o)
                  .score,
              39.14078509, 1e-4);
  EXPECT_NEAR(sentence_chrf("Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
                            {"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři."}, o)
                  .score,
              31.22557079, 1e-4);
  EXPECT_NEAR(sentence_chrf("Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
                            {"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli."}, o)
                  .score,
              57.15704367, 1e-4);
}

TEST(ScoringChrf, DefaultsOnTheDogExample) {
  // claims-and-evals §4.3: sacreBLEU 2.6.0 run, default CHRF() and word_order 2.
  const ChrfResult r = corpus_chrf(kHyps, kRefs);
  EXPECT_NEAR(r.score, 59.7275, 5e-5);
  EXPECT_EQ(r.signature, "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0");
  EXPECT_EQ(r.name, "chrF2");
  ChrfOptions pp;
  pp.word_order = 2;
  const ChrfResult p = corpus_chrf(kHyps, kRefs, pp);
  EXPECT_NEAR(p.score, 59.1531, 5e-5);
  EXPECT_EQ(p.name, "chrF2++");
}

// ---------------------------------------------------------------- ANLS (§4.4)

TEST(ScoringAnls, AnlsStarTestVectors) {
  // deepopinion/anls_star_metric tests/test_anls_star.py (strings and tuples: classic ANLS, τ = 0.5); the same
  // in both variants (no whitespace at the ends changes a length here, no NL of exactly 0.5).
  struct Case {
    Strings gold;
    std::string pred;
    double expected;
    double tol;
  };
  const std::vector<Case> cases = {
      {{"Hello World"}, "Hello World", 1.0, 1e-12},
      {{"Hello World"}, "Hello Wrold", 1 - 2.0 / 11, 1e-12},
      {{"Hello World"}, "How are you?", 0.0, 1e-12},
      {{"Hello", "World"}, "Hello", 1.0, 1e-12},
      {{"Hello", "World"}, "Wolrd", 0.6, 1e-12},
      {{"31.12.2023"}, "31. Dec 2023", 0.583333, 1e-6},
      {{"Yesterday"}, "Last Week", 0.0, 1e-12},
      {{"TeSt HeLlO"}, "tEsT hElLO", 1.0, 1e-12},
      {{"st. louis children's hospital", "st. louis childrens hospital", "st. louis children hospital"},
       "St. Louis Children's Hospital", 1.0, 1e-12},
  };
  for (const auto& c : cases) {
    EXPECT_NEAR(anls_question(c.gold, c.pred, AnlsVariant::standard), c.expected, c.tol) << c.pred;
    EXPECT_NEAR(anls_question(c.gold, c.pred, AnlsVariant::lmms_eval), c.expected, c.tol) << c.pred;
  }
  // Whitespace collapsed: 1.0 in the standard variant (normalized lengths)
  EXPECT_EQ(anls_question({"Test Hello "}, " Test    Hello\n\n", AnlsVariant::standard), 1.0);
  EXPECT_EQ(anls_question({"Test Hello "}, " Test    Hello\n\n", AnlsVariant::lmms_eval), 1.0);
}

TEST(ScoringAnls, HarnessVariantDifferences) {
  // claims-and-evals §4.4, derived: (gold, prediction, standard, lmms-eval/VLMEvalKit)
  struct Case {
    std::string gold, pred;
    double standard, harness;
  };
  for (const auto& c : std::vector<Case>{{"hanoj", "hanoi", 0.8, 0.8},
                                         {"paris", "Pariss", 1 - 1.0 / 6, 1 - 1.0 / 6},
                                         {"paris", "London", 0, 0},
                                         {"1,250", "1250", 0.8, 0.8},
                                         {"abcd", "ab", 0, 0.5},
                                         {"acme corp", " acme  corq ", 1 - 1.0 / 9, 1 - 1.0 / 12}}) {
    EXPECT_NEAR(anls_question({c.gold}, c.pred, AnlsVariant::standard), c.standard, 1e-12) << c.gold;
    EXPECT_NEAR(anls_question({c.gold}, c.pred, AnlsVariant::lmms_eval), c.harness, 1e-12) << c.gold;
  }
  EXPECT_NEAR(anls({{"abcd"}, {"hanoj"}}, {"ab", "hanoi"}), (0.5 + 0.8) / 2, 1e-12);
  // Edge cases: both empty score 1; an empty prediction against a word scores 0.
  EXPECT_EQ(anls_question({""}, ""), 1.0);
  EXPECT_EQ(anls_question({"word"}, ""), 0.0);
  testing::expect_error([] { anls_question({}, "x"); }, "ANLS", "no accepted answers");
}

// ---------------------------------------------------------------- VQA and relaxed accuracy (§4.5)

TEST(ScoringVqa, SoftAccuracyByNumberOfMatches) {
  // claims-and-evals §4.5: 10 gold answers, the prediction matching k of them.
  const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
  for (int k = 0; k <= 10; ++k) {
    Strings gold;
    for (int i = 0; i < 10; ++i) gold.push_back(i < k ? "two" : "other" + std::to_string(i));
    EXPECT_NEAR(vqa_accuracy_question(gold, "two"), expected[k], 1e-12) << k;
  }
}

TEST(ScoringVqa, EvalAiNormalization) {
  // Hand-derived from the EvalAI processor's rules: number words to digits, articles dropped, contractions
  // restored, punctuation next to a space deleted (else replaced by a space), periods not before a digit dropped.
  EXPECT_EQ(vqa_normalize_answer("Two"), "2");
  EXPECT_EQ(vqa_normalize_answer("the dog"), "dog");
  EXPECT_EQ(vqa_normalize_answer("dont"), "don't");
  EXPECT_EQ(vqa_normalize_answer("yes!"), "yes");
  EXPECT_EQ(vqa_normalize_answer("red/blue"), "red blue");
  EXPECT_EQ(vqa_normalize_answer("3.5"), "3.5");
  EXPECT_EQ(vqa_normalize_answer("end."), "end");
  EXPECT_EQ(vqa_normalize_answer("1,000"), "1000");  // a comma between digits: every mark is deleted
  const Strings gold(10, "2");
  EXPECT_EQ(vqa_accuracy_question(gold, "Two."), 1.0);
  EXPECT_EQ(vqa_accuracy_question(gold, "A two"), 1.0);
}

TEST(ScoringRelaxed, LmmsEvalSemantics) {
  // claims-and-evals §4.5 (prediction, target)
  for (const auto& [p, t] : std::vector<std::pair<std::string, std::string>>{
           {"104", "100"}, {"105", "100"}, {"95", "100"}, {"50%", "0.5"}, {"0", "0"}, {"Yes", "yes"}}) {
    EXPECT_TRUE(relaxed_correct(p, t)) << p << " vs " << t;
  }
  for (const auto& [p, t] : std::vector<std::pair<std::string, std::string>>{
           {"106", "100"}, {"94.9", "100"}, {"12%", "12"}, {"1,000", "1000"}, {"0.0", "0"}}) {
    EXPECT_FALSE(relaxed_correct(p, t)) << p << " vs " << t;
  }
}

TEST(ScoringRelaxed, PythonFloatAgreesWithCPython) {
  if (!have_python()) GTEST_SKIP() << "/usr/bin/python3 is missing";
  const Strings items = {"1", " 2.5 ", "-3e2", "+.5", "5.", ".", "1_000", "1__0", "_1", "1_", "1e", "1e_5", "1e1_0",
                         "inf", "-Infinity", "nan", "NaN", "0x10", "1,000", "", "  ", "1 2", "\t7\n", "12%", "1e400",
                         "0.1"};
  const auto expected = run_python_oracle("python_text.py", {{"op", "float"}, {"items", items}});
  for (size_t i = 0; i < items.size(); ++i) {
    const auto got = python_float(items[i]);
    if (expected[i].is_null()) {
      EXPECT_FALSE(got.has_value()) << "\"" << items[i] << "\"";
    } else {
      ASSERT_TRUE(got.has_value()) << "\"" << items[i] << "\"";
      const double want = std::strtod(expected[i].get<std::string>().c_str(), nullptr);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(*got));
      } else {
        EXPECT_EQ(*got, want) << "\"" << items[i] << "\"";
      }
    }
  }
}

// ---------------------------------------------------------------- exact match (§4.6) and answer extraction

TEST(ScoringExactMatch, LmEvalSemantics) {
  ExactMatchOptions punct;
  punct.ignore_punctuation = true;
  EXPECT_TRUE(exact_match_item("(B)", "B", punct));
  EXPECT_FALSE(exact_match_item("(B)", "B"));
  ExactMatchOptions cased;
  cased.ignore_case = true;
  EXPECT_TRUE(exact_match_item("Paris", "paris", cased));
  EXPECT_FALSE(exact_match_item("Paris", "paris"));
  ExactMatchOptions numbers;
  numbers.ignore_numbers = true;
  EXPECT_TRUE(exact_match_item("abc123", "abc", numbers));
  ExactMatchOptions re;
  re.regexes_to_ignore = {"^The answer is ", "\\.$"};
  EXPECT_TRUE(exact_match_item("The answer is 42.", "42", re));
  // Regexes go first, then case: "THE ANSWER IS 42" keeps its prefix (the regex is case-sensitive).
  re.ignore_case = true;
  EXPECT_FALSE(exact_match_item("THE ANSWER IS 42", "42", re));
  EXPECT_EQ(exact_match({"a", "b", kInvalidAnswer}, {"a", "c", "c"}), (std::vector<double>{1, 0, 0}));
  // Unicode: ignore_case lowercases beyond ASCII; ignore_punctuation deletes only ASCII marks.
  EXPECT_TRUE(exact_match_item("ÉCOLE", "école", cased));
  EXPECT_FALSE(exact_match_item("«B»", "B", punct));
  testing::expect_error([] { exact_match({"a"}, {"a", "b"}); }, "exact match", "differ in number");
  ExactMatchOptions bad;
  bad.regexes_to_ignore = {"(unclosed"};
  testing::expect_error([&] { exact_match_item("a", "a", bad); }, "--regex-ignore", "invalid regular expression");
}

TEST(ScoringAnswers, MmluProExtraction) {
  // claims-and-evals §4.6: "The answer is (B)." through the MMLU-Pro regex gives "B".
  EXPECT_EQ(extract_mmlu_pro_answer("The answer is (B)."), "B");
  EXPECT_EQ(extract_mmlu_pro_answer("so the answer is C"), "C");
  EXPECT_EQ(extract_mmlu_pro_answer("the answer is (A) ... the answer is (D)"), "A");  // first match
  EXPECT_EQ(extract_mmlu_pro_answer("Answer: D"), std::nullopt);
  EXPECT_EQ(extract_mmlu_pro_answer("Answer: D", true), "D");
  // Fallback 1 takes the first line with a label and the last label on it; \s* may cross lines.
  EXPECT_EQ(extract_mmlu_pro_answer("x Answer: A, answer: B\nAnswer: C", true), "B");
  EXPECT_EQ(extract_mmlu_pro_answer("Answer:\n  E", true), "E");
  // Fallback 2: the last standalone letter A–J.
  EXPECT_EQ(extract_mmlu_pro_answer("I think B, or maybe (G) here", true), "G");
  EXPECT_EQ(extract_mmlu_pro_answer("BAD CAFE", true), std::nullopt);
  EXPECT_EQ(extract_mmlu_pro_answer("nothing", true), std::nullopt);
}

TEST(ScoringAnswers, SimpleEvalsExtraction) {
  EXPECT_EQ(extract_simple_evals_answer("reasoning...\nAnswer: C"), "C");
  EXPECT_EQ(extract_simple_evals_answer("ANSWER :\t$B$"), "B");
  EXPECT_EQ(extract_simple_evals_answer("answer: d"), "d");  // kept lower-case: scores 0 against "D"
  EXPECT_EQ(extract_simple_evals_answer("Answer: E"), std::nullopt);
  // MMMLU: localized labels, Arabic / Bengali / full-width letters mapped to A–D, markdown removed first.
  EXPECT_EQ(extract_multilingual_answer("**Answer: B**"), "B");
  EXPECT_EQ(extract_multilingual_answer("Antwort: C"), "C");
  EXPECT_EQ(extract_multilingual_answer("答案：Ｄ"), "D");
  EXPECT_EQ(extract_multilingual_answer("الإجابة: ب"), "B");
  EXPECT_EQ(extract_multilingual_answer("উত্তর: অ"), "A");
  EXPECT_EQ(extract_multilingual_answer("Réponse : $\\boxed{A}$"), "A");
  EXPECT_EQ(extract_multilingual_answer("no label here A"), std::nullopt);
  EXPECT_EQ(simple_evals_normalize_response("**x** $\\boxed{B}$"), "x B");
}

TEST(ScoringAnswers, AimeBoxedInteger) {
  EXPECT_EQ(extract_boxed_integer("so \\boxed{12} then \\boxed{042}"), 42);
  EXPECT_EQ(extract_boxed_integer("\\boxed{1,000}"), 1000);
  EXPECT_EQ(extract_boxed_integer("\\boxed{ 7 }"), 7);
  EXPECT_EQ(extract_boxed_integer("$\\boxed{\\frac{1}{2}}$"), std::nullopt);
  EXPECT_EQ(extract_boxed_integer("\\boxed{0}"), 0);
  EXPECT_EQ(extract_boxed_integer("no box 42"), std::nullopt);
  EXPECT_EQ(extract_boxed_integer("\\boxed{12"), std::nullopt);  // unbalanced
  EXPECT_EQ(last_boxed_content("\\boxed{a{b}c}"), "a{b}c");
  EXPECT_EQ(last_boxed_content("\\boxed 5$ rest"), "5");
}

TEST(ScoringAnswers, McqAccuracyCountsUnparsed) {
  const McqResult r = mcq_accuracy({"B", "(C)", "maybe", "D."}, {"B", "A", "C", "D"});
  EXPECT_EQ(r.accuracy, 0.5);
  EXPECT_EQ(r.unparsed, 1u);
  const McqResult m = mcq_accuracy({"The answer is (J)", "no idea"}, {"J", "A"}, LetterExtractor::mmlu_pro);
  EXPECT_EQ(m.accuracy, 0.5);
  EXPECT_EQ(m.unparsed, 1u);
  testing::expect_error([] { parse_letter_extractor("bogus"); }, "--extract", "unknown answer extractor");
}

// ---------------------------------------------------------------- difflib / MRCR (§3.10)

TEST(ScoringDifflib, RatioEqualsCPythonDifflib) {
  if (!have_python()) GTEST_SKIP() << "/usr/bin/python3 is missing";
  std::vector<std::pair<std::string, std::string>> pairs = {
      {"", ""}, {"abc", ""}, {"", "abc"}, {"abcd", "bcde"}, {"hello world", "hallo welt"},
      {"The quick brown fox", "The quick brown fox"}, {"zahăr producţia", "zahăr producția"},
      {"aaaa bbbb", "bbbb aaaa"}, {"qabxcd", "abycdf"}};
  // Longer texts (≥ 200 characters: autojunk drops popular characters such as the space from the index) from a
  // fixed generator: words from a small vocabulary, so many characters are popular.
  uint64_t state = 42;
  auto rnd = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "über", "naïve", "\n"};
  for (int k = 0; k < 12; ++k) {
    std::string a, b;
    const int len = 30 + static_cast<int>(rnd() % 200);
    for (int i = 0; i < len; ++i) {
      const std::string w = words[rnd() % 13];
      a += w + " ";
      if (rnd() % 5 != 0) b += w + " ";  // b: a with some words dropped and some swapped
      if (rnd() % 7 == 0) b += std::string(words[rnd() % 13]) + " ";
    }
    pairs.emplace_back(a, b);
  }
  nlohmann::json req = nlohmann::json::array();
  for (const auto& [a, b] : pairs) req.push_back({a, b});
  testing::TempDir dir("difflib");
  std::ofstream(dir / "pairs.json") << req.dump();
  std::string out;
  ASSERT_EQ(testing::run_command("/usr/bin/python3 " + oracle_path("difflib_ratio.py") + " < " + (dir / "pairs.json"), &out), 0);
  const auto expected = nlohmann::json::parse(out);
  ASSERT_EQ(expected.size(), pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double want = std::strtod(expected[i].get<std::string>().c_str(), nullptr);
    EXPECT_EQ(difflib_ratio(pairs[i].first, pairs[i].second), want) << "pair " << i;
  }
}

TEST(ScoringDifflib, AutojunkMattersOnLongTexts) {
  // With the popular characters dropped from the index the ratio of two long texts differs from the one without:
  // the port must keep the heuristic to equal difflib (compared with CPython above).
  std::u32string a, b;
  for (int i = 0; i < 100; ++i) {
    a += U"ab ";
    b += U"ba ";
  }
  EXPECT_NE(SequenceMatcher(a, b, true).ratio(), SequenceMatcher(a, b, false).ratio());
}

TEST(ScoringMrcr, PrefixRule) {
  EXPECT_EQ(mrcr_grade("xyz hello", "xyz hello", "xyz"), 1.0);
  EXPECT_EQ(mrcr_grade("hello", "xyz hello", "xyz"), 0.0);  // the response lacks the prefix
  EXPECT_NEAR(mrcr_grade("pre abcd", "pre bcde", "pre "), 0.75, 1e-15);  // 2·3 / 8
  EXPECT_EQ(mrcr_grade("pre abc", "abc", "pre "), 1.0);  // an answer without the prefix stays whole
}

// ---------------------------------------------------------------- normalizers and the CoVoST label

TEST(ScoringNormalizer, WhisperBasic) {
  // Hand-derived from BasicTextNormalizer's rules.
  EXPECT_EQ(whisper_basic_normalize("Hello, World! [noise] (um) <b>"), "hello world ");
  EXPECT_EQ(whisper_basic_normalize("Straße café"), "straße café");  // diacritics kept by default
  EXPECT_EQ(whisper_basic_normalize("Straße café", {.remove_diacritics = true}), "strasse cafe");
  EXPECT_EQ(whisper_basic_normalize("ﬁne ①"), "fine 1");  // NFKC
  EXPECT_EQ(whisper_basic_normalize("a\t\tb\n c"), "a b c");
  EXPECT_EQ(whisper_basic_normalize("你好，世界。"), "你好 世界 ");
  EXPECT_EQ(whisper_basic_normalize("ab", {.split_letters = true}), "a b");
}

TEST(ScoringNormalizer, WhisperEnglishCoveredRules) {
  const EnglishTextNormalizer n;
  EXPECT_EQ(n("I won't go, Mr. Smith!"), "i will not go mister smith");
  EXPECT_EQ(n("Um, he's been there (laughs) [music]"), "he has been there");
  EXPECT_EQ(n("It costs $1,000.50 today."), "it costs $1000.50 today");
  EXPECT_EQ(n("50% of cafés"), "50% of cafes");
  EXPECT_EQ(n("They're gonna win"), "they are going to win");
}

TEST(ScoringNormalizer, WhisperEnglishNumbers) {
  // Hand-traced through EnglishNumberNormalizer.process_words, preprocess and postprocess.
  const std::pair<const char*, const char*> cases[] = {
      {"twenty five", "25"},
      {"one oh one", "101"},
      {"two point five", "2.5"},
      {"three hundred and six", "306"},
      {"five million dollars", "$5000000"},
      {"fifty percent", "50%"},
      {"fifty per cent", "50%"},
      {"double seven", "77"},
      {"twenty first", "21st"},
      {"the sixties", "the 60s"},
      {"a million", "a 1000000"},
      {"two and a half", "2.5"},
      {"two dollars and seven cents", "$2.07"},
      {"one", "one"},
      {"ones", "ones"},
      {"1960s", "1960s"},
      {"nineteen sixty", "1960"},
      {"one thousand two hundred thirty four", "1234"},
      {"minus five", "-5"},
      {"point five", ".5"},
      {"2.0 and 3.50", "2 and 3.50"},
      {"ten decillion", "10000000000000000000000000000000000"},
      {"a second chance", "a 2nd chance"},
      {"nineth", "9th"},
      {"no numbers here", "no numbers here"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(whisper_english_numbers(in), want) << in;
  const EnglishTextNormalizer n;
  EXPECT_EQ(n("I have twenty-five dollars."), "i have $25");
  EXPECT_EQ(n("It's about fifty percent, Dr. Who."), "it is about 50% doctor who");
}

TEST(ScoringNormalizer, EnglishSpellingMapFromFile) {
  testing::TempDir dir("spelling");
  std::ofstream(dir / "english.json") << R"({"colour": "color", "realise": "realize"})";
  const EnglishTextNormalizer n(dir / "english.json");
  EXPECT_EQ(n("The colour, I realise."), "the color i realize");
  std::ofstream(dir / "bad.json") << "[1]";
  testing::expect_error([&] { EnglishTextNormalizer bad(dir / "bad.json"); }, dir / "bad.json", "expected a JSON object");
}

TEST(ScoringNormalizer, CovostLabel) {
  EXPECT_EQ(text_after_label("Bonjour le monde\nEnglish: Hello world", "English:"), "Hello world");
  EXPECT_EQ(text_after_label("English: a\nEnglish: b", "English:"), "b");
  EXPECT_EQ(text_after_label("no label", "English:"), std::nullopt);
}

TEST(ScoringUnicode, AgreesWithCPython) {
  if (!have_python()) GTEST_SKIP() << "/usr/bin/python3 is missing";
  const Strings items = {"Straße", "İstanbul", "ΌΣΟΣ ΣΑΣ", "ǅemal", "ﬁ ﬂ", "Ⅻ ①", "a\u00a0b\u2003c\u3000d\x1f" "e",
                         "  \t x \n", "Ångström", "ÉCOLE", "\u0130", ""};
  for (const char* op : {"lower", "upper", "strip", "nfkc", "nfkd"}) {
    const auto expected = run_python_oracle("python_text.py", {{"op", op}, {"items", items}});
    for (size_t i = 0; i < items.size(); ++i) {
      const std::u32string s = utf8_to_u32(items[i]);
      std::u32string got;
      if (std::string(op) == "lower") got = python_lower(s);
      if (std::string(op) == "upper") got = python_upper(s);
      if (std::string(op) == "strip") got = python_strip(s);
      if (std::string(op) == "nfkc") got = nfkc(s);
      if (std::string(op) == "nfkd") got = nfkd(s);
      EXPECT_EQ(u32_to_utf8(got), expected[i].get<std::string>()) << op << " " << items[i];
    }
  }
  const auto split = run_python_oracle("python_text.py", {{"op", "split"}, {"items", items}});
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<std::string> got;
    for (const auto& w : python_split(utf8_to_u32(items[i]))) got.push_back(u32_to_utf8(w));
    EXPECT_EQ(got, split[i].get<std::vector<std::string>>()) << items[i];
  }
}

// ---------------------------------------------------------------- statistics

TEST(ScoringStatistics, StandardErrorIsSampleStdOverRootN) {
  // By hand: values 1, 2, 3, 4: mean 2.5, sample variance 5/3, std 1.2909944, stderr 0.6454972.
  EXPECT_NEAR(sample_std({1, 2, 3, 4}), std::sqrt(5.0 / 3), 1e-15);
  EXPECT_NEAR(standard_error({1, 2, 3, 4}), std::sqrt(5.0 / 3) / 2, 1e-15);
  EXPECT_EQ(standard_error({1}), 0.0);
  // Bernoulli: p(1 − p)·n/(n − 1) over n.
  std::vector<double> v(100, 0.0);
  for (int i = 0; i < 30; ++i) v[i] = 1;
  EXPECT_NEAR(standard_error(v), std::sqrt(0.3 * 0.7 * 100 / 99 / 100), 1e-15);
}

TEST(ScoringStatistics, BootstrapIsSeededAndSensible) {
  std::vector<double> v(200, 0.0);
  for (int i = 0; i < 120; ++i) v[i] = 1;
  const BootstrapResult a = bootstrap_mean(v, 2000, 7);
  const BootstrapResult b = bootstrap_mean(v, 2000, 7);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  const BootstrapResult c = bootstrap_mean(v, 2000, 8);
  EXPECT_TRUE(c.low != a.low || c.high != a.high);
  // The normal approximation: 0.6 ± 1.96·0.0346 ≈ [0.532, 0.668]; the bootstrap lands within 0.01 of it.
  EXPECT_NEAR(a.low, 0.6 - 1.96 * std::sqrt(0.24 / 200), 0.01);
  EXPECT_NEAR(a.high, 0.6 + 1.96 * std::sqrt(0.24 / 200), 0.01);
  EXPECT_NEAR(a.bootstrap_stderr, std::sqrt(0.24 / 200), 0.003);
  // Indices uniform in [0, n).
  SplitMix64 rng(1);
  std::vector<int> hist(5, 0);
  for (int i = 0; i < 50000; ++i) ++hist[rng.index(5)];
  for (int h : hist) EXPECT_NEAR(h, 10000, 400);
  testing::expect_error([] { bootstrap_mean({}, 10, 1); }, "bootstrap", "no items");
}

// ---------------------------------------------------------------- the command

struct CliResult {
  int rc;
  std::string out;
};

CliResult run_score(const std::string& args) {
  std::string out;
  const int rc = testing::run_command(std::string(G4REF_CLI) + " eval score " + args + " 2>&1", &out);
  return {rc, out};
}

void write_lines(const std::string& path, const Strings& lines) {
  std::ofstream f(path, std::ios::binary);
  for (const auto& l : lines) f << l << "\n";
}

TEST(ScoringCli, BleuWithSignatureAndJson) {
  testing::TempDir dir("score_cli");
  write_lines(dir / "hyps.txt", kHyps);
  write_lines(dir / "ref1.txt", kRefs[0]);
  write_lines(dir / "ref2.txt", kRefs[1]);
  const auto r = run_score("--metric bleu --hyps " + (dir / "hyps.txt") + " --refs " + (dir / "ref1.txt") + " --refs " +
                           (dir / "ref2.txt") + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["score"].get<double>(), 48.530827, 1e-6);
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(j["signature"], "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
  EXPECT_LE(j["ci95"]["low"].get<double>(), j["ci95"]["high"].get<double>());
  const auto plain = run_score("--metric bleu --hyps " + (dir / "hyps.txt") + " --refs " + (dir / "ref1.txt") +
                               " --refs " + (dir / "ref2.txt"));
  ASSERT_EQ(plain.rc, 0) << plain.out;
  EXPECT_NE(plain.out.find("bleu: 48.530827"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("signature: nrefs:2|"), std::string::npos) << plain.out;
}

TEST(ScoringCli, EveryMetricOnItsVectors) {
  testing::TempDir dir("score_cli_all");
  auto score_of = [&](const std::string& metric, const Strings& refs, const Strings& hyps, const std::string& extra) {
    write_lines(dir / "r.txt", refs);
    write_lines(dir / "h.txt", hyps);
    const auto r = run_score("--metric " + metric + " --refs " + (dir / "r.txt") + " --hyps " + (dir / "h.txt") +
                             " --json " + extra);
    EXPECT_EQ(r.rc, 0) << r.out;
    return nlohmann::json::parse(r.out);
  };
  EXPECT_NEAR(score_of("wer", {"i", "am i good"}, {"i am", "i good"}, "")["score"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(score_of("wer", {"i", "am i good"}, {"i am", "i good"}, "")["mer"].get<double>(), 0.4, 1e-12);
  EXPECT_NEAR(score_of("cer", {"i", "am i good"}, {"i am", "i good"}, "")["score"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(score_of("wer", {"Hello, World!"}, {"hello world"}, "--normalize basic")["score"].get<double>(), 0.0, 0);
  EXPECT_NEAR(score_of("chrf", {"Niemand hat die Absicht"}, {"Niemand hat die Absicht"}, "")["score"].get<double>(),
              100.0, 1e-9);
  EXPECT_NEAR(score_of("chrf", {"a"}, {"a"}, "--beta 3 --eps-smoothing")["score"].get<double>(), 16.6667, 1e-4);
  EXPECT_NEAR(score_of("anls", {R"(["abcd"])", R"(["hanoj"])"}, {"ab", "hanoi"}, "")["score"].get<double>(), 0.65,
              1e-12);
  EXPECT_NEAR(score_of("anls", {R"(["abcd"])"}, {"ab"}, "--anls-variant standard")["score"].get<double>(), 0.0, 0);
  EXPECT_NEAR(score_of("vqa_accuracy", {R"(["two","two","two","x","y","z","u","v","w","q"])"}, {"2"}, "")["score"]
                  .get<double>(),
              0.9, 1e-12);
  EXPECT_NEAR(score_of("relaxed_accuracy", {"100", "0", "12"}, {"104", "0.0", "12%"}, "")["score"].get<double>(),
              1.0 / 3, 1e-12);
  EXPECT_NEAR(score_of("exact_match", {"B", "c"}, {"(B)", "C"}, "--ignore-punctuation --ignore-case")["score"]
                  .get<double>(),
              1.0, 0);
  const auto mcq = score_of("mcq_accuracy", {"B", "A"}, {"The answer is (B)", "dunno"}, "--extract mmlu-pro");
  EXPECT_EQ(mcq["score"].get<double>(), 0.5);
  EXPECT_EQ(mcq["unparsed"], 1);
  EXPECT_NEAR(score_of("mrcr", {R"({"answer": "pre abcd", "random_string_to_prepend": "pre "})"}, {"pre bcde"}, "")
                  ["score"].get<double>(),
              0.75, 1e-15);
  const auto covost = score_of("chrf", {R"("Hello world")"}, {R"("Bonjour le monde\nEnglish: Hello world")"},
                               "--json-lines --after-label English:");
  EXPECT_NEAR(covost["score"].get<double>(), 100.0, 1e-9);
  EXPECT_EQ(covost["label_missing"], 0);
  EXPECT_NEAR(score_of("chrf", {"Hello, World!"}, {"hello world"}, "--normalize english")["score"].get<double>(), 100.0,
              1e-9);
}

TEST(ScoringCli, ClearErrors) {
  testing::TempDir dir("score_cli_err");
  write_lines(dir / "two.txt", {"a", "b"});
  write_lines(dir / "one.txt", {"a"});
  write_lines(dir / "bad.txt", {"not json"});
  auto r = run_score("--metric wer --refs " + (dir / "two.txt") + " --hyps " + (dir / "one.txt"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("has 1 lines but"), std::string::npos) << r.out;
  r = run_score("--metric wer --refs " + (dir / "missing.txt") + " --hyps " + (dir / "one.txt"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("missing.txt: cannot read the --refs file"), std::string::npos) << r.out;
  r = run_score("--metric wer --refs " + dir.str() + " --hyps " + (dir / "one.txt"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("is a directory"), std::string::npos) << r.out;
  r = run_score("--metric anls --refs " + (dir / "bad.txt") + " --hyps " + (dir / "one.txt"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("bad.txt:1: not valid JSON"), std::string::npos) << r.out;
  {
    std::ofstream f(dir / "latin1.txt", std::ios::binary);
    f << "caf\xe9\n";
  }
  r = run_score("--metric wer --refs " + (dir / "one.txt") + " --hyps " + (dir / "latin1.txt"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("latin1.txt:1: invalid UTF-8"), std::string::npos) << r.out;
  r = run_score("--metric nope --refs " + (dir / "one.txt") + " --hyps " + (dir / "one.txt"));
  EXPECT_NE(r.rc, 0);
  r = run_score("--metric bleu --tokenize ja-mecab --refs " + (dir / "one.txt") + " --hyps " + (dir / "one.txt"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("unknown BLEU tokenizer"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace g4ref::scoring
