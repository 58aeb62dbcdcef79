// g4ref eval score: the benchmark metrics on outputs made anywhere — one item per line in a references file and a
// hypotheses file — so a user can rescore saved outputs without running a model (claims-and-evals §5 item 2).
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>

#include "base/error.h"
#include "cli/common.h"
#include "harness/scoring/anls.h"
#include "harness/scoring/bleu.h"
#include "harness/scoring/chrf.h"
#include "harness/scoring/error_rate.h"
#include "harness/scoring/exact_match.h"
#include "harness/scoring/mcq_accuracy.h"
#include "harness/scoring/mrcr.h"
#include "harness/scoring/relaxed_accuracy.h"
#include "harness/scoring/statistics.h"
#include "harness/scoring/translation_label.h"
#include "harness/scoring/unicode_text.h"
#include "harness/scoring/vqa_accuracy.h"
#include "harness/scoring/whisper_normalizer.h"

namespace g4ref {

namespace {

using namespace scoring;

struct ScoreArgs {
  std::string metric;
  std::vector<std::string> refs;  // several for bleu/chrf: one reference stream each
  std::string hyps;
  bool json = false;
  bool json_lines = false;
  int bootstrap = 1000;
  uint64_t seed = 1234;
  // exact_match
  std::vector<std::string> regex_ignore;
  bool ignore_case = false, ignore_punctuation = false, ignore_numbers = false;
  // mcq_accuracy
  std::string extract = "letter";
  // wer / cer
  std::string normalize = "none";
  std::string spelling_map;
  bool remove_spaces = false;
  // bleu / chrf
  std::string tokenize = "13a";
  std::string smooth = "exp";
  double smooth_value = -1;
  bool lowercase = false, effective_order = false;
  int max_ngram_order = 4;
  int char_order = 6, word_order = 0;
  double beta = 2;
  bool whitespace = false, eps_smoothing = false;
  std::string after_label;
  // anls
  std::string anls_variant = "lmms-eval";
  double threshold = 0.5;
  // mrcr
  std::string prefix;
};

// One item per line; a final newline ends the last item, "\r\n" reads as "\n" (Python's text mode).
std::vector<std::string> read_lines(const std::string& path, const char* option) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot read the ") + option + " file (it does not exist)");
  if (S_ISDIR(st.st_mode)) fail(path, std::string("cannot read the ") + option + " file (it is a directory)");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open the ") + option + " file");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    utf8_to_u32(line, path + ":" + std::to_string(lines.size() + 1));  // the file and line of bad UTF-8
    lines.push_back(line);
  }
  if (in.bad()) fail(path, "read error");
  return lines;
}

std::string where(const std::string& path, size_t i) { return path + ":" + std::to_string(i + 1); }

nlohmann::json parse_json_line(const std::string& line, const std::string& path, size_t i) {
  try {
    return nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    fail(where(path, i), std::string("not valid JSON: ") + e.what());
  }
}

// With --json-lines every line is a JSON string, so texts may hold newlines.
std::vector<std::string> text_items(const std::vector<std::string>& lines, const std::string& path, bool json_lines) {
  if (!json_lines) return lines;
  std::vector<std::string> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto j = parse_json_line(lines[i], path, i);
    if (!j.is_string()) fail(where(path, i), "expected a JSON string (--json-lines)");
    out.push_back(j.get<std::string>());
  }
  return out;
}

std::vector<std::vector<std::string>> answer_lists(const std::vector<std::string>& lines, const std::string& path) {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto j = parse_json_line(lines[i], path, i);
    if (!j.is_array() || j.empty()) fail(where(path, i), "expected a non-empty JSON list of accepted answers");
    std::vector<std::string> answers;
    for (const auto& a : j) {
      if (!a.is_string()) fail(where(path, i), "every accepted answer must be a JSON string");
      answers.push_back(a.get<std::string>());
    }
    out.push_back(std::move(answers));
  }
  return out;
}

void check_counts(size_t refs, size_t hyps, const std::string& ref_path, const std::string& hyp_path) {
  if (refs != hyps) {
    fail(hyp_path, "has " + std::to_string(hyps) + " lines but " + ref_path + " has " + std::to_string(refs) +
                       " (one item per line in both)");
  }
  if (hyps == 0) fail(hyp_path, "no items (the files are empty)");
}

nlohmann::json interval_json(const BootstrapResult& b) {
  return {{"low", b.low}, {"high", b.high}, {"bootstrap_stderr", b.bootstrap_stderr}, {"iterations", b.iterations},
          {"seed", b.seed}, {"confidence", 0.95}};
}

// The text normalizer of --normalize for wer/cer (lmms-eval's FLEURS scoring, §3.8) and bleu/chrf (lmms-eval's
// normalized CoVoST mode, §3.9; standard sacreBLEU scores the raw text, the default).
std::function<std::string(const std::string&)> make_normalizer(const ScoreArgs& a) {
  if (a.normalize == "none") return [](const std::string& s) { return s; };
  if (a.normalize == "basic") return [](const std::string& s) { return whisper_basic_normalize(s); };
  if (a.normalize == "basic-diacritics") {
    return [](const std::string& s) { return whisper_basic_normalize(s, {.remove_diacritics = true}); };
  }
  if (a.normalize == "english") {
    auto n = a.spelling_map.empty() ? std::make_shared<EnglishTextNormalizer>()
                                    : std::make_shared<EnglishTextNormalizer>(a.spelling_map);
    return [n](const std::string& s) { return (*n)(s); };
  }
  fail("--normalize", "unknown normalizer \"" + a.normalize + "\" (expected none, basic, basic-diacritics or english)");
}

void score(const ScoreArgs& a) {
  if (a.refs.empty()) fail("--refs", "required");
  if (a.refs.size() > 1 && a.metric != "bleu" && a.metric != "chrf") {
    fail("--refs", "several reference files are only for bleu and chrf (one reference stream each)");
  }
  if (a.bootstrap != 0 && a.bootstrap < 2) fail("--bootstrap", "use 0 (off) or at least 2 iterations");
  const std::string& ref_path = a.refs.front();
  const auto hyp_lines = read_lines(a.hyps, "--hyps");
  std::vector<std::string> hyps = text_items(hyp_lines, a.hyps, a.json_lines);
  const size_t n = hyps.size();

  nlohmann::json out{{"metric", a.metric}, {"refs", a.refs}, {"hyps", a.hyps}};
  double value = 0;
  std::string extra_line;  // printed after the score (the signature)
  std::vector<double> per_item;  // for mean metrics
  std::function<double(const std::vector<size_t>&)> resample;  // for corpus metrics

  if (a.metric == "exact_match") {
    const auto refs = text_items(read_lines(ref_path, "--refs"), ref_path, a.json_lines);
    check_counts(refs.size(), n, ref_path, a.hyps);
    ExactMatchOptions o{a.regex_ignore, a.ignore_case, a.ignore_punctuation, a.ignore_numbers};
    per_item = exact_match(hyps, refs, o);
    out["options"] = {{"regexes_to_ignore", a.regex_ignore}, {"ignore_case", a.ignore_case},
                      {"ignore_punctuation", a.ignore_punctuation}, {"ignore_numbers", a.ignore_numbers}};
  } else if (a.metric == "mcq_accuracy") {
    const auto refs = text_items(read_lines(ref_path, "--refs"), ref_path, a.json_lines);
    check_counts(refs.size(), n, ref_path, a.hyps);
    const McqResult r = mcq_accuracy(hyps, refs, parse_letter_extractor(a.extract));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& it : r.items) {
      per_item.push_back(it.score);
      items.push_back(it.parsed ? nlohmann::json(it.extracted) : nlohmann::json(nullptr));
    }
    out["extracted"] = items;
    out["unparsed"] = r.unparsed;
    out["options"] = {{"extract", a.extract}};
    extra_line = "unparsed: " + std::to_string(r.unparsed);
  } else if (a.metric == "wer" || a.metric == "cer") {
    auto refs = text_items(read_lines(ref_path, "--refs"), ref_path, a.json_lines);
    check_counts(refs.size(), n, ref_path, a.hyps);
    const auto norm = make_normalizer(a);
    for (auto& r : refs) r = norm(r);
    for (auto& h : hyps) h = norm(h);
    if (a.remove_spaces) {
      auto strip_spaces = [](std::string& s) { std::erase(s, ' '); };
      for (auto& r : refs) strip_spaces(r);
      for (auto& h : hyps) strip_spaces(h);
    }
    const ErrorUnit unit = a.metric == "wer" ? ErrorUnit::words : ErrorUnit::characters;
    const ErrorRates r = error_rates(refs, hyps, unit);
    value = r.wer;
    out["hits"] = r.counts.hits;
    out["substitutions"] = r.counts.substitutions;
    out["deletions"] = r.counts.deletions;
    out["insertions"] = r.counts.insertions;
    out["reference_length"] = r.reference_length;
    out["hypothesis_length"] = r.hypothesis_length;
    if (unit == ErrorUnit::words) {
      out["mer"] = r.mer;
      out["wil"] = r.wil;
      out["wip"] = r.wip;
    }
    out["options"] = {{"normalize", a.normalize}, {"remove_spaces", a.remove_spaces}};
    // Pooled counts per item, for resampling.
    auto items = std::make_shared<std::vector<ErrorRates>>();
    for (size_t i = 0; i < n; ++i) items->push_back(error_rates({refs[i]}, {hyps[i]}, unit));
    resample = [items](const std::vector<size_t>& idx) {
      double errors = 0, length = 0;
      for (size_t i : idx) {
        errors += static_cast<double>((*items)[i].counts.distance());
        length += static_cast<double>((*items)[i].reference_length);
      }
      return length > 0 ? errors / length : errors;
    };
    if (!a.json) {
      std::ostringstream s;
      s << "S=" << r.counts.substitutions << " D=" << r.counts.deletions << " I=" << r.counts.insertions
        << " H=" << r.counts.hits;
      if (unit == ErrorUnit::words) s << "  mer: " << r.mer << "  wil: " << r.wil << "  wip: " << r.wip;
      extra_line = s.str();
    }
  } else if (a.metric == "bleu" || a.metric == "chrf") {
    std::vector<std::vector<std::string>> streams;
    for (const auto& path : a.refs) {
      auto refs = text_items(read_lines(path, "--refs"), path, a.json_lines);
      check_counts(refs.size(), n, path, a.hyps);
      streams.push_back(std::move(refs));
    }
    if (!a.after_label.empty()) {
      size_t missing = 0;
      for (auto& h : hyps) {
        if (auto t = text_after_label(h, a.after_label)) {
          h = *t;
        } else {
          ++missing;  // kept whole: the model did not write the label
        }
      }
      out["label"] = a.after_label;
      out["label_missing"] = missing;
    }
    if (a.normalize != "none") {
      const auto norm = make_normalizer(a);
      for (auto& h : hyps) h = norm(h);
      for (auto& stream : streams) {
        for (auto& r : stream) r = norm(r);
      }
      out["normalize"] = a.normalize;
    }
    if (a.metric == "bleu") {
      BleuOptions o;
      o.tokenize = a.tokenize;
      o.smooth_method = a.smooth;
      if (a.smooth_value >= 0) o.smooth_value = a.smooth_value;
      o.lowercase = a.lowercase;
      o.effective_order = a.effective_order;
      o.max_ngram_order = a.max_ngram_order;
      auto stats = std::make_shared<std::vector<BleuStatistics>>(bleu_statistics(hyps, streams, o));
      const BleuResult r = bleu_from_statistics(*stats, streams.size(), o);
      value = r.score;
      out["counts"] = r.counts;
      out["totals"] = r.totals;
      out["precisions"] = r.precisions;
      out["bp"] = r.bp;
      out["sys_len"] = r.sys_len;
      out["ref_len"] = r.ref_len;
      out["signature"] = r.signature;
      extra_line = "signature: " + r.signature;
      const size_t nrefs = streams.size();
      resample = [stats, nrefs, o](const std::vector<size_t>& idx) {
        return bleu_from_statistics(*stats, nrefs, o, &idx).score;
      };
    } else {
      ChrfOptions o;
      o.char_order = a.char_order;
      o.word_order = a.word_order;
      o.beta = a.beta;
      o.lowercase = a.lowercase;
      o.whitespace = a.whitespace;
      o.eps_smoothing = a.eps_smoothing;
      auto stats = std::make_shared<std::vector<std::vector<long>>>(chrf_statistics(hyps, streams, o));
      const ChrfResult r = chrf_from_statistics(*stats, streams.size(), o);
      value = r.score;
      out["name"] = r.name;
      out["statistics"] = r.statistics;
      out["signature"] = r.signature;
      extra_line = r.name + "  signature: " + r.signature;
      const size_t nrefs = streams.size();
      resample = [stats, nrefs, o](const std::vector<size_t>& idx) {
        return chrf_from_statistics(*stats, nrefs, o, &idx).score;
      };
    }
  } else if (a.metric == "anls" || a.metric == "vqa_accuracy") {
    const auto gold = answer_lists(read_lines(ref_path, "--refs"), ref_path);
    check_counts(gold.size(), n, ref_path, a.hyps);
    if (a.metric == "anls") {
      AnlsVariant v;
      if (a.anls_variant == "lmms-eval" || a.anls_variant == "vlmevalkit") {
        v = AnlsVariant::lmms_eval;
      } else if (a.anls_variant == "standard") {
        v = AnlsVariant::standard;
      } else {
        fail("--anls-variant", "unknown variant \"" + a.anls_variant + "\" (expected lmms-eval or standard)");
      }
      for (size_t i = 0; i < n; ++i) per_item.push_back(anls_question(gold[i], hyps[i], v, a.threshold));
      out["options"] = {{"variant", a.anls_variant}, {"threshold", a.threshold}};
    } else {
      for (size_t i = 0; i < n; ++i) per_item.push_back(vqa_accuracy_question(gold[i], hyps[i]));
    }
  } else if (a.metric == "relaxed_accuracy") {
    const auto refs = text_items(read_lines(ref_path, "--refs"), ref_path, a.json_lines);
    check_counts(refs.size(), n, ref_path, a.hyps);
    for (size_t i = 0; i < n; ++i) per_item.push_back(relaxed_correct(hyps[i], refs[i]) ? 1.0 : 0.0);
  } else if (a.metric == "mrcr") {
    const auto lines = read_lines(ref_path, "--refs");
    check_counts(lines.size(), n, ref_path, a.hyps);
    for (size_t i = 0; i < n; ++i) {
      std::string answer, prefix = a.prefix;
      if (!lines[i].empty() && lines[i].front() == '{') {
        const auto j = parse_json_line(lines[i], ref_path, i);
        if (!j.contains("answer") || !j["answer"].is_string()) fail(where(ref_path, i), "no string field \"answer\"");
        answer = j["answer"].get<std::string>();
        if (j.contains("random_string_to_prepend")) {
          if (!j["random_string_to_prepend"].is_string()) {
            fail(where(ref_path, i), "\"random_string_to_prepend\" is not a string");
          }
          prefix = j["random_string_to_prepend"].get<std::string>();
        }
      } else {
        answer = a.json_lines ? text_items({lines[i]}, ref_path, true).front() : lines[i];
      }
      per_item.push_back(mrcr_grade(hyps[i], answer, prefix));
    }
  } else {
    fail("--metric", "unknown metric \"" + a.metric + "\"");
  }

  if (!per_item.empty()) {
    value = mean(per_item);
    out["per_item"] = per_item;
    out["stderr"] = standard_error(per_item);
    if (a.bootstrap > 0) out["ci95"] = interval_json(bootstrap_mean(per_item, a.bootstrap, a.seed));
  } else if (resample && a.bootstrap > 0) {
    out["ci95"] = interval_json(bootstrap(n, resample, a.bootstrap, a.seed));
  }
  out["n"] = n;
  out["score"] = value;
  if (a.json) {
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << a.metric << ": " << std::setprecision(10) << value << "  n: " << n;
  if (out.contains("stderr")) std::cout << "  stderr: " << out["stderr"].get<double>();
  if (out.contains("ci95")) {
    std::cout << "  95% CI: [" << out["ci95"]["low"].get<double>() << ", " << out["ci95"]["high"].get<double>() << "]";
  }
  std::cout << "\n";
  if (!extra_line.empty()) std::cout << extra_line << "\n";
}

}  // namespace

void add_eval_score_command(CLI::App& eval) {
  auto a = std::make_shared<ScoreArgs>();
  CLI::App* cmd = eval.add_subcommand("score", "Score saved outputs with a benchmark metric (one item per line)");
  cmd->add_option("--metric", a->metric, "the metric")
      ->required()
      ->check(CLI::IsMember({"exact_match", "mcq_accuracy", "wer", "cer", "bleu", "chrf", "anls", "vqa_accuracy",
                             "relaxed_accuracy", "mrcr"}));
  cmd->add_option("--refs", a->refs,
                  "references, one per line (anls, vqa_accuracy: a JSON list of accepted answers; mrcr: the answer or "
                  "a JSON object with answer and random_string_to_prepend); repeat for more BLEU/chrF reference "
                  "streams")
      ->required();
  cmd->add_option("--hyps", a->hyps, "hypotheses (model outputs), one per line")->required();
  cmd->add_flag("--json", a->json, "machine-readable output with the details");
  cmd->add_flag("--json-lines", a->json_lines, "every line of the text files is a JSON string (texts with newlines)");
  cmd->add_option("--bootstrap", a->bootstrap, "bootstrap iterations for the 95% interval (0: none)")->capture_default_str();
  cmd->add_option("--seed", a->seed, "bootstrap seed")->capture_default_str();
  cmd->add_option("--regex-ignore", a->regex_ignore, "exact_match: a regex removed from both sides (repeatable)");
  cmd->add_flag("--ignore-case", a->ignore_case, "exact_match: lowercase both sides");
  cmd->add_flag("--ignore-punctuation", a->ignore_punctuation, "exact_match: delete ASCII punctuation");
  cmd->add_flag("--ignore-numbers", a->ignore_numbers, "exact_match: delete digits");
  cmd->add_option("--extract", a->extract,
                  "mcq_accuracy: letter | mmlu-pro | mmlu-pro-fallbacks | simple-evals | multilingual")->capture_default_str();
  cmd->add_option("--normalize", a->normalize, "wer/cer/bleu/chrf: none | basic | basic-diacritics | english (Whisper's normalizers)")->capture_default_str();
  cmd->add_option("--spelling-map", a->spelling_map, "wer/cer with english: Whisper's english.json spelling map");
  cmd->add_flag("--remove-spaces", a->remove_spaces, "wer/cer: delete spaces after normalizing (Chinese CER)");
  cmd->add_option("--tokenize", a->tokenize, "bleu: 13a | intl | zh | char | none")->capture_default_str();
  cmd->add_option("--smooth", a->smooth, "bleu: exp | none | floor | add-k")->capture_default_str();
  cmd->add_option("--smooth-value", a->smooth_value, "bleu: value for floor (0.1) or add-k (1)");
  cmd->add_flag("--lowercase", a->lowercase, "bleu/chrf: lowercase both sides");
  cmd->add_flag("--effective-order", a->effective_order, "bleu: effective n-gram order (sentence-level use)");
  cmd->add_option("--max-ngram-order", a->max_ngram_order, "bleu: highest n-gram order")->capture_default_str();
  cmd->add_option("--char-order", a->char_order, "chrf: character n-gram order")->capture_default_str();
  cmd->add_option("--word-order", a->word_order, "chrf: word n-gram order (2 = chrF++)")->capture_default_str();
  cmd->add_option("--beta", a->beta, "chrf: recall weight")->capture_default_str();
  cmd->add_flag("--whitespace", a->whitespace, "chrf: keep whitespace in character n-grams");
  cmd->add_flag("--eps-smoothing", a->eps_smoothing, "chrf: chrF++.py epsilon smoothing");
  cmd->add_option("--after-label", a->after_label,
                  "bleu/chrf: score only the text after the last occurrence of this label (CoVoST: \"English:\")");
  cmd->add_option("--anls-variant", a->anls_variant, "anls: lmms-eval (also VLMEvalKit) | standard")->capture_default_str();
  cmd->add_option("--threshold", a->threshold, "anls: tau")->capture_default_str();
  cmd->add_option("--prefix", a->prefix, "mrcr: random_string_to_prepend for plain-text answers");
  cmd->callback([a] { score(*a); });
}

}  // namespace g4ref
