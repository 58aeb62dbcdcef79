// Pieces shared by the g4ref subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "forward/generate.h"
#include "model/options.h"

namespace g4ref {

// Each subcommand registers itself on the app and runs from its callback.
void add_synth_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_detokenize_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_inspect_audio_command(CLI::App& app);
void add_inspect_image_command(CLI::App& app);
void add_trace_command(CLI::App& app);
void add_explain_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_envelope_command(CLI::App& app);
void add_export_gguf_command(CLI::App& app);
void add_crosscheck_command(CLI::App& app);
void add_eval_command(CLI::App& app);
// `score` under the `eval` command (eval/cli/cmd_eval_score.cpp).
void add_eval_score_command(CLI::App& eval);
void add_memory_command(CLI::App& app);
void add_bench_command(CLI::App& app);

// The process exit code a command asks for without failing (e.g. compare's verdict); 0 by default.
int& exit_code();

// "2,105,10" -> {2, 105, 10}; the error names the option and the bad item.
std::vector<int> parse_token_list(const std::string& text, const std::string& option);

// Options every command that runs the model shares: precision, threads, switches, sampling.
struct ForwardArgs {
  std::string precision = "exact";
  int threads = 0;
  std::string embed_scale = "hf";
  std::string window = "lower";
  std::string image_attention = "sliding";
  double temperature = 0.0;
  int top_k = 64;
  double top_p = 0.95;
  uint64_t seed = 0;
  std::vector<std::string> deviations;  // test-only wrong variants (hidden option --deviation)
  void add_to(CLI::App& cmd, bool sampling);
  RunOptions run_options() const;
  SamplingOptions sampling() const;
};

// A threshold or limit option: a finite number in [lo, hi]. CLI11's NonNegativeNumber and Range let NaN through
// (every comparison with NaN is false), and a NaN tolerance makes every "error > tolerance" test false: a forced
// PASS. Infinity is refused too; a threshold that judges nothing is spelled by its documented "off" value.
CLI::Validator finite_in(double lo, double hi = std::numeric_limits<double>::max());

nlohmann::json top_entries_json(const Eigen::VectorXd& logits, int k);

// This program's own path (/proc/self/exe), for the commands that run it again as a child process.
std::string this_program();
// Runs ARGV (argv[0] looked up on the PATH unless it holds a '/') and returns its exit status (128 + the signal when
// a signal ended it). Its standard output goes to OUT; its standard error to ours, or into the file STDERR_LOG when
// one is named.
int run_capturing(const std::vector<std::string>& argv, std::string* out, const std::string& stderr_log = "");
std::string default_model_home();  // where `demo` keeps its synthetic checkpoint

}  // namespace g4ref
