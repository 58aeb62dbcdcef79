// g4ref trace: one forward pass over the prompt, every named intermediate tensor streamed to a safetensors file
// (float64 in exact mode, float32 otherwise), with the metadata that keeps unlike traces apart.
#include <iostream>

#include "cli/common.h"
#include "cli/prompt_args.h"
#include "forward/session.h"
#include "model/weights.h"
#include "trace/trace_file.h"

namespace g4ref {

namespace {

struct TraceArgs {
  std::string model;
  PromptArgs prompt;
  std::string out;
  std::string filter;
  bool json = false;
  ForwardArgs forward;
};

}  // namespace

TraceSummary record_trace(const Model& model, const std::string& model_dir, const PreparedPrompt& p,
                          const ForwardArgs& forward, const MediaOptions& media, const std::string& path,
                          const std::string& filter) {
  TraceMeta meta;
  meta.config_hash = model.config().hash();
  meta.precision = forward.precision;
  meta.g4ref_version = G4REF_VERSION;
  meta.model = model_dir;
  meta.tokens = p.ids;
  for (const auto& [key, value] : trace_options(forward, media, !p.media.empty())) meta.extra[key] = value;
  TraceWriter writer(path, meta, filter);
  auto session = make_session(model, forward.run_options(), &writer);
  session->forward(p, LogitRows::all);
  const TraceSummary s{writer.size(), writer.bytes_recorded(), meta.config_hash};
  writer.finish();
  return s;
}

std::map<std::string, std::string> trace_options(const ForwardArgs& forward, const MediaOptions& media, bool has_media) {
  std::map<std::string, std::string> o;
  o[std::string(kTraceOptionPrefix) + "embed_scale"] = forward.embed_scale;
  o[std::string(kTraceOptionPrefix) + "window"] = forward.window;
  o[std::string(kTraceOptionPrefix) + "image_attention"] = forward.image_attention;
  if (has_media) {
    o[std::string(kTraceOptionPrefix) + "image_tokens"] = std::to_string(media.image_tokens);
    o[std::string(kTraceOptionPrefix) + "alpha"] = media.alpha == AlphaMode::drop ? "drop" : "composite";
    o[std::string(kTraceOptionPrefix) + "exif_orientation"] = media.orientation == ExifOrientation::apply ? "apply" : "ignore";
    o[std::string(kTraceOptionPrefix) + "max_audio_seconds"] = nlohmann::json(media.max_audio_seconds).dump();
  }
  std::string d;
  for (const auto& x : forward.deviations) d += (d.empty() ? "" : ",") + x;
  o["deviations"] = d;  // recorded, not refused: a deviation stands in for the implementation under test
  return o;
}

namespace {

void run_trace(const TraceArgs& a) {
  auto model = Model::load(a.model, a.prompt.mmproj);
  const PreparedPrompt p = a.prompt.prepare(a.model, model->config());
  const TraceSummary s = record_trace(*model, a.model, p, a.forward, a.prompt.media_options(), a.out, a.filter);
  const size_t tensors = s.tensors;
  const uint64_t bytes = s.bytes;
  if (a.json) {
    std::cout << nlohmann::json{{"out", a.out}, {"tensors", tensors}, {"bytes", bytes}, {"tokens", p.ids},
                                {"precision", a.forward.precision}, {"config_hash", s.config_hash}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "wrote " << tensors << " tensors (" << bytes << " bytes, " << a.forward.precision << ") for "
              << p.ids.size() << " tokens to " << a.out << "\n";
  }
}

}  // namespace

void add_trace_command(CLI::App& app) {
  auto a = std::make_shared<TraceArgs>();
  CLI::App* cmd = app.add_subcommand("trace", "Record every intermediate tensor of one forward pass to a safetensors file");
  cmd->add_option("--model", a->model, "checkpoint directory")->required();
  a->prompt.add_to(*cmd);
  cmd->add_option("--out", a->out, "trace file to write (.safetensors)")->required();
  cmd->add_option("--filter", a->filter, "record only names matching this regular expression (ECMAScript)");
  cmd->add_flag("--json", a->json, "machine-readable output");
  a->forward.add_to(*cmd, false);
  cmd->callback([a, cmd] {
    a->prompt.check(*cmd);
    run_trace(*a);
  });
}

}  // namespace g4ref
