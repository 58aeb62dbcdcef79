// g4ref eval run | merge | submit | report | audit: benchmark tasks through any backend, resumable and sharded;
// shards merged with a completeness proof, or queued on Slurm; reports with plots; a fast backend's run audited by
// the reference.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "backends/factory.h"
#include "base/error.h"
#include "cli/common.h"
#include "harness/audit.h"
#include "harness/runner.h"
#include "harness/slurm.h"
#include "harness/task.h"

namespace g4ref {
namespace fs = std::filesystem;

namespace {

std::string tasks_dir() {
  if (const char* d = std::getenv("G4REF_TASKS_DIR")) return d;
  return G4REF_SOURCE_DIR "/eval/tasks";
}

struct EvalRunArgs {
  std::string task, task_file, data, backend = "reference", model, url, out, precision, shard, served_model, api_key,
      score_method;
  std::string media_tokens;
  int limit = 0, max_new_tokens = 0, logprobs = 0, threads = 0, shard_count = 0, image_tokens = 0, max_context = 0;
  uint64_t seed = 0;
  bool think = false, json = false, quiet = false;
};

// The backend's settings as the run records them (SECRETS false: without the API key) or as the factory takes them.
nlohmann::ordered_json backend_settings(const EvalRunArgs& a, bool secrets) {
  const std::string& kind = a.backend;
  if (kind != "reference" && kind != "llamacpp" && kind != "endpoint") {
    fail("--backend", "is '" + kind + "' (expected reference, llamacpp or endpoint)");
  }
  if (kind == "endpoint" && a.url.empty()) fail("--url", "the endpoint backend needs the server's address (http://host:port)");
  if (kind != "endpoint" && (!a.url.empty() || !a.served_model.empty() || !a.api_key.empty() || !a.score_method.empty() ||
                             !a.media_tokens.empty())) {
    fail("--url", "--url, --served-model, --api-key, --score-method and --media-tokens are for --backend endpoint");
  }
  nlohmann::ordered_json b = {{"kind", kind}};
  const std::string& model = a.model;
  const std::string& precision = a.precision;
  const int threads = secrets ? a.threads : 0;
  if (!model.empty()) b["model"] = fs::absolute(model).lexically_normal().string();
  if (!a.url.empty()) b["url"] = a.url;
  if (!a.served_model.empty()) b["served_model"] = a.served_model;
  if (!a.score_method.empty()) b["score_method"] = a.score_method;
  if (!a.media_tokens.empty()) b["media_tokens"] = a.media_tokens;
  if (secrets && !a.api_key.empty()) b["api_key"] = a.api_key;
  // llama.cpp's precision is the GGUF type the weights are exported in.
  if (!precision.empty()) b[kind == "llamacpp" ? "type" : "precision"] = precision;
  if (threads > 0 && kind == "reference") b["threads"] = threads;
  return b;
}

// The options of `eval run`, on CMD into A; `eval submit` checks its run arguments with the same ones.
void add_run_options(CLI::App* cmd, EvalRunArgs* a) {
  auto* t = cmd->add_option("--task", a->task, "a task of eval/tasks/ by name (mmlu_pro, mmlu_pro_5shot, mmlu_pro_ll, gpqa_diamond, mmmlu, aime, mmmu_pro_standard, mmmu_pro_vision, math_vision, docvqa, infographicvqa, fleurs, covost2, video_qa, mrcr_8needle)");
  auto* tf = cmd->add_option("--task-file", a->task_file, "a task file by path");
  t->excludes(tf);
  cmd->add_option("--data", a->data, "the real data: a converted file, or a folder of files named as the task's (default: the bundled synthetic set)");
  cmd->add_option("--backend", a->backend, "reference | llamacpp | endpoint")->capture_default_str();
  cmd->add_option("--model", a->model, "checkpoint folder or GGUF file (reference, llamacpp); endpoint: the checkpoint the server serves (its tokenizer and template build the prompts)");
  cmd->add_option("--url", a->url, "server base address, http://host:port (endpoint)");
  cmd->add_option("--served-model", a->served_model, "the model name the server serves (endpoint; default: the first of /v1/models)");
  cmd->add_option("--api-key", a->api_key, "bearer token for the server (endpoint; never written to the run folder; or G4REF_API_KEY)");
  cmd->add_option("--score-method", a->score_method, "endpoint scoring: auto | prompt_logprobs | completion_n_probs");
  cmd->add_option("--media-tokens", a->media_tokens, "endpoint, prompts with media: must_match (default: refuse a server that counts other prompt tokens, e.g. another image budget) | record (keep both counts in each sample)")
      ->check(CLI::IsMember({"must_match", "record"}));
  cmd->add_option("--image-tokens", a->image_tokens, "image budget in place of the task's (70, 140, 280, 560, 1120; recorded)")
      ->check(CLI::IsMember({70, 140, 280, 560, 1120}));
  cmd->add_option("--max-context", a->max_context, "exclude (and count) samples whose prompt plus generation budget exceed N tokens (recorded)");
  cmd->add_option("--out", a->out, "run folder (rerun with the same folder to resume)")->required();
  cmd->add_option("--limit", a->limit, "first N records of the dataset only");
  cmd->add_option("--shard", a->shard, "I/N: run shard I of N (default: from SLURM_ARRAY_TASK_ID/COUNT, SLURM_PROCID/NTASKS, OMPI_COMM_WORLD_RANK/SIZE or JOB_COMPLETION_INDEX)");
  cmd->add_option("--shard-count", a->shard_count, "N for JOB_COMPLETION_INDEX (or G4REF_SHARD_COUNT)");
  cmd->add_option("--seed", a->seed, "choice shuffles, sampling and bootstrap seed")->capture_default_str();
  cmd->add_flag("--think", a->think, "thinking mode (<|think|>; the thought channel is stripped before extraction)");
  cmd->add_option("--precision", a->precision, "backend precision (reference: exact | f32 | bf16; llamacpp: the GGUF type f32 | f16 | bf16 | q8_0 | q4_0 | q4_k | q6_k; endpoint: a label of what the server computes in)");
  cmd->add_option("--threads", a->threads, "backend threads (not part of the run's settings)");
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "generation budget (default: the task's)");
  cmd->add_option("--logprobs", a->logprobs, "record the top-K logprobs of each generated token (for eval audit's KL)");
  cmd->add_flag("--quiet", a->quiet, "no progress output");
  cmd->add_flag("--json", a->json, "machine-readable summary");
}

void add_run(CLI::App& eval) {
  auto a = std::make_shared<EvalRunArgs>();
  CLI::App* cmd = eval.add_subcommand("run", "Run a benchmark task through a backend into a resumable run folder");
  add_run_options(cmd, a.get());
  cmd->callback([a] {
    if (a->task.empty() && a->task_file.empty()) fail("eval run", "give --task NAME or --task-file FILE");
    if (a->api_key.empty() && a->backend == "endpoint") {
      if (const char* k = std::getenv("G4REF_API_KEY")) a->api_key = k;
    }
    EvalSettings s;
    s.task_path = a->task_file.empty() ? task_path_for(a->task, tasks_dir()) : a->task_file;
    s.data = a->data;
    s.backend = backend_settings(*a, false);
    s.limit = a->limit;
    s.seed = a->seed;
    s.think = a->think;
    s.max_new_tokens = a->max_new_tokens;
    s.logprobs = a->logprobs;
    s.image_tokens = a->image_tokens;
    s.max_context = a->max_context;
    std::string source;
    resolve_shard(a->shard, a->shard_count, &s.shard_index, &s.shard_count, &source);
    nlohmann::json factory = backend_settings(*a, true);
    const RunSummary r = run_eval(s, a->out, [factory] { return make_backend(factory); },
                                  a->quiet ? nullptr : &std::cerr, ::isatty(2) != 0);
    if (a->json) {
      nlohmann::ordered_json j = {{"dir", r.dir}, {"shard", {{"index", s.shard_index}, {"count", s.shard_count}, {"source", source}}},
                                  {"samples", r.total}, {"resumed", r.resumed}, {"run_now", r.done_now},
                                  {"dropped_torn_lines", r.dropped_torn}, {"seconds", r.seconds}, {"results", r.results}};
      std::cout << j.dump(2) << "\n";
    } else {
      for (auto it = r.results["tasks"].begin(); it != r.results["tasks"].end(); ++it) {
        const auto& v = it.value();
        std::printf("%s%s: %s %.4f ± %.4f (95%% CI %.4f–%.4f), n %lld, unparsed %lld, %lld resumed, %lld run in %.1f s -> %s\n",
                    it.key().c_str(), s.shard_count > 1 ? (" shard " + std::to_string(s.shard_index) + "/" + std::to_string(s.shard_count)).c_str() : "",
                    v["metric"].get<std::string>().c_str(), v["mean"].get<double>(), v["stderr"].get<double>(),
                    v["ci95"][0].get<double>(), v["ci95"][1].get<double>(), static_cast<long long>(v["n"].get<int64_t>()),
                    static_cast<long long>(v["unparsed"].get<int64_t>()), static_cast<long long>(r.resumed),
                    static_cast<long long>(r.done_now), r.seconds, r.dir.c_str());
      }
    }
  });
}

void add_merge(CLI::App& eval) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = eval.add_subcommand("merge", "Join the shards of a run, prove every sample is present once, write results.json");
  cmd->add_option("dirs", *dirs, "run folders holding shard-I-of-N/, or shard folders")->required();
  cmd->add_option("--out", *out, "results file (default: RUN/results.json)");
  cmd->add_flag("--json", *json, "machine-readable summary");
  cmd->callback([dirs, out, json] {
    const MergeSummary m = merge_eval(*dirs, *out);
    if (*json) {
      std::cout << nlohmann::ordered_json({{"out", m.out}, {"shards", m.shards}, {"samples", m.samples}, {"results", m.results}}).dump(2) << "\n";
    } else {
      std::cout << "merged " << m.shards << " shards, " << m.samples << " samples, each present once -> " << m.out << "\n";
    }
  });
}

void add_report(CLI::App& eval) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto title = std::make_shared<std::string>();
  auto note = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = eval.add_subcommand("report", "Markdown and PNG plots of runs' results.json (two runs: side by side, with their difference)");
  cmd->add_option("dirs", *dirs, "run folders (or results.json files)")->required();
  cmd->add_option("--out", *out, "report folder, e.g. reports/benchmarks/NAME")->required();
  cmd->add_option("--title", *title, "report title");
  cmd->add_option("--note", *note, "a paragraph under the title (e.g. what the checkpoint is)");
  cmd->add_flag("--json", *json, "machine-readable summary");
  cmd->callback([dirs, out, title, note, json] {
    std::string script = G4REF_SOURCE_DIR "/reports/plot_results.py";
    if (const char* s = std::getenv("G4REF_PLOT_SCRIPT")) script = s;
    if (!fs::exists(script)) fail(script, "the report script is missing");
    auto quote = [](const std::string& s) {
      std::string q = "'";
      for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return q + "'";
    };
    // Debian's interpreter, which has python3-matplotlib (setup.sh), before any other python3 on the PATH.
    const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    std::string cmdline = python + " " + quote(script) + " --out " + quote(*out);
    if (!title->empty()) cmdline += " --title " + quote(*title);
    if (!note->empty()) cmdline += " --note " + quote(*note);
    if (*json) cmdline += " --json";
    for (const std::string& d : *dirs) {
      const std::string r = fs::is_directory(d) ? (fs::path(d) / "results.json").string() : d;
      if (!fs::exists(r)) fail(d, "has no results.json (run `g4ref eval merge` on a sharded run first)");
      cmdline += " " + quote(r);
    }
    const int rc = std::system(cmdline.c_str());
    if (rc != 0) fail("eval report", "the report script failed (" + cmdline + ")");
  });
}

void add_audit(CLI::App& eval) {
  auto a = std::make_shared<AuditOptions>();
  auto precision = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  auto json = std::make_shared<bool>(false);
  auto image_attention = std::make_shared<std::string>();
  auto embed_scale = std::make_shared<std::string>();
  CLI::App* cmd = eval.add_subcommand(
      "audit", "Re-score a run's samples teacher-forced with the reference on the same weights: does it agree?");
  cmd->add_option("dir", a->dir, "run folder, one shard's folder, or the parent folder of a sharded run")->required();
  cmd->add_option("--model", a->model, "the same weights as a checkpoint folder for the reference")->required();
  cmd->add_option("--samples", a->samples, "audit this many samples (a fixed, id-hashed subset; 0: all)")->capture_default_str();
  cmd->add_option("--precision", *precision, "reference precision (exact | f32 | bf16)");
  cmd->add_option("--threads", *threads, "reference threads");
  cmd->add_option("--top-k", a->top_k, "reference top entries per position (the KL's support)")->capture_default_str();
  cmd->add_option("--image-attention", *image_attention,
                  "where the reference makes an image block bidirectional: sliding (HF, the default) or all (also full "
                  "layers, as llama.cpp builds before PR #28335 do): tells a backend's known difference from a new one")
      ->check(CLI::IsMember({"sliding", "all"}));
  cmd->add_option("--embed-scale", *embed_scale,
                  "the reference's embedding scale: hf (sqrt(hidden) rounded to bf16, the default) or llamacpp (as "
                  "llama.cpp computes it; spec §7)")
      ->check(CLI::IsMember({"hf", "llamacpp"}));
  cmd->add_flag("--json", *json, "machine-readable summary");
  cmd->callback([a, precision, threads, json, image_attention, embed_scale] {
    EvalRunArgs ref;
    ref.model = a->model;
    ref.precision = *precision;
    ref.threads = *threads;
    nlohmann::json settings = backend_settings(ref, true);
    if (!image_attention->empty()) settings["image_attention"] = *image_attention;
    if (!embed_scale->empty()) settings["embed_scale"] = *embed_scale;
    a->make = [settings] { return make_backend(settings); };
    const nlohmann::ordered_json r = run_audit(*a);
    if (*json) {
      std::cout << r.dump(2) << "\n";
    } else {
      std::cout << audit_text(r);
    }
  });
}

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) {
    if (!s.empty()) s += ' ';
    s += shell_word(a);
  }
  return s;
}

struct EvalSubmitArgs {
  bool slurm = false, dry_run = false, json = false;
  int shards = 0;
  std::string sbatch = "sbatch";
  std::vector<std::string> run_args;
  SlurmJob job;
};

// The run arguments checked by `eval run`'s own parser (unknown options, missing --out, bad numbers fail here,
// before anything is queued), then rewritten for the job: --out taken out, the paths made absolute.
void prepare_run_args(const std::vector<std::string>& raw, SlurmJob* job) {
  CLI::App check{"eval run"};
  EvalRunArgs a;
  add_run_options(&check, &a);
  std::vector<std::string> reversed(raw.rbegin(), raw.rend());
  try {
    check.parse(reversed);
  } catch (const CLI::ParseError& e) {
    fail("eval run arguments", e.what());
  }
  if (a.task.empty() && a.task_file.empty()) fail("eval run arguments", "give --task NAME or --task-file FILE");
  if (!a.api_key.empty()) {
    fail("eval run arguments: --api-key", "would be written into the job script; export G4REF_API_KEY before sbatch "
                                           "instead (jobs inherit the submitting environment)");
  }
  if (!a.task.empty()) task_path_for(a.task, tasks_dir());  // an unknown task fails now, naming it
  const std::pair<const char*, std::string*> paths[] = {{"--model", &a.model}, {"--data", &a.data}, {"--task-file", &a.task_file}};
  for (const auto& [name, value] : paths)
    if (!value->empty() && !fs::exists(*value)) fail(std::string("eval run arguments: ") + name, "no such file or folder: " + *value);
  job->out_dir = fs::absolute(a.out).lexically_normal().string();
  while (job->out_dir.size() > 1 && job->out_dir.back() == '/') job->out_dir.pop_back();
  auto absolute = [](const std::string& p) { return fs::absolute(p).lexically_normal().string(); };
  job->run_args.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& t = raw[i];
    if (t == "--out" && i + 1 < raw.size()) {
      ++i;
      continue;
    }
    if (t.rfind("--out=", 0) == 0) continue;
    bool done = false;
    for (const char* name : {"--model", "--data", "--task-file"}) {
      const std::string n = name;
      if (t == n && i + 1 < raw.size()) {
        job->run_args.push_back(t);
        job->run_args.push_back(absolute(raw[++i]));
        done = true;
      } else if (t.rfind(n + "=", 0) == 0) {
        job->run_args.push_back(n + "=" + absolute(t.substr(n.size() + 1)));
        done = true;
      }
      if (done) break;
    }
    if (!done) job->run_args.push_back(t);
  }
}

void add_submit(CLI::App& eval) {
  auto a = std::make_shared<EvalSubmitArgs>();
  CLI::App* cmd = eval.add_subcommand(
      "submit", "Queue a sharded run on a cluster: a Slurm job array of `eval run` shards and a merge job after it");
  cmd->add_flag("--slurm", a->slurm, "submit to Slurm with sbatch (the one scheduler supported)")->required();
  cmd->add_option("--shards", a->shards, "N: the number of shards, one array task each (tasks 0 … N-1)")->required();
  cmd->add_option("--array-parallel", a->job.array_parallel, "K: at most K shards running at once (--array=0-(N-1)%K)");
  cmd->add_option("--partition", a->job.partition, "Slurm partition(s) for both jobs");
  cmd->add_option("--time", a->job.time, "time limit per shard (and for the merge), in Slurm's form: M, H:M:S, D-H:M:S");
  cmd->add_option("--cpus-per-task", a->job.cpus_per_task, "CPUs per shard (also its OMP_NUM_THREADS)");
  cmd->add_option("--mem", a->job.mem, "memory per shard (and for the merge): 16G, 4000M, …");
  cmd->add_option("--job-name", a->job.job_name, "job name (the merge job gets NAME-merge)")->capture_default_str();
  cmd->add_option("--sbatch", a->sbatch, "the sbatch program")->capture_default_str();
  cmd->add_flag("--dry-run", a->dry_run, "print the two scripts and the sbatch commands; write and submit nothing");
  cmd->add_flag("--json", a->json, "machine-readable summary (job ids, scripts, logs)");
  cmd->add_option("run_args", a->run_args, "after --: the `g4ref eval run` arguments, --out included and --shard left out")->required();
  cmd->footer(
      "Example: g4ref eval submit --slurm --shards 16 --array-parallel 4 --time 1-00:00:00 -- \\\n"
      "           --task mmlu_pro --backend reference --model /models/12b --out /scratch/mmlu_pro_exact\n"
      "Array task I runs `g4ref eval run ARGS --shard I/N` into OUT/shard-I-of-N/ (requeued tasks resume);\n"
      "the merge job (--dependency=afterok) writes OUT/results.json. Scripts and logs: OUT/slurm/.");
  cmd->callback([a] {
    SlurmJob& job = a->job;
    job.shards = a->shards;
    job.program = this_program();
    prepare_run_args(a->run_args, &job);
    const std::string array_text = array_script(job), merge_text = merge_script(job);
    const std::string dir = slurm_dir(job);
    const std::string array_path = (fs::path(dir) / "shards.sbatch").string(), merge_path = (fs::path(dir) / "merge.sbatch").string();
    const std::vector<std::string> array_cmd = array_submit_command(a->sbatch, array_path);
    const std::vector<std::string> merge_cmd = merge_submit_command(a->sbatch, merge_path, "ARRAY_JOB_ID");
    nlohmann::ordered_json j = {{"scheduler", "slurm"}, {"shards", job.shards}, {"out", job.out_dir},
                                {"scripts", {{"array", array_path}, {"merge", merge_path}}}};
    if (a->dry_run) {
      if (a->json) {
        j["dry_run"] = true;
        j["array_script"] = array_text;
        j["merge_script"] = merge_text;
        j["commands"] = {joined(array_cmd), joined(merge_cmd)};
        std::cout << j.dump(2) << "\n";
      } else {
        std::cout << "# " << array_path << "\n" << array_text << "\n# " << merge_path << "\n" << merge_text
                  << "\n# submitted with:\n" << joined(array_cmd) << "\n" << joined(merge_cmd) << "\n";
      }
      return;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) fail(dir, "cannot create the folder for the scripts and logs: " + ec.message());
    auto write = [](const std::string& path, const std::string& text) {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f << text;
      f.close();
      if (!f) fail(path, "cannot write the script");
      fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
    };
    write(array_path, array_text);
    write(merge_path, merge_text);
    std::string out;
    int rc = run_capturing(array_cmd, &out);
    if (rc != 0) fail(a->sbatch, "submitting the shard array failed (exit " + std::to_string(rc) + "): " + joined(array_cmd));
    const std::string array_id = parse_parsable_job_id(out);
    const std::vector<std::string> merge_real = merge_submit_command(a->sbatch, merge_path, array_id);
    rc = run_capturing(merge_real, &out);
    if (rc != 0)
      fail(a->sbatch, "submitting the merge job failed (exit " + std::to_string(rc) + "): " + joined(merge_real) +
                          "; the shard array " + array_id + " is queued: submit the merge by hand with that command");
    const std::string merge_id = parse_parsable_job_id(out);
    if (a->json) {
      j["array_job"] = array_id;
      j["merge_job"] = merge_id;
      j["logs"] = {{"shards", dir + "/shard-%a-of-" + std::to_string(job.shards) + ".log"}, {"merge", dir + "/merge.log"}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "submitted shard array " << array_id << " (tasks 0-" << job.shards - 1 << ") and merge job " << merge_id
                << " (afterok:" << array_id << "); scripts and logs in " << dir << "\n";
    }
  });
}

}  // namespace

void add_eval_command(CLI::App& app) {
  CLI::App* eval = app.add_subcommand("eval", "Benchmarks: run, merge shards, report, audit a backend's run, score saved outputs");
  eval->require_subcommand(1);
  add_run(*eval);
  add_merge(*eval);
  add_submit(*eval);
  add_report(*eval);
  add_audit(*eval);
  add_eval_score_command(*eval);
}

}  // namespace g4ref
