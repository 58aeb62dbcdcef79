#include "trace/trace_file.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/output_file.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "numerics/dtype.h"

namespace g4ref {

static_assert(std::endian::native == std::endian::little,
              "trace files and the foreign dumps they read are little-endian; this host is not");

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormatKey = "format";
constexpr const char* kFormatValue = "g4ref-trace";
constexpr const char* kOrderKey = "order";
constexpr const char* kRepeatsKey = "repeats_ignored";
constexpr const char* kTokensKey = "tokens";
constexpr size_t kCopyChunk = 1 << 20;

const std::set<std::string>& reserved_keys() {
  static const std::set<std::string> keys = {kFormatKey, kOrderKey,  kRepeatsKey,     kTokensKey,
                                             "config_hash", "precision", "g4ref_version", "model"};
  return keys;
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string errno_text() { return std::strerror(errno); }

// Element count of SHAPE, refusing negative dimensions and products past int64 (a hostile header could
// otherwise wrap around to match a small byte count).
int64_t checked_numel(const std::string& where, const std::string& what, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(where, what + ": negative dimension in shape " + shape_str(shape));
    if (__builtin_mul_overflow(n, d, &n)) fail(where, what + ": shape " + shape_str(shape) + " overflows int64");
  }
  return n;
}

uint64_t checked_bytes(const std::string& where, const std::string& what, int64_t numel, size_t elem_size) {
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(elem_size), &bytes)) {
    fail(where, what + ": byte count overflows 64 bits");
  }
  return bytes;
}

template <class T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

size_t elem_size(Trace::Elem e) {
  switch (e) {
    case Trace::Elem::F64: return 8;
    case Trace::Elem::F32: return 4;
    case Trace::Elem::F16: return 2;
    case Trace::Elem::BF16: return 2;
    case Trace::Elem::I64: return 8;
    case Trace::Elem::I32: return 4;
  }
  return 0;
}

Trace::Elem elem_of(DType t) {
  switch (t) {
    case DType::F64: return Trace::Elem::F64;
    case DType::F32: return Trace::Elem::F32;
    case DType::F16: return Trace::Elem::F16;
    case DType::BF16: return Trace::Elem::BF16;
  }
  return Trace::Elem::F32;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Writing

TraceWriter::TraceWriter(std::string path, TraceMeta meta, const std::string& filter_regex)
    : path_(std::move(path)), meta_(std::move(meta)) {
  check_output_path(path_);  // refuse a bad destination before the forward pass, not after it
  data_path_ = path_ + ".data.partial";
  for (const auto& [key, value] : meta_.extra) {
    if (reserved_keys().count(key)) {
      fail(path_, "trace metadata key " + in_quotes(key) + " is reserved for g4ref's own fields; rename it");
    }
  }
  if (!filter_regex.empty()) {
    try {
      filter_.emplace(filter_regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(path_, "trace filter " + in_quotes(filter_regex) + " is not a valid regular expression: " + e.what());
    }
  }
  data_ = std::fopen(data_path_.c_str(), "wb");
  if (!data_) fail(data_path_, "cannot create the temporary trace data file: " + errno_text());
}

TraceWriter::~TraceWriter() {
  if (!finished_) discard();
}

void TraceWriter::discard() noexcept {
  if (data_) {
    std::fclose(data_);
    data_ = nullptr;
  }
  std::error_code ec;
  fs::remove(data_path_, ec);
}

bool TraceWriter::wants(const std::string& name) const {
  if (finished_) return false;
  return !filter_ || std::regex_search(name, *filter_);
}

void TraceWriter::record(const std::string& name, const std::vector<int64_t>& shape, const double* data) {
  append(name, shape, data, sizeof(double), "F64");
}

void TraceWriter::record(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  append(name, shape, data, sizeof(float), "F32");
}

void TraceWriter::append(const std::string& name, const std::vector<int64_t>& shape, const void* data,
                         size_t elem_size, const char* dtype) {
  if (finished_) fail(path_, "tensor " + in_quotes(name) + " recorded after finish()");
  if (!wants(name)) return;
  if (name.empty() || name == "__metadata__") fail(path_, "invalid trace tensor name " + in_quotes(name));
  if (index_.count(name)) {
    ++repeats_[name];
    return;
  }
  const int64_t numel = checked_numel(path_, "tensor " + in_quotes(name), shape);
  const uint64_t nbytes = checked_bytes(path_, "tensor " + in_quotes(name), numel, elem_size);
  if (nbytes > 0 && data == nullptr) fail(path_, "tensor " + in_quotes(name) + ": no data for shape " + shape_str(shape));
  if (nbytes > 0 && (std::fwrite(data, 1, nbytes, data_) != nbytes || std::fflush(data_) != 0)) {
    fail(data_path_, "writing tensor " + in_quotes(name) + " (" + std::to_string(nbytes) + " bytes) failed: " +
                         errno_text());
  }
  Entry e;
  e.name = name;
  e.dtype = dtype;
  e.shape = shape;
  e.begin = data_bytes_;
  e.end = data_bytes_ + nbytes;
  data_bytes_ = e.end;
  index_[name] = entries_.size();
  entries_.push_back(std::move(e));
}

void TraceWriter::finish() {
  if (finished_) fail(path_, "finish() called twice");
  if (std::fflush(data_) != 0 || std::fclose(data_) != 0) {
    data_ = nullptr;
    fail(data_path_, "closing the temporary trace data file failed: " + errno_text());
  }
  data_ = nullptr;

  // The header object is keyed (and so sorted) by name; data order stays recording order, and "order"
  // keeps that order for readers, because the JSON object cannot.
  json header = json::object();
  json order = json::array();
  for (const Entry& e : entries_) {
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
    order.push_back(e.name);
  }
  json meta = json::object();
  for (const auto& [key, value] : meta_.extra) meta[key] = value;
  meta[kFormatKey] = kFormatValue;
  meta["config_hash"] = meta_.config_hash;
  meta["precision"] = meta_.precision;
  meta["g4ref_version"] = meta_.g4ref_version;
  meta["model"] = meta_.model;
  meta[kTokensKey] = json(meta_.tokens).dump();
  meta[kOrderKey] = order.dump();
  meta[kRepeatsKey] = json(repeats_).dump();
  header["__metadata__"] = meta;

  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as the Hugging Face writer does.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');

  std::FILE* in = std::fopen(data_path_.c_str(), "rb");
  if (!in) fail(data_path_, "cannot reopen the temporary trace data file: " + errno_text());
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{in};
  OutputFile out(path_);
  std::array<unsigned char, 8> len{};
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
  out.write(len.data(), 8);
  out.write(text);
  std::vector<char> chunk(kCopyChunk);
  uint64_t copied = 0;
  while (true) {
    const size_t got = std::fread(chunk.data(), 1, chunk.size(), in);
    if (got == 0) break;
    out.write(chunk.data(), got);
    copied += got;
  }
  if (std::ferror(in)) fail(data_path_, "reading the temporary trace data file failed: " + errno_text());
  if (copied != data_bytes_) {
    fail(data_path_, "temporary trace data file holds " + std::to_string(copied) + " bytes, expected " +
                         std::to_string(data_bytes_));
  }
  out.commit();
  std::error_code ec;
  fs::remove(data_path_, ec);
  finished_ = true;
}

// ---------------------------------------------------------------------------------------------------
// Reading: one loader per format, each filling entries that point into the mapped file.

struct TraceLoader {
  static void safetensors(Trace& t);
  static void npy(Trace& t, const MappedFile& file, const std::string& name);
  static void npz(Trace& t, const MappedFile& file);
  static void raw_f32(Trace& t, const MappedFile& file, const TraceOpenOptions& o);
  static void mtmd(Trace& t, const MappedFile& file, const std::string& name);
};

namespace {

// ---- numpy .npy ----

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string where, std::string_view text) : where_(std::move(where)), s_(text) {}

  void parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip_ws();
        if (peek() != '\'' && peek() != '"') bad("'descr' is not a simple type string (structured dtypes are not supported)");
        *descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        *fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        *shape = tuple();
        have_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_ws();
      if (peek() != '}') bad("expected ',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape) bad("missing 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void bad(const std::string& what) {
    fail(where_, "malformed .npy header (" + what + " at offset " + std::to_string(i_) + "): " + std::string(s_));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) out += s_[i_++];
    if (i_ >= s_.size()) bad("unterminated string");
    ++i_;
    return out;
  }
  bool boolean() {
    skip_ws();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_ws();
      if (peek() == ')') {
        ++i_;
        return dims;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("expected a non-negative integer dimension");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, peek() - '0', &v)) bad("dimension overflows int64");
        ++i_;
      }
      if (peek() == 'L') ++i_;  // Python 2 long literal
      dims.push_back(v);
      skip_ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad("expected ',' or ')' in shape");
    }
  }

  std::string where_;
  std::string_view s_;
  size_t i_ = 0;
};

Trace::Elem npy_elem(const std::string& where, const std::string& descr) {
  if (descr.size() < 3) fail(where, ".npy dtype " + in_quotes(descr) + " is not supported");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  if (order == '>') {
    fail(where, ".npy dtype " + in_quotes(descr) + " is big-endian; only little-endian arrays are supported "
                "(convert with arr.astype(arr.dtype.newbyteorder('<')))");
  }
  if (order != '<' && order != '=' && order != '|') fail(where, ".npy dtype " + in_quotes(descr) + " is not supported");
  if (code == "f8") return Trace::Elem::F64;
  if (code == "f4") return Trace::Elem::F32;
  if (code == "f2") return Trace::Elem::F16;
  if (code == "i8") return Trace::Elem::I64;
  if (code == "i4") return Trace::Elem::I32;
  fail(where, ".npy dtype " + in_quotes(descr) + " is not supported (expected f8, f4, f2, i8 or i4)");
}

// Parses one .npy image of N bytes at P; WHERE names it in messages (the file, or "file: member").
Trace::Entry parse_npy(const std::string& where, const std::byte* p, uint64_t n, const std::string& name) {
  static const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (n < 10) fail(where, ".npy data is " + std::to_string(n) + " bytes, shorter than the 10-byte preamble (truncated?)");
  if (std::memcmp(p, kMagic, 6) != 0) fail(where, "bad magic: not a .npy array (expected \\x93NUMPY)");
  const unsigned major = static_cast<unsigned>(p[6]);
  uint64_t header_len = 0, preamble = 0;
  if (major == 1) {
    header_len = load_le<uint16_t>(p + 8);
    preamble = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) fail(where, ".npy data is " + std::to_string(n) + " bytes, too short for a version 2 header (truncated?)");
    header_len = load_le<uint32_t>(p + 8);
    preamble = 12;
  } else {
    fail(where, ".npy format version " + std::to_string(major) + " is not supported (expected 1, 2 or 3)");
  }
  if (preamble + header_len > n) {
    fail(where, ".npy header of " + std::to_string(header_len) + " bytes runs past the end of the data (" +
                    std::to_string(n) + " bytes; truncated?)");
  }
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  NpyHeaderParser(where, std::string_view(reinterpret_cast<const char*>(p + preamble), header_len))
      .parse(&descr, &fortran, &shape);
  if (fortran) {
    fail(where, ".npy array is in Fortran (column-major) order; save it C-contiguous "
                "(numpy.ascontiguousarray) so its element order is the row-major order traces use");
  }
  Trace::Entry e;
  e.name = name;
  e.elem = npy_elem(where, descr);
  e.shape = shape;
  const int64_t numel = checked_numel(where, ".npy shape", shape);
  e.nbytes = checked_bytes(where, ".npy shape", numel, elem_size(e.elem));
  const uint64_t have = n - preamble - header_len;
  if (have != e.nbytes) {
    fail(where, ".npy shape " + shape_str(shape) + " of " + descr + " needs " + std::to_string(e.nbytes) +
                    " data bytes but " + std::to_string(have) + " follow the header" +
                    (have < e.nbytes ? " (truncated?)" : ""));
  }
  e.data = p + preamble + header_len;
  return e;
}

// ---- zip (for .npz) ----

uint32_t crc32(const std::byte* p, uint64_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (uint64_t i = 0; i < n; ++i) c = table[(c ^ static_cast<uint8_t>(p[i])) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

struct ZipMember {
  std::string name;
  uint16_t method = 0;
  uint16_t flags = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, uncompressed = 0, local_offset = 0;
};

// A bounds-checked little-endian cursor over the mapped file.
class Cursor {
 public:
  Cursor(const std::string& where, const std::byte* base, uint64_t size, uint64_t pos, const char* what)
      : where_(where), base_(base), size_(size), pos_(pos), what_(what) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v = load_le<T>(base_ + pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n) {
    need(n);
    pos_ += n;
  }
  uint64_t pos() const { return pos_; }

 private:
  void need(uint64_t n) {
    if (pos_ > size_ || n > size_ - pos_) fail(where_, std::string(what_) + " runs past the end of the file (truncated?)");
  }
  const std::string& where_;
  const std::byte* base_;
  uint64_t size_, pos_;
  const char* what_;
};

std::vector<ZipMember> read_zip_directory(const std::string& path, const std::byte* base, uint64_t size) {
  constexpr uint32_t kEocdSig = 0x06054b50, kZip64LocatorSig = 0x07064b50, kZip64EocdSig = 0x06064b50,
                     kCentralSig = 0x02014b50;
  if (size < 22) fail(path, "file is " + std::to_string(size) + " bytes, too short for a zip archive (truncated?)");
  // The end-of-central-directory record is the last 22 bytes plus a comment of up to 65535 bytes.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (uint64_t pos = size - 22 + 1; pos-- > lowest;) {
    if (load_le<uint32_t>(base + pos) == kEocdSig) {
      eocd = pos;
      break;
    }
  }
  if (eocd == UINT64_MAX) fail(path, "no zip end-of-central-directory record: not a zip/.npz file, or truncated");
  Cursor c(path, base, size, eocd + 4, "zip end-of-central-directory record");
  c.skip(4);  // disk numbers
  c.skip(2);
  uint64_t count = c.get<uint16_t>();
  uint64_t cd_size = c.get<uint32_t>();
  uint64_t cd_offset = c.get<uint32_t>();
  if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    if (eocd < 20 || load_le<uint32_t>(base + eocd - 20) != kZip64LocatorSig) {
      fail(path, "zip64 archive without a zip64 end-of-central-directory locator");
    }
    Cursor loc(path, base, size, eocd - 20 + 8, "zip64 locator");
    const uint64_t z = loc.get<uint64_t>();
    Cursor z64(path, base, size, z, "zip64 end-of-central-directory record");
    if (z64.get<uint32_t>() != kZip64EocdSig) fail(path, "bad zip64 end-of-central-directory signature");
    z64.skip(8 + 2 + 2 + 4 + 4 + 8);  // record size, versions, disk numbers, entries on this disk
    count = z64.get<uint64_t>();
    cd_size = z64.get<uint64_t>();
    cd_offset = z64.get<uint64_t>();
  }
  if (cd_offset > size || cd_size > size - cd_offset) {
    fail(path, "zip central directory [" + std::to_string(cd_offset) + ", +" + std::to_string(cd_size) +
                   ") lies outside the file (" + std::to_string(size) + " bytes; truncated?)");
  }
  std::vector<ZipMember> members;
  Cursor d(path, base, size, cd_offset, "zip central directory");
  for (uint64_t i = 0; i < count; ++i) {
    if (d.get<uint32_t>() != kCentralSig) fail(path, "bad zip central directory entry signature at entry " + std::to_string(i));
    ZipMember m;
    d.skip(4);  // versions
    m.flags = d.get<uint16_t>();
    m.method = d.get<uint16_t>();
    d.skip(4);  // time, date
    m.crc = d.get<uint32_t>();
    m.compressed = d.get<uint32_t>();
    m.uncompressed = d.get<uint32_t>();
    const uint16_t name_len = d.get<uint16_t>();
    const uint16_t extra_len = d.get<uint16_t>();
    const uint16_t comment_len = d.get<uint16_t>();
    d.skip(2 + 2 + 4);  // disk, internal and external attributes
    m.local_offset = d.get<uint32_t>();
    m.name = d.bytes(name_len);
    // numpy writes every member with a zip64 extra field (force_zip64), so 32-bit fields may read 0xffffffff
    // and the true values follow in the extra field, in this order, only for the fields that overflowed.
    uint64_t extra_end = d.pos() + extra_len;
    while (d.pos() + 4 <= extra_end) {
      const uint16_t id = d.get<uint16_t>();
      const uint16_t len = d.get<uint16_t>();
      const uint64_t field_end = d.pos() + len;
      if (field_end > extra_end) fail(path, "zip member " + in_quotes(m.name) + ": extra field runs past its entry");
      if (id == 0x0001) {
        if (m.uncompressed == 0xffffffffu && d.pos() + 8 <= field_end) m.uncompressed = d.get<uint64_t>();
        if (m.compressed == 0xffffffffu && d.pos() + 8 <= field_end) m.compressed = d.get<uint64_t>();
        if (m.local_offset == 0xffffffffu && d.pos() + 8 <= field_end) m.local_offset = d.get<uint64_t>();
      }
      d.skip(field_end - d.pos());
    }
    d.skip(extra_end - d.pos());
    d.skip(comment_len);
    members.push_back(std::move(m));
  }
  return members;
}

}  // namespace

void TraceLoader::safetensors(Trace& t) {
  std::shared_ptr<SafetensorsFile> file = SafetensorsFile::open(t.path_);
  t.owner_ = file;
  for (const TensorView& v : file->tensors()) {
    Trace::Entry e;
    e.name = v.name;
    e.elem = elem_of(v.dtype);
    e.shape = v.shape;
    e.data = v.data;
    e.nbytes = v.nbytes;
    t.add(std::move(e));
  }
  // Metadata: g4ref's own keys fill TraceMeta; everything else is kept verbatim in extra.
  for (const auto& entry : file->metadata()) {
    // Named references, not a structured binding: clang before 16 cannot capture bindings in the lambda below.
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    auto parse = [&](const char* what) {
      try {
        return json::parse(value);
      } catch (const json::exception&) {  // parse_error, or out_of_range for a number like 1e999
        fail(t.path_, "metadata " + in_quotes(key) + " is not valid JSON (expected " + what + "): " + value);
      }
    };
    if (key == kFormatKey && value == kFormatValue) continue;
    if (key == "config_hash") t.meta_.config_hash = value;
    else if (key == "precision") t.meta_.precision = value;
    else if (key == "g4ref_version") t.meta_.g4ref_version = value;
    else if (key == "model") t.meta_.model = value;
    else if (key == kTokensKey) {
      const json j = parse("a list of token ids");
      if (!j.is_array()) fail(t.path_, "metadata \"tokens\" must be a JSON list of integers: " + value);
      for (const json& v : j) {
        if (!v.is_number_integer() || v.get<int64_t>() < std::numeric_limits<int>::min() ||
            v.get<int64_t>() > std::numeric_limits<int>::max()) {
          fail(t.path_, "metadata \"tokens\" must be a JSON list of integers: " + value);
        }
        t.meta_.tokens.push_back(v.get<int>());
      }
    } else if (key == kRepeatsKey) {
      const json j = parse("an object of counts");
      if (!j.is_object()) fail(t.path_, "metadata \"repeats_ignored\" must be a JSON object of counts: " + value);
      for (const auto& [name, n] : j.items()) {
        if (!n.is_number_integer()) fail(t.path_, "metadata \"repeats_ignored\" must hold integer counts: " + value);
        t.repeats_ignored_[name] = n.get<int64_t>();
      }
    } else if (key == kOrderKey) {
      const json j = parse("a list of tensor names");
      if (!j.is_array()) fail(t.path_, "metadata \"order\" must be a JSON list of tensor names");
      std::vector<std::string> order;
      std::set<std::string> seen;
      for (const json& v : j) {
        if (!v.is_string()) fail(t.path_, "metadata \"order\" must be a JSON list of tensor names");
        const std::string name = v.get<std::string>();
        if (!t.contains(name)) fail(t.path_, "metadata \"order\" names " + in_quotes(name) + ", which is not a tensor of the file");
        if (!seen.insert(name).second) fail(t.path_, "metadata \"order\" lists " + in_quotes(name) + " twice");
        order.push_back(name);
      }
      // Tensors the list does not mention keep their data-offset order, after the listed ones.
      for (const std::string& name : t.names_) {
        if (!seen.count(name)) order.push_back(name);
      }
      t.names_ = std::move(order);
    } else {
      t.meta_.extra[key] = value;
    }
  }
}

void TraceLoader::npy(Trace& t, const MappedFile& file, const std::string& name) {
  t.add(parse_npy(t.path_, file.data(), file.size(), name));
}

void TraceLoader::npz(Trace& t, const MappedFile& file) {
  constexpr uint32_t kLocalSig = 0x04034b50;
  const std::byte* base = file.data();
  const uint64_t size = file.size();
  for (const ZipMember& m : read_zip_directory(t.path_, base, size)) {
    const std::string where = t.path_ + ": member " + in_quotes(m.name);
    if (m.flags & 1u) fail(where, "is encrypted");
    if (m.method != 0) {
      fail(where, "is compressed (zip method " + std::to_string(m.method) + (m.method == 8 ? ", deflate" : "") +
                      "); only stored members can be read in place: write the file with numpy.savez, "
                      "not numpy.savez_compressed");
    }
    if (m.compressed != m.uncompressed) fail(where, "stored member with different compressed and uncompressed sizes");
    if (!ends_with(m.name, ".npy")) fail(where, "is not a .npy array");
    Cursor c(t.path_, base, size, m.local_offset, "zip local header");
    if (c.get<uint32_t>() != kLocalSig) fail(where, "bad zip local header signature");
    c.skip(2 + 2 + 2 + 4 + 4 + 4 + 4);  // version, flags, method, time/date, crc, sizes
    const uint16_t name_len = c.get<uint16_t>();
    const uint16_t extra_len = c.get<uint16_t>();
    c.skip(name_len);
    c.skip(extra_len);
    const uint64_t begin = c.pos();
    if (begin > size || m.compressed > size - begin) {
      fail(where, "data [" + std::to_string(begin) + ", +" + std::to_string(m.compressed) +
                      ") runs past the end of the file (" + std::to_string(size) + " bytes; truncated?)");
    }
    if (crc32(base + begin, m.compressed) != m.crc) fail(where, "CRC-32 mismatch: the member is corrupt");
    t.add(parse_npy(where, base + begin, m.compressed, m.name.substr(0, m.name.size() - 4)));
  }
}

void TraceLoader::raw_f32(Trace& t, const MappedFile& file, const TraceOpenOptions& o) {
  const uint64_t size = file.size();
  if (size == 0 || size % 4 != 0) {
    fail(t.path_, "raw float32 file is " + std::to_string(size) + " bytes, not a positive multiple of 4");
  }
  const int64_t n = static_cast<int64_t>(size / 4);
  Trace::Entry e;
  e.name = o.name.empty() ? "logits" : o.name;
  e.elem = Trace::Elem::F32;
  if (o.row_width > 0) {
    if (n % o.row_width != 0) {
      fail(t.path_, "raw float32 file holds " + std::to_string(n) + " values, not a multiple of the row width " +
                        std::to_string(o.row_width));
    }
    e.shape = {n / o.row_width, o.row_width};
  } else {
    e.shape = {1, n};  // llama.cpp saves the logits of the last prompt token only
  }
  e.data = file.data();
  e.nbytes = size;
  t.add(std::move(e));

  // llama-debug --save-logits writes the prompt's token ids beside the logits as BASE-tokens.bin (int32).
  const fs::path p(t.path_);
  const fs::path tokens = p.parent_path() / (p.stem().string() + "-tokens.bin");
  if (fs::exists(tokens)) {
    const MappedFile tf = MappedFile::open(tokens.string());
    if (tf.size() % 4 != 0) {
      fail(tokens.string(), "token file is " + std::to_string(tf.size()) + " bytes, not a multiple of 4 (int32 ids)");
    }
    for (uint64_t i = 0; i < tf.size() / 4; ++i) t.meta_.tokens.push_back(load_le<int32_t>(tf.data() + 4 * i));
    t.meta_.extra["tokens_file"] = tokens.string();
  }
}

void TraceLoader::mtmd(Trace& t, const MappedFile& file, const std::string& name) {
  const uint64_t size = file.size();
  if (size < 8) fail(t.path_, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header (int32 n_tokens, int32 n_embd)");
  const int32_t n_tokens = load_le<int32_t>(file.data());
  const int32_t n_embd = load_le<int32_t>(file.data() + 4);
  if (n_tokens <= 0 || n_embd <= 0) {
    fail(t.path_, "header n_tokens = " + std::to_string(n_tokens) + ", n_embd = " + std::to_string(n_embd) +
                      " (expected both positive): not an MTMD_DEBUG_EMBEDDINGS dump");
  }
  const uint64_t need = 8 + 4 * static_cast<uint64_t>(n_tokens) * static_cast<uint64_t>(n_embd);
  if (need != size) {
    fail(t.path_, "header says n_tokens " + std::to_string(n_tokens) + " x n_embd " + std::to_string(n_embd) +
                      " float32 values (" + std::to_string(need) + " bytes with the header) but the file has " +
                      std::to_string(size) + " bytes");
  }
  Trace::Entry e;
  e.name = name.empty() ? "embeddings" : name;
  e.elem = Trace::Elem::F32;
  e.shape = {n_tokens, n_embd};
  e.data = file.data() + 8;
  e.nbytes = size - 8;
  t.add(std::move(e));
}

namespace {

bool looks_like_mtmd(const MappedFile& f) {
  if (f.size() < 8) return false;
  const int32_t a = load_le<int32_t>(f.data());
  const int32_t b = load_le<int32_t>(f.data() + 4);
  return a > 0 && b > 0 && 8 + 4 * static_cast<uint64_t>(a) * static_cast<uint64_t>(b) == f.size();
}

bool looks_like_safetensors(const MappedFile& f) {
  if (f.size() < 10) return false;
  const uint64_t n = load_le<uint64_t>(f.data());
  return n >= 2 && n <= f.size() - 8 && static_cast<char>(f.data()[8]) == '{';
}

}  // namespace

std::string trace_format_name(TraceFormat f) {
  switch (f) {
    case TraceFormat::Auto: return "auto";
    case TraceFormat::Safetensors: return "safetensors";
    case TraceFormat::Npy: return "npy";
    case TraceFormat::Npz: return "npz";
    case TraceFormat::RawF32: return "raw-f32";
    case TraceFormat::MtmdEmbeddings: return "mtmd-embeddings";
  }
  return "?";
}

Trace Trace::open(const std::string& path, const TraceOpenOptions& options) {
  Trace t;
  t.path_ = path;
  TraceFormat format = options.format;
  std::shared_ptr<MappedFile> file;
  if (format != TraceFormat::Safetensors) file = std::make_shared<MappedFile>(MappedFile::open(path));
  if (format == TraceFormat::Auto) {
    const std::string ext = fs::path(path).extension().string();
    const bool npy_magic = file->size() >= 6 && std::memcmp(file->data(), "\x93NUMPY", 6) == 0;
    const bool zip_magic = file->size() >= 4 && std::memcmp(file->data(), "PK\x03\x04", 4) == 0;
    if (ext == ".safetensors") format = TraceFormat::Safetensors;
    else if (ext == ".npy" || npy_magic) format = TraceFormat::Npy;
    else if (ext == ".npz" || zip_magic) format = TraceFormat::Npz;
    else if (looks_like_safetensors(*file)) format = TraceFormat::Safetensors;
    else if (looks_like_mtmd(*file)) format = TraceFormat::MtmdEmbeddings;
    else format = TraceFormat::RawF32;
  }
  t.format_ = format;
  t.owner_ = file;
  switch (format) {
    case TraceFormat::Safetensors: file.reset(); TraceLoader::safetensors(t); break;
    case TraceFormat::Npy:
      TraceLoader::npy(t, *file, options.name.empty() ? fs::path(path).stem().string() : options.name);
      break;
    case TraceFormat::Npz: TraceLoader::npz(t, *file); break;
    case TraceFormat::RawF32: TraceLoader::raw_f32(t, *file, options); break;
    case TraceFormat::MtmdEmbeddings: TraceLoader::mtmd(t, *file, options.name); break;
    case TraceFormat::Auto: break;
  }
  return t;
}

void Trace::add(Entry e) {
  if (index_.count(e.name)) fail(path_, "tensor " + in_quotes(e.name) + " appears twice");
  index_[e.name] = entries_.size();
  names_.push_back(e.name);
  entries_.push_back(std::move(e));
}

const Trace::Entry& Trace::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    fail(path_, "no tensor " + in_quotes(name) + " (the trace holds " + std::to_string(entries_.size()) + " tensors)");
  }
  return entries_[it->second];
}

const std::vector<int64_t>& Trace::shape(const std::string& name) const { return entry(name).shape; }

TraceTensor Trace::tensor(const std::string& name) const {
  const Entry& e = entry(name);
  TraceTensor out;
  out.shape = e.shape;
  const size_t size = elem_size(e.elem);
  const uint64_t n = e.nbytes / size;
  out.values.resize(n);
  const std::byte* p = e.data;
  for (uint64_t i = 0; i < n; ++i, p += size) {
    switch (e.elem) {
      case Elem::F64: out.values[i] = load_le<double>(p); break;
      case Elem::F32: out.values[i] = load_le<float>(p); break;
      case Elem::F16: out.values[i] = f16_bits_to_float(load_le<uint16_t>(p)); break;
      case Elem::BF16: out.values[i] = bf16_bits_to_float(load_le<uint16_t>(p)); break;
      case Elem::I64: out.values[i] = static_cast<double>(load_le<int64_t>(p)); break;
      case Elem::I32: out.values[i] = load_le<int32_t>(p); break;
    }
  }
  return out;
}

}  // namespace g4ref
