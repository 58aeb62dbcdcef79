#include "cli/common.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "base/error.h"

namespace g4ref {

std::vector<int> parse_token_list(const std::string& text, const std::string& option) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    size_t used = 0;
    long value = -1;
    try {
      value = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < 0 || value > INT32_MAX) {
      fail(option, "'" + item + "' is not a token id (expected comma-separated non-negative integers)");
    }
    out.push_back(static_cast<int>(value));
    start = end + 1;
  }
  return out;
}

void ForwardArgs::add_to(CLI::App& cmd, bool with_sampling) {
  cmd.add_option("--precision", precision, "exact (float64 ground truth), f32, or bf16 (Hugging Face rounding points)")
      ->check(CLI::IsMember({"exact", "f32", "bf16"}))
      ->capture_default_str();
  cmd.add_option("--threads", threads, "OpenMP threads (0: all cores); results are identical for any count")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--embed-scale", embed_scale, "hf: sqrt(hidden) rounded to the table dtype; llamacpp: f32 sqrtf")
      ->check(CLI::IsMember({"hf", "llamacpp"}))
      ->capture_default_str();
  cmd.add_option("--window", window, "sliding window for image blocks: lower (HF, k > q-W) or symmetric (JAX)")
      ->check(CLI::IsMember({"lower", "symmetric"}))
      ->capture_default_str();
  cmd.add_option("--image-attention", image_attention,
                 "where an image block is bidirectional: sliding (HF: sliding layers only) or all (also full layers, "
                 "as llama.cpp builds before PR #28335)")
      ->check(CLI::IsMember({"sliding", "all"}))
      ->capture_default_str();
  // Deliberately wrong variants (spec §8) for proving that a comparison catches and localizes each mistake.
  // Hidden from --help: they exist for tests, never for real runs.
  cmd.add_option("--deviation", deviations, "test only: a known wrong variant")
      ->check(CLI::IsMember({"norm-one-plus-w", "rope-rotated-denominator", "window-off-by-one", "v-after-k-norm"}))
      ->group("");
  if (with_sampling) {
    cmd.add_option("--temperature", temperature, "0 = greedy; > 0 samples")->check(finite_in(0))
        ->capture_default_str();
    cmd.add_option("--top-k", top_k, "keep the k most likely tokens when sampling (0: all)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    cmd.add_option("--top-p", top_p, "nucleus threshold when sampling")->check(finite_in(0.0, 1.0))
        ->capture_default_str();
    cmd.add_option("--seed", seed, "sampling seed")->capture_default_str();
  }
}

CLI::Validator finite_in(double lo, double hi) {
  auto num = [](double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  };
  const bool open_above = hi == std::numeric_limits<double>::max();
  const std::string desc = open_above ? "FINITE NUMBER >= " + num(lo) : "FINITE NUMBER in [" + num(lo) + ", " + num(hi) + "]";
  return CLI::Validator(
      [lo, hi, num, open_above](std::string& text) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        if (used != text.size()) return "'" + text + "' is not a number";
        if (!std::isfinite(v)) return "'" + text + "' is not a finite number (NaN and infinity are refused)";
        if (v < lo || v > hi) {
          return "'" + text + "' lies outside [" + num(lo) + ", " + (open_above ? std::string("inf") : num(hi)) + "]";
        }
        return "";
      },
      desc);
}

RunOptions ForwardArgs::run_options() const {
  RunOptions o;
  o.precision = parse_precision(precision);
  o.threads = threads;
  o.embed_scale = embed_scale == "llamacpp" ? EmbedScale::llamacpp : EmbedScale::hf;
  o.window = window == "symmetric" ? WindowVariant::symmetric : WindowVariant::lower;
  o.image_attention = image_attention == "all" ? ImageAttention::all_layers : ImageAttention::sliding_layers;
  for (const auto& d : deviations) {
    if (d == "norm-one-plus-w") o.deviations.norm_one_plus_w = true;
    if (d == "rope-rotated-denominator") o.deviations.rope_rotated_denominator = true;
    if (d == "window-off-by-one") o.deviations.window_off_by_one = true;
    if (d == "v-after-k-norm") o.deviations.v_after_k_norm = true;
  }
  return o;
}

SamplingOptions ForwardArgs::sampling() const {
  SamplingOptions s;
  s.temperature = temperature;
  s.top_k = top_k;
  s.top_p = top_p;
  s.seed = seed;
  return s;
}

nlohmann::json top_entries_json(const Eigen::VectorXd& logits, int k) {
  nlohmann::json ids = nlohmann::json::array(), values = nlohmann::json::array();
  for (const auto& e : top_k_entries(logits, k)) {
    ids.push_back(e.id);
    values.push_back(e.logit);
  }
  return {{"ids", ids}, {"values", values}};
}

int& exit_code() {
  static int code = 0;
  return code;
}

std::string default_model_home() {
  if (const char* h = std::getenv("G4REF_HOME")) return h;
  if (const char* x = std::getenv("XDG_CACHE_HOME")) return std::string(x) + "/g4ref";
  if (const char* home = std::getenv("HOME")) return std::string(home) + "/.cache/g4ref";
  return ".g4ref";
}

std::string this_program() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("/proc/self/exe", "cannot find this program's path: " + ec.message());
  return p.string();
}

int run_capturing(const std::vector<std::string>& argv, std::string* out, const std::string& stderr_log) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) fail(argv[0], "cannot create a pipe");
  const pid_t pid = ::fork();
  if (pid < 0) fail(argv[0], "cannot fork");
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    if (!stderr_log.empty()) {
      if (std::FILE* f = std::fopen(stderr_log.c_str(), "w")) ::dup2(::fileno(f), 2);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "g4ref: error: %s: cannot run it: %s\n", argv[0].c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  out->clear();
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out->append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace g4ref
