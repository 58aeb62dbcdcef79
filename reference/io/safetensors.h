// Reading and writing the safetensors checkpoint format.
//
// Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section, which starts
// at byte 8 + N), plus an optional "__metadata__" object of string -> string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/mapped_file.h"
#include "io/output_file.h"
#include "numerics/dtype.h"

namespace g4ref {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // into the mapping; valid while the owning file is open
  size_t nbytes = 0;
  std::string file;  // path of the file holding it (for error messages)

  int64_t numel() const;  // product of shape (1 for shape [])
};

// One .safetensors file, memory-mapped and fully validated at open: every TensorView it hands out
// lies inside the file, has the byte count its shape and dtype need, and overlaps no other tensor.
class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);

  const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
  const TensorView* find(const std::string& name) const;               // nullptr if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_.path(); }

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}
  void load();  // parses and validates the header; fills tensors_, index_, metadata_

  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// A checkpoint directory: model.safetensors.index.json (sharded: "weight_map" name -> shard file) or,
// without it, model.safetensors; if neither exists but exactly one *.safetensors file is in the
// directory, that one.
class TensorStore {
 public:
  static std::unique_ptr<TensorStore> open_dir(const std::string& dir);

  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const TensorView& get(const std::string& name) const;   // throws naming the directory and the tensor
  std::vector<std::string> names() const;                 // sorted
  size_t size() const { return by_name_.size(); }

 private:
  explicit TensorStore(std::string dir) : dir_(std::move(dir)) {}
  void open_sharded(const std::string& index_path);
  void add_file(std::unique_ptr<SafetensorsFile> file);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> by_name_;  // points into files_, which never move
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

// Streaming writer: the header is fixed up front from the tensor list, then the data of each tensor is
// appended in that order (possibly in several chunks), so a 24 GB file never sits in memory.
// The tensors must be given sorted by name (as Hugging Face files are); the constructor checks this, so
// the order the caller writes in is the order in the file.
// Writes through an OutputFile (io/output_file.h): PATH.partial, renamed to PATH only in finish(); the destructor
// of an unfinished writer removes the partial file, so nothing half-written is ever left under the final name.
class SafetensorsWriter {
 public:
  SafetensorsWriter(const std::string& path, std::vector<TensorSpec> tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  void write(const void* bytes, size_t n);  // next bytes of the data section, in tensor order
  void finish();                            // checks every byte was written, flushes, fsyncs, renames

 private:
  std::string current_tensor() const;  // the tensor the next byte belongs to (for messages)

  std::string path_;
  std::unique_ptr<OutputFile> out_;
  std::vector<TensorSpec> tensors_;
  std::vector<uint64_t> ends_;  // end offset of each tensor in the data section
  uint64_t total_ = 0;
  uint64_t written_ = 0;
  bool finished_ = false;
};

// Convenience for small files (tests): all tensors from memory, in any order.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<TensorSpec, std::vector<std::byte>>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace g4ref
