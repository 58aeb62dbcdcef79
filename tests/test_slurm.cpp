// The Slurm submission of a sharded run (eval/harness/slurm.h, `g4ref eval submit`): the two sbatch scripts
// checked line by line against texts written out by hand, the quoting checked by a real shell reading it back,
// the options Slurm would reject refused by name, and the command's dry run and submission (with a stand-in
// sbatch that records its arguments). The run on a real Slurm cluster is tests/slurm/run.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/slurm.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

SlurmJob example_job() {
  SlurmJob j;
  j.program = "/opt/g4ref/bin/g4ref";
  j.run_args = {"--task", "mmlu_pro", "--backend", "reference", "--model", "/data/my model's ckpt", "--limit", "40"};
  j.out_dir = "/scratch/run 50%";
  j.shards = 16;
  j.array_parallel = 4;
  j.partition = "cpu";
  j.time = "1-00:00:00";
  j.mem = "16G";
  j.cpus_per_task = 8;
  return j;
}

TEST(Slurm, ShellWordLeavesPlainWordsAndQuotesTheRest) {
  EXPECT_EQ(shell_word("mmlu_pro"), "mmlu_pro");
  EXPECT_EQ(shell_word("/a/b-c.d"), "/a/b-c.d");
  EXPECT_EQ(shell_word("--limit=40"), "--limit=40");
  EXPECT_EQ(shell_word(""), "''");
  EXPECT_EQ(shell_word("a b"), "'a b'");
  EXPECT_EQ(shell_word("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_word("$HOME"), "'$HOME'");
  EXPECT_EQ(shell_word("a;rm -rf /"), "'a;rm -rf /'");
  EXPECT_EQ(shell_word("`x`"), "'`x`'");
  EXPECT_EQ(shell_word("*"), "'*'");
}

// The shell is the oracle: each quoted word, read back by /bin/sh, is the word itself.
TEST(Slurm, ShellWordRoundTripsThroughTheShell) {
  const std::vector<std::string> words = {"plain", "two words", "it's", "$HOME", "\"dq\"", "back\\slash", "a\nb",
                                          "*", "~", "", "!x", "'", "%a", "tab\there", "semi;colon", "$(id)"};
  TempDir dir("slurm_quote");
  std::string script = "for a in";
  for (const std::string& w : words) script += std::string(" ") + shell_word(w);
  script += "; do printf '%s\\0' \"$a\"; done\n";
  {
    std::ofstream(dir / "q.sh") << script;
  }
  std::string out;
  ASSERT_EQ(testing::run_command("/bin/sh '" + (dir / "q.sh") + "'", &out), 0);
  std::vector<std::string> back;
  size_t start = 0;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] == '\0') back.push_back(out.substr(start, i - start)), start = i + 1;
  EXPECT_EQ(back, words);
}

TEST(Slurm, ArrayScriptDirectivesAndCommand) {
  const std::vector<std::string> expected = {
      "#!/bin/sh",
      "#SBATCH --job-name=g4ref-eval",
      "#SBATCH --array=0-15%4",
      "#SBATCH --requeue",
      "#SBATCH --open-mode=append",
      "#SBATCH --output=\"/scratch/run 50%%/slurm/shard-%a-of-16.log\"",
      "#SBATCH --partition=cpu",
      "#SBATCH --time=1-00:00:00",
      "#SBATCH --mem=16G",
      "#SBATCH --cpus-per-task=8",
      "# Array task I runs shard I of 16 into /scratch/run 50%/shard-I-of-16/. A requeued or resubmitted",
      "# task resumes from that folder's samples.jsonl; failed tasks rerun with: sbatch --array=3,7 THIS_SCRIPT.",
      "# The count is written here, not read from SLURM_ARRAY_TASK_COUNT, which such a rerun changes.",
      "set -eu",
      "task=\"${SLURM_ARRAY_TASK_ID:?not a job array task: submit this script with sbatch}\"",
      "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"",
      "echo \"g4ref shard $task/16: job ${SLURM_JOB_ID:-?}, array job ${SLURM_ARRAY_JOB_ID:-?}, restart "
      "${SLURM_RESTART_COUNT:-0}, host $(hostname)\"",
      "exec /opt/g4ref/bin/g4ref eval run --task mmlu_pro --backend reference --model '/data/my model'\\''s ckpt' "
      "--limit 40 --out '/scratch/run 50%' --shard \"$task/16\"",
  };
  EXPECT_EQ(lines_of(array_script(example_job())), expected);
}

TEST(Slurm, ArrayScriptWithoutOptionalDirectives) {
  SlurmJob j;
  j.program = "/usr/bin/g4ref";
  j.run_args = {"--task", "aime"};
  j.out_dir = "/runs/a";
  j.shards = 1;
  const std::vector<std::string> lines = lines_of(array_script(j));
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines[2], "#SBATCH --array=0-0");  // no %K without --array-parallel
  EXPECT_EQ(lines[5], "#SBATCH --output=\"/runs/a/slurm/shard-%a-of-1.log\"");
  for (const std::string& l : lines) {
    EXPECT_EQ(l.find("--partition"), std::string::npos);
    EXPECT_EQ(l.find("--time"), std::string::npos);
    EXPECT_EQ(l.find("--mem"), std::string::npos);
    EXPECT_EQ(l.find("--cpus-per-task"), std::string::npos);
  }
  EXPECT_EQ(lines.back(), "exec /usr/bin/g4ref eval run --task aime --out /runs/a --shard \"$task/1\"");
}

TEST(Slurm, MergeScript) {
  const std::vector<std::string> expected = {
      "#!/bin/sh",
      "#SBATCH --job-name=g4ref-eval-merge",
      "#SBATCH --kill-on-invalid-dep=yes",
      "#SBATCH --open-mode=append",
      "#SBATCH --output=\"/scratch/run 50%%/slurm/merge.log\"",
      "#SBATCH --partition=cpu",
      "#SBATCH --time=1-00:00:00",
      "#SBATCH --mem=16G",
      "# Submitted with --dependency=afterok:ARRAY_JOB_ID: runs once every shard ended well, and proves that each of",
      "# the run's samples is present exactly once before it writes /scratch/run 50%/results.json.",
      "set -eu",
      "exec /opt/g4ref/bin/g4ref eval merge '/scratch/run 50%' --json",
  };
  EXPECT_EQ(lines_of(merge_script(example_job())), expected);
}

TEST(Slurm, SubmitCommandsAndParsableIds) {
  EXPECT_EQ(array_submit_command("sbatch", "/r/slurm/shards.sbatch"),
            (std::vector<std::string>{"sbatch", "--parsable", "/r/slurm/shards.sbatch"}));
  EXPECT_EQ(merge_submit_command("sbatch", "/r/slurm/merge.sbatch", "812"),
            (std::vector<std::string>{"sbatch", "--parsable", "--dependency=afterok:812", "/r/slurm/merge.sbatch"}));
  EXPECT_EQ(parse_parsable_job_id("812\n"), "812");
  EXPECT_EQ(parse_parsable_job_id("812;cluster-a\n"), "812");
  testing::expect_error([] { parse_parsable_job_id("Submitted batch job 812\n"); }, "sbatch", "expected a job id");
  testing::expect_error([] { parse_parsable_job_id(""); }, "sbatch", "expected a job id");
}

// The generated script run by a shell with a task id, its program a stand-in that prints its arguments: they
// arrive as written, one argument per word, the shard taken from SLURM_ARRAY_TASK_ID.
TEST(Slurm, ArrayScriptPassesEveryArgumentIntact) {
  TempDir dir("slurm_exec");
  const std::string fake = dir / "fake g4ref";
  {
    std::ofstream(fake) << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n";
  }
  fs::permissions(fake, fs::perms::owner_all);
  SlurmJob j = example_job();
  j.program = fake;
  j.run_args.push_back("--data");
  j.run_args.push_back("/d/$(id) `x` \"q\"");
  {
    std::ofstream(dir / "shards.sbatch") << array_script(j);
  }
  std::string out;
  ASSERT_EQ(testing::run_command("SLURM_ARRAY_TASK_ID=11 /bin/sh '" + (dir / "shards.sbatch") + "' 2>&1", &out), 0) << out;
  std::vector<std::string> got = lines_of(out);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].rfind("g4ref shard 11/16: job ?, array job ?, restart 0, host ", 0), 0u) << got[0];
  got.erase(got.begin());
  const std::vector<std::string> expected = {
      "eval", "run", "--task", "mmlu_pro", "--backend", "reference", "--model", "/data/my model's ckpt", "--limit", "40",
      "--data", "/d/$(id) `x` \"q\"", "--out", "/scratch/run 50%", "--shard", "11/16"};
  EXPECT_EQ(got, expected);
  // Without a task id (the script run by hand) it stops before running anything.
  EXPECT_NE(testing::run_command("env -u SLURM_ARRAY_TASK_ID /bin/sh '" + (dir / "shards.sbatch") + "' 2>&1", &out), 0);
  EXPECT_NE(out.find("not a job array task"), std::string::npos) << out;
}

TEST(Slurm, RefusesWhatSlurmWouldRejectNamingTheOption) {
  auto with = [](auto change) {
    SlurmJob j = example_job();
    change(j);
    return j;
  };
  using testing::expect_error;
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.shards = 0; })); }, "--shards", "found 0");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.array_parallel = -1; })); }, "--array-parallel", "found -1");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.time = "25h"; })); }, "--time", "found \"25h\"");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.time = "1:2:3:4"; })); }, "--time", "found \"1:2:3:4\"");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.time = "1-"; })); }, "--time", "found \"1-\"");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.mem = "16GB"; })); }, "--mem", "found \"16GB\"");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.partition = "cpu gpu"; })); }, "--partition", "found \"cpu gpu\"");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.job_name = "a#b"; })); }, "--job-name", "found \"a#b\"");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.out_dir = "runs/a"; })); }, "--out", "absolute");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.out_dir = "/runs/\"a\""; })); }, "--out", "cannot hold");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.run_args.push_back("--shard"); })); }, "eval run arguments", "give no --shard");
  expect_error([&] { check_slurm_job(with([](SlurmJob& j) { j.run_args.push_back("--shard=1/2"); })); }, "eval run arguments", "give no --shard=1/2");
  // Slurm's accepted forms pass.
  for (const char* t : {"30", "30:00", "12:00:00", "2-12", "2-12:30", "2-12:30:00", "UNLIMITED"})
    EXPECT_NO_THROW(check_slurm_job(with([t](SlurmJob& j) { j.time = t; }))) << t;
  for (const char* m : {"0", "4000", "512K", "4000M", "16G", "1T", "16g"})
    EXPECT_NO_THROW(check_slurm_job(with([m](SlurmJob& j) { j.mem = m; }))) << m;
}

// The command: a 16-shard dry run prints both scripts with absolute paths and writes nothing.
TEST(SlurmCli, DryRunOfSixteenShards) {
  TempDir dir("slurm_cli_dry");
  const std::string model = testing::tiny_checkpoint();
  std::string out;
  const std::string cmd = "cd '" + dir.str() + "' && " + G4REF_CLI +
                          " eval submit --slurm --shards 16 --array-parallel 4 --time 2:00:00 --dry-run -- --task mmlu_pro "
                          "--backend reference --model '" + model + "' --limit 64 --out rel/run 2>&1";
  ASSERT_EQ(testing::run_command(cmd, &out), 0) << out;
  std::printf("%s", out.c_str());
  const std::string abs_out = fs::canonical(dir.str()).string() + "/rel/run";
  const std::string program = fs::canonical(G4REF_CLI).string();
  const std::vector<std::string> lines = lines_of(out);
  auto has = [&](const std::string& line) { return std::find(lines.begin(), lines.end(), line) != lines.end(); };
  EXPECT_TRUE(has("# " + abs_out + "/slurm/shards.sbatch")) << out;
  EXPECT_TRUE(has("#SBATCH --array=0-15%4")) << out;
  EXPECT_TRUE(has("#SBATCH --requeue")) << out;
  EXPECT_TRUE(has("#SBATCH --time=2:00:00")) << out;
  EXPECT_TRUE(has("#SBATCH --output=\"" + abs_out + "/slurm/shard-%a-of-16.log\"")) << out;
  EXPECT_TRUE(has("exec " + shell_word(program) + " eval run --task mmlu_pro --backend reference --model " +
                  shell_word(model) + " --limit 64 --out " + shell_word(abs_out) + " --shard \"$task/16\"")) << out;
  EXPECT_TRUE(has("exec " + shell_word(program) + " eval merge " + shell_word(abs_out) + " --json")) << out;
  EXPECT_TRUE(has("sbatch --parsable " + abs_out + "/slurm/shards.sbatch")) << out;
  EXPECT_TRUE(has("sbatch --parsable --dependency=afterok:ARRAY_JOB_ID " + abs_out + "/slurm/merge.sbatch")) << out;
  EXPECT_FALSE(fs::exists(dir / "rel")) << "a dry run wrote files";
}

// Submission through a stand-in sbatch that records its arguments and answers as `sbatch --parsable` does: the
// array is submitted first, the merge after it with afterok on the array's id, and the ids are reported.
TEST(SlurmCli, SubmitsArrayThenDependentMerge) {
  TempDir dir("slurm_cli_submit");
  const std::string model = testing::tiny_checkpoint();
  const std::string sbatch = dir / "sbatch";
  {
    std::ofstream(sbatch) << "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + (dir / "calls") + "'\n"
                          << "if [ -e '" + (dir / "second") + "' ]; then echo 5001; else touch '" + (dir / "second") +
                                 "'; echo '5000;local'; fi\n";
  }
  fs::permissions(sbatch, fs::perms::owner_all);
  std::string out;
  const std::string run = dir / "run";
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " eval submit --slurm --shards 4 --sbatch '" + sbatch +
                                     "' --json -- --task mmlu_pro_ll --backend reference --model '" + model +
                                     "' --limit 8 --out '" + run + "' 2>&1", &out), 0) << out;
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["array_job"], "5000");
  EXPECT_EQ(j["merge_job"], "5001");
  EXPECT_EQ(j["shards"], 4);
  EXPECT_EQ(slurp(dir / "calls"), "--parsable " + run + "/slurm/shards.sbatch\n--parsable --dependency=afterok:5000 " + run +
                                      "/slurm/merge.sbatch\n");
  const std::string script = slurp(run + "/slurm/shards.sbatch");
  EXPECT_NE(script.find("#SBATCH --array=0-3\n"), std::string::npos) << script;
  EXPECT_NE(script.find("--shard \"$task/4\""), std::string::npos) << script;
  EXPECT_TRUE(fs::exists(run + "/slurm/merge.sbatch"));
}

TEST(SlurmCli, BadArgumentsAreRefusedNamingTheField) {
  const std::string model = testing::tiny_checkpoint();
  const std::string base = std::string(G4REF_CLI) + " eval submit --slurm --dry-run";
  struct Case {
    std::string args, phrase;
  };
  const std::vector<Case> cases = {
      {" --shards 4 -- --task mmlu_pro --model '" + model + "'", "--out is required"},
      {" --shards 4 -- --task mmlu_pro --model '" + model + "' --out /tmp/x --shard 0/4", "give no --shard"},
      {" --shards 4 -- --task mmlu_pro --model '" + model + "' --out /tmp/x --bogus 1", "eval run arguments"},
      {" --shards 4 -- --task no_such_task --out /tmp/x", "no_such_task"},
      {" --shards 4 -- --task mmlu_pro --model /no/such/model --out /tmp/x", "--model: no such file or folder"},
      {" --shards 4 --time 25h -- --task mmlu_pro --model '" + model + "' --out /tmp/x", "--time"},
      {" --shards 0 -- --task mmlu_pro --model '" + model + "' --out /tmp/x", "--shards"},
      {" -- --task mmlu_pro --model '" + model + "' --out /tmp/x", "--shards is required"},
      {" --shards 2 -- --task mmlu_pro --backend endpoint --url http://127.0.0.1:9 --api-key sekret --model '" + model +
           "' --out /tmp/x",
       "export G4REF_API_KEY"},
  };
  for (const Case& c : cases) {
    std::string out;
    EXPECT_NE(testing::run_command(base + c.args + " 2>&1", &out), 0) << c.args;
    EXPECT_NE(out.find(c.phrase), std::string::npos) << c.args << "\n" << out;
  }
}

}  // namespace
}  // namespace g4ref
