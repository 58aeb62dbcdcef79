// g4ref crosscheck llamacpp: export the checkpoint to GGUF, evaluate the prompt in llama.cpp (the prebuilt CPU
// binaries of node-llama-cpp, eval/adapters/llamacpp), and compare llama.cpp's logits at every position with the
// reference run on the SAME GGUF (so quantized weights are the same dequantized values and only the arithmetic
// differs): in f32 mode with llama.cpp's embedding scale (what llama.cpp means to compute) and in exact mode.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "compare/metrics.h"
#include "io/error.h"
#include "model/gguf_export.h"
#include "model/session.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct CrosscheckArgs {
  std::string model;
  PromptArgs prompt;
  std::string type = "f32";
  std::string kv = "f16";
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

std::string adapter_dir() {
  if (const char* d = std::getenv("G4REF_LLAMACPP_ADAPTER")) return d;
  return G4REF_SOURCE_DIR "/eval/adapters/llamacpp";
}

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

void crosscheck(const CrosscheckArgs& a) {
  namespace fs = std::filesystem;
  auto source = Model::load(a.model);
  const PreparedPrompt p = a.prompt.prepare(a.model, source->config());
  if (!p.media.empty()) fail("crosscheck", "text prompts only (the mmproj export does not exist yet)");
  const fs::path dir = a.keep.empty() ? fs::temp_directory_path() / ("g4ref_crosscheck_" + std::to_string(::getpid()))
                                      : fs::path(a.keep);
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      if (!keep) fs::remove_all(dir);
    }
  } cleanup{dir, !a.keep.empty()};

  const std::string gguf = (dir / "model.gguf").string();
  export_text_gguf(*source, a.model, parse_gguf_export_type(a.type), gguf);

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
    RunOptions o;
    o.precision = precision;
    o.embed_scale = EmbedScale::llamacpp;
    ForwardArgs f;
    f.deviations = a.deviations;
    o.deviations = f.run_options().deviations;
    return make_session(*model, o)->forward(p.ids, p.token_types, LogitRows::all);
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

}  // namespace

void add_crosscheck_command(CLI::App& app) {
  auto a = std::make_shared<CrosscheckArgs>();
  CLI::App* cmd = app.add_subcommand("crosscheck", "Cross-check another implementation against the reference");
  cmd->require_subcommand(1);
  CLI::App* llama = cmd->add_subcommand(
      "llamacpp", "Export to GGUF, evaluate in llama.cpp (node-llama-cpp), compare every position's logits");
  llama->add_option("--model", a->model, "checkpoint directory")->required();
  a->prompt.add_to(*llama);
  llama->add_option("--type", a->type, "GGUF weight type")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}))
      ->capture_default_str();
  llama->add_option("--kv", a->kv, "llama.cpp's KV-cache type (f16 is its default)")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  llama->add_option("--max-nmse", a->max_nmse,
                     "fail a position whose logits NMSE against the f32 reference exceeds this (default: by type, "
                     "1e-5 for f32 up to 5e-3 for quantized types)");
  llama->add_option("--min-top1", a->min_top1, "fail when the top-1 agreement fraction is below this")
      ->capture_default_str();
  llama->add_option("--keep", a->keep, "keep the GGUF and llama.cpp's logits in this directory");
  llama->add_option("--deviation", a->deviations, "test only: run the reference with a known wrong variant")
      ->check(CLI::IsMember({"norm-one-plus-w", "rope-rotated-denominator", "window-off-by-one", "v-after-k-norm"}))
      ->group("");
  llama->add_flag("--json", a->json, "machine-readable output");
  llama->callback([a, llama] {
    a->prompt.check(*llama);
    crosscheck(*a);
  });
}

}  // namespace g4ref
