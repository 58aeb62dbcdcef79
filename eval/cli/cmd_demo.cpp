// g4ref demo: the main job on the embedded default — a walk through what g4ref is for, on the tiny synthetic
// checkpoint (made on first use) with a bundled image and spoken clip:
//   1. the checkpoint;
//   2. a chat prompt in text with the image and the clip, rendered through the chat template (spec §5), its
//      per-stage summary and the generated text;
//   3. the llama.cpp cross-check of that prompt (text logits, image and audio embeddings) with its verdict;
//   4. a trace, an envelope and a compare that passes; a deliberately wrong variant (spec §8) that fails, naming its
//      first tensor;
//   5. a few samples of a text, an image and an audio benchmark through the harness, with the report;
//   6. the memory model's answer for the real 12B, and the claim it settles;
//   7. the commands that do each step with a real checkpoint.
// Steps 3-6 run this same program's commands as child processes, exactly as a user would type them (each command
// line is shown), their JSON read back; each child's standard error goes to a log file in the work folder.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "cli/common.h"
#include "cli/prompt_args.h"
#include "cli/stage_stats.h"
#include "convert/synth.h"
#include "forward/generate.h"
#include "forward/session.h"
#include "harness/slurm.h"
#include "model/weights.h"

namespace g4ref {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct DemoArgs {
  std::string model_dir;
  std::string out;
  int max_new_tokens = 8;
  int threads = 0;
  bool quick = false;
  bool json_out = false;
};

// The bundled media of the demo (datasets/make_bundled_media.py writes them deterministically): a rendered
// document page from the DocVQA-layout set and a spoken English sentence (espeak-ng) from the FLEURS-layout set.
const char* kImage = "datasets/bundled/docvqa/documents/fkxb0412_3.png";
const char* kAudio = "datasets/bundled/fleurs/en_us/audio/test/2722470999231616589.wav";
const char* kText = "What does the document say, and what does the speaker say?";
const char* kNote = "The weights are random (a synthetic checkpoint): the generated text, the scores and the tokens carry "
                    "no meaning; every code path is the real model's.";
constexpr int kSteps = 6;

std::string source_path(const char* relative) { return std::string(G4REF_SOURCE_DIR) + "/" + relative; }

// The summary shows the data flow at the granularity of whole layers and embedders.
bool demo_stage(const std::string& name) {
  auto ends_with = [&](const char* s) {
    const size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  const bool layer_out = name.rfind("layers.", 0) == 0 && ends_with(".out");
  const bool media_out = (name.rfind("image.", 0) == 0 || name.rfind("audio.", 0) == 0) && ends_with(".out");
  return layer_out || media_out || name == "embed.out" || name == "final_norm" || name == "logits";
}

// Progress on a terminal: what runs now and how long each step took. With --json it goes to standard error, so
// the document on standard output stays one JSON value.
class Progress {
 public:
  explicit Progress(bool json_out) : out_(json_out ? std::cerr : std::cout), show_(!json_out || ::isatty(2)) {}
  std::ostream& out() { return out_; }
  bool shown() const { return show_; }
  void step(int k, const std::string& title) {
    t_ = std::chrono::steady_clock::now();
    if (show_) out_ << "\n[" << k << "/" << kSteps << "] " << title << "\n" << std::flush;
  }
  void line(const std::string& s) {
    if (show_) out_ << "  " << s << "\n" << std::flush;
  }
  double done() {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_).count();
    if (show_) out_ << "  (" << std::fixed << std::setprecision(1) << s << " s)\n" << std::defaultfloat << std::flush;
    return s;
  }

 private:
  std::ostream& out_;
  bool show_;
  std::chrono::steady_clock::time_point t_;
};

struct Child {
  int rc = 0;
  std::string out;  // standard output
  std::string command;
  std::string log;  // where its standard error went
};

// Runs this program with ARGS; standard output is captured, standard error goes to LOG.
Child run_self(const std::vector<std::string>& args, const fs::path& log) {
  Child c;
  c.command = "g4ref";
  for (const std::string& a : args) c.command += " " + shell_word(a);
  c.log = log.string();
  std::vector<std::string> argv{this_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  c.rc = run_capturing(argv, &c.out, c.log);
  return c;
}

std::string last_lines(const std::string& path, int n) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string s;
  for (size_t i = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0; i < lines.size(); ++i) s += lines[i] + "\n";
  return s;
}

// A child's JSON output; a child that failed unexpectedly, or printed no JSON, fails the demo naming the step, the
// command and the end of its log.
json child_json(const Child& c, const std::string& step, std::initializer_list<int> ok_codes = {0}) {
  bool ok = false;
  for (int code : ok_codes) ok |= c.rc == code;
  json j;
  if (ok) {
    try {
      j = json::parse(c.out);
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok) {
    fail("demo: " + step, "`" + c.command + "` failed (exit " + std::to_string(c.rc) + "); its log " + c.log +
                              " ends:\n" + last_lines(c.log, 12));
  }
  return j;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string sci(double v) {
  std::ostringstream s;
  s << std::scientific << std::setprecision(2) << v;
  return s.str();
}

// The rendered prompt with each run of one soft token shown once with its count, so the terminal shows its shape.
std::string compact_prompt(const std::string& rendered) {
  std::string out;
  size_t i = 0;
  while (i < rendered.size()) {
    bool matched = false;
    for (const std::string tok : {"<|image|>", "<|audio|>"}) {
      if (rendered.compare(i, tok.size(), tok) == 0) {
        size_t n = 0;
        while (rendered.compare(i, tok.size(), tok) == 0) i += tok.size(), ++n;
        out += tok + "×" + std::to_string(n);
        matched = true;
        break;
      }
    }
    if (!matched) out += rendered[i++];
  }
  return out;
}

// Step 1: the embedded default, synthesized on first use.
json step_checkpoint(const DemoArgs& a, const std::string& dir) {
  bool synthesized = false;
  if (!fs::exists(fs::path(dir) / "config.json")) {
    SynthOptions s;
    s.preset = "tiny";
    s.seed = 0;
    s.out_dir = dir;
    s.force = true;
    // The cache home ($G4REF_HOME or ~/.cache/g4ref) is ours to create; synth itself creates only the final
    // directory of its --out.
    if (a.model_dir.empty()) fs::create_directories(default_model_home());
    write_synthetic_checkpoint(s);
    synthesized = true;
  }
  return {{"path", dir}, {"preset", "tiny"}, {"seed", 0}, {"synthesized", synthesized}, {"random_weights", true}};
}

// Step 2: the chat prompt in process, with the per-stage summary of its forward pass.
json step_prompt(const DemoArgs& a, const std::string& dir, Progress& progress) {
  PromptArgs pa;
  pa.prompt = kText;
  pa.images = {source_path(kImage)};
  pa.audio = {source_path(kAudio)};
  auto model = Model::load(dir);
  const ModelConfig& c = model->config();
  const PreparedPrompt p = pa.prepare(dir, c);
  StageStatsTracer stats(&demo_stage);
  RunOptions o;
  o.precision = Precision::exact;
  o.threads = a.threads;
  auto session = make_session(*model, o, &stats);
  const GenerationConfig gen = load_generation_config(dir, c);
  const auto t0 = std::chrono::steady_clock::now();
  const GenerationResult r = generate(*session, p, a.max_new_tokens, SamplingOptions{}, gen);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t image_tokens = 0, audio_tokens = 0;
  for (int id : r.prompt) image_tokens += id == c.image_token_id, audio_tokens += id == c.audio_token_id;
  json stages = json::array();
  bool past_logits = false;
  for (const auto& s : stats.stages()) {
    if (past_logits) break;  // the prompt's forward pass only, not the decode steps
    stages.push_back({{"name", s.name}, {"shape", s.shape}, {"mean", s.mean}, {"rms", s.rms}, {"min", s.min}, {"max", s.max}});
    past_logits = s.name == "logits";
  }
  const std::string text = p.tokenizer ? p.tokenizer->decode(r.generated) : "";
  json j = {{"text", kText},
            {"image", kImage},
            {"audio", kAudio},
            {"rendered_prompt", p.rendered},
            {"prompt_tokens", r.prompt.size()},
            {"image_tokens", image_tokens},
            {"audio_tokens", audio_tokens},
            {"precision", "exact"},
            {"stages", stages},
            {"generated_ids", r.generated},
            {"generated_text", text},
            {"stop_reason", r.stop_reason},
            {"seconds", seconds}};
  progress.line("prompt (chat template, spec §5): " + nlohmann::json(compact_prompt(p.rendered)).dump());
  progress.line(std::to_string(r.prompt.size()) + " prompt tokens: " + std::to_string(image_tokens) +
                " image soft tokens (48×48 patches, spec §3), " + std::to_string(audio_tokens) +
                " audio soft tokens (40 ms frames, spec §4)");
  if (progress.shown()) {
    std::ostream& os = progress.out();
    os << "  per-stage summary of the prompt's forward pass (exact):\n"
       << "    " << std::left << std::setw(16) << "stage" << std::setw(14) << "shape" << std::right << std::setw(11) << "mean"
       << std::setw(11) << "rms" << std::setw(11) << "min" << std::setw(11) << "max" << "\n";
    for (const auto& s : stats.stages()) {
      os << "    " << std::left << std::setw(16) << s.name << std::setw(14) << shape_string(s.shape) << std::right
         << std::fixed << std::setprecision(4) << std::setw(11) << s.mean << std::setw(11) << s.rms << std::setw(11)
         << s.min << std::setw(11) << s.max << "\n"
         << std::defaultfloat;
      if (s.name == "logits") break;
    }
  }
  progress.line("generated text (greedy, " + std::to_string(r.generated.size()) + " tokens): " + nlohmann::json(text).dump());
  return j;
}

std::vector<std::string> prompt_args(const std::string& dir) {
  return {"--model", dir, "--prompt", kText, "--image", source_path(kImage), "--audio", source_path(kAudio)};
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Step 3: llama.cpp on the same weights and the same prompt.
json step_crosscheck(const std::string& dir, const fs::path& work, Progress& progress) {
  // The prebuilt llama.cpp makes an image block bidirectional on full layers too (before its PR #28335): the
  // reference is given the same mask, which is what such a build computes (README, crosscheck).
  const std::vector<std::string> args =
      cat(cat({"crosscheck", "llamacpp"}, prompt_args(dir)), {"--image-attention", "all", "--json"});
  const Child c = run_self(args, work / "crosscheck.log");
  progress.line("$ " + c.command);
  const json r = child_json(c, "llama.cpp cross-check", {0, 1});
  json j = {{"command", c.command}, {"verdict", r.value("verdict", "")}, {"result", r}};
  if (r.contains("logits") && r["logits"].contains("vs_f32_llamacpp_scale")) {
    const json& l = r["logits"];
    const json& v = l["vs_f32_llamacpp_scale"];
    progress.line("text logits at " + std::to_string(l["positions"].size()) + " positions against the reference in f32: worst NMSE " +
                  sci(v.value("worst_nmse", 0.0)) + " (bound " + sci(l.value("max_nmse", 0.0)) + "), worst KL " +
                  sci(v.value("worst_kl", 0.0)) + ", top-1 agreement " + fixed(v.value("top1_agreement", 0.0), 3) + ": " +
                  l.value("verdict", ""));
  }
  for (const json& m : r.value("media", json::array())) {
    progress.line(m.value("kind", "") + " " + std::to_string(m.value("index", 0)) + ": " +
                  std::to_string(m.value("llamacpp_tokens", 0)) + " tokens in llama.cpp, " +
                  std::to_string(m.value("tokens", 0)) + " in the reference; embeddings NMSE " +
                  sci(m.value("nmse_vs_f32", 0.0)) + " against f32, " + sci(m.value("nmse_vs_exact", 0.0)) +
                  " against exact: " + m.value("verdict", ""));
  }
  progress.line("verdict: " + j["verdict"].get<std::string>() + " (thresholds by weight and projector type, measured)");
  return j;
}

// Step 4: trace, envelope, compare; then a wrong variant.
json step_trace(const std::string& dir, const fs::path& work, Progress& progress) {
  const std::vector<std::string> prompt = prompt_args(dir);
  const std::string golden = (work / "golden.safetensors").string(), envelope = (work / "envelope_f32.json").string(),
                    good = (work / "candidate_f32.safetensors").string(), bad = (work / "wrong_variant.safetensors").string();
  std::vector<json> commands;
  auto run = [&](const std::vector<std::string>& args, const std::string& name, std::initializer_list<int> ok = {0}) {
    const Child c = run_self(args, work / (name + ".log"));
    progress.line("$ " + c.command);
    commands.push_back(c.command);
    return child_json(c, "trace and compare (" + name + ")", ok);
  };
  run(cat(cat({"trace"}, prompt), {"--out", golden, "--json"}), "trace_exact");
  run(cat(cat({"envelope"}, prompt), {"--precision", "f32", "--out", envelope, "--json"}), "envelope");
  run(cat(cat({"trace"}, prompt), {"--precision", "f32", "--out", good, "--json"}), "trace_f32");
  const json pass = run({"compare", golden, good, "--envelope", envelope, "--json"}, "compare_f32", {0, 1});
  // Spec §8: "RMSNorm is x·w, not x·(1 + w) (Gemma 4 differs from Gemma 1–3)" — the mistake a port of Gemma 3 makes.
  run(cat(cat({"trace"}, prompt), {"--precision", "f32", "--deviation", "norm-one-plus-w", "--out", bad, "--json"}), "trace_wrong");
  const json fail_r = run({"compare", golden, bad, "--envelope", envelope, "--json"}, "compare_wrong", {0, 1});
  auto summary = [](const json& r) {
    json s = {{"pass", r.value("pass", false)}, {"tensors", r.contains("tensors") ? r["tensors"].size() : 0}};
    s["first_failure"] = r.contains("first_failure") ? r["first_failure"] : json(nullptr);
    return s;
  };
  json j = {{"commands", commands},
            {"golden", golden},
            {"envelope", envelope},
            {"candidate_f32", summary(pass)},
            {"wrong_variant", summary(fail_r)}};
  j["wrong_variant"]["deviation"] = "norm-one-plus-w";
  j["wrong_variant"]["spec"] = "§8: RMSNorm is x·w, not x·(1+w)";
  progress.line("f32 candidate against exact, " + std::to_string(j["candidate_f32"]["tensors"].get<size_t>()) +
                " tensors, each within its f32 envelope: " + (pass.value("pass", false) ? "PASS" : "FAIL"));
  const json& ff = fail_r.contains("first_failure") ? fail_r["first_failure"] : json(nullptr);
  std::string first = ff.is_string() ? ff.get<std::string>() : ff.is_object() ? ff.value("name", ff.dump()) : "none";
  progress.line(std::string("the same candidate with RMSNorm x·(1+w) (spec §8): ") + (fail_r.value("pass", false) ? "PASS" : "FAIL") +
                ", first failing tensor " + first);
  return j;
}

// Step 5: a few samples of a text, an image and an audio benchmark on the bundled synthetic sets.
json step_benchmarks(const std::string& dir, const fs::path& work, Progress& progress) {
  json runs = json::array();
  std::vector<std::string> dirs;
  for (const char* task : {"mmlu_pro", "docvqa", "fleurs"}) {
    const std::string out = (work / "eval" / task).string();
    const Child c = run_self({"eval", "run", "--task", task, "--backend", "reference", "--model", dir, "--limit", "2",
                              "--max-new-tokens", "8", "--precision", "f32", "--quiet", "--json", "--out", out},
                             work / (std::string("eval_") + task + ".log"));
    progress.line("$ " + c.command);
    const json r = child_json(c, std::string("benchmark ") + task);
    runs.push_back({{"task", task}, {"command", c.command}, {"out", out}, {"result", r}});
    if (r.contains("results") && r["results"]["tasks"].contains(task)) {
      const json& t = r["results"]["tasks"][task];
      progress.line(std::string("  ") + task + ": " + t.value("metric", "") + " " + fixed(t.value("mean", 0.0), 3) + " over " +
                    std::to_string(t.value("n", 0)) + " samples (random weights: meaningless)");
    }
    dirs.push_back(out);
  }
  const std::string report = (work / "report").string();
  std::vector<std::string> args = {"eval", "report"};
  args.insert(args.end(), dirs.begin(), dirs.end());
  args.insert(args.end(), {"--out", report, "--title", "g4ref demo (tiny synthetic checkpoint: scores mean nothing)"});
  const Child c = run_self(args, work / "eval_report.log");
  progress.line("$ " + c.command);
  if (c.rc != 0) fail("demo: benchmark report", "`" + c.command + "` failed; its log " + c.log + " ends:\n" + last_lines(c.log, 12));
  json j = {{"runs", runs}, {"report", report + "/README.md"}, {"report_command", c.command},
            {"note", "random weights: these scores carry no information about any model"}};
  progress.line("report: " + report + "/README.md (scores of random weights: meaningless; the pipeline is real)");
  return j;
}

// Step 6: the memory model for the real 12B, and the claim "runs locally with 16 GB" (reports/memory.md).
json step_memory(const fs::path& work, Progress& progress) {
  const Child q = run_self({"memory", "--preset", "12b", "--weights", "q4_0", "--context", "32768", "--kv-type", "q8_0",
                            "--engine", "llamacpp", "--json"},
                           work / "memory_q4_0.log");
  progress.line("$ " + q.command);
  const json jq = child_json(q, "memory (Q4_0, llama.cpp)");
  const Child b = run_self({"memory", "--preset", "12b", "--weights", "bf16", "--context", "4096", "--engine", "hf", "--json"},
                           work / "memory_bf16.log");
  progress.line("$ " + b.command);
  const json jb = child_json(b, "memory (bf16, Hugging Face)");
  // The claim of Google's launch: the 12B "runs locally with 16 GB of VRAM or unified memory" (reports/memory.md).
  // 16 GB read as 16·10⁹ bytes, the stricter reading (16 GiB would be 17.18·10⁹).
  constexpr double kBudget = 16e9;
  const double q4 = jq.at("resident_bytes").get<double>(), bf = jb.at("resident_bytes").get<double>();
  const bool q4_fits = q4 <= kBudget, bf_fits = bf <= kBudget;
  const std::string verdict = q4_fits && bf_fits ? "true" : q4_fits ? "true only with quantized weights" : "false";
  progress.line("Q4_0 at 32k tokens (q8_0 cache) on llama.cpp: " + fixed(q4 / 1e9, 3) + " GB resident (" +
                fixed(jq.at("resident_anon_bytes").get<double>() / 1e9, 3) + " GB anonymous, " +
                fixed(jq.at("resident_file_bytes").get<double>() / 1e9, 3) + " GB file-backed pages of the GGUF)");
  progress.line("bf16 at 4k tokens on Hugging Face: " + fixed(bf / 1e9, 3) + " GB (bf16 weights " +
                fixed(jb.at("weights").at("total_bytes").get<double>() / 1e9, 3) + " GB)");
  progress.line("claim \"the 12B runs locally with 16 GB\" (Google, launch): " + verdict +
                " (reports/memory.md has every claim, with measurements)");
  return {{"q4_0_llamacpp_32k", {{"command", q.command}, {"resident_bytes", q4}, {"fits_16gb", q4_fits}, {"result", jq}}},
          {"bf16_hf_4k", {{"command", b.command}, {"resident_bytes", bf}, {"fits_16gb", bf_fits}, {"result", jb}}},
          {"claims", json::array({{{"claim", "the 12B runs locally with 16 GB of VRAM or unified memory (Google, launch)"},
                                   {"budget_bytes", kBudget},
                                   {"verdict", verdict},
                                   {"because", "Q4_0 at 32k on llama.cpp " + fixed(q4 / 1e9, 3) + " GB " +
                                                   (q4_fits ? "<=" : ">") + " 16 GB; bf16 at 4k on Hugging Face " +
                                                   fixed(bf / 1e9, 3) + " GB " + (bf_fits ? "<=" : ">") + " 16 GB"}}})}};
}

json real_checkpoint_commands() {
  return json::array({
      "M=/models/gemma-4-12B-it   # the published checkpoint folder (config.json, model*.safetensors, tokenizer.json)",
      "g4ref run --model $M --prompt 'Describe this.' --image photo.jpg --audio clip.wav",
      "g4ref crosscheck llamacpp --model $M --prompt 'Describe this.' --image photo.jpg --type q8_0",
      "g4ref trace --model $M --prompt 'Hello' --out golden.safetensors && g4ref compare golden.safetensors theirs.npz --map hf",
      "g4ref crosscheck endpoint --url http://127.0.0.1:8080 --model $M --prompt 'Hello' --precision-claim q4_0",
      "g4ref eval run --task mmlu_pro --data /data/mmlu_pro/test.jsonl --backend llamacpp --model $M --think --out runs/mmlu_pro",
      "g4ref memory --model $M --weights q4_0 --context 32768 --engine llamacpp",
  });
}

void demo(const DemoArgs& a) {
  const std::string dir = a.model_dir.empty() ? default_model_home() + "/tiny-seed0" : a.model_dir;
  const fs::path work = a.out.empty() ? fs::path(default_model_home()) / "demo" : fs::path(a.out);
  // The work folder is the demo's own: made here, or one an earlier demo made (it holds the marker file); anything
  // else is refused rather than written into.
  const fs::path marker = work / ".g4ref-demo";
  if (fs::exists(work) && !fs::is_empty(work) && !fs::exists(marker)) {
    fail(work.string(), "exists and was not made by g4ref demo; give another --out (the demo writes traces, logs and "
                        "benchmark runs there)");
  }
  fs::create_directories(work);
  { std::ofstream(marker) << "made by g4ref demo\n"; }
  for (const char* owned : {"eval", "report"}) fs::remove_all(work / owned);  // a fresh run each time

  Progress progress(a.json_out);
  const auto t0 = std::chrono::steady_clock::now();
  if (progress.shown()) {
    progress.out() << "g4ref demo — the reference and its evaluation suite, end to end on the embedded default\n" << kNote << "\n";
  }
  json doc;
  doc["note"] = kNote;
  doc["quick"] = a.quick;
  doc["work_folder"] = work.string();

  progress.step(1, "the checkpoint: tiny synthetic (the 12B's architecture, 6 layers, random bf16 weights)");
  doc["checkpoint"] = step_checkpoint(a, dir);
  progress.line(std::string(doc["checkpoint"]["synthesized"] ? "synthesized at " : "at ") + dir);
  doc["checkpoint"]["seconds"] = progress.done();

  progress.step(2, "a chat prompt with an image and a spoken clip, through the reference in exact mode");
  doc["prompt"] = step_prompt(a, dir, progress);
  progress.done();

  if (a.quick) {
    doc["crosscheck"] = {{"skipped", "--quick"}};
  } else {
    progress.step(3, "llama.cpp on the same weights and prompt: text logits, image and audio embeddings");
    doc["crosscheck"] = step_crosscheck(dir, work, progress);
    doc["crosscheck"]["seconds"] = progress.done();
  }

  progress.step(4, "trace, envelope, compare — then a deliberately wrong variant");
  doc["trace_compare"] = step_trace(dir, work, progress);
  doc["trace_compare"]["seconds"] = progress.done();

  if (a.quick) {
    doc["benchmarks"] = {{"skipped", "--quick"}};
  } else {
    progress.step(5, "benchmarks through the harness: 2 samples each of MMLU-Pro (text), DocVQA (image), FLEURS (audio)");
    doc["benchmarks"] = step_benchmarks(dir, work, progress);
    doc["benchmarks"]["seconds"] = progress.done();
  }

  progress.step(6, "memory of the real 12B, by the memory model (eval/memory)");
  doc["memory"] = step_memory(work, progress);
  doc["memory"]["seconds"] = progress.done();

  // Each verdict must be the one the step stands for: llama.cpp agrees, the correct f32 candidate passes, the wrong
  // variant fails. Anything else is a failure of this program or of the dependency, and the demo says so.
  json problems = json::array();
  if (!a.quick && doc["crosscheck"]["verdict"] != "PASS") problems.push_back("the llama.cpp cross-check did not pass");
  if (doc["trace_compare"]["candidate_f32"]["pass"] != true) problems.push_back("the f32 candidate did not pass compare");
  if (doc["trace_compare"]["wrong_variant"]["pass"] != false || doc["trace_compare"]["wrong_variant"]["first_failure"].is_null())
    problems.push_back("the wrong variant was not caught by compare");
  doc["problems"] = problems;
  doc["real_checkpoint"] = real_checkpoint_commands();
  doc["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!problems.empty()) {
    exit_code() = 1;
    for (const auto& p : problems) std::cerr << "g4ref demo: " << p.get<std::string>() << "\n";
  }
  if (a.json_out) {
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << "\nwith a real checkpoint:\n";
    for (const auto& l : doc["real_checkpoint"]) std::cout << "  " << l.get<std::string>() << "\n";
    std::cout << "\ndone in " << fixed(doc["seconds"].get<double>(), 1) << " s; every file is in " << work.string() << "\n";
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Walk through what g4ref is for on the tiny synthetic checkpoint (made on first use): a chat prompt with an "
      "image and a spoken clip, the llama.cpp cross-check, trace/envelope/compare and a wrong variant, benchmark "
      "samples, the 12B's memory");
  cmd->add_option("--model-dir", a->model_dir,
                  "where the tiny checkpoint lives (default: $G4REF_HOME or ~/.cache/g4ref, /tiny-seed0)");
  cmd->add_option("--out", a->out, "work folder for traces, logs and benchmark runs (default: $G4REF_HOME/demo)");
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate for the chat prompt")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--threads", a->threads, "threads of the in-process run (0: all)")->check(CLI::Range(0, 4096));
  cmd->add_flag("--quick", a->quick, "skip the slow parts (the llama.cpp cross-check and the benchmarks)");
  cmd->add_flag("--json", a->json_out, "one JSON document of every step (progress, on a terminal, to standard error)");
  cmd->callback([a] { demo(*a); });
}

}  // namespace g4ref
