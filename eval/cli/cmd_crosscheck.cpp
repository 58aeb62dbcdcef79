// g4ref crosscheck llamacpp: export the checkpoint to GGUF, evaluate the prompt in llama.cpp (the prebuilt CPU
// binaries of node-llama-cpp, eval/adapters/llamacpp), and compare llama.cpp's logits at every position with the
// reference run on the SAME GGUF (so quantized weights are the same dequantized values and only the arithmetic
// differs): in f32 mode with llama.cpp's embedding scale (what llama.cpp means to compute) and in exact mode.
// With --image / --audio / --video the projector is exported too (mmproj, spec §7.2) and each media item's projected
// embeddings from llama.cpp's gemma4uv / gemma4ua graphs (mtmd, through g4ref-llamacpp) are compared with the
// reference's on the same files; then the whole prompt goes through llama.cpp (g4ref-llamacpp logits: text tokens
// with llama_decode, media with mtmd's helper) and its logits are compared at every text position and at the last
// position of each media block.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "compare/metrics.h"
#include "base/error.h"
#include "io/gguf.h"
#include "layers/audio_embedder.h"
#include "layers/vision_embedder.h"
#include "convert/gguf_export.h"
#include "convert/mmproj_export.h"
#include "model/gguf_mmproj.h"
#include "forward/session.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct CrosscheckArgs {
  std::string model;
  PromptArgs prompt;
  std::string type = "f32";
  std::string kv = "f16";
  std::string mmproj_type;  // "": default_mmproj_type of --type
  std::string window = "lower";
  std::string image_attention = "sliding";
  bool embeddings_only = false;
  std::string flash_attn = "auto";
  std::string keep;
  double max_nmse = 0;  // 0: the default for the type (default_max_nmse)
  double min_top1 = 0.95;
  bool json = false;
  std::vector<std::string> deviations;
};

// Worst per-position logits NMSE of a correct llama.cpp, measured on the tiny checkpoint with a 24-token prompt
// (window 8, two full layers; KV cache f16): f32 8.1e-7, f16 2.2e-6, bf16 5.8e-5 (activations rounded to bf16 in
// the bf16 kernels), q8_0 6.3e-4, q6_k 7.1e-4, q4_k 7.5e-4, q4_0 9.1e-4 (quantized kernels quantize the activations
// to 8 bits). The defaults leave a margin of 5–12× above those, and stay 30× below the smallest error of a known
// wrong variant (RoPE denominator 0.16, window off by one 0.19, (1 + w) norm 1.1).
double default_max_nmse(const std::string& type) {
  if (type == "f32") return 1e-5;
  if (type == "f16") return 2e-5;
  if (type == "bf16") return 5e-4;
  return 5e-3;
}

// NMSE of llama.cpp's projected media embeddings against the exact reference on the same mmproj, measured on the
// tiny checkpoint (a 672×960 noise image = 280 patches; 1.3 s of a 440 Hz tone = 33 frames), image / audio:
// f32 1.7e-14 / 4.3e-15, f16 7.8e-8 / 4.3e-8, bf16 2.8e-6 / 3.1e-6, q8_0 3.2e-5 / 1.1e-5 (ggml's f16, bf16 and
// q8_0 kernels round the activations to the weight's type). The defaults leave 30× or more above those, and sit
// far below the O(1) errors of a projector written without the HWC -> CHW permutation or with the position
// tables swapped.
double default_max_embedding_nmse(GgmlType mmproj) {
  switch (mmproj) {
    case GgmlType::F32: return 1e-10;
    case GgmlType::F16: return 1e-5;
    case GgmlType::BF16: return 1e-4;
    default: return 1e-3;
  }
}

std::string adapter_dir() {
  if (const char* d = std::getenv("G4REF_LLAMACPP_ADAPTER")) return d;
  return G4REF_SOURCE_DIR "/eval/adapters/llamacpp";
}

// The directory a cross-check writes its files to: KEEP when given (and kept), else a fresh temporary one that is
// removed when the check ends, however it ends.
struct WorkDir {
  std::filesystem::path path;
  bool keep;
  WorkDir(const std::string& keep_dir, const std::string& tag)
      : path(keep_dir.empty() ? std::filesystem::temp_directory_path() / (tag + std::to_string(::getpid()))
                              : std::filesystem::path(keep_dir)),
        keep(!keep_dir.empty()) {
    std::filesystem::create_directories(path);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    std::error_code ec;
    if (!keep) std::filesystem::remove_all(path, ec);
  }
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// llama.cpp's logits: int32 positions, int32 vocabulary, float32 rows (eval/adapters/llamacpp/logits.mjs).
Eigen::MatrixXd read_logits(const std::string& path) {
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

std::string mtmd_library() {
  if (const char* l = std::getenv("G4REF_LLAMACPP_MTMD_LIB")) return l;
  return adapter_dir() + "/node_modules/@fugood/node-llama-linux-x64/index.node";
}

// node-llama-cpp's libllama: it exports llama_model_quantize (the mtmd library above does not).
std::string llama_library() {
  if (const char* l = std::getenv("G4REF_LLAMACPP_LIB")) return l;
  return adapter_dir() + "/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so";
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

template <class P>
Eigen::MatrixXd reference_embedding(const Model& model, const MediaInput& m) {
  using T = typename P::T;
  Mat<T> x(m.rows, m.cols);
  for (int64_t i = 0; i < m.rows * m.cols; ++i) x.data()[i] = static_cast<T>(m.values[static_cast<size_t>(i)]);
  const ModelConfig& c = model.config();
  const Mat<T> o = m.kind == MediaInput::Kind::image
                       ? vision_embed<P>(x, m.xy, *model.vision(), c.vision, "", nullptr)
                       : audio_embed<P>(x, model.audio()->projection, c.audio.rms_norm_eps, "", nullptr);
  return o.template cast<double>();
}

double nmse_of(const Eigen::MatrixXd& ref, const Eigen::MatrixXd& cand) {
  const double norm = ref.squaredNorm();
  const double err = (ref - cand).squaredNorm();
  return norm > 0 ? err / norm : err;
}

struct MediaReport {
  std::string plan_line;  // the item in g4ref-llamacpp's logits plan
  int64_t last_position = -1;  // of its placeholder run in the prompt
  std::string kind;
  int index = 0;
  int64_t tokens = 0, llama_tokens = 0;
  double nmse_f32 = 0, nmse_exact = 0, max_abs = 0;
  bool pass = false;
};

// One media item through llama.cpp's mtmd and through the reference; DIR holds the files.
MediaReport check_media(const Model& model, const MediaInput& m, int index, const std::string& gguf,
                        const std::string& mmproj, const std::filesystem::path& dir, double max_nmse, bool shift_audio) {
  MediaReport r;
  r.kind = m.kind == MediaInput::Kind::image ? "image" : "audio";
  r.index = index;
  r.tokens = m.rows;
  const std::string stem = (dir / (r.kind + std::to_string(index))).string();
  std::string args;
  if (m.kind == MediaInput::Kind::image) {
    int w = 0, h = 0;
    const std::vector<uint8_t> rgb = patches_to_rgb(m, model.config().vision.model_patch_size, w, h);
    std::ofstream(stem + ".rgb", std::ios::binary).write(reinterpret_cast<const char*>(rgb.data()), std::streamsize(rgb.size()));
    args = "image " + std::to_string(w) + " " + std::to_string(h) + " " + shell_quote(stem + ".rgb");
    r.plan_line = "i " + std::to_string(w) + " " + std::to_string(h) + " " + stem + ".rgb";
  } else {
    std::vector<float> samples(m.values.begin(), m.values.end());  // the frames, zero padding included
    if (shift_audio) {  // test only: every frame starts one sample late (same length, so the same frame count)
      samples.erase(samples.begin());
      samples.push_back(0.0f);
    }
    std::ofstream(stem + ".f32", std::ios::binary).write(reinterpret_cast<const char*>(samples.data()), std::streamsize(samples.size() * 4));
    args = "audio " + shell_quote(stem + ".f32");
    r.plan_line = "a " + stem + ".f32";
  }
  const std::string out = stem + ".embd.f32";
  const std::string info = run_child(shell_quote(llamacpp_program()) + " " + shell_quote(mtmd_library()) + " embed " +
                                         shell_quote(gguf) + " " + shell_quote(mmproj) + " " + args + " " + shell_quote(out),
                                     "g4ref-llamacpp",
                                     "is @fugood/node-llama-linux-x64 installed in " + adapter_dir() + " (setup.sh)?");
  const nlohmann::json j = nlohmann::json::parse(info, nullptr, false);
  if (!j.is_object() || !j.contains("n_tokens") || !j.contains("n_embd")) fail("g4ref-llamacpp", "unexpected output: " + info);
  r.llama_tokens = j["n_tokens"].get<int64_t>();
  const int64_t n_embd = j["n_embd"].get<int64_t>();
  const Eigen::MatrixXd ref_f32 = reference_embedding<F32Policy>(model, m);
  const Eigen::MatrixXd ref_exact = reference_embedding<ExactPolicy>(model, m);
  if (r.llama_tokens != r.tokens || n_embd != ref_f32.cols()) {
    r.nmse_f32 = r.nmse_exact = r.max_abs = std::numeric_limits<double>::infinity();
    return r;  // a different token count fails the item (llama.cpp resized the image or framed the audio otherwise)
  }
  std::vector<float> raw(static_cast<size_t>(r.llama_tokens * n_embd));
  std::ifstream in(out, std::ios::binary);
  in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size() * 4));
  if (!in) fail(out, "truncated embeddings");
  Eigen::MatrixXd llama(r.llama_tokens, n_embd);
  for (int64_t i = 0; i < r.llama_tokens; ++i) {
    for (int64_t k = 0; k < n_embd; ++k) llama(i, k) = raw[static_cast<size_t>(i * n_embd + k)];
  }
  r.nmse_f32 = nmse_of(ref_f32, llama);
  r.nmse_exact = nmse_of(ref_exact, llama);
  r.max_abs = (ref_f32 - llama).cwiseAbs().maxCoeff();
  r.pass = r.nmse_exact <= max_nmse;  // judged against the truth; the f32 figure shows how much is f32 rounding
  return r;
}

struct PositionReport {
  std::vector<double> nmse, kl;
  LogitsMetrics logits;
  double worst_nmse = 0;
  int64_t first_failure = -1;
};

PositionReport judge(const Eigen::MatrixXd& ref, const Eigen::MatrixXd& llama, double max_nmse) {
  PositionReport r;
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor g = ref, c = llama;
  r.logits = logits_metrics(g.data(), c.data(), g.rows(), g.cols());
  for (Eigen::Index p = 0; p < g.rows(); ++p) {
    double err = 0, norm = 0;
    for (Eigen::Index j = 0; j < g.cols(); ++j) {
      if (!std::isfinite(g(p, j)) || !std::isfinite(c(p, j))) continue;  // suppressed tokens (−inf) on one side
      err += (g(p, j) - c(p, j)) * (g(p, j) - c(p, j));
      norm += g(p, j) * g(p, j);
    }
    const double nmse = norm > 0 ? err / norm : err;
    r.nmse.push_back(nmse);
    r.worst_nmse = std::max(r.worst_nmse, nmse);
    if (r.first_failure < 0 && nmse > max_nmse) r.first_failure = p;
  }
  return r;
}

nlohmann::json media_json(const std::vector<MediaReport>& reports) {
  nlohmann::json items = nlohmann::json::array();
  for (const MediaReport& r : reports) {
    items.push_back({{"kind", r.kind}, {"index", r.index}, {"tokens", r.tokens}, {"llamacpp_tokens", r.llama_tokens},
                     {"nmse_vs_f32", r.nmse_f32}, {"nmse_vs_exact", r.nmse_exact}, {"max_abs_vs_f32", r.max_abs},
                     {"last_position", r.last_position}, {"verdict", r.pass ? "PASS" : "FAIL"}});
  }
  return items;
}

bool has_deviation(const CrosscheckArgs& a, const std::string& name) {
  return std::find(a.deviations.begin(), a.deviations.end(), name) != a.deviations.end();
}

// The reference deviations among --deviation (the media ones act on the exported files instead).
std::vector<std::string> reference_deviations(const CrosscheckArgs& a) {
  std::vector<std::string> d;
  for (const std::string& x : a.deviations) {
    if (x.rfind("mmproj-", 0) != 0 && x.rfind("audio-", 0) != 0) d.push_back(x);
  }
  return d;
}

// The reference as the cross-check runs it: llama.cpp's embedding scale, the chosen mask variants and deviations.
RunOptions reference_options(const CrosscheckArgs& a, Precision precision) {
  ForwardArgs f;
  f.deviations = reference_deviations(a);
  f.window = a.window;
  f.image_attention = a.image_attention;
  RunOptions o = f.run_options();
  o.precision = precision;
  o.embed_scale = EmbedScale::llamacpp;
  return o;
}

// The whole prompt through llama.cpp (text tokens one by one, each media item as mtmd decodes it), compared with the
// reference at every text position and at the last position of each media block (llama.cpp gives no logits
// inside one). Sets each report's last_position; returns the "logits" part of the JSON report, TEXT the summary.
nlohmann::json check_prompt_logits(const CrosscheckArgs& a, const Model& model, const PreparedPrompt& p,
                                   std::vector<MediaReport>& reports, GgmlType mm_type, const std::filesystem::path& dir,
                                   const std::string& gguf, const std::string& mmproj, bool& pass, std::string& text) {
  std::vector<int64_t> positions;
  std::string plan;
  size_t item = 0;
  for (size_t i = 0; i < p.ids.size();) {
    if (p.token_types.empty() || p.token_types[i] == 0) {
      plan += "t " + std::to_string(p.ids[i]) + "\n";
      positions.push_back(static_cast<int64_t>(i));
      ++i;
      continue;
    }
    if (item >= reports.size()) fail("crosscheck", "more placeholder runs than media items");
    size_t end = i;
    while (end < p.ids.size() && p.token_types[end] == p.token_types[i] &&
           static_cast<int64_t>(end - i) < p.media[item].rows) {
      ++end;
    }
    reports[item].last_position = static_cast<int64_t>(end) - 1;
    plan += reports[item++].plan_line + "\n";
    positions.push_back(static_cast<int64_t>(end) - 1);
    i = end;
  }
  const std::string plan_path = (dir / "plan.txt").string(), logits_path = (dir / "llama_logits.bin").string();
  std::ofstream(plan_path) << plan;
  const std::string info = run_child(shell_quote(llamacpp_program()) + " " + shell_quote(mtmd_library()) + " logits " +
                                         shell_quote(gguf) + " " + shell_quote(mmproj) + " " + shell_quote(plan_path) +
                                         " " + shell_quote(logits_path) + " " + a.flash_attn + " " + a.kv,
                                     "g4ref-llamacpp logits", "see the message above");
  Eigen::MatrixXd llama;
  {
    std::ifstream in(logits_path, std::ios::binary);
    int32_t n = 0, v = 0;
    in.read(reinterpret_cast<char*>(&n), 4).read(reinterpret_cast<char*>(&v), 4);
    if (!in || n != static_cast<int32_t>(positions.size()) || v <= 0) fail(logits_path, "unexpected logits dump header");
    llama.resize(n, v);
    std::vector<float> row(static_cast<size_t>(v));
    for (int32_t r = 0; r < n; ++r) {
      int32_t pos = 0;
      in.read(reinterpret_cast<char*>(&pos), 4).read(reinterpret_cast<char*>(row.data()), std::streamsize(v) * 4);
      if (!in) fail(logits_path, "truncated logits dump");
      if (pos != positions[static_cast<size_t>(r)]) {
        fail(logits_path, "row " + std::to_string(r) + " is position " + std::to_string(pos) + ", expected " +
                              std::to_string(positions[static_cast<size_t>(r)]) + " (llama.cpp placed the media otherwise)");
      }
      for (int32_t k = 0; k < v; ++k) llama(r, k) = row[static_cast<size_t>(k)];
    }
  }
  auto reference = [&](Precision precision) {
    const Eigen::MatrixXd all =
        make_session(model, reference_options(a, precision))->forward(p.ids, p.token_types, LogitRows::all, p.media);
    Eigen::MatrixXd picked(static_cast<Eigen::Index>(positions.size()), all.cols());
    for (size_t r = 0; r < positions.size(); ++r) picked.row(static_cast<Eigen::Index>(r)) = all.row(positions[r]);
    return picked;
  };
  // The projector's kernels round activations like the text model's of that type (q8_0: to 8 bits), so the logits
  // get the looser of the two types' thresholds (projector types are all spelled in lower case).
  const double max_nmse = std::max(default_max_nmse(a.type), default_max_nmse(ggml_type_name(mm_type)));
  const PositionReport vs_f32 = judge(reference(Precision::f32), llama, max_nmse);
  const PositionReport vs_exact = judge(reference(Precision::exact), llama, max_nmse);
  pass = vs_f32.first_failure < 0 && vs_f32.logits.top1_fraction >= a.min_top1;
  const int64_t first_failing = vs_f32.first_failure < 0 ? -1 : positions[static_cast<size_t>(vs_f32.first_failure)];

  std::ostringstream line;
  line << "logits (KV cache " << a.kv << ", flash attention " << a.flash_attn << ") at " << positions.size() << " of "
       << p.ids.size() << " positions (every text token, the last of each media block): worst NMSE vs f32 "
       << std::scientific << std::setprecision(3) << vs_f32.worst_nmse << " (vs exact " << vs_exact.worst_nmse
       << "), worst KL " << vs_f32.logits.max_kl << std::defaultfloat << ", top-1 " << vs_f32.logits.top1_fraction
       << " — " << (pass ? "PASS" : "FAIL");
  if (first_failing >= 0) line << ", first failing position " << first_failing;
  text = line.str();
  return {{"positions", positions},
          {"total_positions", p.ids.size()},
          {"kv_cache_type", a.kv},
          {"flash_attention", a.flash_attn},
          {"llamacpp", nlohmann::json::parse(info, nullptr, false)},
          {"vs_f32_llamacpp_scale",
           {{"worst_nmse", vs_f32.worst_nmse}, {"nmse", vs_f32.nmse}, {"worst_kl", vs_f32.logits.max_kl},
            {"top1_agreement", vs_f32.logits.top1_fraction}, {"first_failing_position", first_failing}}},
          {"vs_exact", {{"worst_nmse", vs_exact.worst_nmse}, {"top1_agreement", vs_exact.logits.top1_fraction}}},
          {"max_nmse", max_nmse},
          {"verdict", pass ? "PASS" : "FAIL"}};
}

void crosscheck_media(const CrosscheckArgs& a, const Model& source, const PreparedPrompt& p,
                      const std::filesystem::path& dir, const std::string& gguf) {
  const GgmlType mm_type = a.mmproj_type.empty() ? default_mmproj_type(parse_gguf_export_type(a.type))
                                                 : parse_mmproj_type(a.mmproj_type);
  const std::string mmproj = (dir / "mmproj.gguf").string();
  MmprojDeviations dev;
  dev.hwc_patches = has_deviation(a, "mmproj-hwc-patches");
  dev.swap_position_axes = has_deviation(a, "mmproj-pos-axes-swapped");
  export_mmproj_gguf(source, mm_type, mmproj, dev);
  // The reference reads the GGUF pair; a deliberately wrong projector goes to llama.cpp only, and the reference
  // keeps the checkpoint's own weights.
  std::unique_ptr<Model> loaded;
  const Model& model =
      dev.hwc_patches || dev.swap_position_axes ? source : *(loaded = Model::load(gguf, mmproj));
  const double max_nmse = a.max_nmse > 0 ? a.max_nmse : default_max_embedding_nmse(mm_type);
  std::vector<MediaReport> reports;
  int images = 0, audio = 0;
  for (const MediaInput& m : p.media) {
    const bool image = m.kind == MediaInput::Kind::image;
    reports.push_back(check_media(model, m, image ? images++ : audio++, gguf, mmproj, dir, max_nmse,
                                  has_deviation(a, "audio-shifted-one-sample")));
  }
  bool logits_pass = true;
  std::string logits_text = "logits not compared (--embeddings-only)";
  nlohmann::json logits = "not compared (--embeddings-only)";
  if (!a.embeddings_only) {
    logits = check_prompt_logits(a, model, p, reports, mm_type, dir, gguf, mmproj, logits_pass, logits_text);
  }
  bool pass = logits_pass;
  for (const MediaReport& r : reports) pass = pass && r.pass;
  if (!pass) exit_code() = 1;

  if (a.json) {
    std::cout << nlohmann::json{{"model", a.model},
                                {"type", a.type},
                                {"mmproj_type", ggml_type_name(mm_type)},
                                {"media", media_json(reports)},
                                {"logits", logits},
                                {"thresholds", {{"max_embedding_nmse", max_nmse}, {"min_top1", a.min_top1}}},
                                {"verdict", pass ? "PASS" : "FAIL"}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "llama.cpp mtmd (@fugood/node-llama-linux-x64 1.7.15, CPU) vs g4ref: projected embeddings, mmproj "
            << ggml_type_name(mm_type) << "\n"
            << std::left << std::setw(10) << "item" << std::right << std::setw(8) << "tokens" << std::setw(10)
            << "llama.cpp" << std::setw(14) << "nmse vs f32" << std::setw(14) << "nmse vs exact" << std::setw(12)
            << "max |diff|" << std::setw(8) << "verdict" << "\n";
  for (const MediaReport& r : reports) {
    std::cout << std::left << std::setw(10) << (r.kind + " " + std::to_string(r.index)) << std::right << std::setw(8)
              << r.tokens << std::setw(10) << r.llama_tokens << std::scientific << std::setprecision(3) << std::setw(14)
              << r.nmse_f32 << std::setw(14) << r.nmse_exact << std::setw(12) << r.max_abs << std::defaultfloat
              << std::setw(8) << (r.pass ? "PASS" : "FAIL") << "\n";
  }
  for (const MediaReport& r : reports) {
    if (r.tokens != r.llama_tokens) {
      std::cout << r.kind << " " << r.index << ": llama.cpp made " << r.llama_tokens << " tokens where the reference has "
                << r.tokens << (r.kind == "image" ? " (llama.cpp resizes images outside 70–1120 patches, spec §7.3)" : "")
                << "\n";
    }
  }
  std::cout << "embeddings threshold: NMSE vs exact <= " << max_nmse << "\n"
            << logits_text << "\nverdict: " << (pass ? "PASS" : "FAIL") << "\n";
}

void crosscheck(const CrosscheckArgs& a) {
  namespace fs = std::filesystem;
  auto source = Model::load(a.model);
  const PreparedPrompt p = a.prompt.prepare(a.model, source->config());
  const WorkDir work(a.keep, "g4ref_crosscheck_");
  const fs::path& dir = work.path;

  const std::string gguf = (dir / "model.gguf").string();
  export_text_gguf(*source, a.prompt.tokenizer.empty() ? a.model : a.prompt.tokenizer, parse_gguf_export_type(a.type), gguf);
  if (!p.media.empty()) {
    crosscheck_media(a, *source, p, dir, gguf);
    return;
  }

  // llama.cpp, in a child process.
  std::string ids;
  for (size_t i = 0; i < p.ids.size(); ++i) ids += (i ? "," : "") + std::to_string(p.ids[i]);
  const std::string out_bin = (dir / "llama_logits.bin").string();
  const std::string cmd = "node " + shell_quote(adapter_dir() + "/logits.mjs") + " " + shell_quote(gguf) + " " + ids +
                          " " + shell_quote(out_bin) + " --kv " + a.kv;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) fail("crosscheck", "cannot start node");
  std::string info;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) info.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) {
    fail(adapter_dir(), "llama.cpp evaluation failed (exit " + std::to_string(WEXITSTATUS(status)) +
                            "); is node-llama-cpp installed there (setup.sh)?");
  }
  const Eigen::MatrixXd llama = read_logits(out_bin);

  // The reference on the same GGUF weights.
  auto model = Model::load(gguf);
  auto reference = [&](Precision precision) {
    return make_session(*model, reference_options(a, precision))->forward(p.ids, p.token_types, LogitRows::all);
  };
  const Eigen::MatrixXd ref_f32 = reference(Precision::f32);
  const Eigen::MatrixXd ref_exact = reference(Precision::exact);
  if (ref_f32.rows() != llama.rows() || ref_f32.cols() != llama.cols()) {
    fail(out_bin, "llama.cpp gave " + std::to_string(llama.rows()) + " × " + std::to_string(llama.cols()) +
                      " logits (expected " + std::to_string(ref_f32.rows()) + " × " + std::to_string(ref_f32.cols()) + ")");
  }
  const double max_nmse = a.max_nmse > 0 ? a.max_nmse : default_max_nmse(a.type);
  const PositionReport vs_f32 = judge(ref_f32, llama, max_nmse);
  const PositionReport vs_exact = judge(ref_exact, llama, max_nmse);
  const bool pass = vs_f32.first_failure < 0 && vs_f32.logits.top1_fraction >= a.min_top1;
  if (!pass) exit_code() = 1;

  auto summary = [](const PositionReport& r) {
    return nlohmann::json{{"worst_nmse", r.worst_nmse},
                          {"nmse", r.nmse},
                          {"worst_kl", r.logits.max_kl},
                          {"worst_kl_position", r.logits.worst_position},
                          {"top1_agreement", r.logits.top1_fraction},
                          {"mean_top10_overlap", r.logits.mean_top10_overlap},
                          {"first_failing_position", r.first_failure}};
  };
  if (a.json) {
    std::cout << nlohmann::json{{"model", a.model}, {"type", a.type}, {"kv_cache_type", a.kv},
                                {"llamacpp", nlohmann::json::parse(info, nullptr, false)},
                                {"positions", p.ids.size()}, {"tokens", p.ids},
                                {"vs_f32_llamacpp_scale", summary(vs_f32)}, {"vs_exact", summary(vs_exact)},
                                {"thresholds", {{"max_nmse", max_nmse}, {"min_top1", a.min_top1}}},
                                {"verdict", pass ? "PASS" : "FAIL"}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "llama.cpp (node-llama-cpp 3.22.1, CPU, KV cache " << a.kv << ") vs g4ref on " << gguf << " (" << a.type
            << "), " << p.ids.size() << " positions\n"
            << std::left << std::setw(10) << "position" << std::right << std::setw(14) << "nmse vs f32" << std::setw(14)
            << "nmse vs exact" << std::setw(12) << "KL" << std::setw(8) << "top1" << std::setw(10) << "top10" << "\n";
  for (size_t i = 0; i < vs_f32.nmse.size(); ++i) {
    std::cout << std::left << std::setw(10) << i << std::right << std::scientific << std::setprecision(3)
              << std::setw(14) << vs_f32.nmse[i] << std::setw(14) << vs_exact.nmse[i] << std::setw(12)
              << vs_f32.logits.kl[i] << std::defaultfloat << std::setw(8) << int(vs_f32.logits.top1_agree[i])
              << std::setw(10) << vs_f32.logits.top10_overlap[i] << "\n";
  }
  std::cout << "worst NMSE " << vs_f32.worst_nmse << " (vs exact " << vs_exact.worst_nmse << "), top-1 "
            << vs_f32.logits.top1_fraction << ", worst KL " << vs_f32.logits.max_kl << "\nverdict: "
            << (pass ? "PASS" : "FAIL");
  if (vs_f32.first_failure >= 0) std::cout << " — first failing position " << vs_f32.first_failure;
  std::cout << "\n";
}

struct QuantizeArgs {
  std::string model;
  std::string type = "q8_0";
  std::string keep;
  bool json = false;
};

// llama.cpp's quantizer (llama_model_quantize, "pure": every 2-D tensor in the one type) and export-gguf on the same
// f32 GGUF: every tensor both wrote in the same type must be byte-identical.
void crosscheck_quantize(const QuantizeArgs& a) {
  namespace fs = std::filesystem;
  const GgmlType type = parse_gguf_export_type(a.type);
  auto source = Model::load(a.model);
  const WorkDir work(a.keep, "g4ref_quantize_");
  const fs::path& dir = work.path;
  const std::string f32 = (dir / "f32.gguf").string(), theirs = (dir / "llamacpp.gguf").string(),
                    ours = (dir / "g4ref.gguf").string();
  export_text_gguf(*source, a.model, GgmlType::F32, f32);
  run_child(shell_quote(llamacpp_program()) + " " + shell_quote(llama_library()) + " quantize " + shell_quote(f32) +
                " " + shell_quote(theirs) + " " + std::to_string(gguf_file_type(type)),
            "g4ref-llamacpp quantize", "is node-llama-cpp installed in " + adapter_dir() + " (setup.sh)?");
  export_text_gguf(*source, a.model, type, ours);
  auto t = GgufFile::open(theirs), o = GgufFile::open(ours);

  int identical = 0, differing = 0, other_type = 0, identical_requested = 0;
  nlohmann::json tensors = nlohmann::json::array();
  for (const GgufTensor& mine : o->tensors()) {
    const GgufTensor* their = t->find_tensor(mine.name);
    if (!their) fail(theirs, "llama.cpp's file lacks tensor '" + mine.name + "'");
    nlohmann::json row = {{"name", mine.name}, {"g4ref_type", ggml_type_name(mine.type)},
                          {"llamacpp_type", ggml_type_name(their->type)}};
    if (their->type != mine.type || their->nbytes != mine.nbytes) {
      ++other_type;
      row["result"] = "different type";
    } else if (std::memcmp(their->data, mine.data, mine.nbytes) == 0) {
      ++identical;
      if (mine.type == type) ++identical_requested;
      row["result"] = "identical";
    } else {
      ++differing;
      size_t first = 0;
      while (first < mine.nbytes && their->data[first] == mine.data[first]) ++first;
      row["result"] = "differs";
      row["first_differing_byte"] = first;
    }
    tensors.push_back(row);
  }
  // Nothing compared in the requested type proves nothing: that is a failure too.
  const bool pass = differing == 0 && identical_requested > 0;
  if (!pass) exit_code() = 1;
  if (a.json) {
    std::cout << nlohmann::json{{"model", a.model}, {"type", a.type}, {"identical", identical},
                                {"identical_in_requested_type", identical_requested}, {"differing", differing},
                                {"different_type", other_type}, {"tensors", tensors},
                                {"verdict", pass ? "PASS" : "FAIL"}}
                     .dump(2)
              << "\n";
    return;
  }
  for (const auto& row : tensors) {
    if (row["result"] == "identical") continue;
    std::cout << row["name"].get<std::string>() << ": " << row["result"].get<std::string>() << " (g4ref "
              << row["g4ref_type"].get<std::string>() << ", llama.cpp " << row["llamacpp_type"].get<std::string>() << ")\n";
  }
  std::cout << "llama.cpp's quantizer vs g4ref's, " << a.type << ": " << identical << " tensors byte-identical ("
            << identical_requested << " in " << a.type << "), " << differing << " differing, " << other_type
            << " stored in another type by one side (row-length fallbacks)\nverdict: " << (pass ? "PASS" : "FAIL")
            << "\n";
}

}  // namespace

void add_crosscheck_command(CLI::App& app) {
  auto a = std::make_shared<CrosscheckArgs>();
  CLI::App* cmd = app.add_subcommand("crosscheck", "Cross-check another implementation against the reference");
  cmd->require_subcommand(1);
  CLI::App* llama = cmd->add_subcommand(
      "llamacpp",
      "Export to GGUF, evaluate in llama.cpp, compare every position's logits (text prompts) or each image's and "
      "audio clip's projected embeddings (prompts with --image/--video/--audio; images must not need llama.cpp's "
      "resize: at least 70 patches)");
  llama->add_option("--model", a->model, "checkpoint directory")->required();
  a->prompt.add_to(*llama);
  llama->add_option("--type", a->type, "GGUF weight type")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}))
      ->capture_default_str();
  llama->add_option("--kv", a->kv, "llama.cpp's KV-cache type (f16 is its default); also for prompts with media")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  llama->add_option("--mmproj-type", a->mmproj_type,
                     "with media: the projector's weight type, f32, f16, bf16 or q8_0 (default: --type, or f16 for the "
                     "4- and 6-bit types)");
  llama->add_option("--window", a->window,
                     "the reference's sliding window for image blocks longer than it: lower (HF, k > q-W) or "
                     "symmetric (JAX, |q-k| < W)")
      ->check(CLI::IsMember({"lower", "symmetric"}))
      ->capture_default_str();
  llama->add_option("--image-attention", a->image_attention,
                     "where the reference makes an image block bidirectional: sliding (HF: sliding layers only) or "
                     "all (also full layers, as llama.cpp builds before PR #28335 decode images)")
      ->check(CLI::IsMember({"sliding", "all"}))
      ->capture_default_str();
  llama->add_option("--flash-attn", a->flash_attn,
                     "with media: llama.cpp's flash attention, auto (its default: on for the CPU), on or off; its CPU "
                     "kernel accumulates in f16 and drifts with the context length")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  llama->add_flag("--embeddings-only", a->embeddings_only,
                   "with media: compare the projected embeddings only, not the logits (for models too large to run "
                   "the whole prompt in exact mode)");
  llama->add_option("--max-nmse", a->max_nmse,
                     "fail a position whose logits NMSE against the f32 reference exceeds this (default: by type, "
                     "1e-5 for f32 up to 5e-3 for quantized types); with media, the embeddings' NMSE (default: by "
                     "projector type, 1e-10 for f32 up to 1e-3 for q8_0)");
  llama->add_option("--min-top1", a->min_top1, "fail when the top-1 agreement fraction is below this")
      ->capture_default_str();
  llama->add_option("--keep", a->keep, "keep the GGUF and llama.cpp's logits in this directory");
  llama->add_option("--deviation", a->deviations, "test only: run the reference with a known wrong variant")
      ->check(CLI::IsMember({"norm-one-plus-w", "rope-rotated-denominator", "window-off-by-one", "v-after-k-norm",
                             "mmproj-hwc-patches", "mmproj-pos-axes-swapped", "audio-shifted-one-sample"}))
      ->group("");
  llama->add_flag("--json", a->json, "machine-readable output");
  llama->callback([a, llama] {
    a->prompt.check(*llama);
    crosscheck(*a);
  });

  auto q = std::make_shared<QuantizeArgs>();
  CLI::App* quant = cmd->add_subcommand(
      "quantize", "Quantize the same f32 GGUF with llama.cpp's quantizer and with export-gguf; compare the bytes");
  quant->add_option("--model", q->model, "checkpoint directory")->required();
  quant->add_option("--type", q->type, "the type both quantize to")
      ->check(CLI::IsMember({"f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}))
      ->capture_default_str();
  quant->add_option("--keep", q->keep, "keep the three GGUF files in this directory");
  quant->add_flag("--json", q->json, "machine-readable output, one row per tensor");
  quant->callback([q] { crosscheck_quantize(*q); });
}

}  // namespace g4ref
