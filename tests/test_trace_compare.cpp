// Trace files, foreign dump readers, error metrics, name maps and the trace comparison.
// The numpy readers are checked against files numpy itself writes (Debian's python3-numpy), the metrics
// against values worked out by hand, and every malformed input must give an error naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "compare/compare.h"
#include "compare/metrics.h"
#include "compare/name_map.h"
#include "base/error.h"
#include "io/safetensors.h"
#include "test_helpers.h"
#include "trace/trace_file.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::run_command;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Runs FN, which must throw a g4ref::Error whose message starts with WHERE and contains PHRASE.
template <typename Fn>
void expect_error(Fn fn, const std::string& where, const std::string& phrase) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << phrase;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(where, 0), 0u) << "message does not start with " << where << ": " << msg;
    EXPECT_NE(msg.find(phrase), std::string::npos) << "message lacks \"" << phrase << "\": " << msg;
  }
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

struct Named {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<double> values;
};

// A trace written through TraceWriter, in the order given (float64).
void write_trace(const std::string& path, const TraceMeta& meta, const std::vector<Named>& tensors) {
  TraceWriter w(path, meta);
  for (const Named& t : tensors) w.record(t.name, t.shape, t.values.data());
  w.finish();
}

std::vector<double> ramp(size_t n, double scale = 1.0, double offset = 0.0) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = offset + scale * std::sin(0.37 * static_cast<double>(i) + 0.1);
  return v;
}

// Debian's python3 with numpy, or "" (the numpy tests then skip).
std::string numpy_python() {
  std::string out;
  if (run_command("/usr/bin/python3 -c 'import numpy; print(\"ok\")' 2>/dev/null", &out) == 0 &&
      out.find("ok") != std::string::npos) {
    return "/usr/bin/python3";
  }
  return "";
}

// Runs a Python SCRIPT with the temp directory as argv[1]; fails the test on a non-zero exit.
void run_python(const std::string& python, const TempDir& dir, const std::string& script) {
  const std::string path = dir / "script.py";
  write_bytes(path, script);
  std::string out;
  const int rc = run_command(python + " " + path + " " + dir.str() + " 2>&1", &out);
  ASSERT_EQ(rc, 0) << out;
}

// ---------------------------------------------------------------------------------------------------
// Trace files

TEST(TraceFile, RoundTripKeepsValuesMetadataAndDataFlowOrder) {
  TempDir dir("trace_rt");
  const std::string path = dir / "t.safetensors";
  TraceMeta meta;
  meta.config_hash = "abc123";
  meta.precision = "bf16";
  meta.g4ref_version = "0.1.0";
  meta.model = "tiny";
  meta.tokens = {2, 818, 5279, 258880};
  meta.extra = {{"note", "a \"quoted\" value"}, {"prompt", "héllo"}};

  const std::vector<double> tokens = {2, 818, 5279, 258880};
  const std::vector<float> embed = {1.5f, -2.25f, 3.0e-8f, 65504.f, -0.f, 7.f};
  const std::vector<double> q = ramp(2 * 3 * 4, 1e3);
  const std::vector<double> fn = ramp(6, 1e-30);
  {
    TraceWriter w(path, meta);
    w.record("input.tokens", {4}, tokens.data());
    w.record("embed.out", {2, 3}, embed.data());
    w.record("layers.0.q", {2, 3, 4}, q.data());
    w.record("final_norm", {2, 3}, fn.data());
    w.record("layers.0.q", {2, 3, 4}, q.data());  // a later decode step reaching the same tap
    w.record("layers.0.q", {2, 3, 4}, q.data());
    EXPECT_EQ(w.size(), 4u);
    w.finish();
    EXPECT_FALSE(fs::exists(w.data_path()));
    EXPECT_FALSE(fs::exists(path + ".partial"));
  }

  const Trace t = Trace::open(path);
  EXPECT_EQ(t.names(), (std::vector<std::string>{"input.tokens", "embed.out", "layers.0.q", "final_norm"}));
  EXPECT_EQ(t.meta(), meta);
  EXPECT_EQ(t.repeats_ignored(), (std::map<std::string, int64_t>{{"layers.0.q", 2}}));
  EXPECT_EQ(t.tensor("input.tokens").values, tokens);
  EXPECT_EQ(t.tensor("layers.0.q").values, q);
  EXPECT_EQ(t.tensor("layers.0.q").shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(t.tensor("final_norm").values, fn);
  const TraceTensor e = t.tensor("embed.out");
  ASSERT_EQ(e.values.size(), embed.size());
  for (size_t i = 0; i < embed.size(); ++i) EXPECT_EQ(e.values[i], static_cast<double>(embed[i]));
  EXPECT_TRUE(std::signbit(e.values[4]));

  // Plain safetensors underneath: F64 for doubles, F32 for floats, data section 8-byte aligned.
  auto st = SafetensorsFile::open(path);
  EXPECT_EQ(st->find("embed.out")->dtype, DType::F32);
  EXPECT_EQ(st->find("layers.0.q")->dtype, DType::F64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(st->tensors().front().data) % 8, 0u);
  expect_error([&] { (void)t.tensor("layers.9.q"); }, path, "no tensor \"layers.9.q\"");
}

TEST(TraceFile, RegexFilterRecordsOnlyMatchingNames) {
  TempDir dir("trace_filter");
  const std::string path = dir / "f.safetensors";
  const std::vector<double> v = {1, 2, 3};
  {
    TraceWriter w(path, {}, R"(^layers\.1\.(q|k)$)");
    for (const char* name : {"layers.0.q", "layers.1.q", "layers.1.k", "layers.1.q_norm", "layers.11.q", "logits"}) {
      if (w.wants(name)) w.record(name, {3}, v.data());
    }
    EXPECT_FALSE(w.wants("layers.0.q"));
    EXPECT_TRUE(w.wants("layers.1.k"));
    w.finish();
  }
  EXPECT_EQ(Trace::open(path).names(), (std::vector<std::string>{"layers.1.q", "layers.1.k"}));
  expect_error([&] { TraceWriter w(dir / "x.safetensors", {}, "(unclosed"); }, dir / "x.safetensors",
               "not a valid regular expression");
}

TEST(TraceFile, UnfinishedWriterLeavesNothingBehind) {
  TempDir dir("trace_abort");
  const std::string path = dir / "a.safetensors";
  std::string data_path;
  {
    TraceWriter w(path, {});
    const std::vector<double> v(100, 1.0);
    w.record("embed.out", {10, 10}, v.data());
    data_path = w.data_path();
    EXPECT_TRUE(fs::exists(data_path));
  }
  EXPECT_FALSE(fs::exists(data_path));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(TraceFile, ReservedMetadataKeysAreRefused) {
  TempDir dir("trace_reserved");
  TraceMeta meta;
  meta.extra["order"] = "x";
  expect_error([&] { TraceWriter w(dir / "r.safetensors", meta); }, dir / "r.safetensors", "reserved");
}

// 50 tensors of 1 MiB: the writer holds only header entries, each tensor's bytes are on disk as soon as it
// is recorded (checked by the size of the temporary data file before finish), and the reader maps the file
// and converts one tensor at a time.
TEST(TraceFile, LargeTraceIsStreamed) {
  TempDir dir("trace_big");
  const std::string path = dir / "big.safetensors";
  constexpr int kTensors = 50;
  constexpr int64_t kFloats = 262144;  // 1 MiB of float32
  std::vector<float> buf(kFloats);
  {
    TraceWriter w(path, {});
    for (int i = 0; i < kTensors; ++i) {
      for (int64_t j = 0; j < kFloats; j += 4096) buf[j] = static_cast<float>(i * 1000 + j / 4096);
      w.record("layers." + std::to_string(i) + ".out", {512, 512}, buf.data());
      EXPECT_EQ(fs::file_size(w.data_path()), static_cast<uintmax_t>((i + 1) * kFloats * 4));
    }
    EXPECT_EQ(w.bytes_recorded(), static_cast<uint64_t>(kTensors * kFloats * 4));
    w.finish();
  }
  EXPECT_GE(fs::file_size(path), static_cast<uintmax_t>(kTensors * kFloats * 4));
  const Trace t = Trace::open(path);
  ASSERT_EQ(t.names().size(), static_cast<size_t>(kTensors));
  for (int i = 0; i < kTensors; i += 7) {
    const TraceTensor x = t.tensor("layers." + std::to_string(i) + ".out");
    ASSERT_EQ(x.numel(), kFloats);
    EXPECT_EQ(x.values[0], i * 1000);
    EXPECT_EQ(x.values[4096 * 63], i * 1000 + 63);
  }
}

// ---------------------------------------------------------------------------------------------------
// Foreign dumps

TEST(ForeignDumps, NpyAndNpzWrittenByNumpy) {
  const std::string python = numpy_python();
  if (python.empty()) GTEST_SKIP() << "Debian's python3-numpy is not installed (apt-get install python3-numpy)";
  TempDir dir("npy");
  run_python(python, dir, R"(
import sys, numpy as np
d = sys.argv[1]
a = (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3)
np.save(d + '/a.npy', a)
np.save(d + '/b.npy', np.array([1e-300, -2.5, 3.0, 1e300], dtype=np.float64))
np.save(d + '/h.npy', np.array([[1.0, -0.5], [65504.0, 2.0**-24]], dtype=np.float16))
np.save(d + '/ids.npy', np.array([2, 818, 258880], dtype=np.int64))
np.save(d + '/f.npy', np.asfortranarray(a))
np.save(d + '/big.npy', np.arange(3, dtype='>f4'))
np.savez(d + '/s.npz', **{'layers.0.q': a, 'embed.out': np.ones((1, 2, 2), dtype=np.float64)})
np.savez_compressed(d + '/c.npz', x=a)
)");
  const Trace a = Trace::open(dir / "a.npy");
  EXPECT_EQ(a.names(), std::vector<std::string>{"a"});
  EXPECT_EQ(a.tensor("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.tensor("a").values, (std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5}));
  EXPECT_EQ(Trace::open(dir / "b.npy").tensor("b").values, (std::vector<double>{1e-300, -2.5, 3.0, 1e300}));
  EXPECT_EQ(Trace::open(dir / "h.npy").tensor("h").values, (std::vector<double>{1.0, -0.5, 65504.0, std::ldexp(1.0, -24)}));
  EXPECT_EQ(Trace::open(dir / "ids.npy").tensor("ids").values, (std::vector<double>{2, 818, 258880}));
  TraceOpenOptions named;
  named.name = "layers.2.q";
  EXPECT_EQ(Trace::open(dir / "a.npy", named).names(), std::vector<std::string>{"layers.2.q"});

  const Trace s = Trace::open(dir / "s.npz");
  EXPECT_EQ(s.names(), (std::vector<std::string>{"layers.0.q", "embed.out"}));
  EXPECT_EQ(s.tensor("layers.0.q").values, a.tensor("a").values);
  EXPECT_EQ(s.tensor("embed.out").shape, (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(s.tensor("embed.out").values, std::vector<double>(4, 1.0));

  expect_error([&] { Trace::open(dir / "f.npy"); }, dir / "f.npy", "Fortran");
  expect_error([&] { Trace::open(dir / "big.npy"); }, dir / "big.npy", "big-endian");
  expect_error([&] { Trace::open(dir / "c.npz"); }, dir / "c.npz", "compressed");

  // Truncations of numpy's own files.
  std::ifstream in(dir / "a.npy", std::ios::binary);
  const std::string full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(dir / "cut.npy", full.substr(0, full.size() - 3));
  expect_error([&] { Trace::open(dir / "cut.npy"); }, dir / "cut.npy", "truncated");
  std::ifstream zin(dir / "s.npz", std::ios::binary);
  const std::string zfull((std::istreambuf_iterator<char>(zin)), std::istreambuf_iterator<char>());
  write_bytes(dir / "cut.npz", zfull.substr(0, zfull.size() / 2));
  expect_error([&] { Trace::open(dir / "cut.npz"); }, dir / "cut.npz", "");
}

// A trace must be readable outside g4ref. Python (json + numpy, no g4ref code) parses it, applies the checks
// the safetensors library makes (offsets contiguous from 0 to the end of the file in offset order, byte counts
// matching dtype and shape), and saves what it read as .npz, which our reader then compares with the originals.
TEST(ForeignDumps, TraceReadByPythonRoundTripsThroughNpz) {
  const std::string python = numpy_python();
  if (python.empty()) GTEST_SKIP() << "Debian's python3-numpy is not installed (apt-get install python3-numpy)";
  TempDir dir("trace_py");
  const std::vector<double> q = ramp(24, 3.0);
  const std::vector<float> e = {1.5f, -2.0f, 0.25f, 8.0f};
  {
    TraceMeta meta;
    meta.tokens = {2, 10};
    TraceWriter w(dir / "t.safetensors", meta);
    w.record("layers.0.q", {2, 3, 4}, q.data());
    w.record("embed.out", {2, 2}, e.data());
    w.finish();
  }
  run_python(python, dir, R"(
import sys, json, struct, numpy as np
d = sys.argv[1]
raw = open(d + '/t.safetensors', 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__')
assert json.loads(meta['tokens']) == [2, 10], meta
assert json.loads(meta['order']) == ['layers.0.q', 'embed.out'], meta
data = raw[8 + n:]
end = 0
arrays = {}
for name, t in sorted(header.items(), key=lambda kv: kv[1]['data_offsets']):
    b, e = t['data_offsets']
    assert b == end, (name, b, end)
    dt = {'F64': '<f8', 'F32': '<f4'}[t['dtype']]
    assert e - b == np.dtype(dt).itemsize * int(np.prod(t['shape'])), name
    arrays[name] = np.frombuffer(data[b:e], dtype=dt).reshape(t['shape'])
    end = e
assert end == len(data)
np.savez(d + '/back.npz', **arrays)
)");
  const Trace back = Trace::open(dir / "back.npz");
  EXPECT_EQ(back.tensor("layers.0.q").values, q);
  EXPECT_EQ(back.tensor("layers.0.q").shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(back.tensor("embed.out").values, (std::vector<double>{1.5, -2.0, 0.25, 8.0}));
}

// A .npy image built byte by byte (no numpy needed).
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(ForeignDumps, MalformedNpyIsRefusedNamingTheFile) {
  TempDir dir("npy_bad");
  const std::vector<float> v = {1, 2, 3, 4};
  write_bytes(dir / "ok.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", bytes_of(v)));
  EXPECT_EQ(Trace::open(dir / "ok.npy").tensor("ok").values, (std::vector<double>{1, 2, 3, 4}));

  write_bytes(dir / "magic.npy", "\x93NUMPX" + npy_bytes("{}", "").substr(6));
  expect_error([&] { Trace::open(dir / "magic.npy"); }, dir / "magic.npy", "bad magic");
  write_bytes(dir / "short.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", bytes_of(v)));
  expect_error([&] { Trace::open(dir / "short.npy"); }, dir / "short.npy", "truncated");
  write_bytes(dir / "long.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", bytes_of(v)));
  expect_error([&] { Trace::open(dir / "long.npy"); }, dir / "long.npy", "needs 12 data bytes but 16");
  write_bytes(dir / "hdr.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", "").substr(0, 30));
  expect_error([&] { Trace::open(dir / "hdr.npy"); }, dir / "hdr.npy", "header");
  write_bytes(dir / "dict.npy", npy_bytes("{'descr': '<f4', 'shape': (4,), }", bytes_of(v)));
  expect_error([&] { Trace::open(dir / "dict.npy"); }, dir / "dict.npy", "missing");
  write_bytes(dir / "u8.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", "abcd"));
  expect_error([&] { Trace::open(dir / "u8.npy"); }, dir / "u8.npy", "not supported");
}

TEST(ForeignDumps, CompressedNpzMemberIsRefused) {
  // Python's own zipfile (no numpy needed) writes one deflated member holding a valid .npy image.
  TempDir dir("npz_deflate");
  const std::vector<float> v = {1, 2};
  write_bytes(dir / "x.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", bytes_of(v)));
  std::string out;
  if (run_command("/usr/bin/python3 -c 'import zipfile' 2>/dev/null", &out) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  run_python("/usr/bin/python3", dir, R"(
import sys, zipfile
d = sys.argv[1]
with zipfile.ZipFile(d + '/d.npz', 'w', zipfile.ZIP_DEFLATED) as z:
    z.write(d + '/x.npy', 'x.npy')
with zipfile.ZipFile(d + '/s.npz', 'w', zipfile.ZIP_STORED) as z:
    z.write(d + '/x.npy', 'x.npy')
    z.writestr('notes.txt', 'hello')
)");
  expect_error([&] { Trace::open(dir / "d.npz"); }, dir / "d.npz", "member \"x.npy\"");
  expect_error([&] { Trace::open(dir / "d.npz"); }, dir / "d.npz", "compressed (zip method 8");
  expect_error([&] { Trace::open(dir / "s.npz"); }, dir / "s.npz", "not a .npy array");
  write_bytes(dir / "junk.npz", std::string(100, 'x'));
  expect_error([&] { Trace::open(dir / "junk.npz"); }, dir / "junk.npz", "end-of-central-directory");
}

TEST(ForeignDumps, LlamaCppLogitsBin) {
  TempDir dir("llama_bin");
  const std::vector<float> logits = {0.5f, -1.25f, 3.0f, -30.0f, 12.0f, 0.0f};
  write_bytes(dir / "llamacpp-gemma.bin", bytes_of(logits));
  const std::vector<int32_t> tokens = {2, 818, 5279};
  write_bytes(dir / "llamacpp-gemma-tokens.bin", bytes_of(tokens));

  const Trace t = Trace::open(dir / "llamacpp-gemma.bin");
  EXPECT_EQ(t.format(), TraceFormat::RawF32);
  EXPECT_EQ(t.names(), std::vector<std::string>{"logits"});
  EXPECT_EQ(t.tensor("logits").shape, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(t.tensor("logits").values, (std::vector<double>{0.5, -1.25, 3.0, -30.0, 12.0, 0.0}));
  EXPECT_EQ(t.meta().tokens, (std::vector<int>{2, 818, 5279}));

  TraceOpenOptions o;
  o.format = TraceFormat::RawF32;
  o.row_width = 3;
  o.name = "logits.raw";
  const Trace rows = Trace::open(dir / "llamacpp-gemma.bin", o);
  EXPECT_EQ(rows.tensor("logits.raw").shape, (std::vector<int64_t>{2, 3}));
  o.row_width = 4;
  expect_error([&] { Trace::open(dir / "llamacpp-gemma.bin", o); }, dir / "llamacpp-gemma.bin", "not a multiple of the row width 4");

  write_bytes(dir / "odd.bin", "abcde");
  expect_error([&] { Trace::open(dir / "odd.bin"); }, dir / "odd.bin", "not a positive multiple of 4");
  write_bytes(dir / "empty.bin", "");
  expect_error([&] { Trace::open(dir / "empty.bin"); }, dir / "empty.bin", "0 bytes");
}

TEST(ForeignDumps, MtmdDebugEmbeddings) {
  TempDir dir("mtmd");
  const std::vector<int32_t> header = {2, 3};
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  write_bytes(dir / "emb.raw", bytes_of(header) + bytes_of(data));
  const Trace t = Trace::open(dir / "emb.raw");  // recognized from its header
  EXPECT_EQ(t.format(), TraceFormat::MtmdEmbeddings);
  EXPECT_EQ(t.names(), std::vector<std::string>{"embeddings"});
  EXPECT_EQ(t.tensor("embeddings").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.tensor("embeddings").values, (std::vector<double>{1, 2, 3, 4, 5, 6}));

  TraceOpenOptions o;
  o.format = TraceFormat::MtmdEmbeddings;
  o.name = "image.0.out";
  EXPECT_EQ(Trace::open(dir / "emb.raw", o).names(), std::vector<std::string>{"image.0.out"});

  const std::vector<int32_t> wrong = {3, 3};
  write_bytes(dir / "wrong.raw", bytes_of(wrong) + bytes_of(data));
  expect_error([&] { Trace::open(dir / "wrong.raw", o); }, dir / "wrong.raw", "n_tokens 3 x n_embd 3");
  const std::vector<int32_t> negative = {-2, 3};
  write_bytes(dir / "neg.raw", bytes_of(negative) + bytes_of(data));
  expect_error([&] { Trace::open(dir / "neg.raw", o); }, dir / "neg.raw", "expected both positive");
  write_bytes(dir / "tiny.raw", "abc");
  expect_error([&] { Trace::open(dir / "tiny.raw", o); }, dir / "tiny.raw", "shorter than the 8-byte header");
}

TEST(ForeignDumps, MalformedSafetensorsTraceIsRefused) {
  TempDir dir("st_bad");
  const std::string path = dir / "t.safetensors";
  write_trace(path, {}, {{"embed.out", {2}, {1, 2}}});
  std::ifstream in(path, std::ios::binary);
  std::string full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(dir / "cut.safetensors", full.substr(0, full.size() - 4));
  expect_error([&] { Trace::open(dir / "cut.safetensors"); }, dir / "cut.safetensors", "truncated");
}

// ---------------------------------------------------------------------------------------------------
// Metrics

TEST(Metrics, ElementwiseByHand) {
  const TensorMetrics m = tensor_metrics(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 4});
  EXPECT_EQ(m.count, 3);
  EXPECT_DOUBLE_EQ(m.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(m.mean_abs, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.nmse, 1.0 / 14.0);
  EXPECT_DOUBLE_EQ(m.cosine, 17.0 / std::sqrt(14.0 * 21.0));

  const TensorMetrics zeros = tensor_metrics(std::vector<double>{0, 0}, std::vector<double>{0, 0});
  EXPECT_EQ(zeros.nmse, 0.0);  // 0/0 is defined as 0
  EXPECT_EQ(zeros.cosine, 1.0);
  EXPECT_EQ(tensor_metrics(std::vector<double>{0, 0}, std::vector<double>{0, 1}).nmse, kInf);
  EXPECT_EQ(tensor_metrics(std::vector<double>{1, -1}, std::vector<double>{-1, 1}).cosine, -1.0);

  // Non-finite values: shared infinities agree, anything else is a mismatch.
  const TensorMetrics inf_same = tensor_metrics(std::vector<double>{kInf, 1}, std::vector<double>{kInf, 1});
  EXPECT_EQ(inf_same.nonfinite_mismatches, 0);
  EXPECT_EQ(inf_same.max_abs, 0.0);
  const TensorMetrics nan = tensor_metrics(std::vector<double>{NAN, 1}, std::vector<double>{1, 1});
  EXPECT_EQ(nan.nonfinite_mismatches, 1);
  EXPECT_EQ(nan.max_abs, kInf);
  MetricOptions skip;
  skip.skip_one_sided_neg_inf = true;
  const TensorMetrics sup = tensor_metrics(std::vector<double>{3, 1}, std::vector<double>{-kInf, 1}, skip);
  EXPECT_EQ(sup.skipped, 1);
  EXPECT_EQ(sup.nonfinite_mismatches, 0);
  EXPECT_EQ(sup.max_abs, 0.0);
}

TEST(Metrics, Bf16UlpDistance) {
  EXPECT_EQ(bf16_ulp_distance(1.0, 1.0), 0);
  EXPECT_EQ(bf16_ulp_distance(1.0, 1.0078125), 1);  // 1 + 2^-7: the next bf16 above 1
  EXPECT_EQ(bf16_ulp_distance(1.0, 1.015625), 2);
  EXPECT_EQ(bf16_ulp_distance(1.0, 0.99609375), 1);  // 1 - 2^-8: the next bf16 below 1
  EXPECT_EQ(bf16_ulp_distance(1.0, 1.001), 0);       // both round to 1.0
  EXPECT_EQ(bf16_ulp_distance(0.0, -0.0), 0);
  EXPECT_EQ(bf16_ulp_distance(std::ldexp(1.0, -133), -std::ldexp(1.0, -133)), 2);  // smallest subnormals
  EXPECT_EQ(bf16_ulp_distance(-1.0, 1.0), 2 * 0x3f80);
  // 1 + 2^-8 + 2^-40 lies just above the tie between 1 and 1 + 2^-7: it rounds up. Going through the
  // nearest float first would land exactly on the tie and round to even (1.0).
  EXPECT_EQ(double_to_bf16_bits(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)), 0x3f81);
  EXPECT_EQ(double_to_bf16_bits(1.0 + std::ldexp(1.0, -8)), 0x3f80);  // the exact tie: to even
  EXPECT_EQ(double_to_bf16_bits(1e39), 0x7f80);                       // past the largest bf16: inf
  EXPECT_EQ(bf16_ordinal(0x7f80) - bf16_ordinal(0x7f7f), 1);
}

TEST(Metrics, LogitsKlTopkAndSuppressedTokens) {
  // KL(p ‖ q) for p = (1/2, 1/4, 1/4), q = (1/4, 1/2, 1/4) is ½ln2 − ¼ln2 = ¼ln2.
  const std::vector<double> g = {std::log(0.5), std::log(0.25), std::log(0.25)};
  std::vector<double> c = {std::log(0.25), std::log(0.5), std::log(0.25)};
  for (double& x : c) x += 7.0;  // softmax is shift invariant
  LogitsMetrics m = logits_metrics(g.data(), c.data(), 1, 3);
  EXPECT_NEAR(m.kl[0], 0.25 * std::log(2.0), 1e-12);
  EXPECT_EQ(m.top1_agreements, 0);
  EXPECT_DOUBLE_EQ(m.top10_overlap[0], 1.0);  // the vocabulary is smaller than 10: all 3 shared

  // A token suppressed (−inf) on both sides is absent; on one side only it is masked from both.
  const std::vector<double> g4 = {std::log(0.5), std::log(0.25), std::log(0.25), -kInf};
  const std::vector<double> c4 = {std::log(0.25), std::log(0.5), std::log(0.25), -kInf};
  m = logits_metrics(g4.data(), c4.data(), 1, 4);
  EXPECT_NEAR(m.kl[0], 0.25 * std::log(2.0), 1e-12);
  EXPECT_EQ(m.masked, 0);
  const std::vector<double> g5 = {std::log(0.5), std::log(0.25), std::log(0.25), 5.0};
  m = logits_metrics(g5.data(), c4.data(), 1, 4);
  EXPECT_NEAR(m.kl[0], 0.25 * std::log(2.0), 1e-12);
  EXPECT_EQ(m.masked, 1);
  EXPECT_TRUE(std::isfinite(m.max_kl));

  // Two positions over a vocabulary of 20: identical rows, then a row whose top-10 differs in 3 tokens.
  std::vector<double> gg(40), cc(40);
  for (int v = 0; v < 20; ++v) {
    gg[v] = cc[v] = 0.1 * v;
    gg[20 + v] = 0.5 * v;         // top-10: tokens 10…19, argmax 19
    cc[20 + v] = v < 3 ? 20 + v : 0.5 * v;  // tokens 0, 1, 2 jump to the top; argmax 2
  }
  m = logits_metrics(gg.data(), cc.data(), 2, 20);
  EXPECT_NEAR(m.kl[0], 0.0, 1e-15);
  EXPECT_GT(m.kl[1], 1.0);
  EXPECT_EQ(m.worst_position, 1);
  EXPECT_EQ(m.top1_agreements, 1);
  EXPECT_DOUBLE_EQ(m.top1_fraction, 0.5);
  EXPECT_DOUBLE_EQ(m.top10_overlap[0], 1.0);
  EXPECT_DOUBLE_EQ(m.top10_overlap[1], 0.7);
  EXPECT_DOUBLE_EQ(m.mean_top10_overlap, 0.85);

  // Ties in the golden: any of its maxima counts as agreement.
  const std::vector<double> tie_g = {1.0, 3.0, 3.0}, tie_c = {1.0, 2.9, 3.1};
  EXPECT_EQ(logits_metrics(tie_g.data(), tie_c.data(), 1, 3).top1_agreements, 1);
}

// ---------------------------------------------------------------------------------------------------
// Name maps

TEST(NameMap, HuggingFaceAndLlamaCppNames) {
  EXPECT_EQ(to_g4ref("model.language_model.layers.3.self_attn.q_proj", MapKind::Hf), "layers.3.q");
  EXPECT_EQ(to_g4ref("model.language_model.layers.3.pre_feedforward_layernorm", MapKind::Hf), "layers.3.ffn_norm");
  EXPECT_EQ(to_g4ref("model.language_model.layers.12", MapKind::Hf), "layers.12.out");
  EXPECT_EQ(to_g4ref("model.language_model.norm", MapKind::Hf), "final_norm");
  EXPECT_EQ(to_g4ref("lm_head", MapKind::Hf), "logits.raw");
  EXPECT_EQ(to_g4ref("model.language_model.layers.3.mlp.down_proj.input", MapKind::Hf), "layers.3.act");
  EXPECT_EQ(to_g4ref("model.language_model.layers.3.mlp.act_fn", MapKind::Hf), std::nullopt);
  EXPECT_EQ(to_g4ref("model.embed_vision.embedding_projection", MapKind::Hf), std::nullopt);
  // hidden_states: N + 1 entries, the last one after the final norm.
  EXPECT_EQ(to_g4ref("hidden_states.0", MapKind::Hf, 48), "embed.out");
  EXPECT_EQ(to_g4ref("hidden_states.1", MapKind::Hf, 48), "layers.0.out");
  EXPECT_EQ(to_g4ref("hidden_states.47", MapKind::Hf, 48), "layers.46.out");
  EXPECT_EQ(to_g4ref("hidden_states.48", MapKind::Hf, 48), "final_norm");
  EXPECT_EQ(to_g4ref("hidden_states.49", MapKind::Hf, 48), std::nullopt);
  EXPECT_EQ(to_g4ref("hidden_states.5", MapKind::Hf), std::nullopt);  // unknown N: ambiguous

  EXPECT_EQ(to_g4ref("attn_norm-0", MapKind::LlamaCpp), "layers.0.attn_norm");
  EXPECT_EQ(to_g4ref("Qcur_normed-7", MapKind::LlamaCpp), "layers.7.q_norm");
  EXPECT_EQ(to_g4ref("kqv_out-7", MapKind::LlamaCpp), "layers.7.attn");
  EXPECT_EQ(to_g4ref("attn_out-7", MapKind::LlamaCpp), "layers.7.resid_attn");  // gemma4.cpp: the residual sum
  EXPECT_EQ(to_g4ref("ffn_geglu-7", MapKind::LlamaCpp), "layers.7.act");
  EXPECT_EQ(to_g4ref("l_out-47", MapKind::LlamaCpp), "layers.47.out");
  EXPECT_EQ(to_g4ref("result_norm", MapKind::LlamaCpp), "final_norm");
  EXPECT_EQ(to_g4ref("result_output", MapKind::LlamaCpp), "logits");
  EXPECT_EQ(to_g4ref("inp_scaled", MapKind::LlamaCpp), "embed.out");
  EXPECT_EQ(to_g4ref("Qcur-x", MapKind::LlamaCpp), std::nullopt);
  EXPECT_EQ(to_g4ref("node_17", MapKind::LlamaCpp), std::nullopt);
  EXPECT_EQ(to_g4ref("whatever", MapKind::G4ref), "whatever");

  // from_g4ref and to_g4ref agree for every tap.
  std::vector<std::string> names = {"embed.out", "final_norm", "logits.raw", "logits"};
  for (const std::string& tap : layer_taps()) names.push_back("layers.5." + tap);
  for (MapKind kind : {MapKind::Hf, MapKind::LlamaCpp}) {
    for (const std::string& name : names) {
      for (const std::string& foreign : from_g4ref(name, kind, 48)) {
        EXPECT_EQ(to_g4ref(foreign, kind, 48), name) << foreign << " (" << map_kind_name(kind) << ")";
      }
    }
  }
  EXPECT_EQ(from_g4ref("layers.5.q", MapKind::LlamaCpp).front(), "Qcur-5");
  EXPECT_TRUE(from_g4ref("layers.5.attn_out", MapKind::LlamaCpp).empty());  // an unnamed node in llama.cpp
  EXPECT_TRUE(from_g4ref("layers.5.q_rope", MapKind::Hf).empty());  // RoPE is no HF module
}

TEST(NameMap, DataFlowOrder) {
  const std::vector<std::string> expected = {
      "input.tokens", "input.positions", "image.0.patches", "image.0.out", "image.1.ln1", "audio.0.out",
      "embed.out",    "layers.1.attn_norm", "layers.1.q", "layers.1.k_rope", "layers.1.attn_out",
      "layers.1.out", "layers.2.q",       "layers.10.attn_norm", "layers.10.out", "final_norm",
      "logits.raw",   "logits",           "zzz.unknown"};
  std::vector<std::string> shuffled = {"logits", "layers.10.out", "layers.2.q", "input.positions", "layers.1.q",
                                       "zzz.unknown", "layers.1.out", "final_norm", "embed.out", "image.0.out",
                                       "layers.1.attn_norm", "logits.raw", "audio.0.out", "layers.10.attn_norm",
                                       "input.tokens", "image.1.ln1", "layers.1.k_rope", "image.0.patches",
                                       "layers.1.attn_out"};
  std::sort(shuffled.begin(), shuffled.end(),
            [](const std::string& a, const std::string& b) { return data_flow_key(a) < data_flow_key(b); });
  EXPECT_EQ(shuffled, expected);
}

// ---------------------------------------------------------------------------------------------------
// Comparison

// A small golden trace: embed.out, layers 0–3 (attn_norm, q, out), final_norm, logits.
std::vector<Named> golden_tensors() {
  std::vector<Named> t;
  t.push_back({"embed.out", {2, 4}, ramp(8)});
  for (int l = 0; l < 4; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    t.push_back({p + "attn_norm", {2, 4}, ramp(8, 1.0, l)});
    t.push_back({p + "q", {2, 2, 2}, ramp(8, 2.0, l)});
    t.push_back({p + "out", {2, 4}, ramp(8, 3.0, l)});
  }
  t.push_back({"final_norm", {2, 4}, ramp(8, 0.5)});
  t.push_back({"logits", {2, 5}, ramp(10, 4.0)});
  return t;
}

TraceMeta meta_with_tokens(std::vector<int> tokens) {
  TraceMeta m;
  m.tokens = std::move(tokens);
  m.config_hash = "cfg1";
  return m;
}

TEST(Compare, RefusesDifferentPromptsOrConfigs) {
  TempDir dir("cmp_refuse");
  write_trace(dir / "g.safetensors", meta_with_tokens({2, 5, 7}), golden_tensors());
  write_trace(dir / "c.safetensors", meta_with_tokens({2, 5, 8}), golden_tensors());
  TraceMeta other_cfg = meta_with_tokens({2, 5, 7});
  other_cfg.config_hash = "cfg2";
  write_trace(dir / "h.safetensors", other_cfg, golden_tensors());
  write_trace(dir / "n.safetensors", {}, golden_tensors());  // carries neither: compared
  const Trace g = Trace::open(dir / "g.safetensors");
  expect_error([&] { compare_traces(g, Trace::open(dir / "c.safetensors"), {}); }, dir / "c.safetensors",
               "different token ids");
  expect_error([&] { compare_traces(g, Trace::open(dir / "c.safetensors"), {}); }, dir / "c.safetensors",
               "position 2: 7 vs 8");
  expect_error([&] { compare_traces(g, Trace::open(dir / "h.safetensors"), {}); }, dir / "h.safetensors",
               "config hash");
  const CompareReport r = compare_traces(g, Trace::open(dir / "n.safetensors"), {});
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.tensors.size(), golden_tensors().size());
  for (const TensorComparison& t : r.tensors) EXPECT_EQ(t.metrics.max_abs, 0.0) << t.name;
}

TEST(Compare, NamesTheFirstFailingTensorInDataFlowOrder) {
  TempDir dir("cmp_first");
  const std::vector<Named> golden = golden_tensors();
  std::vector<Named> cand = golden;
  for (Named& t : cand) {
    // layers.1.q and layers.3.out leave the tolerance, and so does final_norm, which sorts before "layers"
    // alphabetically: data-flow order must still name layers.1.q.
    if (t.name == "layers.1.q" || t.name == "layers.3.out" || t.name == "final_norm") t.values[3] += 0.5;
    else t.values[1] += 1e-9;  // well inside the tolerance
  }
  std::reverse(cand.begin(), cand.end());  // the candidate's file order must not matter
  write_trace(dir / "g.safetensors", meta_with_tokens({1, 2}), golden);
  write_trace(dir / "c.safetensors", meta_with_tokens({1, 2}), cand);
  CompareOptions o;
  o.tol_nmse = 1e-8;
  const CompareReport r = compare_traces(Trace::open(dir / "g.safetensors"), Trace::open(dir / "c.safetensors"), o);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.failures, 3);
  ASSERT_TRUE(r.first_failure.has_value());
  EXPECT_EQ(*r.first_failure, "layers.1.q");
  EXPECT_EQ(r.tensors.front().name, "embed.out");
  EXPECT_EQ(r.tensors.back().name, "logits");

  const nlohmann::json j = report_json(r);
  EXPECT_EQ(j["first_failure"], "layers.1.q");
  EXPECT_EQ(j["pass"], false);
  const std::string table = report_table(r);
  EXPECT_NE(table.find("first failing tensor in data-flow order: layers.1.q"), std::string::npos) << table;
  EXPECT_NE(table.find("top-1"), std::string::npos) << table;
  EXPECT_NE(table.find("FAIL"), std::string::npos);
}

TEST(Compare, EnvelopeJudgesWithK) {
  TempDir dir("cmp_env");
  const std::vector<double> ones(100, 1.0);
  auto shifted = [&](double d) {
    std::vector<double> v = ones;
    for (double& x : v) x += d;
    return v;
  };
  write_trace(dir / "exact.safetensors", {}, {{"layers.0.q", {100}, ones}});
  write_trace(dir / "emul.safetensors", {}, {{"layers.0.q", {100}, shifted(1e-3)}});  // nmse 1e-6, max_abs 1e-3
  write_trace(dir / "good.safetensors", {}, {{"layers.0.q", {100}, shifted(3e-3)}});  // 3x the envelope
  write_trace(dir / "bad.safetensors", {}, {{"layers.0.q", {100}, shifted(5e-3)}});   // 5x the envelope
  const Trace exact = Trace::open(dir / "exact.safetensors");

  const Envelope env = envelope_from_report(compare_traces(exact, Trace::open(dir / "emul.safetensors"), {}), "bf16 vs exact");
  ASSERT_EQ(env.tensors.count("layers.0.q"), 1u);
  EXPECT_NEAR(env.tensors.at("layers.0.q").max_abs, 1e-3, 1e-12);
  EXPECT_NEAR(env.tensors.at("layers.0.q").nmse, 1e-6, 1e-12);
  save_envelope(dir / "env.json", env);
  const Envelope loaded = load_envelope(dir / "env.json");
  EXPECT_EQ(loaded.description, "bf16 vs exact");
  EXPECT_EQ(loaded.tensors.at("layers.0.q").max_abs, env.tensors.at("layers.0.q").max_abs);
  EXPECT_EQ(loaded.tensors.at("layers.0.q").nmse, env.tensors.at("layers.0.q").nmse);

  CompareOptions o;
  o.envelope = loaded;
  o.tol_nmse = 0;  // would fail everything: the envelope must be what judges
  CompareReport good = compare_traces(exact, Trace::open(dir / "good.safetensors"), o);
  EXPECT_TRUE(good.pass);
  EXPECT_NEAR(good.tensors[0].budget_ratio, 0.75, 1e-6);  // max(9/16, 3/4)
  CompareReport bad = compare_traces(exact, Trace::open(dir / "bad.safetensors"), o);
  EXPECT_FALSE(bad.pass);
  EXPECT_EQ(bad.first_failure, "layers.0.q");
  EXPECT_NE(bad.tensors[0].reason.find("max_abs"), std::string::npos);
  o.k = 6;
  EXPECT_TRUE(compare_traces(exact, Trace::open(dir / "bad.safetensors"), o).pass);

  write_bytes(dir / "broken.json", R"({"format": "g4ref-envelope", "version": 1, "tensors": {"x": {"nmse": -1, "max_abs": 0}}})");
  expect_error([&] { load_envelope(dir / "broken.json"); }, dir / "broken.json", "\"nmse\" must be finite and >= 0");
  write_bytes(dir / "notjson.json", "{");
  expect_error([&] { load_envelope(dir / "notjson.json"); }, dir / "notjson.json", "not valid JSON");
}

TEST(Compare, ForeignNamesLayoutsAndLastRowLogits) {
  TempDir dir("cmp_foreign");
  std::vector<Named> golden = {{"embed.out", {3, 4}, ramp(12)},
                               {"layers.0.q", {3, 2, 2}, ramp(12, 2.0)},
                               {"layers.0.out", {3, 4}, ramp(12, 3.0)},
                               {"layers.1.out", {3, 4}, ramp(12, 4.0)},
                               {"final_norm", {3, 4}, ramp(12, 5.0)},
                               {"logits", {3, 6}, ramp(18, 10.0)}};
  write_trace(dir / "g.safetensors", {}, golden);
  // An HF hook dump: batch dimension, heads flattened, hidden_states with the post-norm last entry.
  write_trace(dir / "hf.safetensors", {},
              {{"hidden_states.0", {1, 3, 4}, ramp(12)},
               {"model.language_model.layers.0.self_attn.q_proj", {1, 3, 4}, ramp(12, 2.0)},
               {"hidden_states.1", {1, 3, 4}, ramp(12, 3.0)},
               {"model.language_model.layers.1", {1, 3, 4}, ramp(12, 4.0)},
               {"hidden_states.2", {1, 3, 4}, ramp(12, 5.0)},
               {"model.vision_tower.something", {2}, {1, 2}}});
  CompareOptions o;
  o.names = MapKind::Hf;
  const Trace g = Trace::open(dir / "g.safetensors");
  CompareReport r = compare_traces(g, Trace::open(dir / "hf.safetensors"), o);
  EXPECT_TRUE(r.pass) << report_table(r);
  EXPECT_EQ(r.tensors.size(), 5u);
  EXPECT_EQ(r.only_in_golden, std::vector<std::string>{"logits"});
  EXPECT_EQ(r.unmapped, std::vector<std::string>{"model.vision_tower.something"});
  for (const TensorComparison& t : r.tensors) EXPECT_EQ(t.alignment, "flattened") << t.name;

  // llama.cpp logits of the last token, with token 4 suppressed (−inf): compared with the golden's last row.
  std::vector<float> last(6);
  for (int v = 0; v < 6; ++v) last[v] = static_cast<float>(golden[5].values[12 + v]);
  last[4] = -std::numeric_limits<float>::infinity();
  write_bytes(dir / "llamacpp.bin", bytes_of(last));
  CompareOptions lo;
  lo.names = MapKind::LlamaCpp;
  lo.tol_nmse = 1e-12;
  TraceOpenOptions bin;
  bin.name = "result_output";
  r = compare_traces(g, Trace::open(dir / "llamacpp.bin", bin), lo);
  ASSERT_EQ(r.tensors.size(), 1u);
  const TensorComparison& t = r.tensors[0];
  EXPECT_EQ(t.name, "logits");
  EXPECT_EQ(t.alignment, "last 1 of 3 rows");
  EXPECT_EQ(t.metrics.skipped, 1);
  ASSERT_TRUE(t.logits.has_value());
  EXPECT_EQ(t.logits->positions, 1);
  EXPECT_EQ(t.logits->masked, 1);
  EXPECT_EQ(t.logits->top1_fraction, 1.0);
  EXPECT_LT(t.logits->max_kl, 1e-12);
  EXPECT_TRUE(r.pass) << report_table(r);

  // Element counts that cannot be aligned fail the tensor, with the reason.
  write_trace(dir / "odd.safetensors", {}, {{"layers.0.q", {5}, ramp(5)}});
  r = compare_traces(g, Trace::open(dir / "odd.safetensors"), {});
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.tensors[0].reason.find("element counts differ"), std::string::npos);
}

}  // namespace
}  // namespace g4ref
