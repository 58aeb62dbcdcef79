// The benchmark runner: a task's samples through a Backend, each finished sample appended to DIR/samples.jsonl
// (flushed and fsynced per record), so a run killed at any moment — kill -9 included — continues where it stopped
// with nothing lost and nothing counted twice. DIR/run.json remembers the settings; a resume with other settings is
// refused, naming the field. Shards split the samples by a hash of their stable ids and write DIR/shard-I-of-N/;
// merge joins them and proves that every sample is present exactly once. results.json is a pure function of the
// records and the settings (no timestamps, no paths), so a merged sharded run and an unsharded one are
// byte-identical.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace g4ref {

struct EvalSettings {
  std::string task_path;
  std::string data;                  // --data: the real data (a file, or a folder of files named as the task's)
  nlohmann::ordered_json backend = nlohmann::ordered_json::object();  // what make_backend takes
  int limit = 0;                     // first LIMIT records; 0: all
  uint64_t seed = 0;                 // choice shuffles, sampling, bootstrap
  bool think = false;
  int max_new_tokens = 0;            // 0: the task's
  int logprobs = 0;                  // top-k logprobs recorded per generated token (for `eval audit`'s KL)
  int image_tokens = 0;              // > 0: the image budget in place of the task's media_options.image_tokens
  int max_context = 0;               // > 0: samples whose prompt and generation budget exceed it are excluded (recorded)
  int shard_index = 0, shard_count = 1;
};

struct RunSummary {
  std::string dir;                   // where this run (or shard) wrote
  int64_t total = 0;                 // samples of this shard
  int64_t resumed = 0;               // already in samples.jsonl when it started
  int64_t done_now = 0;
  int64_t dropped_torn = 0;          // a torn last line found and dropped (0 or 1)
  double seconds = 0;
  nlohmann::ordered_json results;
};

using BackendMaker = std::function<std::unique_ptr<Backend>()>;

// Runs (or resumes) into OUT_DIR (OUT_DIR/shard-I-of-N for a shard). PROGRESS: where the progress bar goes
// (a terminal gets a bar redrawn in place, anything else a line every few seconds); null for none.
RunSummary run_eval(const EvalSettings& settings, const std::string& out_dir, const BackendMaker& make,
                    std::ostream* progress, bool progress_is_terminal);

// The shard this process runs: from --shard "I/N" when given, otherwise from the environment of a job array or
// a parallel launcher (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, SLURM_PROCID/SLURM_NTASKS,
// OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE, JOB_COMPLETION_INDEX with N from --shard-count or
// G4REF_SHARD_COUNT), otherwise 0/1. SOURCE says which one it was.
void resolve_shard(const std::string& option, int shard_count_option, int* index, int* count, std::string* source);

struct MergeSummary {
  std::string out;                   // the results.json written
  int shards = 0;
  int64_t samples = 0;
  nlohmann::ordered_json results;
};
// Joins the shards under DIRS (run folders holding shard-I-of-N/ folders, or shard folders themselves), checks
// that they share settings and that every sample of the manifest is present exactly once (the error names the
// missing and the duplicated ids), and writes OUT (default: the run folder's results.json).
MergeSummary merge_eval(const std::vector<std::string>& dirs, const std::string& out);

// The records of DIR/samples.jsonl (a torn last line dropped; TRUNCATE: also cut it from the file).
std::vector<nlohmann::ordered_json> read_sample_log(const std::string& path, bool truncate, int64_t* dropped);

// results.json of RECORDS (in manifest order) under RUN (the run.json contents).
nlohmann::ordered_json compute_results(const nlohmann::ordered_json& run, const std::vector<nlohmann::ordered_json>& records);

// The sampling seed of one sample: a function of --seed and the sample id only (so shards, resumes and audits
// draw the same numbers).
uint64_t sample_seed(uint64_t seed, const std::string& id);
// The sampling a generative task's samples use: its "generation" temperature, top_k and top_p, and SEED.
SamplingOptions task_sampling(const nlohmann::ordered_json& task_spec, uint64_t seed);

}  // namespace g4ref
