// Internal to the trace files (writer, reader, foreign formats): shared constants and checked size helpers.
#pragma once

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/mapped_file.h"
#include "numerics/dtype.h"
#include "trace/trace_file.h"

namespace g4ref::trace_detail {

static_assert(std::endian::native == std::endian::little,
              "trace files and the foreign dumps they read are little-endian; this host is not");


constexpr const char* kFormatKey = "format";
constexpr const char* kFormatValue = "g4ref-trace";
constexpr const char* kOrderKey = "order";
constexpr const char* kRepeatsKey = "repeats_ignored";
constexpr const char* kTokensKey = "tokens";
constexpr size_t kCopyChunk = 1 << 20;

inline const std::set<std::string>& reserved_keys() {
  static const std::set<std::string> keys = {kFormatKey, kOrderKey,  kRepeatsKey,     kTokensKey,
                                             "config_hash", "precision", "g4ref_version", "model"};
  return keys;
}

inline std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

inline std::string errno_text() { return std::strerror(errno); }

// Element count of SHAPE, refusing negative dimensions and products past int64 (a hostile header could
// otherwise wrap around to match a small byte count).
inline int64_t checked_numel(const std::string& where, const std::string& what, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(where, what + ": negative dimension in shape " + shape_str(shape));
    if (__builtin_mul_overflow(n, d, &n)) fail(where, what + ": shape " + shape_str(shape) + " overflows int64");
  }
  return n;
}

inline uint64_t checked_bytes(const std::string& where, const std::string& what, int64_t numel, size_t elem_size) {
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

inline size_t elem_size(Trace::Elem e) {
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

inline Trace::Elem elem_of(DType t) {
  switch (t) {
    case DType::F64: return Trace::Elem::F64;
    case DType::F32: return Trace::Elem::F32;
    case DType::F16: return Trace::Elem::F16;
    case DType::BF16: return Trace::Elem::BF16;
  }
  return Trace::Elem::F32;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


}  // namespace g4ref::trace_detail

namespace g4ref {

// Fills a Trace from each format (a friend of Trace).
struct TraceLoader {
  static void safetensors(Trace& t);
  static void npy(Trace& t, const MappedFile& file, const std::string& name);
  static void npz(Trace& t, const MappedFile& file);
  static void raw_f32(Trace& t, const MappedFile& file, const TraceOpenOptions& o);
  static void mtmd(Trace& t, const MappedFile& file, const std::string& name);
};

}  // namespace g4ref
