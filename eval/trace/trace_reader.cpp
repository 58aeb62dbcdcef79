// Reading traces: g4ref's safetensors traces, and the format detection of Trace::open.
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
