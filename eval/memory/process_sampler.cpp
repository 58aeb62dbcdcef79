#include "memory/process_sampler.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "base/error.h"
#include "memory/memory_sampler.h"

namespace g4ref {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

ProcessPeak run_and_sample(const std::vector<std::string>& argv, const std::string& cwd, int interval_ms) {
  if (argv.empty()) fail("run_and_sample", "no program given");
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("g4ref-measure-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string out_path = (dir / "stdout").string(), err_path = (dir / "stderr").string();
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) fail(argv[0], "fork failed");
  if (pid == 0) {
    const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0) _exit(127);
    dup2(o, 1);
    dup2(e, 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  ProcessPeak p;
  const std::string status = "/proc/" + std::to_string(pid) + "/status";
  int wstatus = 0;
  for (;;) {
    const std::string s = slurp(status);
    // A zombie's status has no Rss lines: keep the peaks of the live samples.
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t anon = proc_status_bytes(s, "RssAnon:"), file = proc_status_bytes(s, "RssFile:");
    const uint64_t rss = proc_status_bytes(s, "VmRSS:");
    if (anon > p.anon_bytes) p.anon_bytes = anon, p.anon_peak_seconds = t;
    if (file > p.file_bytes) p.file_bytes = file, p.file_peak_seconds = t;
    if (rss > p.rss_bytes) p.rss_bytes = rss, p.anon_at_rss_peak = anon, p.file_at_rss_peak = file, p.rss_peak_seconds = t;
    p.hwm_bytes = std::max(p.hwm_bytes, proc_status_bytes(s, "VmHWM:"));
    const pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  p.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  p.stdout_text = slurp(out_path);
  const std::string err = slurp(err_path);
  p.stderr_tail = err.size() > 4000 ? err.substr(err.size() - 4000) : err;
  std::error_code ec;
  fs::remove_all(dir, ec);
  return p;
}

}  // namespace g4ref
