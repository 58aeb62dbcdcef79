// Trace files: the named intermediate tensors of one forward pass (DESIGN "Trace names").
//
// g4ref writes traces as safetensors files: the header maps each name to its dtype, shape and byte range,
// and "__metadata__" records what was run (config hash, precision, prompt tokens, g4ref version) plus the
// order in which the tensors were produced. The same reader also opens the dumps other implementations
// write, so that a comparison sees one shape of data whatever produced it:
//   *.safetensors   any safetensors file (F64, F32, F16, BF16)
//   *.npy / *.npz   numpy arrays (little-endian f2/f4/f8, i4/i8; npz members must be stored, not deflated)
//   raw float32     llama.cpp `llama-debug --save-logits` / model-conversion `logits.cpp` `.bin`: no header,
//                   the logits of the last prompt token; token ids from the sibling `-tokens.bin` when present
//   MTMD embeddings llama.cpp `MTMD_DEBUG_EMBEDDINGS=<path>`: int32 n_tokens, int32 n_embd, float32 data
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "model/tracer.h"

namespace g4ref {

// Metadata keys starting with this name the options a trace was computed with (--window, --embed-scale,
// --image-attention, media options); compare refuses two traces whose option entries differ.
inline constexpr const char* kTraceOptionPrefix = "option.";

// What a trace was computed from. Two traces whose tokens or config hashes differ must never be compared.
struct TraceMeta {
  std::string config_hash;
  std::string precision;      // "exact", "f32", "bf16", or another implementation's own word
  std::string g4ref_version;
  std::string model;          // free text: checkpoint directory name, GGUF file, …
  std::vector<int> tokens;    // the prompt; empty when unknown
  std::map<std::string, std::string> extra;

  bool operator==(const TraceMeta&) const = default;
};

// Records the tensors a forward pass hands it into a safetensors trace file at PATH.
//
// Memory stays flat however large the trace: each record() appends the tensor's bytes to a temporary data
// file at once and keeps only its header entry. finish() writes PATH.partial (length, JSON header, then the
// data copied over in chunks) and renames it to PATH, so a trace is either complete or absent. A writer
// destroyed before finish() removes its temporary files.
//
// Only the first record of a name is kept: a decode step after the prefill reaches the same taps again, and
// those repeats are counted in the metadata ("repeats_ignored") instead of being stored.
class TraceWriter : public Tracer {
 public:
  // FILTER_REGEX selects names with std::regex_search (ECMAScript); empty records everything.
  TraceWriter(std::string path, TraceMeta meta, const std::string& filter_regex = "");
  ~TraceWriter() override;
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  bool wants(const std::string& name) const override;
  // Stored as F64 (the values stay exact) …
  void record(const std::string& name, const std::vector<int64_t>& shape, const double* data) override;
  // … and as F32: the precision they were computed in.
  void record(const std::string& name, const std::vector<int64_t>& shape, const float* data) override;

  void finish();

  size_t size() const { return entries_.size(); }              // tensors recorded so far
  uint64_t bytes_recorded() const { return data_bytes_; }       // bytes already in the temporary data file
  const std::string& path() const { return path_; }
  const std::string& data_path() const { return data_path_; }  // the temporary data file

 private:
  struct Entry {
    std::string name;
    std::string dtype;  // "F64" or "F32"
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;
  };
  void append(const std::string& name, const std::vector<int64_t>& shape, const void* data, size_t elem_size,
              const char* dtype);
  void discard() noexcept;

  std::string path_, data_path_;
  TraceMeta meta_;
  std::optional<std::regex> filter_;
  std::FILE* data_ = nullptr;
  uint64_t data_bytes_ = 0;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;          // name -> position in entries_
  std::map<std::string, int64_t> repeats_;       // name -> records ignored after the first
  bool finished_ = false;
};

// One tensor of a trace, converted to double.
struct TraceTensor {
  std::vector<int64_t> shape;
  std::vector<double> values;  // row-major
  int64_t numel() const { return static_cast<int64_t>(values.size()); }
};

enum class TraceFormat {
  Auto,            // from the extension and the first bytes (see Trace::open)
  Safetensors,
  Npy,
  Npz,
  RawF32,          // llama.cpp logits .bin
  MtmdEmbeddings,  // llama.cpp MTMD_DEBUG_EMBEDDINGS
};

struct TraceOpenOptions {
  TraceFormat format = TraceFormat::Auto;
  std::string name;        // tensor name for single-tensor formats (default: npy stem, "logits", "embeddings")
  int64_t row_width = 0;   // RawF32 only: rows of this many values (e.g. the vocabulary) instead of one row
};

// A trace opened for reading. The file stays memory-mapped; tensor() converts one tensor at a time, so a
// trace larger than memory can still be compared tensor by tensor. Copies share the mapping.
class Trace {
 public:
  // Auto format: .safetensors, .npy and .npz by extension or magic bytes; any other file is an
  // MTMD_DEBUG_EMBEDDINGS dump when its first two int32 are positive and their product times 4 plus 8 is
  // exactly the file size, otherwise raw float32 logits. Name the format to remove the guess.
  static Trace open(const std::string& path, const TraceOpenOptions& options = {});

  const std::vector<std::string>& names() const { return names_; }  // data-flow (recording) order
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  const std::vector<int64_t>& shape(const std::string& name) const;
  TraceTensor tensor(const std::string& name) const;

  const TraceMeta& meta() const { return meta_; }
  const std::map<std::string, int64_t>& repeats_ignored() const { return repeats_ignored_; }
  const std::string& path() const { return path_; }
  TraceFormat format() const { return format_; }

  // Element types a trace can hold (wider than safetensors' DType: numpy dumps may carry integer ids).
  enum class Elem { F64, F32, F16, BF16, I64, I32 };
  struct Entry {
    std::string name;
    Elem elem = Elem::F32;
    std::vector<int64_t> shape;
    const std::byte* data = nullptr;  // into the mapping
    uint64_t nbytes = 0;
  };

 private:
  Trace() = default;
  void add(Entry e);
  const Entry& entry(const std::string& name) const;

  std::string path_;
  TraceFormat format_ = TraceFormat::Auto;
  std::shared_ptr<const void> owner_;  // keeps the mapping alive
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  std::vector<std::string> names_;
  TraceMeta meta_;
  std::map<std::string, int64_t> repeats_ignored_;

  friend struct TraceLoader;
};

std::string trace_format_name(TraceFormat f);

}  // namespace g4ref
