#include "harness/runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "base/error.h"
#include "harness/audit.h"
#include "harness/dataset.h"
#include "harness/scoring_bridge.h"
#include "harness/sample_metrics.h"
#include "harness/sha256.h"
#include "harness/task.h"
#include "io/output_file.h"

namespace g4ref {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kRunFormat = "g4ref-eval-run/1";
constexpr const char* kResultsFormat = "g4ref-eval-results/1";

// Settings keys that locate things on one machine: kept in run.json (a resume must find the same model), left
// out of results.json (the same run on another machine or under another folder gives the same file).
const std::set<std::string> kLocationKeys = {"model", "model_dir", "path", "url", "mmproj", "tokenizer", "adapter",
                                             "program", "threads"};

ojson without_locations(const ojson& j) {
  if (!j.is_object()) return j;
  ojson out = ojson::object();
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kLocationKeys.count(it.key())) out[it.key()] = without_locations(it.value());
  return out;
}

// The first field where A and B differ, as "a.b.c: X here, Y there"; "" when equal.
std::string first_difference(const ojson& a, const ojson& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (!b.contains(it.key())) return p + " (absent now)";
      const std::string d = first_difference(it.value(), b[it.key()], p);
      if (!d.empty()) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) return (path.empty() ? it.key() : path + "." + it.key()) + " (absent in the earlier run)";
    return "";
  }
  if (a != b) return path + " (earlier " + a.dump() + ", now " + b.dump() + ")";
  return "";
}

std::string shard_dir_name(int i, int n) { return "shard-" + std::to_string(i) + "-of-" + std::to_string(n); }

// An append-only record file: one write() per record (the whole line and its newline), then fsync, so after any
// kill the file holds whole records and at most one torn last line without its newline.
class AppendLog {
 public:
  explicit AppendLog(const std::string& path) : path_(path) {
    check_output_path(path);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(path, std::string("cannot open for appending: ") + std::strerror(errno));
  }
  ~AppendLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  void append(const ojson& record) {
    const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(path_, std::string("write failed: ") + std::strerror(errno));
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) fail(path_, std::string("fsync failed: ") + std::strerror(errno));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

class Progress {
 public:
  Progress(std::ostream* out, bool terminal, std::string label, int64_t total, int64_t done)
      : out_(out), terminal_(terminal), label_(std::move(label)), total_(total), start_done_(done), done_(done),
        t0_(std::chrono::steady_clock::now()), last_(t0_) {
    if (out_ && !terminal_)
      *out_ << label_ << ": " << done_ << "/" << total_ << " samples done, " << (total_ - done_) << " to run\n" << std::flush;
  }
  void tick(double score_sum, int64_t scored) {
    ++done_;
    if (!out_) return;
    const auto now = std::chrono::steady_clock::now();
    const double el = std::chrono::duration<double>(now - t0_).count();
    const double rate = el > 0 ? (done_ - start_done_) / el : 0;
    const double eta = rate > 0 ? (total_ - done_) / rate : NAN;
    char mean[32];
    std::snprintf(mean, sizeof mean, "%.3f", scored ? score_sum / scored : 0.0);
    if (terminal_) {
      const int width = 30;
      const int filled = total_ ? static_cast<int>(width * done_ / total_) : width;
      *out_ << "\r" << label_ << " [" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << done_
            << "/" << total_ << "  " << fmt_rate(rate) << "  ETA " << fmt_duration(eta) << "  mean " << mean
            << "   " << std::flush;
      if (done_ == total_) *out_ << "\n";
    } else if (done_ == total_ || std::chrono::duration<double>(now - last_).count() >= 10) {
      *out_ << label_ << ": " << done_ << "/" << total_ << " (" << fmt_rate(rate) << ", ETA " << fmt_duration(eta)
            << ", mean so far " << mean << ")\n" << std::flush;
      last_ = now;
    }
  }

 private:
  static std::string fmt_rate(double r) {
    char buf[32];
    if (r >= 1 || r == 0) std::snprintf(buf, sizeof buf, "%.2f samples/s", r);
    else std::snprintf(buf, sizeof buf, "%.1f s/sample", 1 / r);
    return buf;
  }
  std::ostream* out_;
  bool terminal_;
  std::string label_;
  int64_t total_, start_done_, done_;
  std::chrono::steady_clock::time_point t0_, last_;
};

}  // namespace

SamplingOptions task_sampling(const ojson& spec, uint64_t seed) {
  const ojson gen = spec.value("generation", ojson::object());
  SamplingOptions so;
  so.temperature = gen.value("temperature", 0.0);
  so.top_k = gen.value("top_k", 64);
  so.top_p = gen.value("top_p", 0.95);
  so.seed = seed;
  return so;
}

uint64_t sample_seed(uint64_t seed, const std::string& id) {
  uint64_t z = seed ^ stable_hash(id);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {

ojson token_logprobs_json(const std::vector<TokenLogprob>& lps) {
  ojson out = ojson::array();
  for (const auto& t : lps) {
    ojson top = ojson::array();
    for (const auto& e : t.top) top.push_back({e.id, e.logprob});
    out.push_back({{"id", t.id}, {"logprob", t.logprob}, {"top", top}});
  }
  return out;
}

// One sample through the backend: its record.
ojson evaluate(const Task& task, const Sample& s, const EvalSettings& settings, int max_new_tokens,
               const std::vector<ojson>& fewshot, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  const Conversation conv = build_conversation(task, s, settings.think, fewshot);
  const MediaOptions media = task_media_options(task, settings.image_tokens);
  const Prompt prompt = backend.prepare(conv, media);
  std::string ids_text;
  for (int id : prompt.ids) ids_text += std::to_string(id) + ",";
  ojson r = ojson::object();
  r["task"] = task.name;
  r["id"] = s.id;
  r["doc_id"] = s.doc_id;
  r["repeat"] = s.repeat;
  ojson groups = ojson::object();
  for (const auto& [k, v] : s.groups) groups[k] = v;
  r["groups"] = groups;
  r["messages"] = conv.messages;
  r["prompt_sha256"] = sha256_hex(prompt.rendered.empty() ? ids_text : prompt.rendered);
  r["prompt_ids_sha256"] = sha256_hex(ids_text);
  r["prompt_tokens"] = prompt.ids.size();
  if (!s.media.empty()) {
    // What each backend fed the model: the media files (by content) and the placeholder tokens of each kind.
    ojson items = ojson::array();
    for (size_t i = 0; i < s.media.size(); ++i) {
      const auto& [type, path] = s.media[i];
      ojson item = {{"type", type}, {"file", fs::path(path).filename().string()}};
      if (path.rfind("data:", 0) != 0) item["sha256"] = sha256_hex(read_text_file(path));
      if (i < prompt.media_tokens.size()) {
        const MediaTokens& mt = prompt.media_tokens[i];
        item["tokens"] = mt.kind == MediaKind::video ? mt.tokens * static_cast<int64_t>(mt.frame_times.size()) : mt.tokens;
        if (mt.kind == MediaKind::video) item["frames"] = mt.frame_times.size();
      }
      items.push_back(item);
    }
    r["media"] = items;
    r["media_tokens"] = {{"image", prompt.count_tokens(1)}, {"video", prompt.count_tokens(2)}, {"audio", prompt.count_tokens(3)}};
  }
  if (task.multiple_choice()) r["permutation"] = s.permutation;
  r["target"] = s.target;
  const std::string where = task.path + ": sample " + s.id;
  Extraction ex;
  if (task.multiple_choice()) r["choices"] = s.choices;
  // The context the run allows: the task's or --max-context's cap, and the backend's own limit.
  int64_t cap = settings.max_context > 0 ? settings.max_context : task.spec.value("context", ojson::object()).value("max_tokens", int64_t{0});
  const int64_t backend_cap = backend.capabilities().max_context;
  if (backend_cap > 0 && (cap == 0 || backend_cap < cap)) cap = backend_cap;
  const int64_t needed = static_cast<int64_t>(prompt.ids.size()) + (task.mode == "generate" ? max_new_tokens : 0);
  if (cap > 0 && needed > cap) {
    r["skipped"] = "context";
    r["context_needed"] = needed;
    r["context_cap"] = cap;
    r["output"] = nullptr;
    r["extracted"] = nullptr;
    r["parsed"] = false;
    r["rule"] = "";
    r["score"] = 0.0;
    r["backend"] = backend.name();
    r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }
  if (task.mode == "loglikelihood") {
    const ojson lps = choice_logprobs(backend, prompt, task.spec, task.letters, s.choices, &ex.answer, where);
    ex.parsed = true;
    ex.rule = "argmax log-likelihood";
    r["choice_logprobs"] = lps;
    r["output"] = ex.answer;
  } else {
    const ojson gen = task.spec.value("generation", ojson::object());
    GenerateOptions o;
    o.max_new_tokens = max_new_tokens;
    o.sampling = task_sampling(task.spec, sample_seed(settings.seed, s.id));
    if (gen.contains("stop")) o.stop = gen["stop"].get<std::vector<std::string>>();
    o.top_logprobs = settings.logprobs;
    const GenerateResult g = backend.generate(prompt, o);
    // A backend that tokenizes itself reports the ids it used; a difference is recorded, not hidden.
    r["prompt_ids_match"] = g.prompt_ids.empty() || g.prompt_ids == prompt.ids;
    r["output"] = g.text;
    r["output_ids"] = g.ids;
    r["finish_reason"] = g.finish_reason;
    r["generated_tokens"] = g.ids.size();
    if (settings.logprobs > 0) r["logprobs"] = token_logprobs_json(g.logprobs);
    r["prompt_seconds"] = g.prompt_seconds;
    r["decode_seconds"] = g.decode_seconds;
    if (g.reported_prompt_tokens >= 0) r["server_prompt_tokens"] = g.reported_prompt_tokens;
    if (is_sample_metric(task.metric)) {
      const SampleScore sc = score_sample(task, s, strip_thinking(g.text));
      r["extracted"] = sc.extraction.parsed ? ojson(sc.extraction.answer) : ojson(nullptr);
      r["parsed"] = sc.extraction.parsed;
      r["rule"] = sc.extraction.rule;
      r["score"] = sc.score;
      if (!sc.stats.is_null()) r["stats"] = sc.stats;
      if (s.targets.size() > 1) r["targets"] = s.targets;
      r["backend"] = backend.name();
      r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return r;
    }
    ex = extract_answer(task.spec.value("extract", ojson::object()), strip_thinking(g.text), task.path + ": extract");
  }
  r["extracted"] = ex.parsed ? ojson(ex.answer) : ojson(nullptr);
  r["parsed"] = ex.parsed;
  r["rule"] = ex.rule;
  r["score"] = score_answer(task.metric, ex, s.target, task.path);
  r["backend"] = backend.name();
  r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

struct Loaded {
  Task task;
  std::vector<DataFile> files;
  std::vector<Sample> samples;       // all, manifest order
  std::vector<std::string> digests;
  ojson settings;
};

Loaded load(const EvalSettings& es) {
  Loaded L;
  L.task = load_task(es.task_path);
  L.files = task_data_files(L.task, es.data);
  L.samples = build_samples(L.task, L.files, es.limit, es.seed, &L.digests);
  if (L.task.mode == "loglikelihood" && es.think)
    fail("--think", "task " + L.task.name + " scores choice log-likelihoods right after the question; thinking does not apply");
  const int task_max = L.task.spec.value("generation", ojson::object()).value("max_new_tokens", 256);
  ojson data = ojson::array();
  // The files the samples came from (a --limit may end inside the first of several).
  for (size_t i = 0; i < L.digests.size(); ++i)
    data.push_back({{"file", fs::path(L.files[i].path).filename().string()}, {"sha256", L.digests[i]}});
  L.settings = {{"task", L.task.name},
                {"task_sha256", L.task.file_sha256},
                {"data", data},
                {"mode", L.task.mode},
                {"metric", L.task.metric},
                {"repeats", L.task.repeats},
                {"limit", es.limit},
                {"seed", es.seed},
                {"think", es.think},
                {"max_new_tokens", L.task.mode == "generate" ? (es.max_new_tokens > 0 ? es.max_new_tokens : task_max) : 0},
                {"logprobs", es.logprobs},
                {"backend", es.backend}};
  if (L.task.has_media()) L.settings["media"] = media_options_json(task_media_options(L.task, es.image_tokens));
  if (es.max_context > 0) L.settings["max_context"] = es.max_context;
  if (is_sample_metric(L.task.metric) && L.task.mode != "generate")
    fail(L.task.path, "metric " + L.task.metric + " scores generated text; the task must be \"mode\": \"generate\"");
  return L;
}

ojson read_json_file(const std::string& path) {
  try {
    return ojson::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON (") + e.what() + ")");
  }
}

void write_json(const std::string& path, const ojson& j) { write_file_atomically(path, j.dump(2) + "\n"); }

}  // namespace

std::vector<ojson> read_sample_log(const std::string& path, bool truncate, int64_t* dropped) {
  if (dropped) *dropped = 0;
  std::vector<ojson> out;
  if (!fs::exists(path)) return out;
  const std::string text = read_text_file(path);
  const size_t last_nl = text.rfind('\n');
  const size_t whole = last_nl == std::string::npos ? 0 : last_nl + 1;
  if (whole < text.size()) {
    // A record cut short by a kill: it never finished, so it is dropped and its sample runs again.
    if (dropped) *dropped = 1;
    if (truncate) {
      if (::truncate(path.c_str(), static_cast<off_t>(whole)) != 0)
        fail(path, std::string("cannot drop the torn last line: ") + std::strerror(errno));
    }
  }
  size_t pos = 0;
  int line = 0;
  while (pos < whole) {
    const size_t end = text.find('\n', pos);
    ++line;
    const std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    if (s.empty()) continue;
    try {
      ojson j = ojson::parse(s);
      if (!j.is_object() || !j.contains("id")) fail(path, "line " + std::to_string(line) + ": not a sample record");
      out.push_back(std::move(j));
    } catch (const nlohmann::json::exception& e) {
      fail(path, "line " + std::to_string(line) + " is not valid JSON, and it is not the last line (" + e.what() +
                     "); the file was changed by something other than g4ref");
    }
  }
  return out;
}

ojson compute_results(const ojson& run, const std::vector<ojson>& records) {
  const ojson& settings = run.at("settings");
  const uint64_t seed = settings.value("seed", uint64_t{0});
  const std::string metric = settings.at("metric").get<std::string>();
  const ojson spec = run.value("task_spec", ojson::object());
  const bool corpus = is_corpus_metric(metric);
  // One cluster per question: the mean over its repeats (AIME's mean@k, GPQA's 4 permutations). A corpus metric
  // (pooled WER, corpus BLEU) is the pooled value of the records, its interval a bootstrap over questions.
  auto summarize_records = [&](const std::vector<const ojson*>& given, const std::string& key) {
    std::vector<const ojson*> rs;
    int64_t skipped = 0;
    for (const ojson* r : given) {
      if (r->contains("skipped")) ++skipped;
      else rs.push_back(r);
    }
    std::vector<std::string> order;
    std::map<std::string, std::pair<double, int>> by_doc;
    std::map<std::string, std::vector<const ojson*>> records_of;
    int64_t unparsed = 0;
    for (const ojson* r : rs) {
      const std::string d = r->at("doc_id").get<std::string>();
      auto [it, fresh] = by_doc.try_emplace(d, 0.0, 0);
      if (fresh) order.push_back(d);
      it->second.first += r->at("score").get<double>();
      it->second.second += 1;
      records_of[d].push_back(r);
      if (!r->at("parsed").get<bool>()) ++unparsed;
    }
    std::vector<double> clusters;
    for (const auto& d : order) clusters.push_back(by_doc[d].first / by_doc[d].second);
    const Summary s = summarize(clusters, seed ^ stable_hash(key));
    double sum = 0;
    for (const ojson* r : rs) sum += r->at("score").get<double>();
    ojson out = {{"n", rs.size()},
                 {"n_questions", clusters.size()},
                 {"mean", rs.empty() ? 0.0 : sum / rs.size()},
                 {"stderr", s.stderr_},
                 {"ci95", {s.ci_low, s.ci_high}},
                 {"unparsed", unparsed}};
    if (corpus) {
      // "mean" is the task's score: the pooled corpus value; the mean of the per-sample (sentence) values is kept
      // apart. The bootstrap resamples questions with a generator seeded as the mean's is.
      std::string signature;
      const double value = corpus_value(metric, spec, rs, &signature);
      std::vector<double> draws;
      if (!order.empty()) {
        uint64_t state = seed ^ stable_hash(key) ^ 0x5851F42D4C957F2Dull;
        auto next = [&state] {
          uint64_t z = (state += 0x9E3779B97F4A7C15ull);
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
          z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
          return z ^ (z >> 31);
        };
        for (int b = 0; b < 1000; ++b) {
          std::vector<const ojson*> pick;
          for (size_t i = 0; i < order.size(); ++i)
            for (const ojson* r : records_of[order[next() % order.size()]]) pick.push_back(r);
          draws.push_back(corpus_value(metric, spec, pick));
        }
      }
      std::sort(draws.begin(), draws.end());
      double m = 0, v = 0;
      for (double x : draws) m += x;
      if (!draws.empty()) m /= draws.size();
      for (double x : draws) v += (x - m) * (x - m);
      out["sentence_mean"] = out["mean"];
      out["mean"] = value;
      out["stderr"] = draws.size() > 1 ? std::sqrt(v / (draws.size() - 1)) : 0.0;
      out["ci95"] = draws.empty() ? ojson{value, value} : ojson{draws[draws.size() * 25 / 1000], draws[draws.size() * 975 / 1000 - 1]};
      if (!signature.empty()) out["signature"] = signature;
    }
    if (skipped) out["excluded"] = {{"context", skipped}};
    return out;
  };
  std::vector<const ojson*> all;
  for (const ojson& r : records) all.push_back(&r);
  ojson task = {{"metric", settings.at("metric")}, {"mode", settings.at("mode")}, {"repeats", settings.at("repeats")}};
  if (corpus) task["aggregate"] = "corpus";
  if (!higher_is_better(metric)) task["higher_is_better"] = false;
  const ojson overall = summarize_records(all, settings.at("task").get<std::string>());
  for (auto it = overall.begin(); it != overall.end(); ++it) task[it.key()] = it.value();
  // Subtasks: one table per group_by field, values in sorted order.
  std::map<std::string, std::map<std::string, std::vector<const ojson*>>> groups;
  for (const ojson* r : all)
    if (r->contains("groups"))
      for (auto it = (*r)["groups"].begin(); it != (*r)["groups"].end(); ++it)
        groups[it.key()][it.value().get<std::string>()].push_back(r);
  ojson subtasks = ojson::object();
  for (const auto& [field, values] : groups) {
    ojson t = ojson::object();
    for (const auto& [value, rs] : values) t[value] = summarize_records(rs, field + "=" + value);
    subtasks[field] = t;
  }
  // "macro_over": the unweighted mean over one grouping's values (FLEURS' and CoVoST's cross-language average,
  // the form of the model card's single audio numbers).
  if (spec.contains("macro_over") && spec["macro_over"].is_string()) {
    const std::string field = spec["macro_over"].get<std::string>();
    if (subtasks.contains(field)) {
      double sum = 0;
      int k = 0;
      for (auto it = subtasks[field].begin(); it != subtasks[field].end(); ++it)
        if (it.value().at("n").get<int64_t>() > 0) sum += it.value().at("mean").get<double>(), ++k;
      task["macro_mean"] = {{"over", field}, {"groups", k}, {"mean", k ? sum / k : 0.0}};
    }
  }
  task["subtasks"] = subtasks;
  const ojson backend = run.value("backend", ojson::object());
  ojson clean = without_locations(settings);
  ojson out = {{"format", kResultsFormat},
               {"tasks", {{settings.at("task").get<std::string>(), task}}},
               {"backend", without_locations(backend)},
               {"model_hash", backend.value("model_hash", backend.value("config_hash", ""))},
               {"settings", clean},
               {"versions", {{"g4ref", G4REF_VERSION}, {"task_sha256", settings.at("task_sha256")}, {"data", settings.at("data")}}}};
  return out;
}

void resolve_shard(const std::string& option, int shard_count_option, int* index, int* count, std::string* source) {
  auto parse_int = [](const char* v, const std::string& name) {
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(v, &end, 10);
    if (!*v || *end || errno || x < 0 || x > 1000000) fail(name, std::string("expected a non-negative integer, found \"") + v + "\"");
    return static_cast<int>(x);
  };
  *index = 0;
  *count = 1;
  *source = "none";
  if (!option.empty()) {
    const size_t slash = option.find('/');
    if (slash == std::string::npos) fail("--shard", "expected I/N (e.g. 0/4), found \"" + option + "\"");
    *index = parse_int(option.substr(0, slash).c_str(), "--shard");
    *count = parse_int(option.substr(slash + 1).c_str(), "--shard");
    *source = "--shard";
  } else {
    const std::pair<const char*, const char*> pairs[] = {{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"},
                                                         {"SLURM_PROCID", "SLURM_NTASKS"},
                                                         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}};
    bool found = false;
    for (const auto& [i, n] : pairs) {
      const char* vi = std::getenv(i);
      const char* vn = std::getenv(n);
      if (vi && vn) {
        *index = parse_int(vi, i);
        *count = parse_int(vn, n);
        *source = std::string(i) + "/" + n;
        found = true;
        break;
      }
    }
    if (!found) {
      if (const char* vi = std::getenv("JOB_COMPLETION_INDEX")) {
        // A Kubernetes Indexed Job gives the index only; the count comes from the command or the environment.
        int n = shard_count_option;
        if (n <= 0) {
          const char* vn = std::getenv("G4REF_SHARD_COUNT");
          if (!vn) fail("JOB_COMPLETION_INDEX", "is set but the shard count is not: pass --shard-count N or set G4REF_SHARD_COUNT");
          n = parse_int(vn, "G4REF_SHARD_COUNT");
        }
        *index = parse_int(vi, "JOB_COMPLETION_INDEX");
        *count = n;
        *source = "JOB_COMPLETION_INDEX";
      }
    }
  }
  if (*count < 1) fail(*source, "the shard count must be at least 1");
  if (*index >= *count) fail(*source, "shard index " + std::to_string(*index) + " is not below the count " + std::to_string(*count));
}

RunSummary run_eval(const EvalSettings& es, const std::string& out_dir, const BackendMaker& make,
                    std::ostream* progress, bool terminal) {
  const auto t0 = std::chrono::steady_clock::now();
  Loaded L = load(es);
  if (es.shard_count < 1 || es.shard_index < 0 || es.shard_index >= es.shard_count)
    fail("--shard", std::to_string(es.shard_index) + "/" + std::to_string(es.shard_count) + " is not a shard");
  const bool sharded = es.shard_count > 1;
  std::vector<std::string> manifest;
  std::vector<const Sample*> mine;
  for (const Sample& s : L.samples) {
    manifest.push_back(s.id);
    if (shard_of(s.id, es.shard_count) == es.shard_index) mine.push_back(&s);
  }
  RunSummary sum;
  sum.dir = sharded ? (fs::path(out_dir) / shard_dir_name(es.shard_index, es.shard_count)).string() : out_dir;
  sum.total = static_cast<int64_t>(mine.size());
  std::error_code ec;
  fs::create_directories(sum.dir, ec);
  if (ec || !fs::is_directory(sum.dir)) fail(sum.dir, "cannot create the run folder: " + ec.message());
  const std::string run_path = (fs::path(sum.dir) / "run.json").string();
  const std::string log_path = (fs::path(sum.dir) / "samples.jsonl").string();
  ojson run = {{"format", kRunFormat}, {"settings", L.settings},
               {"shard", {{"index", es.shard_index}, {"count", es.shard_count}}},
               {"task_spec", L.task.spec},
               {"manifest", manifest}};
  ojson earlier;
  if (fs::exists(run_path)) {
    earlier = read_json_file(run_path);
    if (earlier.value("format", "") != kRunFormat) fail(run_path, "not a g4ref run folder (format " + earlier.value("format", "?") + ")");
    const std::string d = first_difference(earlier.at("settings"), L.settings, "settings");
    if (!d.empty()) fail(run_path, "this folder holds a run with other settings; refusing to resume it (" + d + "); use another --out");
    const std::string ds = first_difference(earlier.at("shard"), run.at("shard"), "shard");
    if (!ds.empty()) fail(run_path, "this folder holds another shard (" + ds + ")");
    if (earlier.at("manifest") != run.at("manifest")) fail(run_path, "the sample list differs from the earlier run's (the data changed?)");
    if (earlier.contains("backend")) run["backend"] = earlier["backend"];
  } else {
    if (fs::exists(log_path)) fail(log_path, "samples.jsonl without run.json: not a folder this program wrote; use another --out");
    write_json(run_path, run);
  }
  // Resume: whole records count, a torn last line is dropped and its sample runs again.
  std::vector<ojson> records = read_sample_log(log_path, true, &sum.dropped_torn);
  std::set<std::string> assigned;
  for (const Sample* s : mine) assigned.insert(s->id);
  std::map<std::string, ojson> done;
  for (ojson& r : records) {
    const std::string id = r.at("id").get<std::string>();
    if (!assigned.count(id)) fail(log_path, "holds sample " + id + ", which is not one of this run's samples");
    if (!done.emplace(id, std::move(r)).second) fail(log_path, "holds sample " + id + " twice");
  }
  sum.resumed = static_cast<int64_t>(done.size());
  if (done.size() < mine.size() || !run.contains("backend")) {
    std::unique_ptr<Backend> backend = make();
    const ojson desc = backend->describe();
    if (run.contains("backend")) {
      const std::string d = first_difference(without_locations(run["backend"]), without_locations(desc), "backend");
      if (!d.empty()) fail(run_path, "the backend differs from the earlier run's (" + d + "); refusing to mix their samples");
    } else {
      run["backend"] = desc;
      write_json(run_path, run);
    }
    fsync_dir(sum.dir);
    AppendLog log(log_path);
    const std::vector<ojson> fewshot = load_fewshot_pool(L.task);
    const int max_new = L.settings["max_new_tokens"].get<int>();
    const std::string label = L.task.name + (sharded ? " " + std::to_string(es.shard_index) + "/" + std::to_string(es.shard_count) : "");
    double score_sum = 0;
    int64_t scored = 0;
    for (const auto& [id, r] : done) score_sum += r["score"].get<double>(), ++scored;
    Progress bar(progress, terminal, label, sum.total, sum.resumed);
    for (const Sample* s : mine) {
      if (done.count(s->id)) continue;
      ojson r = evaluate(L.task, *s, es, max_new, fewshot, *backend);
      log.append(r);
      score_sum += r["score"].get<double>();
      ++scored;
      done.emplace(s->id, std::move(r));
      ++sum.done_now;
      bar.tick(score_sum, scored);
    }
  }
  std::vector<ojson> ordered;
  for (const Sample* s : mine) ordered.push_back(done.at(s->id));
  sum.results = compute_results(run, ordered);
  if (sharded) sum.results["shard"] = {{"index", es.shard_index}, {"count", es.shard_count}, {"partial", true}};
  write_json((fs::path(sum.dir) / "results.json").string(), sum.results);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

MergeSummary merge_eval(const std::vector<std::string>& dirs, const std::string& out) {
  if (dirs.empty()) fail("eval merge", "no run folders given");
  std::vector<std::string> shard_dirs;
  std::string root;
  for (const std::string& d : dirs) {
    if (!fs::is_directory(d)) fail(d, "not a folder");
    bool any = false;
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(d))
      if (e.is_directory() && e.path().filename().string().rfind("shard-", 0) == 0 && fs::exists(e.path() / "run.json"))
        found.push_back(e.path().string()), any = true;
    std::sort(found.begin(), found.end());
    if (any) {
      if (root.empty()) root = d;
      shard_dirs.insert(shard_dirs.end(), found.begin(), found.end());
    } else if (fs::exists(fs::path(d) / "run.json")) {
      if (root.empty()) root = fs::path(d).lexically_normal().parent_path().string();
      shard_dirs.push_back(d);
    } else {
      fail(d, "holds neither run.json nor shard-I-of-N folders");
    }
  }
  MergeSummary m;
  m.out = out.empty() ? (fs::path(root) / "results.json").string() : out;
  ojson first;
  std::map<int, std::string> by_index;
  std::map<std::string, ojson> records;
  std::map<std::string, int> where_from;
  std::vector<std::string> duplicates;
  int count = 0;
  for (const std::string& d : shard_dirs) {
    const std::string rp = (fs::path(d) / "run.json").string();
    ojson run = read_json_file(rp);
    if (run.value("format", "") != kRunFormat) fail(rp, "not a g4ref run file");
    if (first.is_null()) {
      first = run;
      count = run["shard"]["count"].get<int>();
    } else {
      const std::string diff = first_difference(first["settings"], run["settings"], "settings");
      if (!diff.empty()) fail(rp, "its settings differ from the other shards' (" + diff + ")");
      const std::string bd = first_difference(without_locations(first.value("backend", ojson::object())),
                                              without_locations(run.value("backend", ojson::object())), "backend");
      if (!bd.empty()) fail(rp, "its backend differs from the other shards' (" + bd + ")");
      if (run["manifest"] != first["manifest"]) fail(rp, "its sample list differs from the other shards'");
      if (run["shard"]["count"].get<int>() != count)
        fail(rp, "is a shard of " + run["shard"]["count"].dump() + ", the others of " + std::to_string(count));
    }
    const int index = run["shard"]["index"].get<int>();
    if (!by_index.emplace(index, d).second) fail(d, "shard " + std::to_string(index) + " given twice (also " + by_index[index] + ")");
    int64_t dropped = 0;
    for (ojson& r : read_sample_log((fs::path(d) / "samples.jsonl").string(), false, &dropped)) {
      const std::string id = r["id"].get<std::string>();
      if (shard_of(id, count) != index) fail(d, "holds sample " + id + ", which belongs to shard " + std::to_string(shard_of(id, count)));
      if (records.count(id)) duplicates.push_back(id);
      else records.emplace(id, std::move(r));
    }
  }
  if (!duplicates.empty()) fail("eval merge", std::to_string(duplicates.size()) + " samples present more than once, first " + duplicates[0]);
  std::vector<std::string> missing_shards;
  for (int i = 0; i < count; ++i)
    if (!by_index.count(i)) missing_shards.push_back(std::to_string(i));
  std::vector<std::string> missing;
  std::vector<ojson> ordered;
  for (const ojson& id : first["manifest"]) {
    auto it = records.find(id.get<std::string>());
    if (it == records.end()) missing.push_back(id.get<std::string>());
    else ordered.push_back(it->second);
  }
  if (!missing.empty()) {
    std::string names;
    for (size_t i = 0; i < missing.size() && i < 20; ++i) names += (i ? ", " : "") + missing[i];
    if (missing.size() > 20) names += ", …";
    std::string shards;
    for (size_t i = 0; i < missing_shards.size(); ++i) shards += (i ? ", " : "") + missing_shards[i];
    fail("eval merge", std::to_string(missing.size()) + " of " + std::to_string(first["manifest"].size()) +
                           " samples missing (" + names + ")" +
                           (shards.empty() ? "" : "; shards with no folder: " + shards + " of " + std::to_string(count)) +
                           "; rerun the shards that hold them, then merge again");
  }
  if (records.size() != ordered.size()) fail("eval merge", "the shards hold samples outside the manifest");
  m.shards = static_cast<int>(by_index.size());
  m.samples = static_cast<int64_t>(ordered.size());
  m.results = compute_results(first, ordered);
  write_json(m.out, m.results);
  return m;
}

}  // namespace g4ref
