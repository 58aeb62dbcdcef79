// Peak resident memory of this process, split into anonymous (heap, stacks: what the program allocated) and
// file-backed (pages of memory-mapped weights, which the kernel can drop and re-read at will).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace g4ref {

struct MemoryPeak {
  uint64_t anon_bytes = 0;
  uint64_t file_bytes = 0;
  uint64_t total_hwm_bytes = 0;  // the kernel's VmHWM (peak of anon + file + shmem)
};

// The value of a "Key:   N kB" line of a /proc/PID/status TEXT, in bytes; 0 where the kernel does not report KEY.
uint64_t proc_status_bytes(const std::string& text, const char* key);

// Samples /proc/self/status every few milliseconds on a background thread until stopped.
class MemorySampler {
 public:
  explicit MemorySampler(int interval_ms = 5);
  ~MemorySampler();
  MemoryPeak stop();

 private:
  void sample();
  int interval_ms_;
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> anon_{0}, file_{0};
  std::thread thread_;
};

}  // namespace g4ref
