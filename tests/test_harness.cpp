// The benchmark harness: readers (against Python's csv and json modules), task files (templates, permutations,
// the published extraction rules), and the runner's promises — resume after a kill with nothing lost or
// duplicated, shards merged equal to an unsharded run byte for byte, resumes with other settings refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "backends/backend.h"
#include "backends/factory.h"
#include "harness/audit.h"
#include "harness/dataset.h"
#include "harness/runner.h"
#include "harness/scoring_bridge.h"
#include "harness/sha256.h"
#include "harness/task.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using g4ref::testing::TempDir;

const std::string kSource = G4REF_SOURCE_DIR;
std::string task_file(const std::string& name) { return kSource + "/eval/tasks/" + name + ".json"; }

std::string slurp(const std::string& path) { return read_text_file(path); }

// A deterministic stand-in for a model: its answers are a function of the prompt's bytes, so a rerun of any
// sample gives the same record, and it counts the samples it was asked.
class FakeBackend : public Backend {
 public:
  int generated = 0, scored = 0;
  std::string name() const override { return "fake"; }
  nlohmann::json describe() const override { return {{"kind", "fake"}, {"model_hash", "f00d"}}; }
  BackendCapabilities capabilities() const override { return {}; }
  std::vector<int> tokenize(const std::string& text) override {
    std::vector<int> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string detokenize(const std::vector<int>& ids) override {
    std::string s;
    for (int i : ids) s += static_cast<char>(i);
    return s;
  }
  std::string render(const Conversation& c) override {
    std::string s;
    for (const auto& m : c.messages) s += m["role"].get<std::string>() + ":" + m["content"].get<std::string>() + "\n";
    return s + (c.thinking ? "think" : "");
  }
  Prompt prepare(const Conversation& c, const MediaOptions&) override {
    Prompt p;
    p.rendered = render(c);
    p.ids = tokenize(p.rendered);
    p.token_types.assign(p.ids.size(), 0);
    return p;
  }
  ScoreResult score(const Prompt& prompt, const std::vector<int>& cont, int) override {
    ++scored;
    ScoreResult r;
    r.prompt_ids = prompt.ids;
    for (int id : cont) {
      TokenLogprob t;
      t.id = id;
      t.logprob = -static_cast<double>((stable_hash(prompt.rendered + char(id)) % 1000)) / 100.0;
      t.rank = 1;
      r.tokens.push_back(t);
    }
    return r;
  }
  GenerateResult generate(const Prompt& prompt, const GenerateOptions& o, const std::function<void(int)>&) override {
    ++generated;
    const uint64_t h = stable_hash(prompt.rendered) ^ o.sampling.seed;
    GenerateResult g;
    g.prompt_ids = prompt.ids;
    // Mostly a well-formed answer, sometimes none (an unparsed sample).
    if (h % 5 == 0) g.text = "I am not sure.";
    else g.text = "Reasoning... the answer is (" + std::string(1, "ABCD"[h % 4]) + "). Answer: " + std::string(1, "ABCD"[h % 4]) +
                  " \\boxed{" + std::to_string(h % 1000) + "}";
    g.ids = tokenize(g.text);
    g.finish_reason = "stop";
    return g;
  }
};

EvalSettings settings_for(const std::string& task, int limit = 0) {
  EvalSettings s;
  s.task_path = task_file(task);
  s.backend = {{"kind", "fake"}};
  s.limit = limit;
  s.max_new_tokens = 8;
  return s;
}

struct Calls {
  int generated = 0, scored = 0;
};

// Runs with a fresh fake backend; CALLS gets what that run asked of it.
RunSummary run_fake(const EvalSettings& s, const std::string& out, Calls* calls = nullptr) {
  auto counted = std::make_shared<Calls>();
  struct Counting : FakeBackend {
    std::shared_ptr<Calls> c;
    ~Counting() override { c->generated = generated, c->scored = scored; }
  };
  RunSummary r = run_eval(s, out, [counted] {
    auto b = std::make_unique<Counting>();
    b->c = counted;
    return std::unique_ptr<Backend>(std::move(b));
  }, nullptr, false);
  if (calls) *calls = *counted;
  return r;
}

std::map<std::string, int> id_counts(const std::string& log) {
  std::map<std::string, int> c;
  int64_t dropped = 0;
  for (const auto& r : read_sample_log(log, false, &dropped)) ++c[r["id"].get<std::string>()];
  return c;
}

// --- SHA-256: FIPS 180-4 example vectors.
TEST(HarnessSha256, PublishedVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// --- Readers.
TEST(HarnessDataset, CsvQuotingNewlinesAndErrors) {
  const auto r = parse_delimited("\xEF\xBB\xBF" "a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\r\n\r\n4,,6", ',', "t.csv");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["b"], "x, \"y\"\nz");
  EXPECT_EQ(r[1]["b"], "");
  EXPECT_EQ(r[1]["c"], "6");
  testing::expect_error([] { parse_delimited("a,b\n1,2,3\n", ',', "t.csv"); }, "t.csv", "line 2: 3 fields, expected 2");
  testing::expect_error([] { parse_delimited("a,b\n1,\"2\n", ',', "t.csv"); }, "t.csv", "not closed");
  testing::expect_error([] { parse_delimited("a,a\n1,2\n", ',', "t.csv"); }, "t.csv", "twice");
  const auto t = parse_delimited("q\tans\nx y\t1\n", '\t', "t.tsv");
  EXPECT_EQ(t[0]["q"], "x y");
  testing::expect_error([] { parse_jsonl("{\"a\":1}\n[1]\n", "t.jsonl"); }, "t.jsonl", "line 2: expected a JSON object");
}

// Every bundled file read by our readers equals Python's csv / json reading of it (an independent parser).
TEST(HarnessDataset, BundledFilesEqualPythonReaders) {
  const std::vector<std::string> files = {"mmlu_pro/test.jsonl", "mmlu_pro/validation.jsonl", "gpqa/gpqa_diamond.csv",
                                          "mmmlu/mmlu_DE-DE.csv", "mmmlu/mmlu_JA-JP.csv", "mmmlu/mmlu_SW-KE.csv",
                                          "aime/aime_2026.jsonl"};
  for (const std::string& f : files) {
    const std::string path = kSource + "/datasets/bundled/" + f;
    const auto ours = read_records(path, data_format("auto", path));
    std::string out;
    const std::string py =
        "/usr/bin/python3 -c 'import csv,json,sys; p=sys.argv[1]; "
        "rows=[json.loads(l) for l in open(p,encoding=\"utf-8\") if l.strip()] if p.endswith(\".jsonl\") else "
        "list(csv.DictReader(open(p,encoding=\"utf-8\",newline=\"\"))); print(json.dumps(rows))' '" + path + "'";
    ASSERT_EQ(testing::run_command(py, &out), 0) << f;
    const ojson theirs = ojson::parse(out);
    ASSERT_EQ(theirs.size(), ours.size()) << f;
    for (size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ojson(ours[i]), theirs[i]) << f << " record " << i;
  }
}

// The bundled sets have the published schemas (field names of claims-and-evals §3.1–3.4).
TEST(HarnessDataset, BundledSchemas) {
  auto first = [](const std::string& f) {
    const std::string p = kSource + "/datasets/bundled/" + f;
    return read_records(p, data_format("auto", p)).at(0);
  };
  for (const char* k : {"question_id", "question", "options", "answer", "answer_index", "cot_content", "category", "src"})
    EXPECT_TRUE(first("mmlu_pro/test.jsonl").contains(k)) << k;
  for (const char* k : {"Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Record ID"})
    EXPECT_TRUE(first("gpqa/gpqa_diamond.csv").contains(k)) << k;
  for (const char* k : {"Question", "A", "B", "C", "D", "Answer", "Subject"})
    EXPECT_TRUE(first("mmmlu/mmlu_DE-DE.csv").contains(k)) << k;
  for (const char* k : {"problem_idx", "problem", "answer"}) EXPECT_TRUE(first("aime/aime_2026.jsonl").contains(k)) << k;
}

// --- Tasks.
TEST(HarnessTask, EveryTaskFileBuildsItsSamples) {
  const std::map<std::string, size_t> expected = {{"mmlu_pro", 42}, {"mmlu_pro_5shot", 42}, {"mmlu_pro_ll", 42},
                                                  {"gpqa_diamond", 24 * 4}, {"mmmlu", 36}, {"aime", 30 * 4}};
  for (const auto& [name, n] : expected) {
    const Task t = load_task(task_file(name));
    const auto samples = build_samples(t, task_data_files(t, ""), 0, 0);
    EXPECT_EQ(samples.size(), n) << name;
    const auto pool = load_fewshot_pool(t);
    const Conversation c = build_conversation(t, samples[0], false, pool);
    EXPECT_EQ(c.messages.back()["role"], "user") << name;
    if (name == "mmlu_pro_5shot") {
      EXPECT_EQ(c.messages.size(), 11u);  // 5 exemplar turns + the question
      // lm-eval's fewshot_to_text: the exemplar is its question and options, and its answer is cot_content with
      // "A: Let's think step by step." rewritten to "Answer: Let's think step by step."; only the test question ends
      // with that line itself (doc_to_text).
      for (size_t m = 0; m + 1 < c.messages.size(); m += 2) {
        const std::string u = c.messages[m]["content"], a = c.messages[m + 1]["content"];
        EXPECT_EQ(u.find("Answer:"), std::string::npos) << u;
        EXPECT_EQ(a.rfind("Answer: Let's think step by step. ", 0), 0u) << a;
        EXPECT_EQ(a.find("A: Let's"), std::string::npos) << a;
      }
      EXPECT_EQ(c.messages[1]["content"], "Answer: Let's think step by step. 37 + 73 = 110, which is option (C). The answer is (C).");
      const std::string q = c.messages.back()["content"];
      EXPECT_EQ(q.substr(q.size() - 34), "\nAnswer: Let's think step by step.");
    }
  }
}

TEST(HarnessTask, MmluProPromptHasLetteredOptionsAndTarget) {
  const Task t = load_task(task_file("mmlu_pro"));
  const auto samples = build_samples(t, task_data_files(t, ""), 1, 0);
  const Sample& s = samples[0];
  const std::string p = build_conversation(t, s, false, {}).messages[0]["content"].get<std::string>();
  EXPECT_NE(p.find("Question:\n" + s.doc["question"].get<std::string>() + "\nOptions:\nA. " + s.doc["options"][0].get<std::string>() + "\nB. "), std::string::npos) << p;
  EXPECT_NE(p.find("Answer: Let's think step by step."), std::string::npos);
  EXPECT_EQ(s.target, s.doc["answer"].get<std::string>());
}

// GPQA: the correct answer's presented letter is the target in every repeat; permutations are a function of
// (seed, id, repeat): equal when rebuilt, differing across repeats and seeds.
TEST(HarnessTask, GpqaPermutationsAreRecordedAndSeeded) {
  const Task t = load_task(task_file("gpqa_diamond"));
  const auto a = build_samples(t, task_data_files(t, ""), 0, 0);
  const auto b = build_samples(t, task_data_files(t, ""), 0, 0);
  const auto c = build_samples(t, task_data_files(t, ""), 0, 1);
  int differ_repeat = 0, differ_seed = 0;
  std::map<char, int> target_letters;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].permutation, b[i].permutation);
    const int at = a[i].target[0] - 'A';
    EXPECT_EQ(a[i].choices[at], a[i].doc["Correct Answer"].get<std::string>());
    ++target_letters[a[i].target[0]];
    if (i % 4 && a[i].permutation != a[i - 1].permutation) ++differ_repeat;
    if (a[i].permutation != c[i].permutation) ++differ_seed;
  }
  EXPECT_GT(differ_repeat, 40);
  EXPECT_GT(differ_seed, 60);
  EXPECT_EQ(target_letters.size(), 4u);  // the correct answer is not always A
}

TEST(HarnessTask, TemplateErrorsNameTheField) {
  testing::expect_error([] { fill_template("{{nope}}", ojson{{"a", 1}}, ojson::object(), "task.json: prompt"); },
                        "task.json: prompt", "\"{{nope}}\"");
}

// The tasks' extraction rules on outputs whose answers are known by construction.
TEST(HarnessTask, PublishedExtractionRules) {
  const auto ex = [](const std::string& task, const std::string& text) {
    return extract_answer(load_task(task_file(task)).spec["extract"], text, task);
  };
  EXPECT_EQ(ex("mmlu_pro", "so the answer is (C). But maybe the answer is (D)").answer, "C");  // first match
  // Fallback 2 is Python's re.search('.*[aA]nswer:\s*([A-J])'): '.' stops at a newline, so the first line with a
  // label wins, and on that line its last label.
  EXPECT_EQ(ex("mmlu_pro", "Answer: B\nAnswer: E").answer, "B");
  EXPECT_EQ(ex("mmlu_pro", "Answer: B, or Answer: E").answer, "E");
  EXPECT_EQ(ex("mmlu_pro", "I pick J, no wait, G.").answer, "G");                              // fallback 3, last letter
  EXPECT_FALSE(ex("mmlu_pro", "no idea").parsed);
  EXPECT_EQ(ex("gpqa_diamond", "think...\nAnswer: $C$").answer, "C");
  EXPECT_EQ(ex("gpqa_diamond", "ANSWER:  D").answer, "D");
  EXPECT_EQ(ex("mmmlu", "Überlegung …\n**Antwort: B**").answer, "B");
  EXPECT_EQ(ex("mmmlu", "الإجابة: ج").answer, "C");
  EXPECT_EQ(ex("mmmlu", "答え：Ｄ").answer, "D");
  EXPECT_EQ(ex("aime", "first \\boxed{12} then \\boxed{ 0,070 }").answer, "70");
  EXPECT_FALSE(ex("aime", "\\boxed{x+1}").parsed);
  // A task's own rules: tried in order, first or last match, a map of spellings.
  const ojson own = ojson::parse(R"J({"kind": "letter", "map": {"b": "B"},
      "patterns": [{"regex": "Final: ([A-D])", "pick": "last"}, {"regex": "choice ([a-d])", "icase": true}]})J");
  EXPECT_EQ(extract_answer(own, "Final: A ... Final: C", "t").answer, "C");
  EXPECT_EQ(extract_answer(own, "my choice b", "t").answer, "B");
  EXPECT_EQ(extract_answer(own, "my choice b", "t").rule, "pattern 1");
  EXPECT_FALSE(extract_answer(own, "nothing", "t").parsed);
  const ojson integer = ojson::parse(R"J({"kind": "integer", "patterns": [{"regex": "= *([0-9, ]+)$"}]})J");
  EXPECT_EQ(extract_answer(integer, "x = 0,042", "t").answer, "42");
  EXPECT_EQ(strip_thinking("<|channel>thought\nAnswer: A<channel|>Answer: B"), "Answer: B");
  EXPECT_EQ(strip_thinking("<|channel>thought\nAnswer: A, still thinking"), "");
}

TEST(HarnessRunner, ShardFromEnvironment) {
  int i = 0, n = 0;
  std::string src;
  resolve_shard("2/4", 0, &i, &n, &src);
  EXPECT_EQ(i, 2);
  EXPECT_EQ(n, 4);
  ::setenv("SLURM_ARRAY_TASK_ID", "3", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "8", 1);
  resolve_shard("", 0, &i, &n, &src);
  EXPECT_EQ(i, 3);
  EXPECT_EQ(n, 8);
  EXPECT_EQ(src, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::setenv("JOB_COMPLETION_INDEX", "1", 1);
  testing::expect_error([&] { resolve_shard("", 0, &i, &n, &src); }, "JOB_COMPLETION_INDEX", "shard count");
  resolve_shard("", 5, &i, &n, &src);
  EXPECT_EQ(i, 1);
  EXPECT_EQ(n, 5);
  ::unsetenv("JOB_COMPLETION_INDEX");
  testing::expect_error([&] { resolve_shard("4/4", 0, &i, &n, &src); }, "--shard", "not below");
}

// A run cut mid-record (the file truncated inside its last line, as a kill during write leaves it) resumes: the
// torn record is dropped and rerun, nothing is lost or duplicated, only the missing samples reach the backend,
// and results.json is byte-identical to an uninterrupted run's.
TEST(HarnessRunner, ResumeAfterTornWriteLosesAndDuplicatesNothing) {
  TempDir dir("harness_resume");
  for (const std::string task : {"mmlu_pro", "gpqa_diamond", "mmlu_pro_ll", "aime"}) {
    const EvalSettings s = settings_for(task, 10);
    const std::string full = dir / (task + "_full"), cut = dir / (task + "_cut");
    const RunSummary a = run_fake(s, full);
    run_fake(s, cut);
    const std::string log = cut + "/samples.jsonl";
    std::string text = slurp(log);
    // Keep 3 whole records and half of the 4th.
    size_t pos = 0;
    for (int i = 0; i < 3; ++i) pos = text.find('\n', pos) + 1;
    const size_t next = text.find('\n', pos);
    fs::resize_file(log, pos + (next - pos) / 2);
    Calls calls;
    const Calls* b = &calls;
    const RunSummary r = run_fake(s, cut, &calls);
    EXPECT_EQ(r.dropped_torn, 1) << task;
    EXPECT_EQ(r.resumed, 3) << task;
    EXPECT_EQ(r.done_now, a.total - 3) << task;
    if (task == "mmlu_pro_ll") {  // one score call per option of each rerun sample (9 or 10 options)
      EXPECT_GE(b->scored, 9 * (a.total - 3)) << task;
      EXPECT_LE(b->scored, 10 * (a.total - 3)) << task;
    } else {
      EXPECT_EQ(b->generated, a.total - 3) << task;  // only the missing samples reach the backend
    }
    const auto counts = id_counts(log);
    EXPECT_EQ(static_cast<int64_t>(counts.size()), a.total) << task;
    for (const auto& [id, c] : counts) EXPECT_EQ(c, 1) << task << " " << id;
    EXPECT_EQ(slurp(cut + "/results.json"), slurp(full + "/results.json")) << task;
    // A finished run reruns without asking the backend again.
    Calls none;
    const RunSummary again = run_fake(s, cut, &none);
    EXPECT_EQ(again.done_now, 0);
    EXPECT_EQ(none.generated + none.scored, 0);
  }
}

TEST(HarnessRunner, ResumeWithOtherSettingsIsRefusedNamingTheField) {
  TempDir dir("harness_refuse");
  EvalSettings s = settings_for("mmlu_pro", 4);
  run_fake(s, dir.str());
  EvalSettings t = s;
  t.limit = 5;
  testing::expect_error([&] { run_fake(t, dir.str()); }, dir / "run.json", "settings.limit (earlier 4, now 5)");
  t = s;
  t.think = true;
  testing::expect_error([&] { run_fake(t, dir.str()); }, dir / "run.json", "settings.think");
  t = s;
  t.backend["precision"] = "bf16";
  testing::expect_error([&] { run_fake(t, dir.str()); }, dir / "run.json", "settings.backend.precision");
}

// 4 shards (each in its own folder, run in any order) merged give the unsharded results.json byte for byte;
// a missing shard is named with its missing samples.
TEST(HarnessRunner, FourShardsMergedEqualUnsharded) {
  TempDir dir("harness_shards");
  for (const std::string task : {"gpqa_diamond", "mmmlu"}) {
    EvalSettings s = settings_for(task);
    const std::string whole = dir / (task + "_whole"), sharded = dir / (task + "_sharded");
    run_fake(s, whole);
    int64_t total = 0;
    for (int i : {2, 0, 3, 1}) {
      s.shard_index = i;
      s.shard_count = 4;
      const RunSummary r = run_fake(s, sharded);
      EXPECT_EQ(r.dir, sharded + "/shard-" + std::to_string(i) + "-of-4");
      EXPECT_GT(r.total, 0);
      total += r.total;
    }
    const MergeSummary m = merge_eval({sharded}, "");
    EXPECT_EQ(m.samples, total);
    EXPECT_EQ(m.shards, 4);
    EXPECT_EQ(slurp(sharded + "/results.json"), slurp(whole + "/results.json")) << task;
    fs::rename(sharded + "/shard-1-of-4", dir / "away");
    testing::expect_error([&] { merge_eval({sharded}, dir / "r.json"); }, "eval merge", "shards with no folder: 1 of 4");
    fs::rename(dir / "away", sharded + "/shard-1-of-4");
  }
}

// The subtask tables: per-subject and per-locale n, and the unparsed count.
TEST(HarnessRunner, ResultsHoldSubtasksAndUnparsed) {
  TempDir dir("harness_results");
  const RunSummary r = run_fake(settings_for("mmmlu"), dir.str());
  const ojson& t = r.results["tasks"]["mmmlu"];
  EXPECT_EQ(t["n"], 36);
  EXPECT_EQ(t["subtasks"]["locale"]["DE_DE"]["n"], 12);
  EXPECT_EQ(t["subtasks"]["locale"].size(), 3u);
  EXPECT_EQ(t["subtasks"]["Subject"].size(), 2u);
  int64_t unparsed = 0;
  double sum = 0;
  int64_t dropped = 0;
  for (const auto& rec : read_sample_log(dir / "samples.jsonl", false, &dropped)) {
    unparsed += !rec["parsed"].get<bool>();
    sum += rec["score"].get<double>();
  }
  EXPECT_EQ(t["unparsed"], unparsed);
  EXPECT_GT(unparsed, 0);
  EXPECT_DOUBLE_EQ(t["mean"].get<double>(), sum / 36);
  EXPECT_LE(t["ci95"][0].get<double>(), t["mean"].get<double>());
  EXPECT_GE(t["ci95"][1].get<double>(), t["mean"].get<double>());
  const std::string text = slurp(dir / "results.json");
  EXPECT_EQ(text.find(dir.str()), std::string::npos);  // no paths
}

// The Parquet converter against rows written by an independent Parquet writer (hyparquet-writer).
TEST(HarnessConvert, ParquetRoundTrip) {
  const std::string dir = kSource + "/datasets/convert";
  if (!fs::exists(dir + "/node_modules/hyparquet-writer"))
    GTEST_SKIP() << "datasets/convert/node_modules is missing (setup.sh installs it)";
  std::string out;
  EXPECT_EQ(testing::run_command("node '" + dir + "/roundtrip_test.mjs' 2>&1", &out), 0) << out;
}

int64_t count_lines(const std::string& path) {
  if (!fs::exists(path)) return 0;
  const std::string t = slurp(path);
  return std::count(t.begin(), t.end(), '\n');
}

// The real thing: `g4ref eval run` on the tiny checkpoint killed with SIGKILL twice while it writes records, then
// rerun to the end. Every sample is present exactly once and results.json equals an uninterrupted run's.
TEST(HarnessCli, KillNineThenResumeLosesNothing) {
  const std::string model = testing::tiny_checkpoint();
  TempDir dir("harness_kill");
  const std::string cut = dir / "cut", whole = dir / "whole";
  const std::string base = std::string(G4REF_CLI) + " eval run --task mmlu_pro --limit 6 --backend reference --model '" +
                           model + "' --max-new-tokens 12 --quiet --json --out ";
  std::string out;
  const int rc = testing::run_command(base + "'" + whole + "' 2>&1", &out);
  if (rc != 0 && out.find("is not available in this build") != std::string::npos)
    GTEST_SKIP() << "no reference backend in this build yet: " << out;
  ASSERT_EQ(rc, 0) << out;
  for (int64_t kill_after : {2, 4}) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string model_dir = model;
      ::execl(G4REF_CLI, "g4ref", "eval", "run", "--task", "mmlu_pro", "--limit", "6", "--backend", "reference",
              "--model", model_dir.c_str(), "--max-new-tokens", "12", "--quiet", "--out", cut.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 60000 && count_lines(cut + "/samples.jsonl") < kill_after; ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_FALSE(exited) << "the run ended before it could be killed";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  ASSERT_EQ(testing::run_command(base + "'" + cut + "' 2>&1", &out), 0) << out;
  const ojson summary = ojson::parse(out);
  EXPECT_GT(summary["resumed"].get<int64_t>(), 0);
  const auto counts = id_counts(cut + "/samples.jsonl");
  const auto expected = id_counts(whole + "/samples.jsonl");
  int64_t lost = 0, duplicated = 0;
  for (const auto& [id, c] : expected) lost += counts.count(id) ? 0 : 1;
  for (const auto& [id, c] : counts) duplicated += c - 1;
  std::printf("kill -9 twice, then resume: %zu of %zu samples, lost %lld, duplicated %lld, resumed %lld\n",
              counts.size(), expected.size(), static_cast<long long>(lost), static_cast<long long>(duplicated),
              static_cast<long long>(summary["resumed"].get<int64_t>()));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(counts.size(), expected.size());
  EXPECT_EQ(slurp(cut + "/results.json"), slurp(whole + "/results.json"));
}

// A backend seen through a narrower interface: no top lists, so every choice gets its own score call.
class NoTopLists : public FakeBackend {
 public:
  explicit NoTopLists(Backend& inner) : inner_(inner) {}
  BackendCapabilities capabilities() const override {
    BackendCapabilities c = inner_.capabilities();
    c.full_logits = false;
    c.max_top_logprobs = 0;
    return c;
  }
  std::vector<int> tokenize(const std::string& t) override { return inner_.tokenize(t); }
  ScoreResult score(const Prompt& p, const std::vector<int>& c, int k) override { ++scored; return inner_.score(p, c, k); }

 private:
  Backend& inner_;
};

// Log-likelihood choices from one call (the shared distribution's top list) equal one call per choice, bit for
// bit, on the reference with the tiny checkpoint.
TEST(HarnessRunner, OneCallChoiceScoresEqualPerChoiceCalls) {
  auto ref = make_backend({{"kind", "reference"}, {"model", testing::tiny_checkpoint()}});
  const Task t = load_task(task_file("mmlu_pro_ll"));
  const auto samples = build_samples(t, task_data_files(t, ""), 2, 0);
  for (const Sample& s : samples) {
    const Prompt p = ref->prepare(build_conversation(t, s, false, {}), MediaOptions{});
    std::string best_one, best_each;
    const ojson one = choice_logprobs(*ref, p, t.spec, t.letters, s.choices, &best_one, "t");
    NoTopLists narrow(*ref);
    const ojson each = choice_logprobs(narrow, p, t.spec, t.letters, s.choices, &best_each, "t");
    EXPECT_EQ(narrow.scored, static_cast<int>(s.choices.size()));
    EXPECT_EQ(one, each);
    EXPECT_EQ(best_one, best_each);
  }
}

// A --limit that ends inside the first of a task's several data files (MMMLU: one file per locale) runs, and the
// run records the one file its samples came from.
TEST(HarnessCli, LimitInsideTheFirstOfSeveralFiles) {
  TempDir dir("harness_limit");
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " eval run --task mmmlu --limit 2 --backend reference --model '" +
                                     testing::tiny_checkpoint() + "' --max-new-tokens 4 --quiet --json --out '" + (dir / "run") + "' 2>&1",
                                 &out),
            0)
      << out;
  const ojson run = ojson::parse(slurp(dir / "run/run.json"));
  ASSERT_EQ(run["settings"]["data"].size(), 1u);
  EXPECT_EQ(run["settings"]["data"][0]["file"], "mmlu_DE-DE.csv");
  EXPECT_EQ(ojson::parse(slurp(dir / "run/results.json"))["tasks"]["mmmlu"]["n"], 2);
}

TEST(HarnessCli, EvalCommandsHaveHelpAndJson) {
  for (const char* cmd : {"eval", "eval run", "eval merge", "eval submit", "eval report", "eval audit", "eval score"}) {
    std::string out;
    EXPECT_EQ(testing::run_command(std::string(G4REF_CLI) + " " + cmd + " --help 2>&1", &out), 0) << cmd;
    EXPECT_NE(out.find("Usage"), std::string::npos) << cmd;
    if (std::string(cmd) != "eval") {
      EXPECT_NE(out.find("--json"), std::string::npos) << cmd;
    }
  }
}

// On the tiny checkpoint through the command line: 4 shards (run in the order 3, 1, 0, 2) merged give the
// unsharded results.json byte for byte; a resume with another --limit is refused with a non-zero exit naming
// the field; a merge with a shard missing names it.
TEST(HarnessCli, FourShardMergeEqualsUnshardedOnTheReference) {
  const std::string model = testing::tiny_checkpoint();
  TempDir dir("harness_cli_shards");
  const std::string base = std::string(G4REF_CLI) + " eval run --task mmlu_pro_ll --limit 8 --backend reference --model '" +
                           model + "' --quiet --out ";
  std::string out;
  ASSERT_EQ(testing::run_command(base + "'" + (dir / "whole") + "' 2>&1", &out), 0) << out;
  for (int i : {3, 1, 0, 2})
    ASSERT_EQ(testing::run_command(base + "'" + (dir / "sharded") + "' --shard " + std::to_string(i) + "/4 2>&1", &out), 0) << out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " eval merge '" + (dir / "sharded") + "' --json 2>&1", &out), 0) << out;
  const ojson m = ojson::parse(out);
  EXPECT_EQ(m["samples"], 8);
  EXPECT_EQ(m["shards"], 4);
  EXPECT_EQ(slurp(dir / "sharded/results.json"), slurp(dir / "whole/results.json"));
  std::printf("4-shard merge vs unsharded (mmlu_pro_ll, 8 samples, reference exact): results.json byte-identical\n");
  // eval audit on the parent folder takes every shard's records.
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " eval audit '" + (dir / "sharded") + "' --model '" + model +
                                     "' --samples 0 --json 2>&1", &out), 0) << out;
  const ojson audit = ojson::parse(out.substr(out.find('{')));
  EXPECT_EQ(audit["folders"], 4);
  EXPECT_EQ(audit["audited"], 8);
  EXPECT_EQ(audit["of"], 8);
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " eval run --task mmlu_pro_ll --limit 9 --backend reference --model '" +
                                     model + "' --quiet --out '" + (dir / "whole") + "' 2>&1", &out), 0);
  EXPECT_NE(out.find("settings.limit (earlier 8, now 9)"), std::string::npos) << out;
  fs::remove_all(dir / "sharded/shard-2-of-4");
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " eval merge '" + (dir / "sharded") + "' 2>&1", &out), 0);
  EXPECT_NE(out.find("shards with no folder: 2 of 4"), std::string::npos) << out;
}

}  // namespace
}  // namespace g4ref
