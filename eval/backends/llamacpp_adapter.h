// The llama.cpp adapter (eval/adapters/llamacpp): where its pieces are, and how this project drives them.
//   * node-llama-cpp 3.22.1's prebuilt CPU binaries: text logits (logits.mjs) and llama_model_quantize (libllama);
//   * @fugood/node-llama-linux-x64 1.7.15's llama.cpp library with mtmd, driven by the g4ref-llamacpp program:
//     media embeddings, whole prompts with media, greedy generation.
// Every call is a child process, so a crash inside llama.cpp is an error here, never a crash of g4ref.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "numerics/eigen_core.h"
#include "prompt/request.h"

namespace g4ref {

std::string llamacpp_adapter_dir();   // G4REF_LLAMACPP_ADAPTER, else the source tree's eval/adapters/llamacpp
std::string llamacpp_mtmd_library();  // G4REF_LLAMACPP_MTMD_LIB, else @fugood/node-llama-linux-x64's index.node
std::string llamacpp_llama_library(); // G4REF_LLAMACPP_LIB, else node-llama-cpp's libllama
std::string llamacpp_program();       // G4REF_LLAMACPP_PROGRAM, else the built g4ref-llamacpp

std::string shell_quote(const std::string& s);

// Runs CMD and returns its standard output; a non-zero exit fails naming WHAT, with HINT.
std::string run_child(const std::string& cmd, const std::string& what, const std::string& hint);

// A directory for one check's files: KEEP when given (and kept), else a fresh temporary one removed when this
// goes, however the check ends.
struct WorkDir {
  std::filesystem::path path;
  bool keep;
  WorkDir(const std::string& keep_dir, const std::string& tag);
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir();
};

// node-llama-cpp's logits dump (logits.mjs): int32 positions, int32 vocabulary, float32 rows.
Eigen::MatrixXd read_node_logits(const std::string& path);

// The resized image back from its patches: each 48×48 block (HWC values u8·(1/255)) at (column, row) of the grid.
std::vector<uint8_t> patches_to_rgb(const MediaInput& m, int side, int& width, int& height);

// One media item written where g4ref-llamacpp reads it (image: RGB bytes at the target size; audio: the frames'
// float32 samples, zero padding included) under STEM; returns its plan line ("i W H FILE" or "a FILE").
std::string write_media_item(const MediaInput& m, int patch_side, const std::string& stem, bool shift_audio = false);

// g4ref-llamacpp logits output: per row, the position and its logits.
std::map<int64_t, Eigen::VectorXd> read_plan_logits(const std::string& path);

}  // namespace g4ref
