// g4ref memory: the analytic memory model (eval/memory/memory_model.h) of a checkpoint, a GGUF, a config or the
// 12B preset for one engine and context; `memory measure` runs an engine and records its peak resident memory;
// `memory family` tabulates the Gemma 4 family.
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "cli/common.h"
#include "convert/gguf_export.h"
#include "io/output_file.h"
#include "memory/memory_model.h"
#include "memory/process_sampler.h"

namespace g4ref {

namespace fs = std::filesystem;
using namespace memory;

namespace {

struct MemoryArgs {
  std::string model, config, preset;
  std::string weights = "bf16";
  std::string embedding_type;
  int64_t context = 4096;
  int64_t batch = 512;
  std::string kv_type = "f16";
  std::string engine = "reference";
  std::string flash_attn = "on";
  bool swa_full = false;
  int images = 0;
  int64_t image_tokens = 280;
  double audio_seconds = 0;
  std::string precision = "exact";
  int64_t prompt_tokens = -1;
  int64_t evaluated_tokens = -1;
  int threads = 0;
  std::string repack = "host";
  bool no_baseline = false;
  bool json = false;
};

GgmlType parse_kv_type(const std::string& s) {
  if (s == "f32") return GgmlType::F32;
  if (s == "f16") return GgmlType::F16;
  if (s == "bf16") return GgmlType::BF16;
  if (s == "q8_0") return GgmlType::Q8_0;
  if (s == "q4_0") return GgmlType::Q4_0;
  if (s == "i8") return GgmlType::I8;  // plain int8 values without scales: the ideal cache only
  fail("--kv-type", "'" + s + "' is not one of f32, f16, bf16, q8_0, q4_0, i8");
}

std::string source_dir() { return G4REF_SOURCE_DIR; }

std::string adapter_dir() {
  if (const char* d = std::getenv("G4REF_LLAMACPP_ADAPTER")) return d;
  return source_dir() + "/eval/adapters/llamacpp";
}

std::string baselines_path() {
  if (const char* p = std::getenv("G4REF_MEMORY_BASELINES")) return p;
  return source_dir() + "/eval/memory/baselines.json";
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot read the file");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
}

bool is_gguf(const std::string& p) { return p.size() > 5 && p.substr(p.size() - 5) == ".gguf"; }

Arch arch_of(const MemoryArgs& a) {
  const int given = int(!a.model.empty()) + int(!a.config.empty()) + int(!a.preset.empty());
  if (given != 1) fail("memory", "give exactly one of --model, --config, --preset");
  if (!a.preset.empty()) {
    if (a.preset == "12b") return preset_12b();
    const std::string path = source_dir() + "/eval/memory/configs/gemma-4-" + a.preset + ".json";
    if (!fs::exists(path)) fail("--preset", "'" + a.preset + "' is not 12b, e2b, e4b, 26b-a4b or 31b");
    return arch_from_config_file(path);
  }
  if (!a.config.empty()) return arch_from_config_file(a.config);
  if (is_gguf(a.model)) return arch_from_gguf(a.model);
  return arch_from_config_file((fs::path(a.model) / "config.json").string());
}

WeightsChoice weights_of(const MemoryArgs& a) {
  WeightsChoice w;
  if (!a.model.empty() && is_gguf(a.model)) {
    w.file = a.model;
    w.gguf = true;
    return w;
  }
  if (a.weights == "bf16" || a.weights == "f16" || a.weights == "f32") {
    if (a.engine == "llamacpp") {
      w.gguf = true;
      w.type = parse_gguf_export_type(a.weights);
    } else {
      w.dtype = a.weights;
    }
  } else {
    w.gguf = true;
    w.type = parse_gguf_export_type(a.weights);
  }
  if (!a.embedding_type.empty()) {
    w.gguf = true;
    w.embedding_override = true;
    w.embedding = a.embedding_type == "q6_k" ? GgmlType::Q6_K : parse_gguf_export_type(a.embedding_type);
  }
  return w;
}

// The llama.cpp CPU build this machine runs: node-llama-cpp loads the ggml-cpu variant with the most features the CPU
// has (libggml-cpu-haswell, -skylakex, -zen4, ...), and a native build compiles for them.
std::string host_repack_build() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "none";
}

Request request_of(const MemoryArgs& a) {
  Request r;
  r.context = a.context;
  r.batch = a.batch;
  r.kv_type = parse_kv_type(a.kv_type);
  r.flash_attn = a.flash_attn != "off";
  r.swa_full = a.swa_full;
  r.images = a.images;
  r.image_tokens = a.image_tokens;
  r.audio_seconds = a.audio_seconds;
  r.precision = a.precision;
  r.prompt_tokens = a.prompt_tokens;
  r.evaluated_tokens = a.evaluated_tokens;
  if (a.threads < 0) fail("--threads", "must be 0 (as the reference would run here) or positive");
  r.threads = a.threads > 0 ? a.threads : omp_get_max_threads();
  if (a.repack != "host" && a.repack != "avx2" && a.repack != "avx512" && a.repack != "none") {
    fail("--repack", "'" + a.repack + "': expected host, avx2, avx512 or none");
  }
  r.repack = a.repack == "host" ? host_repack_build() : a.repack;
  if (r.context <= 0) fail("--context", "must be positive");
  if (r.batch <= 0) fail("--batch", "must be positive");
  if (r.kv_type == GgmlType::I8 && a.engine == "llamacpp") fail("--kv-type", "i8 is not a llama.cpp cache type");
  if (r.kv_type == GgmlType::Q8_0 || r.kv_type == GgmlType::Q4_0) {
    if (!r.flash_attn && a.engine == "llamacpp") fail("--kv-type", "llama.cpp needs flash attention for a quantized V cache");
  }
  return r;
}

// The measured process baseline of an engine (eval/memory/baselines.json), if recorded.
void add_baseline(Breakdown& b, const std::string& engine) {
  const std::string path = baselines_path();
  if (!fs::exists(path)) return;
  const nlohmann::json j = read_json(path);
  if (!j.contains(engine)) return;
  const auto& e = j[engine];
  const std::string src = e.value("source", "");
  // Measured on the 12B (its 262,144-token vocabulary and metadata dominate): a model with another vocabulary has
  // another baseline; --no-baseline leaves it out.
  b.items.push_back({"process baseline: anonymous (measured, 12B vocabulary)", e.at("anon_bytes").get<uint64_t>(), false, true, src});
  b.items.push_back({"process baseline: file-backed (measured)", e.at("file_bytes").get<uint64_t>(), true, true, src});
}

Breakdown breakdown_of(const MemoryArgs& args) {
  const Arch a = arch_of(args);
  const WeightsChoice w = weights_of(args);
  const Request r = request_of(args);
  Breakdown b;
  if (args.engine == "reference") b = reference_breakdown(a, w, r);
  else if (args.engine == "llamacpp") b = llamacpp_breakdown(a, w, r);
  else if (args.engine == "hf") b = hf_breakdown(a, r);
  else fail("--engine", "'" + args.engine + "' is not reference, llamacpp or hf");
  if (!args.no_baseline && args.engine != "hf") add_baseline(b, args.engine);
  return b;
}

std::string gb(uint64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << double(bytes) / 1e9 << " GB";
  return s.str();
}

void print_breakdown(const Arch& a, const Breakdown& b) {
  std::cout << a.name << " — engine " << b.engine << "\n";
  for (const Item& i : b.items) {
    std::cout << "  " << std::left << std::setw(54) << i.name << std::right << std::setw(16) << i.bytes << " B  "
              << std::setw(12) << gb(i.bytes) << (i.file_backed ? "  file" : "  anon") << (i.resident ? "" : " (not resident)")
              << (i.phase.empty() ? "" : "  [" + i.phase + " phase]") << "\n";
  }
  std::cout << "  KV cache by layer type:\n";
  for (const auto& k : b.kv) {
    std::cout << "    " << std::left << std::setw(36) << k.layer_type << std::right << " layers " << std::setw(3) << k.layers
              << "  cells " << std::setw(8) << k.cells << "  " << std::setw(8) << k.bytes_per_cell << " B/cell  " << gb(k.bytes)
              << "\n";
  }
  for (const std::string& p : b.phases) {
    std::cout << "  phase " << std::left << std::setw(8) << p << std::right << ": " << gb(b.phase_bytes(p, false) + b.phase_bytes(p, true))
              << " (anonymous " << gb(b.phase_bytes(p, false)) << ", file-backed " << gb(b.phase_bytes(p, true)) << ")"
              << (p == b.peak_phase() ? "  <- the peak" : "") << "\n";
  }
  std::cout << "  resident: " << gb(b.resident()) << " (anonymous " << gb(b.resident_anon()) << ", file-backed "
            << gb(b.resident_file()) << "); allocated in all " << gb(b.total()) << "\n  assumptions:\n";
  for (const auto& s : b.assumptions) std::cout << "    - " << s << "\n";
}

void add_model_options(CLI::App* cmd, MemoryArgs& a) {
  cmd->add_option("--model", a.model, "checkpoint directory (its config.json) or a .gguf file (its tensor table as it is)");
  cmd->add_option("--config", a.config, "a Hugging Face config.json");
  cmd->add_option("--preset", a.preset, "12b (spec §1), or a family member: e2b, e4b, 26b-a4b, 31b (eval/memory/configs)");
  cmd->add_option("--weights", a.weights, "storage: bf16, f16, f32 (safetensors; GGUF for llamacpp), q8_0, q4_0, q4_k, q6_k (GGUF as export-gguf writes it)");
  cmd->add_option("--embedding-type", a.embedding_type, "GGUF type of the token embedding instead (e.g. q6_k: llama-quantize's choice for a tied embedding)");
  cmd->add_option("--context", a.context, "tokens the KV cache holds (default 4096)");
  cmd->add_option("--batch", a.batch, "llama.cpp n_ubatch (default 512); Hugging Face query tokens per forward");
  cmd->add_option("--kv-type", a.kv_type, "KV cache type for llama.cpp and the ideal cache: f32, f16, bf16, q8_0, q4_0; i8 (int8 without scales) for the ideal cache (default f16)");
  cmd->add_option("--engine", a.engine, "reference, llamacpp or hf (default reference)");
  cmd->add_option("--flash-attn", a.flash_attn, "llama.cpp flash attention: on (default) or off");
  cmd->add_flag("--swa-full", a.swa_full, "llama.cpp --swa-full: SWA layers hold the whole context");
  cmd->add_option("--images", a.images, "images in the prompt");
  cmd->add_option("--image-tokens", a.image_tokens, "soft tokens per image (default 280)");
  cmd->add_option("--audio-seconds", a.audio_seconds, "seconds of audio in the prompt (25 tokens per second)");
  cmd->add_option("--precision", a.precision, "the reference's precision: exact (float64), f32 or bf16");
  cmd->add_option("--prompt-tokens", a.prompt_tokens, "reference: tokens of the one prefill call (default: --context)");
  cmd->add_option("--evaluated-tokens", a.evaluated_tokens, "llama.cpp: tokens evaluated (compute pages touched; default: --batch)");
  cmd->add_option("--threads", a.threads, "reference: threads of the run (attention keeps one head group's scores per thread; default 0: as the reference would run here, OMP_NUM_THREADS or every core)");
  cmd->add_option("--repack", a.repack, "llama.cpp CPU build, for its CPU_REPACK copy: host (default: the best this CPU runs, as node-llama-cpp's CPU variants and a native build choose), avx2 (Q4_0, Q4_K, IQ4_NL, MXFP4), avx512 (built with AVX-512F: Q2_K too) or none (--no-repack)");
  cmd->add_flag("--no-baseline", a.no_baseline, "leave out the measured process baseline (eval/memory/baselines.json)");
  cmd->add_flag("--json", a.json, "machine-readable output");
}

// --- measure ------------------------------------------------------------------------------------------------------

struct MeasureArgs {
  std::string engine = "llamacpp";
  std::string model;
  int64_t context = 4096;
  std::string kv_type = "f16";
  int64_t tokens = 8;
  std::string precision = "exact";
  std::string flash_attn = "on";
  int threads = 0;
  bool baseline = false;
  std::string append;
  bool json = false;
};

// The machine a measurement ran on: its baselines and llama.cpp's CPU backend depend on it.
nlohmann::json machine_json() {
  std::string cpu;
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; cpu.empty() && std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) cpu = line.substr(line.find(':') + 2);
  }
  uint64_t mem_kib = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    if (key == "MemTotal:") {
      meminfo >> mem_kib;
      break;
    }
  }
  __builtin_cpu_init();
  return {{"cpu", cpu}, {"cores", ::sysconf(_SC_NPROCESSORS_ONLN)}, {"memory_bytes", mem_kib * 1024},
          {"avx2", bool(__builtin_cpu_supports("avx2"))}, {"avx512f", bool(__builtin_cpu_supports("avx512f"))}};
}

std::string self_exe() {
  if (const char* p = std::getenv("G4REF_MEMORY_RUN_PROGRAM")) return p;  // another g4ref build to measure
  return this_program();
}

std::string token_list(int64_t n) {
  std::string s = "2";  // <bos>
  for (int64_t i = 1; i < n; ++i) s += "," + std::to_string(1000 + i);
  return s;
}

// llama.cpp's "... buffer size = X MiB" lines as bytes by name (X is printed with two decimals).
nlohmann::json llamacpp_buffers(const nlohmann::json& log) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : log) {
    const std::string s = l.get<std::string>();
    const auto p = s.find("buffer size =");
    if (p == std::string::npos) continue;
    const double mib = std::stod(s.substr(p + 13));
    std::string name = s.substr(0, p);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    out.push_back({{"line", name}, {"mib", mib}, {"bytes_approx", uint64_t(std::llround(mib * 1048576.0))}});
  }
  return out;
}

// The process baseline run that follows a measured run of ENGINE, sampled the same way; WHAT names it in the error.
ProcessPeak run_baseline(const std::string& engine, const std::vector<std::string>& argv, const std::string& cwd,
                         const std::string& what) {
  const ProcessPeak b = run_and_sample(argv, cwd);
  if (b.exit_code != 0) fail(engine, what + " exited with " + std::to_string(b.exit_code) + ": " + b.stderr_tail);
  return b;
}

nlohmann::json run_measure(const MeasureArgs& m) {
  std::vector<std::string> argv;
  std::string cwd;
  std::string model = m.model;
  if (m.engine == "llamacpp") {
    if (!is_gguf(model)) fail("--model", "llama.cpp measures a .gguf file");
    argv = {"node", "alloc.mjs", fs::absolute(model).string(), std::to_string(m.context), m.kv_type, std::to_string(m.tokens),
            "--flash-attn", m.flash_attn};
    if (m.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(m.threads)});
    cwd = adapter_dir();
  } else if (m.engine == "reference") {
    argv = {self_exe(), "run", "--model", fs::absolute(model).string(), "--tokens", token_list(m.tokens), "--max-new-tokens",
            "0", "--precision", m.precision, "--json"};
    if (m.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(m.threads)});
  } else {
    fail("--engine", "measure runs reference or llamacpp, not '" + m.engine + "'");
  }
  const ProcessPeak p = run_and_sample(argv, cwd);
  if (p.exit_code != 0) {
    fail(m.engine, "the measured run exited with " + std::to_string(p.exit_code) + ": " + p.stderr_tail);
  }
  // Recorded without directories: a result names the file it measured, not where it lay.
  std::vector<std::string> shown;
  for (const std::string& a : argv) shown.push_back(!a.empty() && a[0] == '/' ? fs::path(a).filename().string() : a);
  nlohmann::json j = {{"engine", m.engine}, {"model", fs::path(model).filename().string()}, {"context", m.context}, {"kv_type", m.kv_type},
                      {"tokens", m.tokens}, {"precision", m.precision}, {"flash_attn", m.flash_attn},
                      {"peak_anon_bytes", p.anon_bytes}, {"peak_file_bytes", p.file_bytes}, {"peak_rss_bytes", p.rss_bytes},
                      {"vm_hwm_bytes", p.hwm_bytes}, {"seconds", p.seconds}, {"command", shown},
                      {"at_rss_peak", {{"anon_bytes", p.anon_at_rss_peak}, {"file_bytes", p.file_at_rss_peak},
                                       {"seconds", p.rss_peak_seconds}}},
                      {"anon_peak_seconds", p.anon_peak_seconds}, {"file_peak_seconds", p.file_peak_seconds}};
  // The storage format, for comparing with the model: a GGUF's most common 2-D type, else the checkpoint's bf16.
  std::string weights = "bf16";
  if (is_gguf(model)) {
    int best = 0;
    for (const auto& [type, n] : gguf_file_bytes(model).text_types) {
      if (type != "f32" && n > best) best = n, weights = type;
    }
  }
  j["weights"] = weights;
  j["machine"] = machine_json();
  // The reference's threads (the child inherits OMP_NUM_THREADS): the model's attention scratch depends on them.
  if (m.engine == "reference") {
    j["threads"] = m.threads > 0 ? m.threads : omp_get_max_threads();
    // The anonymous baseline of this file (its tokenizer and metadata), measured right after: a 1-token exact run,
    // as eval/memory/baselines.json's was. Its file-backed part (the program and its libraries) stays that file's.
    if (m.tokens > 1 && !m.baseline) {
      std::vector<std::string> one = {self_exe(), "run", "--model", fs::absolute(model).string(), "--tokens", "2",
                                      "--max-new-tokens", "0", "--precision", "exact", "--json"};
      if (m.threads > 0) one.insert(one.end(), {"--threads", std::to_string(m.threads)});
      const ProcessPeak b = run_baseline(m.engine, one, cwd, "the 1-token baseline run");
      j["baseline"] = {{"anon_bytes", b.anon_bytes}, {"how", "a 1-token exact run on the same file, right after the run"}};
    }
  }
  if (m.engine == "llamacpp") {
    try {
      const auto out = nlohmann::json::parse(p.stdout_text.substr(p.stdout_text.find('{')));
      j["llamacpp_log"] = out["log"];
      j["vocab_only"] = out.value("vocab_only", false);
      j["llamacpp_buffers"] = llamacpp_buffers(out["log"]);
    } catch (const std::exception& e) {
      fail("alloc.mjs", std::string("unexpected output: ") + e.what());
    }
    // The process baseline of this file on this machine, measured right after: it differs between machines (the
    // runtime's libraries and CPU backend), so each row carries its own for the comparison with the model.
    if (m.context > 0) {
      std::vector<std::string> vocab = {"node", "alloc.mjs", fs::absolute(model).string(), "0", m.kv_type, "0"};
      const ProcessPeak b = run_baseline(m.engine, vocab, cwd, "the vocabulary-only run");
      j["baseline"] = {{"anon_bytes", b.anon_bytes}, {"file_bytes", b.file_bytes},
                       {"how", "a vocabulary-only load of the same GGUF (alloc.mjs N_CTX 0), right after the run"}};
    }
  }
  return j;
}

}  // namespace

void add_memory_command(CLI::App& app) {
  auto args = std::make_shared<MemoryArgs>();
  CLI::App* cmd = app.add_subcommand("memory", "Analytic memory model: weights, KV cache, activations, per engine");
  add_model_options(cmd, *args);
  cmd->require_subcommand(0, 1);

  auto mm = std::make_shared<MeasureArgs>();
  CLI::App* meas = cmd->add_subcommand("measure", "Run an engine and record its peak resident memory (anonymous and file-backed)");
  meas->add_option("--engine", mm->engine, "llamacpp (node-llama-cpp, alloc.mjs) or reference (g4ref run)");
  meas->add_option("--model", mm->model, "a .gguf (llamacpp, reference) or a checkpoint directory (reference)")->required();
  meas->add_option("--context", mm->context, "llama.cpp context size (default 4096; 0: vocabulary only, for --baseline)");
  meas->add_option("--kv-type", mm->kv_type, "llama.cpp KV type: f32, f16, bf16, q8_0, q4_0 (default f16)");
  meas->add_option("--tokens", mm->tokens, "tokens evaluated (llama.cpp) or prompt tokens (reference; default 8)");
  meas->add_option("--precision", mm->precision, "reference precision: exact, f32, bf16");
  meas->add_option("--flash-attn", mm->flash_attn, "llama.cpp flash attention: on, off, auto (default on)");
  meas->add_option("--threads", mm->threads, "threads (0: the engine's default)");
  meas->add_flag("--baseline", mm->baseline, "record the result as the engine's process baseline in eval/memory/baselines.json");
  meas->add_option("--append", mm->append, "append the result as one JSON line to this file");
  meas->add_flag("--json", mm->json, "machine-readable output");
  meas->callback([mm] {
    nlohmann::json j = run_measure(*mm);
    if (mm->baseline) {
      const std::string path = baselines_path();
      nlohmann::json all = fs::exists(path) ? read_json(path) : nlohmann::json::object();
      all[mm->engine] = {{"anon_bytes", j["peak_anon_bytes"]}, {"file_bytes", j["peak_file_bytes"]},
                         {"source", "g4ref memory measure --engine " + mm->engine + " --model " +
                                        fs::path(mm->model).filename().string() +
                                        (mm->engine == "llamacpp" ? " --context " + std::to_string(mm->context) : std::string()) +
                                        " --tokens " + std::to_string(mm->tokens) + " --baseline"}};
      write_file_atomically(path, all.dump(2) + "\n");
    }
    if (!mm->append.empty()) {
      std::ofstream o(mm->append, std::ios::app);
      o << j.dump() << "\n";
      if (!o) fail(mm->append, "cannot append");
    }
    if (mm->json) {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << mm->engine << " " << mm->model << ": peak anonymous " << gb(j["peak_anon_bytes"]) << ", peak file-backed "
                << gb(j["peak_file_bytes"]) << ", peak RSS " << gb(j["peak_rss_bytes"]) << " (VmHWM " << gb(j["vm_hwm_bytes"])
                << "), " << j["seconds"].get<double>() << " s\n";
      if (j.contains("llamacpp_buffers")) {
        for (const auto& b : j["llamacpp_buffers"]) std::cout << "  " << b["line"].get<std::string>() << " = " << b["mib"] << " MiB\n";
      }
    }
  });

  cmd->callback([cmd, args] {
    if (cmd->got_subcommand("measure")) return;
    const Arch a = arch_of(*args);
    const Breakdown b = breakdown_of(*args);
    if (args->json) {
      nlohmann::json j = breakdown_json(b);
      j["model"] = a.name;
      j["source"] = a.source;
      j["parameters"] = parameter_count(a);
      j["active_parameters"] = active_parameter_count(a);
      j["request"] = {{"context", args->context}, {"batch", args->batch}, {"kv_type", args->kv_type},
                      {"weights", args->weights}, {"engine", args->engine}, {"flash_attn", args->flash_attn},
                      {"repack", request_of(*args).repack}, {"images", args->images}, {"image_tokens", args->image_tokens}, {"audio_seconds", args->audio_seconds}};
      WeightsChoice w = weights_of(*args);
      if (!w.file.empty()) j["weights"] = weights_json(gguf_file_bytes(w.file));
      else if (w.gguf) j["weights"] = weights_json(gguf_bytes(a, w.type, w.embedding_override ? &w.embedding : nullptr));
      else j["weights"] = weights_json(safetensors_bytes(a, w.dtype == "f32" ? 4 : 2, w.dtype));
      j["kv_ideal"] = nlohmann::json::array();
      for (const auto& k : kv_ideal(a, args->context, parse_kv_type(args->kv_type), true)) {
        j["kv_ideal"].push_back({{"layer_type", k.layer_type}, {"layers", k.layers}, {"cells", k.cells}, {"bytes", k.bytes}});
      }
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "parameters " << parameter_count(a) << " (active per token " << active_parameter_count(a) << ")\n";
      print_breakdown(a, b);
      uint64_t ideal = 0;
      for (const auto& k : kv_ideal(a, args->context, parse_kv_type(args->kv_type), true)) ideal += k.bytes;
      std::cout << "  ideal KV cache (" << args->kv_type << ", sliding = window, K=V stored once): " << gb(ideal) << "\n";
    }
  });
}

}  // namespace g4ref
