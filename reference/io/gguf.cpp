// GGUF reading and writing (see gguf.h for the layout).
#include "io/gguf.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <type_traits>

#include "base/error.h"

namespace g4ref {

namespace {

constexpr uint32_t kMaxDims = 4;               // ggml tensors have at most four dimensions
constexpr uint32_t kDefaultAlignment = 32;
constexpr char kAlignmentKey[] = "general.alignment";

// Smallest encoded size of each value type: bounds the counts a header may claim.
size_t min_encoded_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::BOOL: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    case GgufValueType::U64: case GgufValueType::I64: case GgufValueType::F64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

bool value_type_known(uint32_t id) { return id <= static_cast<uint32_t>(GgufValueType::F64); }

// Bounds-checked little-endian reads from the mapping; every failure names the file and the offset.
class Cursor {
 public:
  Cursor(const std::string& path, const std::byte* data, size_t size) : path_(path), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  [[noreturn]] void error(const std::string& what) const { fail(path_, what); }

  void need(size_t n, const std::string& what) const {
    if (n > left()) {
      error(what + " at byte " + std::to_string(pos_) + " runs past the end of the file (needs " +
            std::to_string(n) + " bytes, " + std::to_string(left()) + " left)");
    }
  }

  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& what) {
    const uint64_t n = read<uint64_t>(what + " length");
    if (n > left()) {
      error(what + ": string length " + std::to_string(n) + " at byte " + std::to_string(pos_ - 8) +
            " runs past the end of the file (" + std::to_string(left()) + " bytes left)");
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

 private:
  const std::string& path_;
  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
};

GgufScalar read_scalar(Cursor& c, GgufValueType t, const std::string& what) {
  switch (t) {
    case GgufValueType::U8: return c.read<uint8_t>(what);
    case GgufValueType::I8: return c.read<int8_t>(what);
    case GgufValueType::U16: return c.read<uint16_t>(what);
    case GgufValueType::I16: return c.read<int16_t>(what);
    case GgufValueType::U32: return c.read<uint32_t>(what);
    case GgufValueType::I32: return c.read<int32_t>(what);
    case GgufValueType::F32: return c.read<float>(what);
    case GgufValueType::U64: return c.read<uint64_t>(what);
    case GgufValueType::I64: return c.read<int64_t>(what);
    case GgufValueType::F64: return c.read<double>(what);
    case GgufValueType::STRING: return c.read_string(what);
    case GgufValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) c.error(what + ": bool value " + std::to_string(b) + " (expected 0 or 1)");
      return b == 1;
    }
    case GgufValueType::ARRAY: break;
  }
  c.error(what + ": arrays of arrays are not supported");
}

GgufValue to_value(GgufScalar s) {
  return std::visit([](auto&& v) -> GgufValue { return GgufValue(std::move(v)); }, std::move(s));
}

GgufValue read_value(Cursor& c, uint32_t type_id, const std::string& what) {
  if (!value_type_known(type_id)) c.error(what + ": unknown value type " + std::to_string(type_id));
  const auto type = static_cast<GgufValueType>(type_id);
  if (type != GgufValueType::ARRAY) return to_value(read_scalar(c, type, what));

  const uint32_t elem_id = c.read<uint32_t>(what + " array type");
  if (!value_type_known(elem_id)) c.error(what + ": unknown array element type " + std::to_string(elem_id));
  GgufArray a;
  a.type = static_cast<GgufValueType>(elem_id);
  if (a.type == GgufValueType::ARRAY) c.error(what + ": arrays of arrays are not supported");
  const uint64_t n = c.read<uint64_t>(what + " array length");
  if (n > c.left() / min_encoded_size(a.type)) {
    c.error(what + ": array of " + std::to_string(n) + " " + gguf_value_type_name(a.type) +
            " values cannot fit in the " + std::to_string(c.left()) + " bytes left");
  }
  a.items.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) a.items.push_back(read_scalar(c, a.type, what + "[" + std::to_string(i) + "]"));
  return a;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

std::string shape_text(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Element count and byte size of a tensor, or an error message when they overflow or do not divide.
bool tensor_size(GgmlType type, const std::vector<int64_t>& ne, size_t* nbytes, std::string* why) {
  int64_t count = 1;
  for (int64_t n : ne) {
    if (n < 0) {
      *why = "negative dimension";
      return false;
    }
    if (n != 0 && count > std::numeric_limits<int64_t>::max() / n) {
      *why = "element count overflows 64 bits";
      return false;
    }
    count *= n;
  }
  const int64_t bs = ggml_block_size(type);
  if (ne[0] % bs != 0) {
    *why = "ne[0] = " + std::to_string(ne[0]) + " is not a multiple of the " + ggml_type_name(type) +
           " block size " + std::to_string(bs);
    return false;
  }
  const uint64_t blocks = static_cast<uint64_t>(count / bs);
  const uint64_t ts = ggml_type_size(type);
  if (blocks > std::numeric_limits<uint64_t>::max() / ts) {
    *why = "byte size overflows 64 bits";
    return false;
  }
  *nbytes = static_cast<size_t>(blocks * ts);
  return true;
}

std::string type_mismatch(const std::string& key, const std::string& expected, const GgufValue& v) {
  return "metadata key " + key + ": expected " + expected + ", found " + gguf_value_type_name(gguf_type_of(v));
}

}  // namespace

std::string gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: return "u8";
    case GgufValueType::I8: return "i8";
    case GgufValueType::U16: return "u16";
    case GgufValueType::I16: return "i16";
    case GgufValueType::U32: return "u32";
    case GgufValueType::I32: return "i32";
    case GgufValueType::F32: return "f32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::U64: return "u64";
    case GgufValueType::I64: return "i64";
    case GgufValueType::F64: return "f64";
  }
  return "type" + std::to_string(static_cast<uint32_t>(t));
}

// The variant alternatives are listed in GGUF id order except that ARRAY (9) comes last.
GgufValueType gguf_type_of(const GgufScalar& v) {
  static constexpr GgufValueType kOrder[] = {
      GgufValueType::U8, GgufValueType::I8, GgufValueType::U16, GgufValueType::I16,
      GgufValueType::U32, GgufValueType::I32, GgufValueType::F32, GgufValueType::BOOL,
      GgufValueType::STRING, GgufValueType::U64, GgufValueType::I64, GgufValueType::F64};
  return kOrder[v.index()];
}

GgufValueType gguf_type_of(const GgufValue& v) {
  if (std::holds_alternative<GgufArray>(v)) return GgufValueType::ARRAY;
  return std::visit(
      [](const auto& x) -> GgufValueType {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, GgufArray>) {
          return GgufValueType::ARRAY;
        } else {
          return gguf_type_of(GgufScalar(x));
        }
      },
      v);
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::vector<int64_t> GgufTensor::torch_shape() const { return {ne.rbegin(), ne.rend()}; }

// ===================================== reading ===================================================

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile(MappedFile::open(path)));
  f->load();
  return f;
}

void GgufFile::load() {
  const std::string& where = path();
  Cursor c(where, file_.data(), file_.size());

  if (file_.size() < 4 || std::memcmp(file_.data(), "GGUF", 4) != 0) {
    fail(where, "not a GGUF file (bad magic: the first 4 bytes are not \"GGUF\")");
  }
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) fail(where, "GGUF version 1 is not supported (expected 2 or 3)");
  if ((version_ & 0xffff) == 0 && version_ != 0) {
    fail(where, "big-endian GGUF is not supported (version field reads " + std::to_string(version_) + ")");
  }
  if (version_ != 2 && version_ != 3) {
    fail(where, "unsupported GGUF version " + std::to_string(version_) + " (expected 2 or 3)");
  }
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each metadata entry needs at least a key length, a type and a one-byte value; each tensor info
  // at least a name length, n_dims, one dimension, a type and an offset.
  constexpr uint64_t kMinKv = 8 + 4 + 1;
  constexpr uint64_t kMinTensorInfo = 8 + 4 + 8 + 4 + 8;
  if (n_kv > c.left() / kMinKv) {
    fail(where, "metadata count " + std::to_string(n_kv) + " cannot fit in a file of " +
                    std::to_string(file_.size()) + " bytes");
  }
  if (n_tensors > c.left() / kMinTensorInfo) {
    fail(where, "tensor count " + std::to_string(n_tensors) + " cannot fit in a file of " +
                    std::to_string(file_.size()) + " bytes");
  }

  metadata_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key " + std::to_string(i));
    if (meta_index_.count(key)) fail(where, "duplicate metadata key " + key);
    const uint32_t type_id = c.read<uint32_t>("metadata key " + key + " type");
    GgufValue value = read_value(c, type_id, "metadata key " + key);
    meta_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = find(kAlignmentKey)) {
    if (!std::holds_alternative<uint32_t>(*a)) fail(where, type_mismatch(kAlignmentKey, "u32", *a));
    alignment_ = std::get<uint32_t>(*a);
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
      fail(where, std::string(kAlignmentKey) + " = " + std::to_string(alignment_) + " is not a power of two");
    }
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = c.read_string("tensor " + std::to_string(i) + " name");
    const std::string what = "tensor " + t.name;
    if (tensor_index_.count(t.name)) fail(where, "duplicate tensor name " + t.name);
    const uint32_t n_dims = c.read<uint32_t>(what + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims) {
      fail(where, what + ": n_dims = " + std::to_string(n_dims) + " (expected 1 to " + std::to_string(kMaxDims) + ")");
    }
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t n = c.read<uint64_t>(what + " ne");
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(where, what + ": dimension " + std::to_string(d) + " = " + std::to_string(n) + " is too large");
      }
      t.ne.push_back(static_cast<int64_t>(n));
    }
    const uint32_t type_id = c.read<uint32_t>(what + " type");
    if (!ggml_type_known(type_id)) fail(where, what + ": unknown tensor type " + std::to_string(type_id));
    t.type = static_cast<GgmlType>(type_id);
    t.offset = c.read<uint64_t>(what + " offset");
    std::string why;
    if (!tensor_size(t.type, t.ne, &t.nbytes, &why)) fail(where, what + " " + shape_text(t.ne) + ": " + why);
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = static_cast<size_t>(align_up(c.pos(), alignment_));
  if (data_offset_ > file_.size() && !tensors_.empty()) {
    fail(where, "tensor data section would start at byte " + std::to_string(data_offset_) +
                    ", past the end of the file (" + std::to_string(file_.size()) + " bytes)");
  }
  const uint64_t data_size = file_.size() > data_offset_ ? file_.size() - data_offset_ : 0;

  for (GgufTensor& t : tensors_) {
    const std::string what = "tensor " + t.name;
    if (t.offset % alignment_ != 0) {
      fail(where, what + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                      std::to_string(alignment_));
    }
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      fail(where, what + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                      ") lies outside the data section of " + std::to_string(data_size) + " bytes");
    }
    t.data = file_.data() + data_offset_ + t.offset;
  }

  std::vector<const GgufTensor*> by_offset;
  for (const GgufTensor& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& prev = *by_offset[i - 1];
    const GgufTensor& cur = *by_offset[i];
    if (prev.nbytes > 0 && cur.nbytes > 0 && prev.offset + prev.nbytes > cur.offset) {
      fail(where, "tensors " + prev.name + " and " + cur.name + " overlap (" + prev.name + " ends at " +
                      std::to_string(prev.offset + prev.nbytes) + ", " + cur.name + " starts at " +
                      std::to_string(cur.offset) + ")");
    }
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = meta_index_.find(key);
  return it == meta_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail(path(), "metadata key " + key + " is missing");
  return *v;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!std::holds_alternative<std::string>(v)) fail(path(), type_mismatch(key, "string", v));
  return std::get<std::string>(v);
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = get(key);
  switch (gguf_type_of(v)) {
    case GgufValueType::U8: return std::get<uint8_t>(v);
    case GgufValueType::U16: return std::get<uint16_t>(v);
    case GgufValueType::U32: return std::get<uint32_t>(v);
    case GgufValueType::U64: return std::get<uint64_t>(v);
    case GgufValueType::I8: case GgufValueType::I16: case GgufValueType::I32: case GgufValueType::I64: {
      const int64_t s = get_int(key);
      if (s < 0) fail(path(), "metadata key " + key + ": expected a non-negative integer, found " + std::to_string(s));
      return static_cast<uint64_t>(s);
    }
    default: fail(path(), type_mismatch(key, "an unsigned integer", v));
  }
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = get(key);
  switch (gguf_type_of(v)) {
    case GgufValueType::I8: return std::get<int8_t>(v);
    case GgufValueType::I16: return std::get<int16_t>(v);
    case GgufValueType::I32: return std::get<int32_t>(v);
    case GgufValueType::I64: return std::get<int64_t>(v);
    case GgufValueType::U8: return std::get<uint8_t>(v);
    case GgufValueType::U16: return std::get<uint16_t>(v);
    case GgufValueType::U32: return std::get<uint32_t>(v);
    case GgufValueType::U64: {
      const uint64_t u = std::get<uint64_t>(v);
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(path(), "metadata key " + key + ": value " + std::to_string(u) + " does not fit in int64");
      }
      return static_cast<int64_t>(u);
    }
    default: fail(path(), type_mismatch(key, "an integer", v));
  }
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = get(key);
  if (std::holds_alternative<float>(v)) return std::get<float>(v);
  if (std::holds_alternative<double>(v)) return std::get<double>(v);
  fail(path(), type_mismatch(key, "f32 or f64", v));
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!std::holds_alternative<bool>(v)) fail(path(), type_mismatch(key, "bool", v));
  return std::get<bool>(v);
}

const GgufArray& GgufFile::get_array(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!std::holds_alternative<GgufArray>(v)) fail(path(), type_mismatch(key, "array", v));
  return std::get<GgufArray>(v);
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(const std::string& name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) fail(path(), "tensor " + name + " is missing");
  return *t;
}

std::vector<float> GgufFile::dequantize(const GgufTensor& t) const {
  if (!ggml_can_dequantize(t.type)) {
    fail(path(), "tensor " + t.name + ": type " + ggml_type_name(t.type) + " cannot be dequantized");
  }
  std::vector<float> out(static_cast<size_t>(t.numel()));
  dequantize_row(t.type, t.data, out.data(), t.numel());
  return out;
}

// ===================================== writing ===================================================

namespace {

void check_key_value(const std::string& where, const std::string& key, const GgufValue& v) {
  if (const GgufArray* a = std::get_if<GgufArray>(&v)) {
    if (a->type == GgufValueType::ARRAY) fail(where, "metadata key " + key + ": arrays of arrays are not supported");
    for (const GgufScalar& item : a->items) {
      if (gguf_type_of(item) != a->type) {
        fail(where, "metadata key " + key + ": array of " + gguf_value_type_name(a->type) + " holds a " +
                        gguf_value_type_name(gguf_type_of(item)));
      }
    }
  }
}

}  // namespace

GgufWriter::GgufWriter(std::string path) : path_(std::move(path)), partial_(path_ + ".partial") {
  check_output_path(path_);
}

GgufWriter::~GgufWriter() = default;

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (header_done_) fail(partial_, "metadata key " + key + " set after tensor data was written");
  for (const auto& kv : metadata_) {
    if (kv.first == key) fail(partial_, "duplicate metadata key " + key);
  }
  check_key_value(partial_, key, value);
  if (key == kAlignmentKey) {
    const uint32_t* a = std::get_if<uint32_t>(&value);
    if (!a || *a == 0 || (*a & (*a - 1)) != 0) fail(partial_, std::string(kAlignmentKey) + " must be a u32 power of two");
    alignment_ = *a;
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne) {
  if (header_done_) fail(partial_, "tensor " + name + " declared after tensor data was written");
  for (const Pending& t : tensors_) {
    if (t.name == name) fail(partial_, "duplicate tensor name " + name);
  }
  if (ne.empty() || ne.size() > kMaxDims) fail(partial_, "tensor " + name + ": 1 to 4 dimensions expected");
  if (!ggml_type_known(static_cast<uint32_t>(type))) fail(partial_, "tensor " + name + ": unknown type");
  size_t nbytes = 0;
  std::string why;
  if (!tensor_size(type, ne, &nbytes, &why)) fail(partial_, "tensor " + name + " " + shape_text(ne) + ": " + why);
  tensors_.push_back({name, type, ne, nbytes, 0});
}

void GgufWriter::put(const void* p, size_t n) {
  out_->write(p, n);
  written_ += n;
}

void GgufWriter::pad_to(uint64_t multiple) {
  static const std::byte zeros[256] = {};
  uint64_t pad = align_up(written_, multiple) - written_;
  while (pad > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, sizeof zeros));
    put(zeros, n);
    pad -= n;
  }
}

namespace {

struct Encoder {
  std::vector<std::byte>& out;
  template <typename T>
  void raw(T v) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
  }
  void str(const std::string& s) {
    raw<uint64_t>(s.size());
    const size_t at = out.size();
    out.resize(at + s.size());
    std::memcpy(out.data() + at, s.data(), s.size());
  }
  void scalar(const GgufScalar& s) {
    std::visit(
        [this](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            str(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            raw<uint8_t>(v ? 1 : 0);
          } else {
            raw<T>(v);
          }
        },
        s);
  }
  void value(const GgufValue& v) {
    if (const GgufArray* a = std::get_if<GgufArray>(&v)) {
      raw<uint32_t>(static_cast<uint32_t>(a->type));
      raw<uint64_t>(a->items.size());
      for (const GgufScalar& item : a->items) scalar(item);
      return;
    }
    std::visit(
        [this](const auto& x) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, GgufArray>) scalar(GgufScalar(x));
        },
        v);
  }
};

}  // namespace

void GgufWriter::write_header() {
  out_ = std::make_unique<OutputFile>(path_);
  header_done_ = true;

  uint64_t offset = 0;
  for (Pending& t : tensors_) {
    t.offset = offset;
    offset = align_up(offset + t.nbytes, alignment_);
  }

  std::vector<std::byte> head;
  Encoder e{head};
  const char magic[4] = {'G', 'G', 'U', 'F'};
  for (char ch : magic) e.raw<char>(ch);
  e.raw<uint32_t>(3);
  e.raw<uint64_t>(tensors_.size());
  e.raw<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    e.str(key);
    e.raw<uint32_t>(static_cast<uint32_t>(gguf_type_of(value)));
    e.value(value);
  }
  for (const Pending& t : tensors_) {
    e.str(t.name);
    e.raw<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) e.raw<uint64_t>(static_cast<uint64_t>(n));
    e.raw<uint32_t>(static_cast<uint32_t>(t.type));
    e.raw<uint64_t>(t.offset);
  }
  put(head.data(), head.size());
  pad_to(alignment_);
  data_start_ = written_;
}

void GgufWriter::write_tensor_data(const std::string& name, const std::byte* data, size_t nbytes) {
  if (finished_) fail(partial_, "tensor " + name + " written after finish()");
  if (!header_done_) write_header();
  if (next_tensor_ >= tensors_.size()) fail(partial_, "tensor " + name + " was not declared (all declared tensors are written)");
  const Pending& t = tensors_[next_tensor_];
  if (t.name != name) fail(partial_, "tensor " + name + " written out of order (expected " + t.name + " next)");
  if (nbytes != t.nbytes) {
    fail(partial_, "tensor " + name + ": " + std::to_string(nbytes) + " bytes given, " + std::to_string(t.nbytes) +
                       " expected for " + ggml_type_name(t.type) + " " + shape_text(t.ne));
  }
  put(data, nbytes);
  pad_to(alignment_);
  ++next_tensor_;
}

void GgufWriter::write_tensor_floats(const std::string& name, const float* values, int64_t count) {
  const Pending* t = nullptr;
  for (const Pending& p : tensors_) {
    if (p.name == name) t = &p;
  }
  if (!t) fail(partial_, "tensor " + name + " was not declared");
  int64_t numel = 1;
  for (int64_t n : t->ne) numel *= n;
  if (count != numel) {
    fail(partial_, "tensor " + name + ": " + std::to_string(count) + " values given, " + std::to_string(numel) + " expected");
  }
  if (!ggml_can_quantize(t->type)) fail(partial_, "tensor " + name + ": cannot write type " + ggml_type_name(t->type));
  std::vector<std::byte> bytes(t->nbytes);
  quantize_row(t->type, values, bytes.data(), count);
  write_tensor_data(name, bytes.data(), bytes.size());
}

void GgufWriter::finish() {
  if (finished_) return;
  if (!header_done_) write_header();
  if (next_tensor_ != tensors_.size()) {
    fail(partial_, "finish() with " + std::to_string(tensors_.size() - next_tensor_) +
                       " declared tensors not written (next: " + tensors_[next_tensor_].name + ")");
  }
  out_->commit();
  finished_ = true;
}

int64_t gguf_scalar_int(const GgufScalar& s, const std::string& where, const std::string& key) {
  return std::visit(
      [&](const auto& v) -> int64_t {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) return static_cast<int64_t>(v);
        else fail(where, key + " must hold integers");
      },
      s);
}

}  // namespace g4ref
