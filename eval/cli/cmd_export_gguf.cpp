// g4ref export-gguf: a checkpoint's text model as a llama.cpp GGUF file (spec §7.1).
#include <iostream>
#include <map>

#include "cli/common.h"
#include "io/error.h"
#include "io/gguf.h"
#include "model/gguf_export.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct ExportGgufArgs {
  std::string model;
  std::string out;
  std::string type = "bf16";
  std::string mmproj;
  bool json = false;
};

}  // namespace

void add_export_gguf_command(CLI::App& app) {
  auto args = std::make_shared<ExportGgufArgs>();
  CLI::App* cmd = app.add_subcommand("export-gguf", "Write the text model as a llama.cpp GGUF file (architecture gemma4)");
  cmd->add_option("--model", args->model, "checkpoint directory")->required();
  cmd->add_option("--out", args->out, "the .gguf file to write")->required();
  cmd->add_option("--type", args->type,
                  "type of the 2-D weights: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k (norms stay f32; rows that are not "
                  "whole blocks fall back: q4_k -> q4_0, q6_k -> q8_0, then f16)");
  cmd->add_option("--mmproj", args->mmproj, "also write the multimodal projector (not implemented yet)");
  cmd->add_flag("--json", args->json, "machine-readable summary");
  cmd->callback([args] {
    if (!args->mmproj.empty()) fail("--mmproj", "exporting the multimodal projector is not implemented yet");
    const GgmlType type = parse_gguf_export_type(args->type);
    auto model = Model::load(args->model);
    export_text_gguf(*model, args->model, type, args->out);
    auto f = GgufFile::open(args->out);
    std::map<std::string, int> by_type;
    for (const GgufTensor& t : f->tensors()) ++by_type[ggml_type_name(t.type)];
    if (args->json) {
      nlohmann::json j = {{"out", args->out}, {"type", args->type}, {"tensors", f->tensors().size()},
                          {"metadata_keys", f->metadata().size()}, {"tensor_types", by_type}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "wrote " << args->out << ": " << f->tensors().size() << " tensors (";
      bool first = true;
      for (const auto& [name, n] : by_type) {
        std::cout << (first ? "" : ", ") << n << " " << name;
        first = false;
      }
      std::cout << "), " << f->metadata().size() << " metadata keys\n";
    }
  });
}

}  // namespace g4ref
