// Reading and writing llama.cpp's GGUF format (versions 2 and 3, little-endian).
//
// Layout: "GGUF", u32 version, u64 tensor count, u64 metadata count; then the metadata, each a
// string key, a u32 value type and the value (strings are u64 length + UTF-8 bytes, arrays are
// u32 element type + u64 count + elements); then one info per tensor: name, u32 n_dims, n_dims × u64
// ne (ggml order: ne[0] is the fastest-varying dimension, the reverse of a PyTorch shape), u32 ggml
// type, u64 offset. The tensor data section starts at the next multiple of `general.alignment`
// (default 32) after the infos; each offset is relative to it and itself a multiple of the alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "io/mapped_file.h"
#include "io/output_file.h"
#include "numerics/quant.h"

namespace g4ref {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type / gguf-py's TokenType).
namespace GgufTokenType {
inline constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;
}

// GGUF metadata value types, with the file's numeric ids.
enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
std::string gguf_value_type_name(GgufValueType t);  // "u8", "string", "array", ...

// One array element (GGUF has no arrays of arrays in practice; ggml refuses them, and so do we).
using GgufScalar = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                                std::string, uint64_t, int64_t, double>;

struct GgufArray {
  GgufValueType type = GgufValueType::U8;  // the element type, declared even when empty
  std::vector<GgufScalar> items;           // every item holds that type

  bool operator==(const GgufArray&) const = default;
};

// A metadata value: one scalar or an array of one scalar type.
using GgufValue = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, uint64_t, int64_t, double, GgufArray>;

GgufValueType gguf_type_of(const GgufValue& v);
GgufValueType gguf_type_of(const GgufScalar& v);

// Builds an array value from typed elements, e.g. gguf_array<int32_t>({8, 8, 1}).
template <typename T>
GgufValue gguf_array(const std::vector<T>& values);

// An integer array element (any integer type, not bool); anything else fails naming WHERE and the array's KEY.
int64_t gguf_scalar_int(const GgufScalar& s, const std::string& where, const std::string& key);

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;           // ggml order; 1 to 4 entries
  const std::byte* data = nullptr;   // into the mapping; valid while the file is open
  size_t nbytes = 0;
  uint64_t offset = 0;               // relative to the data section

  int64_t numel() const;
  // ne reversed: the PyTorch / safetensors shape of the same tensor.
  std::vector<int64_t> torch_shape() const;
};

// One .gguf file, memory-mapped and fully validated at open: every tensor lies inside the file, is
// aligned, has the byte count its type and ne need, and overlaps no other; keys and names are unique.
class GgufFile {
 public:
  static std::unique_ptr<GgufFile> open(const std::string& path);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }  // absolute start of the tensor data section
  const std::string& path() const { return file_.path(); }

  // Metadata in file order, and by key.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;  // nullptr if absent
  const GgufValue& get(const std::string& key) const;   // throws naming the file and the key
  // Typed reads; each throws naming the file, the key, and the expected vs found type.
  std::string get_string(const std::string& key) const;
  uint64_t get_uint(const std::string& key) const;   // any unsigned integer type, or a non-negative signed one
  int64_t get_int(const std::string& key) const;     // any integer type that fits in int64
  double get_float(const std::string& key) const;    // f32 or f64
  bool get_bool(const std::string& key) const;
  const GgufArray& get_array(const std::string& key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }  // in file order
  const GgufTensor* find_tensor(const std::string& name) const;         // nullptr if absent
  const GgufTensor& tensor(const std::string& name) const;              // throws naming the file

  // All values of a tensor as floats (any type dequantize_row handles).
  std::vector<float> dequantize(const GgufTensor& t) const;

 private:
  explicit GgufFile(MappedFile file) : file_(std::move(file)) {}
  void load();

  MappedFile file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::unordered_map<std::string, size_t> meta_index_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Streaming writer. Declare metadata (set) and tensors (add_tensor) first; then write each tensor's
// bytes, in declaration order, with write_tensor_data; finish() pads and commits the OutputFile
// (io/output_file.h): PATH.partial renamed to PATH. A writer destroyed before finish() removes PATH.partial, so
// no half-written file remains. The destination is checked when the writer is made.
class GgufWriter {
 public:
  explicit GgufWriter(std::string path);
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  ~GgufWriter();

  // Adds a key (in order; a repeated key is an error). "general.alignment" (u32, a power of two)
  // also sets the alignment used for the data section.
  void set(const std::string& key, GgufValue value);
  // Declares a tensor; ne in ggml order (ne[0] a multiple of the type's block size).
  void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne);
  // Writes the next declared tensor's bytes (exactly its size; NAME must be the next one declared).
  void write_tensor_data(const std::string& name, const std::byte* data, size_t nbytes);
  // Converts floats to the declared type of NAME (quantize_row) and writes them.
  void write_tensor_floats(const std::string& name, const float* values, int64_t count);
  void finish();

  const std::string& path() const { return path_; }

 private:
  struct Pending {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    size_t nbytes;
    uint64_t offset;
  };
  void write_header();  // header, metadata, tensor infos, padding: on the first tensor write
  void put(const void* p, size_t n);
  void pad_to(uint64_t multiple);

  std::string path_;
  std::string partial_;
  uint32_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Pending> tensors_;
  std::unique_ptr<OutputFile> out_;  // opened on the first tensor write
  uint64_t written_ = 0;       // bytes written so far
  uint64_t data_start_ = 0;    // absolute offset of the data section
  size_t next_tensor_ = 0;
  bool header_done_ = false;
  bool finished_ = false;
};

// --- template definition ---------------------------------------------------------------------------

template <typename T>
GgufValue gguf_array(const std::vector<T>& values) {
  GgufArray a;
  a.type = gguf_type_of(GgufScalar(T{}));
  a.items.reserve(values.size());
  for (const T& v : values) a.items.emplace_back(v);
  return a;
}

}  // namespace g4ref
