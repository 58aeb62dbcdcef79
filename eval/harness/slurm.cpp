#include "harness/slurm.h"

#include <cctype>
#include <filesystem>

#include "backends/llamacpp_adapter.h"
#include "base/error.h"

namespace g4ref {
namespace fs = std::filesystem;

namespace {

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Slurm's time limit forms (sbatch --time): M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or INFINITE / UNLIMITED.
bool slurm_time(const std::string& t) {
  if (t == "INFINITE" || t == "UNLIMITED") return true;
  std::string rest = t;
  const size_t dash = t.find('-');
  if (dash != std::string::npos) {
    if (!all_digits(t.substr(0, dash))) return false;
    rest = t.substr(dash + 1);
  }
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t colon = rest.find(':', start);
    parts.push_back(rest.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  for (const std::string& p : parts)
    if (!all_digits(p)) return false;
  return parts.size() <= 3;  // without days: M | M:S | H:M:S; with days: D-H | D-H:M | D-H:M:S
}

// sbatch --mem: a whole number with an optional unit K, M (the default), G or T.
bool slurm_mem(const std::string& m) {
  if (m.empty()) return false;
  std::string digits = m;
  const char last = static_cast<char>(std::toupper(static_cast<unsigned char>(m.back())));
  if (last == 'K' || last == 'M' || last == 'G' || last == 'T') digits.pop_back();
  return all_digits(digits);
}

bool name_chars(const std::string& s, const std::string& extra) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string::npos) return false;
  return true;
}

// A log file in FOLDER as the value of an #SBATCH directive: in double quotes (sbatch reads them, so spaces
// survive), a % of the folder doubled because sbatch expands %-patterns in file names; PATTERN keeps its own (%a).
std::string directive_path(const std::string& folder, const std::string& pattern) {
  std::string q = "\"";
  for (char c : folder) q += c == '%' ? std::string("%%") : std::string(1, c);
  return q + "/" + pattern + "\"";
}

std::string command_line(const std::string& program, const std::vector<std::string>& args) {
  std::string line = shell_word(program);
  for (const std::string& a : args) line.append(" ").append(shell_word(a));  // (not " " + …: GCC 12's false -Wrestrict)
  return line;
}

// The directives both scripts share: partition, time, memory.
std::string resource_directives(const SlurmJob& job) {
  std::string s;
  if (!job.partition.empty()) s += "#SBATCH --partition=" + job.partition + "\n";
  if (!job.time.empty()) s += "#SBATCH --time=" + job.time + "\n";
  if (!job.mem.empty()) s += "#SBATCH --mem=" + job.mem + "\n";
  return s;
}

}  // namespace

std::string shell_word(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string("/._-+=:,@%").find(c) == std::string::npos) plain = false;
  return plain ? s : shell_quote(s);
}

void check_slurm_job(const SlurmJob& job) {
  if (job.shards < 1 || job.shards > 1000000)
    fail("--shards", "expected a shard count from 1 to 1000000, found " + std::to_string(job.shards));
  if (job.array_parallel < 0)
    fail("--array-parallel", "expected a positive number of tasks at once, found " + std::to_string(job.array_parallel));
  if (job.cpus_per_task < 0)
    fail("--cpus-per-task", "expected a positive number of CPUs, found " + std::to_string(job.cpus_per_task));
  if (!job.time.empty() && !slurm_time(job.time))
    fail("--time", "expected Slurm's M, M:S, H:M:S, D-H, D-H:M or D-H:M:S (or UNLIMITED), found \"" + job.time + "\"");
  if (!job.mem.empty() && !slurm_mem(job.mem))
    fail("--mem", "expected a size such as 16G, 4000M or 4000 (MB), found \"" + job.mem + "\"");
  if (!job.partition.empty() && !name_chars(job.partition, "_.-,"))
    fail("--partition", "expected partition names (letters, digits, _ . -; a comma between several), found \"" + job.partition + "\"");
  if (!name_chars(job.job_name, "_.-+"))
    fail("--job-name", "expected letters, digits and _ . - + only, found \"" + job.job_name + "\"");
  if (!fs::path(job.program).is_absolute()) fail("program", "must be an absolute path, found \"" + job.program + "\"");
  if (!fs::path(job.out_dir).is_absolute()) fail("--out", "must be an absolute path, found \"" + job.out_dir + "\"");
  for (char c : job.out_dir)
    if (c == '"' || c == '\\' || c == '\n' || c == '\r')
      fail("--out", "a run folder for Slurm cannot hold \", \\ or a line break (it goes into #SBATCH --output): \"" + job.out_dir + "\"");
  for (const std::string& a : job.run_args) {
    if (a == "--shard" || a.rfind("--shard=", 0) == 0 || a == "--shard-count" || a.rfind("--shard-count=", 0) == 0)
      fail("eval run arguments", "give no " + a + ": each array task takes its shard from SLURM_ARRAY_TASK_ID, the count from --shards");
    if (a == "--out" || a.rfind("--out=", 0) == 0) fail("eval run arguments", "--out is given to the job separately, not among the run arguments");
  }
}

std::string slurm_dir(const SlurmJob& job) { return (fs::path(job.out_dir) / "slurm").string(); }

std::string array_script(const SlurmJob& job) {
  check_slurm_job(job);
  const std::string n = std::to_string(job.shards);
  std::string s = "#!/bin/sh\n";
  s += "#SBATCH --job-name=" + job.job_name + "\n";
  s += "#SBATCH --array=0-" + std::to_string(job.shards - 1) + (job.array_parallel > 0 ? "%" + std::to_string(job.array_parallel) : "") + "\n";
  s += "#SBATCH --requeue\n";
  s += "#SBATCH --open-mode=append\n";
  s += "#SBATCH --output=" + directive_path(slurm_dir(job), "shard-%a-of-" + n + ".log") + "\n";
  s += resource_directives(job);
  if (job.cpus_per_task > 0) s += "#SBATCH --cpus-per-task=" + std::to_string(job.cpus_per_task) + "\n";
  s += "# Array task I runs shard I of " + n + " into " + job.out_dir + "/shard-I-of-" + n + "/. A requeued or resubmitted\n";
  s += "# task resumes from that folder's samples.jsonl; failed tasks rerun with: sbatch --array=3,7 THIS_SCRIPT.\n";
  s += "# The count is written here, not read from SLURM_ARRAY_TASK_COUNT, which such a rerun changes.\n";
  s += "set -eu\n";
  s += "task=\"${SLURM_ARRAY_TASK_ID:?not a job array task: submit this script with sbatch}\"\n";
  s += "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n";
  s += "echo \"g4ref shard $task/" + n + ": job ${SLURM_JOB_ID:-?}, array job ${SLURM_ARRAY_JOB_ID:-?}, restart ${SLURM_RESTART_COUNT:-0}, host $(hostname)\"\n";
  std::vector<std::string> args = {"eval", "run"};
  args.insert(args.end(), job.run_args.begin(), job.run_args.end());
  args.push_back("--out");
  args.push_back(job.out_dir);
  s += "exec " + command_line(job.program, args) + " --shard \"$task/" + n + "\"\n";
  return s;
}

std::string merge_script(const SlurmJob& job) {
  check_slurm_job(job);
  std::string s = "#!/bin/sh\n";
  s += "#SBATCH --job-name=" + job.job_name + "-merge\n";
  s += "#SBATCH --kill-on-invalid-dep=yes\n";
  s += "#SBATCH --open-mode=append\n";
  s += "#SBATCH --output=" + directive_path(slurm_dir(job), "merge.log") + "\n";
  s += resource_directives(job);
  s += "# Submitted with --dependency=afterok:ARRAY_JOB_ID: runs once every shard ended well, and proves that each of\n";
  s += "# the run's samples is present exactly once before it writes " + job.out_dir + "/results.json.\n";
  s += "set -eu\n";
  s += "exec " + command_line(job.program, {"eval", "merge", job.out_dir, "--json"}) + "\n";
  return s;
}

std::vector<std::string> array_submit_command(const std::string& sbatch, const std::string& script_path) {
  return {sbatch, "--parsable", script_path};
}

std::vector<std::string> merge_submit_command(const std::string& sbatch, const std::string& script_path,
                                              const std::string& array_job_id) {
  return {sbatch, "--parsable", "--dependency=afterok:" + array_job_id, script_path};
}

std::string parse_parsable_job_id(const std::string& output) {
  std::string line = output.substr(0, output.find('\n'));
  const size_t semi = line.find(';');
  const std::string id = line.substr(0, semi);
  if (!all_digits(id)) fail("sbatch", "expected a job id from --parsable, found \"" + output + "\"");
  return id;
}

}  // namespace g4ref
