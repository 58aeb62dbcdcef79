#include "memory/memory_sampler.h"

#include <chrono>
#include <fstream>
#include <string>

namespace g4ref {

uint64_t proc_status_bytes(const std::string& text, const char* key) {
  const auto p = text.find(key);
  if (p == std::string::npos) return 0;
  return std::stoull(text.substr(p + std::string(key).size())) * 1024;
}

namespace {

std::string read_status() {
  std::ifstream in("/proc/self/status");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

MemorySampler::MemorySampler(int interval_ms) : interval_ms_(interval_ms) {
  sample();
  thread_ = std::thread([this] {
    while (running_) {
      sample();
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
    }
  });
}

MemorySampler::~MemorySampler() {
  if (thread_.joinable()) stop();
}

void MemorySampler::sample() {
  const std::string s = read_status();
  const uint64_t anon = proc_status_bytes(s, "RssAnon:");
  const uint64_t file = proc_status_bytes(s, "RssFile:");
  if (anon > anon_) anon_ = anon;
  if (file > file_) file_ = file;
}

MemoryPeak MemorySampler::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  sample();
  MemoryPeak p;
  p.anon_bytes = anon_;
  p.file_bytes = file_;
  p.total_hwm_bytes = proc_status_bytes(read_status(), "VmHWM:");
  return p;
}

}  // namespace g4ref
