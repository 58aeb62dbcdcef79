#include "io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace g4ref {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The same cap the Hugging Face reader uses: a larger header means a corrupt or hostile file, and
// refusing it early avoids parsing gigabytes of garbage as JSON.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string range_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name, const std::string& what) {
  fail(path, "tensor " + quoted(name) + ": " + what);
}

// numel × element size, refusing negative dimensions and products that do not fit in 64 bits
// (a hostile shape could otherwise wrap around to match a small byte count).
uint64_t tensor_nbytes(const std::string& path, const std::string& name, const std::vector<int64_t>& shape,
                       DType dtype) {
  int64_t numel = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      fail_tensor(path, name, "negative dimension " + std::to_string(shape[i]) + " at index " +
                                  std::to_string(i) + " of shape " + shape_str(shape) + " (expected >= 0)");
    }
    if (__builtin_mul_overflow(numel, shape[i], &numel)) {
      fail_tensor(path, name, "shape " + shape_str(shape) + " overflows: element count does not fit in 64 bits");
    }
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(dtype), &nbytes)) {
    fail_tensor(path, name, "shape " + shape_str(shape) + " overflows: byte count does not fit in 64 bits");
  }
  return nbytes;
}

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

json parse_json(const std::string& path, std::string_view text, const std::string& what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    fail(path, what + " is not valid JSON: " + e.what());
  }
}

// ---- header entries ----

const json& field(const std::string& path, const std::string& name, const json& entry, const char* key) {
  auto it = entry.find(key);
  if (it == entry.end()) fail_tensor(path, name, "missing " + quoted(key));
  return *it;
}

DType parse_entry_dtype(const std::string& path, const std::string& name, const json& entry) {
  const json& j = field(path, name, entry, "dtype");
  if (!j.is_string()) {
    fail_tensor(path, name, "\"dtype\" must be a string (found " + std::string(j.type_name()) + ")");
  }
  DType dtype;
  if (!parse_dtype(j.get<std::string>(), &dtype)) {
    fail_tensor(path, name, "unknown dtype " + quoted(j.get<std::string>()) + " (expected BF16, F16, F32 or F64)");
  }
  return dtype;
}

std::vector<int64_t> parse_entry_shape(const std::string& path, const std::string& name, const json& entry) {
  const json& j = field(path, name, entry, "shape");
  if (!j.is_array()) {
    fail_tensor(path, name, "\"shape\" must be an array of integers (found " + std::string(j.type_name()) + ")");
  }
  std::vector<int64_t> shape;
  for (const json& d : j) {
    if (!d.is_number_integer()) {
      fail_tensor(path, name, "\"shape\" must be an array of integers (found an element of type " +
                                  std::string(d.type_name()) + ")");
    }
    // Non-negative literals parse as unsigned; one beyond int64 range cannot be a real dimension.
    if (d.is_number_unsigned() && d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail_tensor(path, name, "shape dimension " + std::to_string(d.get<uint64_t>()) + " overflows int64");
    }
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

std::pair<uint64_t, uint64_t> parse_entry_offsets(const std::string& path, const std::string& name,
                                                  const json& entry) {
  const json& j = field(path, name, entry, "data_offsets");
  if (!j.is_array() || j.size() != 2) {
    fail_tensor(path, name, "\"data_offsets\" must be an array of two integers (found " +
                                (j.is_array() ? "an array of " + std::to_string(j.size()) : std::string(j.type_name())) +
                                ")");
  }
  for (const json& v : j) {
    if (!v.is_number_integer()) {
      fail_tensor(path, name, "\"data_offsets\" must hold integers (found " + std::string(v.type_name()) + ")");
    }
    if (!v.is_number_unsigned()) {
      fail_tensor(path, name, "negative data offset " + std::to_string(v.get<int64_t>()));
    }
  }
  return {j[0].get<uint64_t>(), j[1].get<uint64_t>()};
}

// A tensor read from the header, with its offset kept for the overlap check.
struct Entry {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

Entry parse_entry(const std::string& path, const std::string& name, const json& entry,
                  const std::byte* data_section, uint64_t data_size) {
  if (!entry.is_object()) {
    fail_tensor(path, name, "entry must be an object (found " + std::string(entry.type_name()) + ")");
  }
  Entry e;
  e.view.name = name;
  e.view.file = path;
  e.view.dtype = parse_entry_dtype(path, name, entry);
  e.view.shape = parse_entry_shape(path, name, entry);
  std::tie(e.begin, e.end) = parse_entry_offsets(path, name, entry);
  if (e.begin > e.end) {
    fail_tensor(path, name, "data_offsets begin " + std::to_string(e.begin) + " > end " + std::to_string(e.end));
  }
  if (e.end > data_size) {
    fail_tensor(path, name, "data_offsets end " + std::to_string(e.end) + " is past the end of the data section (" +
                                std::to_string(data_size) + " bytes; file truncated?)");
  }
  const uint64_t have = e.end - e.begin;
  const uint64_t need = tensor_nbytes(path, name, e.view.shape, e.view.dtype);
  if (have != need) {
    fail_tensor(path, name, "data_offsets " + range_str(e.begin, e.end) + " hold " + std::to_string(have) +
                                " bytes but shape " + shape_str(e.view.shape) + " of " + dtype_name(e.view.dtype) +
                                " needs " + std::to_string(need) + " bytes");
  }
  e.view.data = data_section + e.begin;
  e.view.nbytes = static_cast<size_t>(have);
  return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& j) {
  if (!j.is_object()) {
    fail(path, quoted(kMetadataKey) + " must be an object (found " + std::string(j.type_name()) + ")");
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) {
      fail(path, quoted(kMetadataKey) + " value for key " + quoted(key) + " must be a string (found " +
                     std::string(value.type_name()) + ")");
    }
    out[key] = value.get<std::string>();
  }
  return out;
}

// Sorted by offset, two tensors overlap exactly when one starts before the furthest end seen so far.
// Empty tensors occupy no bytes, so they never overlap anything.
void check_no_overlap(const std::string& path, const std::vector<Entry>& sorted) {
  const Entry* furthest = nullptr;
  for (const Entry& e : sorted) {
    if (e.begin == e.end) continue;
    if (furthest != nullptr && e.begin < furthest->end) {
      fail(path, "tensors " + quoted(furthest->view.name) + " " + range_str(furthest->begin, furthest->end) + " and " +
                     quoted(e.view.name) + " " + range_str(e.begin, e.end) + " overlap");
    }
    if (furthest == nullptr || e.end > furthest->end) furthest = &e;
  }
}

// The tensors must tile the data section exactly, as the safetensors library itself requires (its "invalid
// offset" and "incomplete buffer" errors): a gap or a stray byte at the end means the header length and the data
// disagree. A header length one byte short, for one, shifts every tensor by a byte; each would still lie inside
// the file and read as plausible garbage.
void check_coverage(const std::string& path, const std::vector<Entry>& sorted, uint64_t data_size) {
  uint64_t expected = 0;
  for (const Entry& e : sorted) {
    if (e.begin == e.end) continue;
    if (e.begin != expected) {
      fail(path, "tensor " + quoted(e.view.name) + " starts at data offset " + std::to_string(e.begin) +
                     " but the previous tensor ends at " + std::to_string(expected) +
                     " (the tensors must tile the data section without gaps)");
    }
    expected = e.end;
  }
  if (expected != data_size) {
    fail(path, "the data section (file size - 8 - header length " + std::to_string(data_size) + " bytes) differs "
               "from the " + std::to_string(expected) + " bytes its tensors cover: the header length and the data "
               "disagree (a header length off by " + std::to_string(int64_t(data_size) - int64_t(expected)) +
               " bytes shifts every tensor), or the file has trailing bytes");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Reading one file

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(MappedFile::open(path)));
  file->load();
  return file;
}

void SafetensorsFile::load() {
  const std::string& path = file_.path();
  const uint64_t file_size = file_.size();
  if (file_size < 8) {
    fail(path, "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  }
  const uint64_t n = read_u64_le(file_.data());
  if (n == 0) fail(path, "header length is 0 (expected a JSON object)");
  if (n > kMaxHeaderBytes) {
    fail(path, "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                   " bytes");
  }
  if (n > file_size - 8) {
    fail(path, "header length " + std::to_string(n) + " exceeds file size " + std::to_string(file_size) +
                   " (header would end at byte " + std::to_string(8 + n) + ")");
  }

  const json header =
      parse_json(path, std::string_view(reinterpret_cast<const char*>(file_.data()) + 8, n), "header");
  if (!header.is_object()) fail(path, "header must be a JSON object (found " + std::string(header.type_name()) + ")");

  const std::byte* data_section = file_.data() + 8 + n;
  const uint64_t data_size = file_size - 8 - n;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      metadata_ = parse_metadata(path, value);
    } else {
      entries.push_back(parse_entry(path, key, value, data_section, data_size));
    }
  }

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.view.name) < std::tie(b.begin, b.end, b.view.name);
  });
  check_no_overlap(path, entries);
  check_coverage(path, entries, data_size);

  tensors_.reserve(entries.size());
  for (Entry& e : entries) {
    index_.emplace(e.view.name, tensors_.size());
    tensors_.push_back(std::move(e.view));
  }
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------------------
// Checkpoint directories

namespace {

json read_json_file(const std::string& path) {
  const MappedFile file = MappedFile::open(path);
  return parse_json(path, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), "file");
}

// Shard names come from a downloaded file; accepting "../x" or "/x" would read outside the checkpoint.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && fs::path(name).filename() == fs::path(name);
}

std::string find_lone_safetensors(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".safetensors" && entry.is_regular_file()) {
      found.push_back(entry.path().filename().string());
    }
  }
  if (ec) fail(dir, "cannot list directory: " + ec.message());
  if (found.size() == 1) return (fs::path(dir) / found[0]).string();
  if (found.empty()) {
    fail(dir, std::string("no ") + kIndexName + ", " + kSingleName + " or other *.safetensors file");
  }
  std::sort(found.begin(), found.end());
  std::string list;
  for (const std::string& f : found) list += (list.empty() ? "" : ", ") + f;
  fail(dir, std::string("no ") + kIndexName + " or " + kSingleName + ", and " + std::to_string(found.size()) +
                " *.safetensors files (" + list + ") with no index to say how they fit together");
}

}  // namespace

std::unique_ptr<TensorStore> TensorStore::open_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "not a directory");
  std::unique_ptr<TensorStore> store(new TensorStore(dir));
  const fs::path index = fs::path(dir) / kIndexName;
  const fs::path single = fs::path(dir) / kSingleName;
  if (fs::exists(index, ec)) {
    store->open_sharded(index.string());
  } else if (fs::exists(single, ec)) {
    store->add_file(SafetensorsFile::open(single.string()));
  } else {
    store->add_file(SafetensorsFile::open(find_lone_safetensors(dir)));
  }
  return store;
}

void TensorStore::open_sharded(const std::string& index_path) {
  const json index = read_json_file(index_path);
  if (!index.is_object()) fail(index_path, "must be a JSON object (found " + std::string(index.type_name()) + ")");
  auto wm = index.find("weight_map");
  if (wm == index.end()) fail(index_path, "missing \"weight_map\"");
  if (!wm->is_object()) {
    fail(index_path, "\"weight_map\" must be an object (found " + std::string(wm->type_name()) + ")");
  }

  // shard file -> tensors the index places there; each shard is opened once.
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& [name, shard] : wm->items()) {
    if (!shard.is_string() || !is_plain_file_name(shard.get_ref<const std::string&>())) {
      fail(index_path, "weight_map entry for tensor " + quoted(name) + " must name a file in the checkpoint directory"
                       " (found " + shard.dump() + ")");
    }
    shards[shard.get<std::string>()].push_back(name);
  }
  if (shards.empty()) fail(index_path, "\"weight_map\" is empty");

  // Check every shard exists before mapping any, so a missing download is reported at once.
  for (const auto& [shard, names] : shards) {
    std::error_code ec;
    if (!fs::exists(fs::path(dir_) / shard, ec)) {
      fail(index_path, "shard " + quoted(shard) + " (holding " + std::to_string(names.size()) + " tensors, e.g. " +
                           quoted(names.front()) + ") does not exist in " + dir_);
    }
  }
  for (const auto& [shard, names] : shards) {
    std::unique_ptr<SafetensorsFile> file = SafetensorsFile::open((fs::path(dir_) / shard).string());
    for (const std::string& name : names) {
      if (file->find(name) == nullptr) {
        fail(index_path, "tensor " + quoted(name) + " is mapped to shard " + quoted(shard) +
                             ", which does not contain it");
      }
    }
    add_file(std::move(file));
  }
}

void TensorStore::add_file(std::unique_ptr<SafetensorsFile> file) {
  files_.push_back(std::move(file));
  for (const TensorView& t : files_.back()->tensors()) {
    auto [it, inserted] = by_name_.emplace(t.name, &t);
    if (!inserted) {
      fail(dir_, "tensor " + quoted(t.name) + " is present in two shards: " + it->second->file + " and " + t.file);
    }
  }
}

const TensorView* TensorStore::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& TensorStore::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (t == nullptr) {
    fail(dir_, "tensor " + quoted(name) + " not found (the checkpoint has " + std::to_string(size()) + " tensors)");
  }
  return *t;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, view] : by_name_) out.push_back(name);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Writing

namespace {

// Builds the header for TENSORS (which must be sorted by name) and records each tensor's end offset.
json build_header(const std::string& path, const std::vector<TensorSpec>& tensors,
                  const std::map<std::string, std::string>& metadata, std::vector<uint64_t>* ends) {
  json header = json::object();
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec& t = tensors[i];
    if (t.name == kMetadataKey) fail(path, "a tensor cannot be named " + quoted(kMetadataKey));
    if (i > 0 && tensors[i - 1].name == t.name) fail(path, "duplicate tensor name " + quoted(t.name));
    if (i > 0 && tensors[i - 1].name > t.name) {
      fail(path, "tensors must be given sorted by name (found " + quoted(tensors[i - 1].name) + " before " +
                     quoted(t.name) + ")");
    }
    const uint64_t end = offset + tensor_nbytes(path, t.name, t.shape, t.dtype);
    json entry = json::object();
    entry["dtype"] = dtype_name(t.dtype);
    entry["shape"] = t.shape;
    entry["data_offsets"] = json::array({offset, end});
    header[t.name] = std::move(entry);
    ends->push_back(end);
    offset = end;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  return header;
}

// The header JSON padded with spaces so the data section starts 8-byte aligned, as the reference
// implementation does; mapped tensors are then aligned for any dtype we read.
std::string padded_header_text(const json& header) {
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  return text;
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<TensorSpec> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path), tensors_(std::move(tensors)) {
  const std::string text = padded_header_text(build_header(path_, tensors_, metadata, &ends_));
  total_ = ends_.empty() ? 0 : ends_.back();

  out_ = std::make_unique<OutputFile>(path_);
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out_->write(len, 8);
  out_->write(text);
}

SafetensorsWriter::~SafetensorsWriter() = default;

std::string SafetensorsWriter::current_tensor() const {
  for (size_t i = 0; i < ends_.size(); ++i) {
    if (ends_[i] > written_) return tensors_[i].name;
  }
  return "";
}

void SafetensorsWriter::write(const void* bytes, size_t n) {
  if (finished_) fail(path_, "write() after finish()");
  if (n > total_ - written_) {
    fail(path_, "write of " + std::to_string(n) + " bytes passes the end of the data section (" +
                    std::to_string(written_) + " of " + std::to_string(total_) + " bytes already written)");
  }
  if (n == 0) return;
  try {
    out_->write(bytes, n);
  } catch (const Error& e) {
    fail(path_, "in tensor " + quoted(current_tensor()) + ": " + e.what());
  }
  written_ += n;
}

void SafetensorsWriter::finish() {
  if (finished_) fail(path_, "finish() called twice");
  if (written_ != total_) {
    fail(path_, "finish() with " + std::to_string(written_) + " of " + std::to_string(total_) +
                    " data bytes written (tensor " + quoted(current_tensor()) + " is incomplete)");
  }
  out_->commit();
  finished_ = true;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<TensorSpec, std::vector<std::byte>>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const std::pair<TensorSpec, std::vector<std::byte>>*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) { return a->first.name < b->first.name; });

  std::vector<TensorSpec> specs;
  for (const auto* t : order) {
    const uint64_t need = tensor_nbytes(path, t->first.name, t->first.shape, t->first.dtype);
    if (t->second.size() != need) {
      fail_tensor(path, t->first.name, std::to_string(t->second.size()) + " bytes given but shape " +
                                           shape_str(t->first.shape) + " of " + dtype_name(t->first.dtype) +
                                           " needs " + std::to_string(need));
    }
    specs.push_back(t->first);
  }
  SafetensorsWriter writer(path, std::move(specs), metadata);
  for (const auto* t : order) writer.write(t->second.data(), t->second.size());
  writer.finish();
}

}  // namespace g4ref
