#include "harness/audit.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "base/error.h"
#include "harness/dataset.h"
#include "harness/sha256.h"
#include "harness/task.h"
#include "io/output_file.h"

namespace g4ref {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

ojson choice_logprobs(Backend& backend, const Prompt& prompt, const ojson& task_spec, const std::string& letters,
                      const std::vector<std::string>& choices, std::string* best_letter, const std::string& where) {
  const ojson ll = task_spec.value("loglikelihood", ojson::object());
  const std::string prefix = ll.value("prefix", "");
  const std::string choice_tmpl = ll.value("choice", "{{letter}}");
  const std::vector<int> prefix_ids = prefix.empty() ? std::vector<int>{} : backend.tokenize(prefix);
  std::vector<std::vector<int>> conts;
  bool single = true;
  for (size_t i = 0; i < choices.size(); ++i) {
    const std::string letter(1, letters[i]);
    conts.push_back(backend.tokenize(fill_template(choice_tmpl, ojson::object(), {{"letter", letter}, {"text", choices[i]}}, where)));
    single = single && conts.back().size() == 1;
  }
  auto score_one = [&](const std::vector<int>& ids, int top_k, ScoreResult* out) {
    std::vector<int> cont = prefix_ids;
    cont.insert(cont.end(), ids.begin(), ids.end());
    *out = backend.score(prompt, cont, top_k);
    if (out->tokens.size() != cont.size())
      fail(backend.name(), "score returned " + std::to_string(out->tokens.size()) + " tokens for a continuation of " +
                               std::to_string(cont.size()));
    double lp = 0;  // the prefix is shared by every choice, so only the choice's own tokens count
    for (size_t k = prefix_ids.size(); k < cont.size(); ++k) lp += out->tokens[k].logprob;
    return lp;
  };
  std::vector<double> lp(choices.size(), NAN);
  if (single) {
    // Single-token choices share one distribution (the one after the prefix): one call with its whole top list
    // gives every choice's log-probability, the same numbers one call per choice would.
    const BackendCapabilities caps = backend.capabilities();
    ScoreResult sr;
    lp[0] = score_one(conts[0], caps.full_logits ? (1 << 30) : caps.max_top_logprobs, &sr);
    std::map<int, double> top;
    for (const TopLogprob& e : sr.tokens.back().top) top.emplace(e.id, e.logprob);
    for (size_t i = 1; i < conts.size(); ++i) {
      auto it = top.find(conts[i][0]);
      if (it != top.end()) lp[i] = it->second;
    }
  }
  ojson lps = ojson::object();
  double best = -INFINITY;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (std::isnan(lp[i])) {
      ScoreResult sr;
      lp[i] = score_one(conts[i], 0, &sr);
    }
    const std::string letter(1, letters[i]);
    lps[letter] = lp[i];
    if (lp[i] > best) {  // ties go to the earlier letter
      best = lp[i];
      *best_letter = letter;
    }
  }
  return lps;
}

namespace {

// KL(reference ‖ backend) over the partition {each token both report} ∪ {everything else}: a lower bound of the
// full KL (merging outcomes never increases it), computable from two top-k lists.
double bucketed_kl(const std::vector<TopLogprob>& ref, const ojson& backend_top) {
  std::map<int, double> q;
  for (const ojson& e : backend_top) q[e[0].get<int>()] = e[1].get<double>();
  double kl = 0, p_in = 0, q_in = 0;
  for (const TopLogprob& e : ref) {
    auto it = q.find(e.id);
    if (it == q.end()) continue;
    const double p = std::exp(e.logprob);
    kl += p * (e.logprob - it->second);
    p_in += p;
    q_in += std::exp(it->second);
  }
  const double p_rest = std::max(0.0, 1 - p_in), q_rest = std::max(1e-300, 1 - q_in);
  if (p_rest > 0) kl += p_rest * std::log(p_rest / q_rest);
  return std::max(0.0, kl);
}

}  // namespace

ojson run_audit(const AuditOptions& o) {
  // One run folder, one shard's folder, or the parent of a sharded run (every shard-I-of-N/ it holds, which must
  // share their settings): the records of all of them.
  std::vector<std::string> dirs;
  if (fs::exists(fs::path(o.dir) / "run.json")) {
    dirs.push_back(o.dir);
  } else if (fs::is_directory(o.dir)) {
    for (const auto& e : fs::directory_iterator(o.dir)) {
      if (e.is_directory() && e.path().filename().string().rfind("shard-", 0) == 0 && fs::exists(e.path() / "run.json"))
        dirs.push_back(e.path().string());
    }
    std::sort(dirs.begin(), dirs.end());
  }
  if (dirs.empty()) fail(o.dir, "has no run.json and no shard-I-of-N/ folders (audit a run folder, a shard's folder, or a sharded run's parent)");
  const std::string run_path = (fs::path(dirs[0]) / "run.json").string();
  const ojson run = ojson::parse(read_text_file(run_path));
  const ojson& settings = run.at("settings");
  const ojson spec = run.value("task_spec", ojson::object());
  const std::string mode = settings.at("mode").get<std::string>();
  const std::string letters = spec.contains("choices") ? spec["choices"].value("letters", "ABCDEFGHIJ") : "";
  std::vector<ojson> records;
  for (const std::string& d : dirs) {
    const std::string rp = (fs::path(d) / "run.json").string();
    if (d != dirs[0]) {
      const ojson other = ojson::parse(read_text_file(rp));
      if (other.at("settings") != settings) fail(rp, "holds a shard with other settings than " + run_path);
      if (other.value("backend", ojson()) != run.value("backend", ojson())) fail(rp, "holds a shard run on another backend than " + run_path);
    }
    int64_t dropped = 0;
    std::vector<ojson> part = read_sample_log((fs::path(d) / "samples.jsonl").string(), false, &dropped);
    for (ojson& r : part) records.push_back(std::move(r));
  }
  if (records.empty()) fail(o.dir, "samples.jsonl holds no records to audit");
  std::vector<const ojson*> chosen;
  for (const ojson& r : records)
    if (!r.contains("skipped")) chosen.push_back(&r);  // excluded from the run (over its context cap): nothing to replay
  if (chosen.empty()) fail(o.dir, "every sample of the run was excluded (over its context cap): nothing to audit");
  std::stable_sort(chosen.begin(), chosen.end(), [](const ojson* a, const ojson* b) {
    return stable_hash(a->at("id").get<std::string>()) < stable_hash(b->at("id").get<std::string>());
  });
  if (o.samples > 0 && static_cast<size_t>(o.samples) < chosen.size()) chosen.resize(o.samples);
  const bool sampled = spec.value("generation", ojson::object()).value("temperature", 0.0) > 0;
  // The media as the run prepared them (its image budget, audio cap and video frames).
  const MediaOptions media = settings.contains("media") ? media_options_from_json(settings["media"], run_path) : MediaOptions{};
  std::unique_ptr<Backend> ref = o.make();
  ojson per = ojson::array();
  int64_t agree = 0, same_ids = 0, with_kl = 0;
  double run_score = 0, ref_score = 0, kl_sum = 0;
  for (const ojson* r : chosen) {
    const std::string id = r->at("id").get<std::string>();
    Conversation conv;
    conv.messages = r->at("messages");
    conv.thinking = settings.value("think", false);
    const Prompt prompt = ref->prepare(conv, media);
    std::string ids_text;
    for (int x : prompt.ids) ids_text += std::to_string(x) + ",";
    const bool ids_match = sha256_hex(ids_text) == r->value("prompt_ids_sha256", "");
    same_ids += ids_match;
    ojson a = {{"id", id}, {"same_prompt_ids", ids_match}, {"score", r->at("score")}};
    run_score += r->at("score").get<double>();
    if (mode == "loglikelihood") {
      std::string best;
      const ojson lps = choice_logprobs(*ref, prompt, spec, letters, r->at("choices").get<std::vector<std::string>>(), &best,
                                        run_path + ": sample " + id);
      const bool same = best == r->at("extracted").get<std::string>();
      agree += same;
      const double rs = best == r->at("target").get<std::string>() ? 1.0 : 0.0;
      ref_score += rs;
      a["agree"] = same;
      a["backend_answer"] = r->at("extracted");
      a["reference_answer"] = best;
      a["reference_score"] = rs;
      a["reference_logprobs"] = lps;
    } else {
      const std::vector<int> out = r->at("output_ids").get<std::vector<int>>();
      const ScoreResult sr = ref->score(prompt, out, o.top_k);
      int first = -1, replayed = -1;
      if (sampled) {
        // The reference's sampler, seeded as the run's was, replayed along the backend's path on the reference's
        // logits: the first token it would have drawn otherwise.
        if (!ref->capabilities().full_logits) fail(ref->name(), "cannot replay a sampled run: it gives no full logits");
        Prompt path = prompt;
        for (int x : out) {
          path.ids.push_back(x);
          path.token_types.push_back(0);
          path.block_ids.push_back(-1);
        }
        const Eigen::MatrixXd z = ref->logits(path);
        Sampler sampler(task_sampling(spec, sample_seed(settings.value("seed", uint64_t{0}), id)));
        for (size_t t = 0; t < out.size() && first < 0; ++t) {
          const Eigen::Index row = static_cast<Eigen::Index>(prompt.ids.size() + t) - 1;
          const int drawn = sampler.next(static_cast<int>(z.cols()), [&](int v) { return z(row, v); });
          if (drawn != out[t]) first = static_cast<int>(t), replayed = drawn;
        }
      } else {
        for (size_t t = 0; t < sr.tokens.size(); ++t)
          if (sr.tokens[t].rank != 1) {
            first = static_cast<int>(t);
            break;
          }
      }
      const bool same = first < 0;
      agree += same;
      a["agree"] = same;
      a["tokens"] = out.size();
      a["first_divergent_token"] = first < 0 ? ojson(nullptr) : ojson(first);
      if (first >= 0) {
        a["backend_token"] = out[first];
        // Greedy: the reference's argmax there; sampled: the token its replayed sampler drew.
        a["reference_token"] = sampled ? ojson(replayed)
                                       : sr.tokens[first].top.empty() ? ojson(nullptr) : ojson(sr.tokens[first].top[0].id);
      }
      a["path_logprob_reference"] = sr.sum_logprob();
      if (r->contains("logprobs") && r->at("logprobs").size() == sr.tokens.size() && !sr.tokens.empty()) {
        double kl = 0;
        for (size_t t = 0; t < sr.tokens.size(); ++t) kl += bucketed_kl(sr.tokens[t].top, r->at("logprobs")[t]["top"]);
        a["kl_mean"] = kl / sr.tokens.size();
        kl_sum += kl / sr.tokens.size();
        ++with_kl;
      }
    }
    per.push_back(a);
  }
  const double n = static_cast<double>(chosen.size());
  ojson out = {{"format", "g4ref-eval-audit/1"},
               {"task", settings.at("task")},
               {"mode", mode},
               {"run_backend", run.value("backend", ojson::object()).value("name", run.value("backend", ojson::object()).value("kind", ""))},
               {"reference", ref->describe()},
               {"audited", chosen.size()},
               {"of", records.size()},
               {"folders", dirs.size()},
               {"agreement_rate", agree / n},
               {"agreeing", agree},
               {"same_prompt_ids", same_ids},
               {"run_score_on_audited", run_score / n}};
  if (mode == "loglikelihood") out["reference_score_on_audited"] = ref_score / n;
  else {
    out["token_comparison"] = sampled ? "sampled run: the reference's sampler, seeded as the run's, replayed on the reference's logits along the run's path; every token should be the one it draws"
                                      : "greedy run: every token should be the reference's argmax";
    out["kl_mean"] = with_kl ? ojson(kl_sum / with_kl) : ojson(nullptr);
    out["kl_note"] = with_kl ? "KL(reference || backend) over the tokens both top-k lists hold plus one bucket for the rest: a lower bound of the full KL"
                             : "the run recorded no logprobs (eval run --logprobs K), so no KL";
  }
  out["samples"] = per;
  write_file_atomically((fs::path(o.dir) / "audit.json").string(), out.dump(2) + "\n");
  return out;
}

std::string audit_text(const ojson& a) {
  std::ostringstream s;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (%s): %lld of %lld samples audited by the reference; agreement %.1f%% (%lld/%lld)\n",
                a["task"].get<std::string>().c_str(), a["mode"].get<std::string>().c_str(),
                static_cast<long long>(a["audited"].get<int64_t>()), static_cast<long long>(a["of"].get<int64_t>()),
                100 * a["agreement_rate"].get<double>(), static_cast<long long>(a["agreeing"].get<int64_t>()),
                static_cast<long long>(a["audited"].get<int64_t>()));
  s << buf;
  std::snprintf(buf, sizeof buf, "  run score on these samples %.4f", a["run_score_on_audited"].get<double>());
  s << buf;
  if (a.contains("reference_score_on_audited")) {
    std::snprintf(buf, sizeof buf, ", reference's score %.4f", a["reference_score_on_audited"].get<double>());
    s << buf;
  }
  s << "\n  same prompt ids: " << a["same_prompt_ids"].get<int64_t>() << "/" << a["audited"].get<int64_t>() << "\n";
  if (a.contains("kl_mean") && !a["kl_mean"].is_null()) {
    std::snprintf(buf, sizeof buf, "  mean KL along the path (bucketed lower bound) %.3g\n", a["kl_mean"].get<double>());
    s << buf;
  }
  if (a.contains("greedy_comparison")) s << "  " << a["greedy_comparison"].get<std::string>() << "\n";
  return s.str();
}

}  // namespace g4ref
