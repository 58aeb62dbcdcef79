// Runs a program and samples its resident memory from outside (/proc/PID/status every few milliseconds): the peak
// of anonymous pages (RssAnon: heap, stacks, anonymous mmaps) and of file-backed pages (RssFile: mapped files such
// as model weights, and the program's own code) separately, and the kernel's VmHWM (peak of their sum) last seen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace g4ref {

struct ProcessPeak {
  uint64_t anon_bytes = 0;     // peak RssAnon
  uint64_t file_bytes = 0;     // peak RssFile
  uint64_t rss_bytes = 0;      // peak VmRSS seen by sampling
  uint64_t hwm_bytes = 0;      // VmHWM at the last sample (the kernel's own peak of VmRSS)
  // The sample of the highest VmRSS: its anonymous and file-backed parts (the two peaks above need not coincide),
  // and when each peak was first seen, in seconds from the start.
  uint64_t anon_at_rss_peak = 0;
  uint64_t file_at_rss_peak = 0;
  double rss_peak_seconds = 0;
  double anon_peak_seconds = 0;
  double file_peak_seconds = 0;
  int exit_code = -1;
  double seconds = 0;
  std::string stdout_text;     // what the program printed (stdout)
  std::string stderr_tail;     // the last part of its stderr
};

// Runs ARGV (argv[0] looked up in PATH) in directory CWD (empty: the current one) and waits for it.
ProcessPeak run_and_sample(const std::vector<std::string>& argv, const std::string& cwd = "", int interval_ms = 10);

}  // namespace g4ref
