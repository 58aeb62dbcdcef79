// Safetensors reading, writing and checkpoint directories: a round trip, and hostile files that must be
// refused with a message naming the file and the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> counting_bytes(size_t n, unsigned seed = 0) {
  std::vector<std::byte> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 7 + seed) & 0xff);
  return out;
}

// A file with exactly HEADER as its JSON (no padding) followed by DATA: lets a test say anything.
void write_raw(const fs::path& path, const std::string& header, size_t data_bytes) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  out << std::string(data_bytes, '\0');
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

using testing::expect_error;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("g4ref_safetensors_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // Opens a raw-built file and expects it to be refused.
  void expect_bad(const std::string& header, size_t data_bytes, const std::string& phrase) {
    const std::string path = file("bad.safetensors");
    write_raw(path, header, data_bytes);
    expect_error([&] { SafetensorsFile::open(path); }, path, phrase);
  }

  // Writes a small valid shard holding the named F32 [2] tensors.
  void write_shard(const std::string& name, const std::vector<std::string>& tensors) {
    std::vector<std::pair<TensorSpec, std::vector<std::byte>>> list;
    for (const std::string& t : tensors) list.push_back({{t, DType::F32, {2}}, counting_bytes(8)});
    write_safetensors(file(name), list);
  }

  fs::path dir_;
};

// ---- round trip ----

TEST_F(SafetensorsTest, RoundTripInThreeChunks) {
  const std::vector<TensorSpec> specs = {
      {"a.bias", DType::F32, {3}},
      {"b.weight", DType::BF16, {2, 3}},
      {"c.scalar", DType::F64, {}},
      {"d.empty", DType::F16, {0, 4}},
  };
  const std::vector<std::byte> data = counting_bytes(12 + 12 + 8);
  const std::string path = file("model.safetensors");
  {
    SafetensorsWriter writer(path, specs, {{"format", "pt"}});
    // Chunk boundaries fall inside tensors, as they do when a converter streams fixed-size buffers.
    writer.write(data.data(), 5);
    writer.write(data.data() + 5, 15);
    writer.write(data.data() + 20, data.size() - 20);
    writer.finish();
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));

  const auto st = SafetensorsFile::open(path);
  EXPECT_EQ(st->path(), path);
  EXPECT_EQ(st->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const auto& ts = st->tensors();
  ASSERT_EQ(ts.size(), specs.size());
  size_t offset = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    SCOPED_TRACE(specs[i].name);
    EXPECT_EQ(ts[i].name, specs[i].name);  // data order is name order
    EXPECT_EQ(ts[i].dtype, specs[i].dtype);
    EXPECT_EQ(ts[i].shape, specs[i].shape);
    EXPECT_EQ(ts[i].file, path);
    ASSERT_EQ(ts[i].nbytes, static_cast<size_t>(ts[i].numel()) * dtype_size(ts[i].dtype));
    EXPECT_EQ(std::memcmp(ts[i].data, data.data() + offset, ts[i].nbytes), 0);
    EXPECT_EQ(st->find(specs[i].name), &ts[i]);
    offset += ts[i].nbytes;
  }
  EXPECT_EQ(offset, data.size());
  EXPECT_EQ(ts[2].numel(), 1);  // shape [] is a scalar
  EXPECT_EQ(ts[3].numel(), 0);
  EXPECT_EQ(st->find("missing"), nullptr);

  // Header padded so the data section starts on an 8-byte boundary.
  const MappedFile raw = MappedFile::open(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint64_t>(raw.data()[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + data.size());
  EXPECT_EQ(std::memcmp(raw.data() + 8 + n, data.data(), data.size()), 0);
}

TEST_F(SafetensorsTest, WriteSafetensorsSortsByName) {
  write_safetensors(file("m.safetensors"), {{{"zeta", DType::F32, {1}}, counting_bytes(4, 1)},
                                            {{"alpha", DType::F32, {1}}, counting_bytes(4, 2)}});
  const auto st = SafetensorsFile::open(file("m.safetensors"));
  ASSERT_EQ(st->tensors().size(), 2u);
  EXPECT_EQ(st->tensors()[0].name, "alpha");
  EXPECT_EQ(st->tensors()[1].name, "zeta");
  EXPECT_EQ(std::memcmp(st->tensors()[0].data, counting_bytes(4, 2).data(), 4), 0);
}

// The safetensors library refuses a gap (InvalidOffset: each tensor must start where the previous one ends) and
// bytes the tensors do not cover (MetadataIncompleteBuffer), so such a file is not a safetensors file any reader
// would accept; and a header length off by a byte is exactly a one-byte uncovered region.
TEST_F(SafetensorsTest, GapsBetweenTensorsAreRefused) {
  write_raw(file("gap.safetensors"),
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
            16);
  expect_error([&] { SafetensorsFile::open(file("gap.safetensors")); }, file("gap.safetensors"),
                        "tensor \"b\" starts at data offset 12 but the previous tensor ends at 4");
}

// ---- hostile files ----

TEST_F(SafetensorsTest, TruncatedDataSection) {
  const std::string path = file("trunc.safetensors");
  write_safetensors(path, {{{"w", DType::F32, {4}}, counting_bytes(16)}});
  fs::resize_file(path, fs::file_size(path) - 4);
  expect_error([&] { SafetensorsFile::open(path); }, path, "is past the end of the data section (12 bytes");
}

TEST_F(SafetensorsTest, FileShorterThanHeaderLength) {
  const std::string path = file("tiny.safetensors");
  write_bytes(path, "abc");
  expect_error([&] { SafetensorsFile::open(path); }, path, "file is 3 bytes, shorter than the 8-byte header length");
}

TEST_F(SafetensorsTest, HeaderLengthPastEnd) {
  const std::string path = file("long.safetensors");
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(0xe8);  // 1000
  bytes[1] = 0x03;
  write_bytes(path, bytes + "{}");
  expect_error([&] { SafetensorsFile::open(path); }, path, "header length 1000 exceeds file size 10");
}

TEST_F(SafetensorsTest, HeaderLengthZeroOrHuge) {
  const std::string path = file("zero.safetensors");
  write_bytes(path, std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(path); }, path, "header length is 0");
  write_bytes(path, std::string(7, '\0') + std::string(1, '\x01') + "{}");
  expect_error([&] { SafetensorsFile::open(path); }, path, "exceeds the limit of 100000000 bytes");
}

TEST_F(SafetensorsTest, MalformedJson) { expect_bad(R"({"a": {"dtype": )", 0, "header is not valid JSON"); }

TEST_F(SafetensorsTest, HeaderNotAnObject) { expect_bad("[1, 2]", 0, "header must be a JSON object (found array)"); }

TEST_F(SafetensorsTest, OverlappingTensors) {
  expect_bad(R"({"first":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
             R"("second":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             12, "tensors \"first\" [0, 8) and \"second\" [4, 12) overlap");
}

TEST_F(SafetensorsTest, OverlapHiddenBehindShortTensor) {
  // "big" covers both others; only comparing neighbours would miss "late".
  expect_bad(R"({"big":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
             R"("small":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
             R"("late":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
             16, "overlap");
}

TEST_F(SafetensorsTest, WrongByteCount) {
  expect_bad(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8,
             "tensor \"w\": data_offsets [0, 8) hold 8 bytes but shape [3] of F32 needs 12 bytes");
}

TEST_F(SafetensorsTest, UnknownDtype) {
  expect_bad(R"({"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})", 1, "unknown dtype \"I8\"");
}

TEST_F(SafetensorsTest, NegativeDimension) {
  expect_bad(R"({"w":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,0]}})", 0, "negative dimension -2");
}

TEST_F(SafetensorsTest, MissingOrMistypedFields) {
  expect_bad(R"({"w":{"dtype":"F32","shape":[1]}})", 4, "tensor \"w\": missing \"data_offsets\"");
  expect_bad(R"({"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4, "\"shape\" must be an array");
  expect_bad(R"({"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", 4, "\"dtype\" must be a string");
  expect_bad(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, "array of two integers");
  expect_bad(R"({"w":[1]})", 4, "entry must be an object");
}

TEST_F(SafetensorsTest, BeginAfterEnd) {
  expect_bad(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8, "begin 8 > end 4");
}

TEST_F(SafetensorsTest, ShapeProductOverflow) {
  expect_bad(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})", 0, "overflows");
}

TEST_F(SafetensorsTest, NonStringMetadata) {
  expect_bad(R"({"__metadata__":{"n":1}})", 0, "value for key \"n\" must be a string");
}

// ---- checkpoint directories ----

TEST_F(SafetensorsTest, ShardedCheckpoint) {
  write_shard("model-00001-of-00002.safetensors", {"b", "a"});
  write_shard("model-00002-of-00002.safetensors", {"c"});
  write_bytes(dir_ / "model.safetensors.index.json",
              R"({"metadata":{"total_size":24},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
              R"("b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}})");
  const auto store = TensorStore::open_dir(dir_.string());
  EXPECT_EQ(store->size(), 3u);
  EXPECT_EQ(store->names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(store->get("c").file, file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(store->get("a").shape, std::vector<int64_t>{2});
  EXPECT_EQ(store->find("d"), nullptr);
}

TEST_F(SafetensorsTest, ShardedIndexNamesMissingShard) {
  write_shard("model-00001-of-00002.safetensors", {"a"});
  const std::string index = file("model.safetensors.index.json");
  write_bytes(index, R"({"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                     R"("b":"model-00002-of-00002.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, index,
               "shard \"model-00002-of-00002.safetensors\" (holding 1 tensors, e.g. \"b\") does not exist");
}

TEST_F(SafetensorsTest, ShardedTensorMissingFromItsShard) {
  write_shard("s1.safetensors", {"a"});
  write_shard("s2.safetensors", {"b"});
  const std::string index = file("model.safetensors.index.json");
  write_bytes(index, R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, index,
               "tensor \"b\" is mapped to shard \"s1.safetensors\", which does not contain it");
}

TEST_F(SafetensorsTest, ShardedTensorInTwoShards) {
  write_shard("s1.safetensors", {"a", "x"});
  write_shard("s2.safetensors", {"b", "x"});
  write_bytes(dir_ / "model.safetensors.index.json",
              R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","x":"s1.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, dir_.string(),
               "tensor \"x\" is present in two shards");
}

TEST_F(SafetensorsTest, ShardedIndexRejectsBadJsonAndPaths) {
  const std::string index = file("model.safetensors.index.json");
  write_bytes(index, "{\"weight_map\": ");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, index, "is not valid JSON");
  write_bytes(index, R"({"weights":{}})");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, index, "missing \"weight_map\"");
  write_bytes(index, R"({"weight_map":{"a":"../outside.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, index, "must name a file in the checkpoint directory");
}

TEST_F(SafetensorsTest, StoreGetMissingTensor) {
  write_shard("model.safetensors", {"a"});
  const auto store = TensorStore::open_dir(dir_.string());
  expect_error([&] { store->get("model.nope"); }, dir_.string(), "tensor \"model.nope\" not found");
}

TEST_F(SafetensorsTest, StoreFallsBackToLoneFile) {
  write_shard("weights.safetensors", {"a"});
  EXPECT_EQ(TensorStore::open_dir(dir_.string())->names(), std::vector<std::string>{"a"});
  write_shard("other.safetensors", {"b"});
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, dir_.string(), "with no index");
  fs::remove(dir_ / "weights.safetensors");
  fs::remove(dir_ / "other.safetensors");
  expect_error([&] { TensorStore::open_dir(dir_.string()); }, dir_.string(), "no model.safetensors.index.json");
}

// ---- writer safety ----

TEST_F(SafetensorsTest, UnfinishedWriterLeavesNoFile) {
  const std::string path = file("out.safetensors");
  {
    SafetensorsWriter writer(path, {{"w", DType::F32, {4}}});
    writer.write(counting_bytes(8).data(), 8);
    EXPECT_FALSE(fs::exists(path));  // only the .partial exists while writing
    EXPECT_TRUE(fs::exists(path + ".partial"));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST_F(SafetensorsTest, FinishWithMissingBytesThrows) {
  const std::string path = file("out.safetensors");
  {
    SafetensorsWriter writer(path, {{"a", DType::F32, {1}}, {"b", DType::F32, {2}}});
    writer.write(counting_bytes(8).data(), 8);
    expect_error([&] { writer.finish(); }, path, "finish() with 8 of 12 data bytes written (tensor \"b\"");
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST_F(SafetensorsTest, WriterRejectsOverrunAndUnsortedNames) {
  const std::string path = file("out.safetensors");
  SafetensorsWriter writer(path, {{"a", DType::BF16, {2}}});
  expect_error([&] { writer.write(counting_bytes(6).data(), 6); }, path, "passes the end of the data section");
  expect_error([&] { SafetensorsWriter(path, {{"b", DType::F32, {1}}, {"a", DType::F32, {1}}}); }, path,
               "sorted by name");
  expect_error([&] { SafetensorsWriter(path, {{"a", DType::F32, {1}}, {"a", DType::F32, {1}}}); }, path,
               "duplicate tensor name \"a\"");
}

// ---- mapped files ----

TEST_F(SafetensorsTest, MappedFileEmptyAndMissing) {
  write_bytes(dir_ / "empty", "");
  const MappedFile empty = MappedFile::open(file("empty"));
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.data(), nullptr);
  expect_error([&] { MappedFile::open(file("absent")); }, file("absent"), "No such file or directory");
  expect_error([&] { MappedFile::open(dir_.string()); }, dir_.string(), "not a regular file");
}

}  // namespace
}  // namespace g4ref
