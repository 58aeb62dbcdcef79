#include "backends/llamacpp_adapter.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "base/error.h"

namespace g4ref {

namespace {

int next_work_dir() {
  static std::atomic<int> n{0};
  return n++;
}

}  // namespace

std::string llamacpp_adapter_dir() {
  if (const char* d = std::getenv("G4REF_LLAMACPP_ADAPTER")) return d;
  return G4REF_SOURCE_DIR "/eval/adapters/llamacpp";
}

WorkDir::WorkDir(const std::string& keep_dir, const std::string& tag)
    : path(keep_dir.empty() ? std::filesystem::temp_directory_path() /
                                  (tag + std::to_string(::getpid()) + "_" + std::to_string(next_work_dir()))
                            : std::filesystem::path(keep_dir)),
      keep(!keep_dir.empty()) {
  std::filesystem::create_directories(path);
}

WorkDir::~WorkDir() {
  std::error_code ec;
  if (!keep) std::filesystem::remove_all(path, ec);
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// llama.cpp's logits: int32 positions, int32 vocabulary, float32 rows (eval/adapters/llamacpp/logits.mjs).
Eigen::MatrixXd read_node_logits(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  int32_t n = 0, v = 0;
  in.read(reinterpret_cast<char*>(&n), 4).read(reinterpret_cast<char*>(&v), 4);
  if (!in || n <= 0 || v <= 0) fail(path, "not a logits dump (bad header)");
  std::vector<float> rows(static_cast<size_t>(n) * v);
  in.read(reinterpret_cast<char*>(rows.data()), static_cast<std::streamsize>(rows.size() * 4));
  if (!in) fail(path, "truncated logits dump");
  Eigen::MatrixXd m(n, v);
  for (int32_t i = 0; i < n; ++i) {
    for (int32_t j = 0; j < v; ++j) m(i, j) = rows[static_cast<size_t>(i) * v + j];
  }
  return m;
}

std::string llamacpp_mtmd_library() {
  if (const char* l = std::getenv("G4REF_LLAMACPP_MTMD_LIB")) return l;
  return llamacpp_adapter_dir() + "/node_modules/@fugood/node-llama-linux-x64/index.node";
}

// node-llama-cpp's libllama: it exports llama_model_quantize (the mtmd library above does not).
std::string llamacpp_llama_library() {
  if (const char* l = std::getenv("G4REF_LLAMACPP_LIB")) return l;
  return llamacpp_adapter_dir() + "/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so";
}

std::string llamacpp_program() {
  if (const char* p = std::getenv("G4REF_LLAMACPP_PROGRAM")) return p;
  return G4REF_LLAMACPP_PROGRAM;
}

// Runs CMD and returns its standard output; a non-zero exit fails naming WHAT.
std::string run_child(const std::string& cmd, const std::string& what, const std::string& hint) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) fail(what, "cannot start the child process");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) fail(what, "failed (exit " + std::to_string(WEXITSTATUS(status)) + "); " + hint);
  return out;
}

// The resized image back from its patches: each 48×48 block (HWC values u8·(1/255)) at (column, row) of the grid.
std::vector<uint8_t> patches_to_rgb(const MediaInput& m, int side, int& width, int& height) {
  int nx = 0, ny = 0;
  for (const auto& [x, y] : m.xy) nx = std::max(nx, x + 1), ny = std::max(ny, y + 1);
  width = nx * side;
  height = ny * side;
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (int64_t p = 0; p < m.rows; ++p) {
    const auto [X, Y] = m.xy[static_cast<size_t>(p)];
    for (int r = 0; r < side; ++r) {
      for (int c = 0; c < side; ++c) {
        for (int ch = 0; ch < 3; ++ch) {
          const float v = m.values[static_cast<size_t>(p * m.cols + (r * side + c) * 3 + ch)];
          rgb[(static_cast<size_t>(Y * side + r) * width + static_cast<size_t>(X * side + c)) * 3 + ch] =
              static_cast<uint8_t>(std::lround(std::clamp(v * 255.0, 0.0, 255.0)));
        }
      }
    }
  }
  return rgb;
}

std::string write_media_item(const MediaInput& m, int patch_side, const std::string& stem, bool shift_audio) {
  if (m.kind == MediaInput::Kind::image) {
    int w = 0, h = 0;
    const std::vector<uint8_t> rgb = patches_to_rgb(m, patch_side, w, h);
    std::ofstream(stem + ".rgb", std::ios::binary).write(reinterpret_cast<const char*>(rgb.data()), std::streamsize(rgb.size()));
    return "i " + std::to_string(w) + " " + std::to_string(h) + " " + stem + ".rgb";
  }
  std::vector<float> samples(m.values.begin(), m.values.end());  // the frames, zero padding included
  if (shift_audio) {  // test only: every frame starts one sample late (same length, so the same frame count)
    samples.erase(samples.begin());
    samples.push_back(0.0f);
  }
  std::ofstream(stem + ".f32", std::ios::binary).write(reinterpret_cast<const char*>(samples.data()), std::streamsize(samples.size() * 4));
  return "a " + stem + ".f32";
}

std::map<int64_t, Eigen::VectorXd> read_plan_logits(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  int32_t n = 0, v = 0;
  in.read(reinterpret_cast<char*>(&n), 4).read(reinterpret_cast<char*>(&v), 4);
  if (!in || n < 0 || v <= 0) fail(path, "not a g4ref-llamacpp logits file (bad header)");
  std::map<int64_t, Eigen::VectorXd> rows;
  std::vector<float> buf(static_cast<size_t>(v));
  for (int32_t r = 0; r < n; ++r) {
    int32_t pos = 0;
    in.read(reinterpret_cast<char*>(&pos), 4);
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size() * 4));
    if (!in) fail(path, "truncated at row " + std::to_string(r));
    Eigen::VectorXd row(v);
    for (int32_t j = 0; j < v; ++j) row[j] = buf[static_cast<size_t>(j)];
    rows[pos] = row;
  }
  return rows;
}

}  // namespace g4ref
