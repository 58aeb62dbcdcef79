// g4ref compare: a candidate's tensors against the ground truth, tensor by tensor in data-flow order, judged
// against the expected error of its precision; g4ref envelope: measures that expected error.
#include <filesystem>
#include <iostream>

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "compare/compare.h"
#include "base/error.h"
#include "forward/session.h"
#include "model/weights.h"
#include "trace/trace_file.h"

namespace g4ref {

namespace {

struct CompareArgs {
  std::string golden, candidate;
  std::string map = "g4ref";
  std::string envelope;
  std::string format = "auto";
  std::string name;
  int64_t row_width = 0;
  double k = 4;
  double tol_nmse = 1e-6;
  double max_kl = 0, min_top1 = 0;
  std::string filter;
  bool json = false;
};

MapKind parse_map(const std::string& s) {
  if (s == "hf") return MapKind::Hf;
  if (s == "llamacpp") return MapKind::LlamaCpp;
  return MapKind::G4ref;
}

TraceFormat parse_format(const std::string& s) {
  if (s == "safetensors") return TraceFormat::Safetensors;
  if (s == "npy") return TraceFormat::Npy;
  if (s == "npz") return TraceFormat::Npz;
  if (s == "raw-f32") return TraceFormat::RawF32;
  if (s == "mtmd") return TraceFormat::MtmdEmbeddings;
  return TraceFormat::Auto;
}

void compare(const CompareArgs& a) {
  const Trace golden = Trace::open(a.golden);
  TraceOpenOptions co;
  co.format = parse_format(a.format);
  co.name = a.name;
  co.row_width = a.row_width;
  const Trace candidate = Trace::open(a.candidate, co);
  CompareOptions o;
  o.names = parse_map(a.map);
  o.k = a.k;
  o.tol_nmse = a.tol_nmse;
  o.max_kl = a.max_kl;
  o.min_top1 = a.min_top1;
  o.filter = a.filter;
  if (!a.envelope.empty()) o.envelope = load_envelope(a.envelope);
  const CompareReport r = compare_traces(golden, candidate, o);
  if (a.json) std::cout << report_json(r).dump(2) << "\n";
  else std::cout << report_table(r);
  if (!r.pass) exit_code() = 1;
}

struct EnvelopeArgs {
  std::string model;
  PromptArgs prompt;
  std::string out;
  std::string filter;
  bool json = false;
  ForwardArgs forward;
};

void envelope(const EnvelopeArgs& a) {
  if (a.forward.precision == "exact") fail("--precision", "the envelope is the error of f32 or bf16 against exact");
  auto model = Model::load(a.model, a.prompt.mmproj);
  const PreparedPrompt p = a.prompt.prepare(a.model, model->config());
  auto trace_to = [&](const std::string& path, const std::string& precision) {
    ForwardArgs f = a.forward;
    f.precision = precision;
    record_trace(*model, a.model, p, f, a.prompt.media_options(), path, a.filter);
  };
  // Both traces are streamed to disk beside the output, so a 12B envelope never holds a trace in memory.
  const std::string exact_path = a.out + ".exact.partial.safetensors";
  const std::string emu_path = a.out + "." + a.forward.precision + ".partial.safetensors";
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      for (const auto& p : paths) std::filesystem::remove(p);
    }
  } cleanup{{exact_path, emu_path}};
  trace_to(exact_path, "exact");
  trace_to(emu_path, a.forward.precision);
  CompareOptions o;
  o.tol_nmse = std::numeric_limits<double>::infinity();  // measuring, not judging
  const CompareReport r = compare_traces(Trace::open(exact_path), Trace::open(emu_path), o);
  const std::string description = a.forward.precision + " vs exact on " + a.model + ", " +
                                  std::to_string(p.ids.size()) + " tokens";
  const Envelope e = envelope_from_report(r, description);
  save_envelope(a.out, e);
  if (a.json) {
    std::cout << nlohmann::json{{"out", a.out}, {"tensors", e.tensors.size()}, {"description", description}}.dump(2)
              << "\n";
  } else {
    std::cout << "wrote the " << a.forward.precision << " envelope of " << e.tensors.size() << " tensors to " << a.out
              << " (" << description << ")\n";
  }
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare a candidate trace with a golden one; exits 1 when the verdict fails");
  cmd->add_option("golden", a->golden, "golden trace (g4ref trace output)")->required();
  cmd->add_option("candidate", a->candidate, "candidate: a trace, .npy/.npz, llama.cpp logits .bin or MTMD dump")
      ->required();
  cmd->add_option("--map", a->map, "how the candidate names tensors: g4ref, hf (Hugging Face modules and "
                                   "hidden_states), llamacpp (graph callback names)")
      ->check(CLI::IsMember({"g4ref", "hf", "llamacpp"}))
      ->capture_default_str();
  cmd->add_option("--envelope", a->envelope, "judge against this expected-error envelope (g4ref envelope output)");
  cmd->add_option("--k", a->k, "with --envelope: fail where the error exceeds k times the envelope (plus a floor)")
      ->check(finite_in(0))
      ->capture_default_str();
  cmd->add_option("--tol-nmse", a->tol_nmse, "without an envelope: fail above this NMSE")
      ->check(finite_in(0))
      ->capture_default_str();
  cmd->add_option("--max-kl", a->max_kl, "fail where a logits row's KL(golden||candidate) exceeds this (0: off)")
      ->check(finite_in(0));
  cmd->add_option("--min-top1", a->min_top1, "fail where the logits' top-1 agreement is below this fraction")
      ->check(finite_in(0, 1));
  cmd->add_option("--filter", a->filter, "compare only g4ref names matching this regular expression");
  cmd->add_option("--candidate-format", a->format, "auto, safetensors, npy, npz, raw-f32 (llama.cpp logits .bin), mtmd")
      ->check(CLI::IsMember({"auto", "safetensors", "npy", "npz", "raw-f32", "mtmd"}))
      ->capture_default_str();
  cmd->add_option("--name", a->name, "tensor name for single-tensor candidate formats (default: logits/embeddings)");
  cmd->add_option("--row-width", a->row_width, "raw-f32: values per row (e.g. the vocabulary size)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "machine-readable report");
  cmd->callback([a] { compare(*a); });
}

void add_envelope_command(CLI::App& app) {
  auto a = std::make_shared<EnvelopeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "envelope", "Measure the expected error of an emulation mode (f32, bf16) against exact, per tensor");
  cmd->add_option("--model", a->model, "checkpoint directory")->required();
  a->prompt.add_to(*cmd);
  cmd->add_option("--out", a->out, "envelope file to write (JSON)")->required();
  cmd->add_option("--filter", a->filter, "only names matching this regular expression");
  cmd->add_flag("--json", a->json, "machine-readable output");
  a->forward.add_to(*cmd, false);
  cmd->callback([a, cmd] {
    a->prompt.check(*cmd);
    envelope(*a);
  });
}

}  // namespace g4ref
