// Shared by the libFuzzer targets: each target writes its input where the loader expects a file (the loaders
// map files; none parses a buffer), calls the loader, and treats the outcomes as follows:
//   * a g4ref::Error is the expected answer to bad input;
//   * any other exception is a finding: the user would see a message without context (a bare std::bad_alloc,
//     "vector::reserve", a json type_error), so the target aborts and libFuzzer keeps the input;
//   * crashes, leaks, undefined behaviour and timeouts are reported by libFuzzer and the sanitizers.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <typeinfo>

#include "base/error.h"

namespace g4ref::fuzz {

// A private directory per process (parallel jobs must not share files), under $TMPDIR.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const std::filesystem::path p =
        std::filesystem::temp_directory_path() / ("g4ref-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return dir;
}

// Writes DATA to NAME inside the scratch directory (replacing it) and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const g4ref::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception without context escaped the loader: %s: %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  }
}

// Reads every byte of [p, p+n): under ASan an out-of-range view is reported here.
inline uint8_t touch(const void* p, size_t n) {
  const volatile uint8_t* b = static_cast<const volatile uint8_t*>(p);
  uint8_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc ^= b[i];
  return acc;
}

}  // namespace g4ref::fuzz
