// g4ref export-gguf: a checkpoint's text model as a llama.cpp GGUF file (spec §7.1).
#include <iostream>
#include <map>

#include "cli/common.h"
#include "base/error.h"
#include "io/gguf.h"
#include "convert/gguf_export.h"
#include "convert/mmproj_export.h"
#include "model/gguf_mmproj.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct ExportGgufArgs {
  std::string model;
  std::string out;
  std::string type = "bf16";
  std::string mmproj;
  std::string mmproj_type;
  std::string tokenizer;
  bool json = false;
};

}  // namespace

void add_export_gguf_command(CLI::App& app) {
  auto args = std::make_shared<ExportGgufArgs>();
  CLI::App* cmd = app.add_subcommand("export-gguf", "Write the text model (and with --mmproj the projector) as llama.cpp GGUF files");
  cmd->add_option("--model", args->model, "checkpoint directory")->required();
  cmd->add_option("--out", args->out, "the .gguf file to write")->required();
  cmd->add_option("--type", args->type,
                  "type of the 2-D weights: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k (norms stay f32; rows that are not "
                  "whole blocks fall back: q4_k -> q4_0, q6_k -> q8_0, then f16)");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer.json, tokenizer.model or a directory holding one (default: --model). One with fewer "
                  "pieces than the model's vocabulary fills the rest with unused [PADn] pieces: the 12b synth preset "
                  "has no tokenizer of its own, and a small preset's lends it one")
      ->check(CLI::ExistingPath);
  cmd->add_option("--mmproj", args->mmproj,
                  "also write the vision and audio projector as llama.cpp's mmproj GGUF (clip: gemma4uv + gemma4ua)");
  cmd->add_option("--mmproj-type", args->mmproj_type,
                  "type of the projector's 2-D weights: f32, f16, bf16, q8_0 (default: --type, or f16 for the 4- and "
                  "6-bit types)");
  cmd->add_flag("--json", args->json, "machine-readable summary");
  cmd->callback([args] {
    const GgmlType type = parse_gguf_export_type(args->type);
    const GgmlType mm_type = args->mmproj_type.empty() ? default_mmproj_type(type) : parse_mmproj_type(args->mmproj_type);
    if (!args->mmproj.empty() && args->mmproj == args->out) fail("--mmproj", "must name another file than --out");
    auto model = Model::load(args->model);
    export_text_gguf(*model, args->tokenizer.empty() ? args->model : args->tokenizer, type, args->out);
    if (!args->mmproj.empty()) export_mmproj_gguf(*model, mm_type, args->mmproj);
    auto f = GgufFile::open(args->out);
    nlohmann::json mm = nullptr;
    if (!args->mmproj.empty()) {
      auto m = GgufFile::open(args->mmproj);
      std::map<std::string, int> mm_types;
      for (const GgufTensor& t : m->tensors()) ++mm_types[ggml_type_name(t.type)];
      mm = {{"out", args->mmproj}, {"tensors", m->tensors().size()}, {"metadata_keys", m->metadata().size()},
            {"tensor_types", mm_types}};
    }
    std::map<std::string, int> by_type;
    for (const GgufTensor& t : f->tensors()) ++by_type[ggml_type_name(t.type)];
    if (args->json) {
      nlohmann::json j = {{"out", args->out}, {"type", args->type}, {"tensors", f->tensors().size()},
                          {"metadata_keys", f->metadata().size()}, {"tensor_types", by_type}};
      if (!mm.is_null()) j["mmproj"] = mm;
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "wrote " << args->out << ": " << f->tensors().size() << " tensors (";
      bool first = true;
      for (const auto& [name, n] : by_type) {
        std::cout << (first ? "" : ", ") << n << " " << name;
        first = false;
      }
      std::cout << "), " << f->metadata().size() << " metadata keys\n";
      if (!mm.is_null()) {
        std::cout << "wrote " << args->mmproj << ": " << mm["tensors"].get<size_t>() << " tensors, "
                  << mm["metadata_keys"].get<size_t>() << " metadata keys (projector types gemma4uv, gemma4ua)\n";
      }
    }
  });
}

}  // namespace g4ref
