// A sharded benchmark run as Slurm jobs: one job array whose task I runs `g4ref eval run … --shard I/N` into the
// run folder (a requeued task resumes from its shard's samples.jsonl), and one merge job that waits for the whole
// array (afterok) and runs `g4ref eval merge`, which proves that every sample is present exactly once. This file
// writes the two sbatch scripts and the sbatch command lines; it never talks to Slurm itself.
#pragma once

#include <string>
#include <vector>

namespace g4ref {

struct SlurmJob {
  std::string program;                 // absolute path of the g4ref program the jobs run
  std::vector<std::string> run_args;   // `eval run` arguments after "eval run", paths absolute, no --shard
  std::string out_dir;                 // the run folder (absolute); scripts and logs go to OUT_DIR/slurm/
  int shards = 0;                      // N: array tasks 0 … N-1, one shard each
  int array_parallel = 0;              // K: at most K tasks at once (%K); 0: Slurm's limit only
  std::string partition, time, mem, job_name = "g4ref-eval";
  int cpus_per_task = 0;               // 0: Slurm's default
};

// Refuses a job Slurm would reject or misread, naming the option: N and K out of range, a --time or --mem that is
// not in Slurm's syntax, a partition or job name with characters sbatch does not take, a relative path, run
// arguments that choose the shard themselves.
void check_slurm_job(const SlurmJob& job);

// S as one word for a POSIX shell: unchanged when it holds only characters no shell treats specially, otherwise in
// single quotes with each ' written as '\''.
std::string shell_word(const std::string& s);

// OUT_DIR/slurm: where the scripts and the jobs' logs go.
std::string slurm_dir(const SlurmJob& job);

// The job array's script: #SBATCH --array=0-(N-1)[%K], --requeue, logs appended per task (a requeued task's
// output follows its first attempt's), then `g4ref eval run ARGS --shard ${SLURM_ARRAY_TASK_ID}/N`.
std::string array_script(const SlurmJob& job);

// The merge job's script: `g4ref eval merge OUT_DIR --json`, cancelled by Slurm if a shard fails for good.
std::string merge_script(const SlurmJob& job);

// The sbatch command lines (argv) that submit the scripts; ARRAY_JOB_ID: the array's id for the merge's
// --dependency=afterok.
std::vector<std::string> array_submit_command(const std::string& sbatch, const std::string& script_path);
std::vector<std::string> merge_submit_command(const std::string& sbatch, const std::string& script_path,
                                              const std::string& array_job_id);

// The job id in `sbatch --parsable` output ("1234" or "1234;cluster", then a newline); an error naming sbatch's
// output otherwise.
std::string parse_parsable_job_id(const std::string& output);

}  // namespace g4ref
