// A video given as a directory of frame images (preprocess/video.h load_frame_directory): the input is split
// into up to 8 files (the first byte gives the count, the next ones the file types by extension), sampled as
// a 4-frame video, each frame then preprocessed at the per-frame budget.
#include <filesystem>
#include <string>

#include "fuzz_util.h"
#include "preprocess/image.h"
#include "preprocess/video.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  namespace fs = std::filesystem;
  const std::string dir = g4ref::fuzz::scratch_dir() + "/frames";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  const int n = 1 + data[0] % 8;
  static const char* const kExt[] = {".png", ".jpg", ".bmp", ".ppm"};
  const uint8_t kinds = data[1];
  data += 2;
  size -= 2;
  const size_t part = size / size_t(n);
  for (int i = 0; i < n; ++i) {
    const size_t len = i + 1 == n ? size - part * size_t(i) : part;
    char name[32];
    std::snprintf(name, sizeof name, "frame_%03d%s", i, kExt[(kinds >> (i % 4) * 2) & 3]);
    std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
    if (!f) std::abort();
    if (len) std::fwrite(data + part * size_t(i), 1, len, f);
    std::fclose(f);
  }
  g4ref::fuzz::expect_clean([&] {
    g4ref::VideoFrames v = g4ref::load_frame_directory(dir, 24.0, 4);
    for (auto& frame : v.frames) {
      if (int64_t(frame.width) * frame.height > (1 << 20)) continue;  // keep one input's work bounded
      (void)g4ref::prepare_decoded(std::move(frame), g4ref::kVideoFrameBudget);
    }
  });
  return 0;
}
