// Traces in other implementations' formats: numpy .npy and .npz, llama.cpp's raw float32 logits, MTMD_DEBUG_EMBEDDINGS dumps.
#include "trace/trace_file.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "io/output_file.h"
#include "io/safetensors.h"
#include "trace/trace_internal.h"

namespace g4ref {

using namespace trace_detail;
namespace fs = std::filesystem;
using json = nlohmann::json;

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


}  // namespace g4ref
