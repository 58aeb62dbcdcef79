// Small helpers shared by the test suites: temporary directories, running commands, the tiny checkpoint.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>

#include "base/error.h"
#include "convert/synth.h"

namespace g4ref::testing {

// A fresh directory under the test temp dir, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("g4ref_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs FN, which must throw a g4ref::Error starting with "WHERE: " and containing PHRASE.
template <typename Fn>
void expect_error(Fn fn, const std::string& where, const std::string& phrase) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << phrase;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(where + ": ", 0), 0u) << "message does not start with " << where << ": " << msg;
    EXPECT_NE(msg.find(phrase), std::string::npos) << "message lacks \"" << phrase << "\": " << msg;
  }
}

// Runs a shell command, returning its exit status and standard output.
// A mono 16-bit PCM WAV at RATE holding SAMPLES.
inline void write_wav16(const std::string& path, const std::vector<int16_t>& samples, uint32_t rate = 16000) {
  std::ofstream o(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { o.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { o.write(reinterpret_cast<const char*>(&v), 2); };
  const uint32_t n = static_cast<uint32_t>(samples.size());
  o << "RIFF";
  u32(36 + n * 2);
  o << "WAVEfmt ";
  u32(16), u16(1), u16(1), u32(rate), u32(rate * 2), u16(2), u16(16);
  o << "data";
  u32(n * 2);
  for (int16_t s : samples) u16(static_cast<uint16_t>(s));
}

inline int run_command(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  out->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Debian's Python with PyTorch (the oracles' interpreter), or "" when it cannot import torch.
inline std::string torch_python() {
  std::string out;
  if (run_command("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null && echo ok", &out) == 0 &&
      out.find("ok") != std::string::npos) {
    return "/usr/bin/python3";
  }
  return "";
}

// The tiny synthetic checkpoint for a seed, written once per test process.
inline std::string tiny_checkpoint(uint64_t seed = 0) {
  // Removed when the test process exits, so repeated runs leave nothing behind.
  static struct Made : std::map<uint64_t, std::string> {
    ~Made() {
      for (const auto& [seed, dir] : *this) std::filesystem::remove_all(dir);
    }
  } made;
  auto it = made.find(seed);
  if (it != made.end()) return it->second;
  const std::string dir = (std::filesystem::path(::testing::TempDir()) /
                           ("g4ref_tiny_" + std::to_string(::getpid()) + "_seed" + std::to_string(seed)))
                              .string();
  SynthOptions o;
  o.preset = "tiny";
  o.seed = seed;
  o.out_dir = dir;
  o.force = true;
  write_synthetic_checkpoint(o);
  made[seed] = dir;
  return dir;
}

#ifdef G4REF_CLI
// `g4ref serve --port 0 --json ARGS` as a child process; its first output line tells the port.
struct ServeProcess {
  pid_t pid = -1;
  int port = 0;
  explicit ServeProcess(const std::string& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid = fork();
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      const std::string cmd = "exec " + std::string(G4REF_CLI) + " serve --port 0 --json " + args;
      execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      _exit(127);
    }
    close(fds[1]);
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    close(fds[0]);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) port = j.value("port", 0);
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }
  bool alive() const { return pid > 0 && kill(pid, 0) == 0; }
  int64_t rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    int64_t v = 0;
    while (in >> key) {
      if (key == "VmRSS:") {
        in >> v;
        return v;
      }
    }
    return -1;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};
#endif

}  // namespace g4ref::testing
