// The trace writer: tensors streamed to a scratch file as they are recorded, the safetensors file written at the end.
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


}  // namespace g4ref
