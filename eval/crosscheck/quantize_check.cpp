#include "crosscheck/quantize_check.h"

#include <cstring>

#include "backends/llamacpp_adapter.h"
#include "base/error.h"
#include "convert/gguf_export.h"
#include "io/gguf.h"
#include "model/weights.h"

namespace g4ref {

nlohmann::json check_quantizer(const std::string& model_dir, const std::string& type_name, const std::string& keep_dir) {
  const GgmlType type = parse_gguf_export_type(type_name);
  auto source = Model::load(model_dir);
  const WorkDir work(keep_dir, "g4ref_quantize_");
  const std::string f32 = (work.path / "f32.gguf").string(), theirs = (work.path / "llamacpp.gguf").string(),
                    ours = (work.path / "g4ref.gguf").string();
  export_text_gguf(*source, model_dir, GgmlType::F32, f32);
  run_child(shell_quote(llamacpp_program()) + " " + shell_quote(llamacpp_llama_library()) + " quantize " + shell_quote(f32) +
                " " + shell_quote(theirs) + " " + std::to_string(gguf_file_type(type)),
            "g4ref-llamacpp quantize", "is node-llama-cpp installed in " + llamacpp_adapter_dir() + " (setup.sh)?");
  export_text_gguf(*source, model_dir, type, ours);
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
  return {{"model", model_dir}, {"type", type_name}, {"identical", identical},
          {"identical_in_requested_type", identical_requested}, {"differing", differing},
          {"different_type", other_type}, {"tensors", tensors}, {"verdict", pass ? "PASS" : "FAIL"}};
}

}  // namespace g4ref
