// Reliability: no silent wrong answers, no clobbered files, bounded memory on hostile input. Each test builds the
// hostile input of one failure class and checks that it is refused with a message naming the file, key or tensor
// and the problem. The expected messages are the behaviour the tests pin; what the code did before is recorded
// beside each test.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "convert/gguf_export.h"
#include "convert/synth.h"
#include "forward/generate.h"
#include "forward/limits.h"
#include "forward/session.h"
#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/output_file.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/weights.h"
#include "preprocess/audio.h"
#include "preprocess/image.h"
#include "prompt/media_placeholders.h"
#include "prompt/tokenizer.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string cli(const std::string& args) { return std::string(G4REF_CLI) + " " + args + " 2>&1"; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A private copy of the tiny checkpoint (tests below corrupt or overwrite files in it).
std::string copy_of_tiny(const testing::TempDir& t, const std::string& name = "ckpt") {
  const std::string dir = t / name;
  fs::copy(testing::tiny_checkpoint(), dir, fs::copy_options::recursive);
  return dir;
}

// ---------------------------------------------------------------------------------------------------
// Outputs (before: the shared OutputFile already refused these; the tests pin it, synth created any chain)

TEST(ReliabilityOutput, TraceRefusesToWriteOverTheCheckpointItReads) {
  testing::TempDir t("rel_out_ckpt");
  const std::string dir = copy_of_tiny(t);
  const std::string before = read_all(dir + "/model.safetensors");
  std::string out;
  EXPECT_NE(testing::run_command(cli("trace --model " + dir + " --tokens 2,3 --out " + dir + "/model.safetensors"), &out), 0);
  EXPECT_NE(out.find("is an input this command is reading"), std::string::npos) << out;
  EXPECT_EQ(read_all(dir + "/model.safetensors"), before);
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.partial"));
}

TEST(ReliabilityOutput, SymlinkIsRefusedAndLeftAlone) {
  testing::TempDir t("rel_out_link");
  write_all(t / "target.txt", "keep me\n");
  fs::create_symlink("target.txt", t / "link.safetensors");
  std::string out;
  EXPECT_NE(testing::run_command(cli("trace --model " + testing::tiny_checkpoint() + " --tokens 2,3 --out " +
                                     (t / "link.safetensors")), &out), 0);
  EXPECT_NE(out.find("is a symbolic link (to target.txt)"), std::string::npos) << out;
  EXPECT_TRUE(fs::is_symlink(t / "link.safetensors"));
  EXPECT_EQ(read_all(t / "target.txt"), "keep me\n");
}

TEST(ReliabilityOutput, DeviceIsRefusedAndStaysADevice) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode)) {
    GTEST_SKIP() << "needs root and /dev/full as a character device (as root a rename would replace the device)";
  }
  std::string out;
  EXPECT_NE(testing::run_command(cli("trace --model " + testing::tiny_checkpoint() + " --tokens 2,3 --out /dev/full"), &out), 0);
  EXPECT_NE(out.find("is not a regular file"), std::string::npos) << out;
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_FALSE(fs::exists("/dev/full.partial"));
}

TEST(ReliabilityOutput, CheckOutputPathCases) {
  testing::TempDir t("rel_out_check");
  testing::expect_error([&] { check_output_path(t.str()); }, t.str(), "is a directory");
  const std::string deep = t / "a/b/out.json";
  testing::expect_error([&] { check_output_path(deep, true); }, deep, "only the final directory is created");
  EXPECT_FALSE(fs::exists(t / "a"));
  check_output_path(t / "a/out.json", true);  // the final directory alone is created
  EXPECT_TRUE(fs::is_directory(t / "a"));
  // A file this process maps is an input.
  write_all(t / "in.bin", "12345678");
  MappedFile m = MappedFile::open(t / "in.bin");
  testing::expect_error([&] { write_file_atomically(t / "in.bin", "x"); }, t / "in.bin", "is an input");
  EXPECT_EQ(read_all(t / "in.bin"), "12345678");
}

TEST(ReliabilityOutput, SynthCreatesOnlyTheFinalDirectory) {
  // Before: `synth --out T/x/y/z` created x, y and z (create_directories).
  testing::TempDir t("rel_out_synth");
  std::string out;
  EXPECT_NE(testing::run_command(cli("synth --preset tiny --out " + (t / "x/y/z")), &out), 0);
  EXPECT_NE(out.find("does not exist; only the final directory is created"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(t / "x"));
  SynthOptions o;
  o.out_dir = t / "made";
  write_synthetic_checkpoint(o);
  EXPECT_TRUE(fs::exists(t / "made/config.json"));
}

// ---------------------------------------------------------------------------------------------------
// Threshold arguments (before: `compare --tol-nmse nan` passed a trace of other weights, 0 of 133 failing)

class ReliabilityCompare : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("rel_cmp");
    std::string out;
    ASSERT_EQ(testing::run_command(cli("trace --model " + testing::tiny_checkpoint(0) + " --tokens 2,3,4 --out " +
                                       (*dir_ / "g0.safetensors")), &out), 0) << out;
    ASSERT_EQ(testing::run_command(cli("trace --model " + testing::tiny_checkpoint(1) + " --tokens 2,3,4 --out " +
                                       (*dir_ / "g1.safetensors")), &out), 0) << out;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string traces() { return (*dir_ / "g0.safetensors") + " " + (*dir_ / "g1.safetensors"); }
  static testing::TempDir* dir_;
};
testing::TempDir* ReliabilityCompare::dir_ = nullptr;

TEST_F(ReliabilityCompare, DifferentWeightsFailByDefault) {
  std::string out;
  EXPECT_EQ(testing::run_command(cli("compare " + traces()), &out), 1) << out;
  EXPECT_NE(out.find("FAIL"), std::string::npos) << out;
}

TEST_F(ReliabilityCompare, NonFiniteOrNegativeThresholdsAreRefused) {
  for (const std::string opt : {"--tol-nmse", "--k", "--max-kl", "--min-top1"}) {
    for (const std::string v : {"nan", "NaN", "inf", "-inf", "-1", "1e400"}) {
      std::string out;
      const int rc = testing::run_command(cli("compare " + traces() + " " + opt + "=" + v), &out);
      EXPECT_NE(rc, 0) << opt << " " << v << ": " << out;
      EXPECT_EQ(out.find("PASS"), std::string::npos) << opt << " " << v << ": " << out;
      EXPECT_NE(out.find(opt), std::string::npos) << opt << " " << v << ": " << out;
    }
  }
  std::string out;
  EXPECT_NE(testing::run_command(cli("compare " + traces() + " --min-top1 1.5"), &out), 0) << out;
}

TEST(ReliabilityArgs, SamplingThresholdsRefuseNaN) {
  // Before: CLI11's NonNegativeNumber and Range(0, 1) let NaN through.
  for (const std::string a : {"--temperature=nan", "--top-p=nan", "--temperature=inf", "--top-p=-0.5"}) {
    std::string out;
    EXPECT_NE(testing::run_command(cli("run --model " + testing::tiny_checkpoint() + " --tokens 2,3 " + a), &out), 0)
        << a << ": " << out;
    EXPECT_NE(out.find(a.substr(0, a.find('='))), std::string::npos) << out;
  }
}

// ---------------------------------------------------------------------------------------------------
// Non-finite values (before: NaN logits, greedy token 0, exit 0)

// Sets element [row, col] of a bf16 tensor in a checkpoint's model.safetensors to BITS, through the header
// (parsed here, independently of the reader under test).
void poke_bf16(const std::string& file, const std::string& name, int64_t row, int64_t col, uint16_t bits) {
  std::string bytes = read_all(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, n));
  const json& e = header.at(name);
  ASSERT_EQ(e.at("dtype"), "BF16");
  const int64_t cols = e.at("shape").back().get<int64_t>();
  const uint64_t at = 8 + n + e.at("data_offsets")[0].get<uint64_t>() + uint64_t(row * cols + col) * 2;
  bytes[at] = char(bits & 0xFF);
  bytes[at + 1] = char(bits >> 8);
  write_all(file, bytes);
}

std::string first_name_with(const std::string& dir, const std::string& part) {
  auto store = TensorStore::open_dir(dir);
  for (const auto& n : store->names()) {
    if (n.find(part) != std::string::npos) return n;
  }
  return "";
}

TEST(ReliabilityNonFinite, NaNWeightIsNamedWithItsPosition) {
  testing::TempDir t("rel_nan_w");
  const std::string dir = copy_of_tiny(t);
  const std::string name = first_name_with(dir, "layers.1.mlp.down_proj");
  ASSERT_FALSE(name.empty());
  poke_bf16(dir + "/model.safetensors", name, 3, 5, 0x7FC0);  // bf16 quiet NaN
  auto m = Model::load(dir);
  for (Precision p : {Precision::exact, Precision::f32, Precision::bf16}) {
    RunOptions o;
    o.precision = p;
    auto s = make_session(*m, o);
    testing::expect_error([&] { s->forward({2, 3, 4}, {}, LogitRows::last); }, name,
                          "holds a non-finite value (NaN) at [3, 5]");
  }
  std::string out;
  EXPECT_NE(testing::run_command(cli("run --model " + dir + " --tokens 2,3"), &out), 0);
  EXPECT_NE(out.find(name + ": holds a non-finite value (NaN) at [3, 5]"), std::string::npos) << out;
}

TEST(ReliabilityNonFinite, InfiniteNormWeightIsNamed) {
  testing::TempDir t("rel_inf_w");
  const std::string dir = copy_of_tiny(t);
  const std::string name = first_name_with(dir, "layers.0.input_layernorm");
  ASSERT_FALSE(name.empty());
  poke_bf16(dir + "/model.safetensors", name, 0, 7, 0xFF80);  // bf16 -inf
  auto m = Model::load(dir);
  auto s = make_session(*m, RunOptions{});
  testing::expect_error([&] { s->forward({2, 3}, {}, LogitRows::last); }, name, "holds a non-finite value (-inf) at [7]");
}

// The safetensors header length one byte short of a space-padded header: the JSON still parses, and every
// tensor would read one byte early (shifted, unaligned values).
TEST(ReliabilityNonFinite, HeaderLengthOneShortIsRefused) {
  testing::TempDir t("rel_hdr");
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append(8 - (8 + header.size()) % 8 + 8, ' ');  // padded as writers do
  const float values[2] = {1.5f, -2.25f};
  auto file = [&](uint64_t n) {
    std::string b(8, '\0');
    std::memcpy(b.data(), &n, 8);
    return b + header + std::string(reinterpret_cast<const char*>(values), 8);
  };
  write_all(t / "ok.safetensors", file(header.size()));
  EXPECT_EQ(SafetensorsFile::open(t / "ok.safetensors")->tensors().size(), 1u);
  write_all(t / "short.safetensors", file(header.size() - 1));
  testing::expect_error([&] { SafetensorsFile::open(t / "short.safetensors"); }, t / "short.safetensors",
                        "the header length and the data disagree");
  // A stray byte after the last tensor is refused the same way; a gap between tensors too.
  write_all(t / "trailing.safetensors", file(header.size()) + "x");
  testing::expect_error([&] { SafetensorsFile::open(t / "trailing.safetensors"); }, t / "trailing.safetensors",
                        "differs from the 8 bytes its tensors cover");
}

// A 32-bit float WAV (format 3) of N mono samples at 16 kHz.
std::string float_wav(const std::vector<float>& samples) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  const uint32_t data = uint32_t(samples.size() * 4);
  std::string b = "RIFF" + u32(36 + data) + "WAVE" + "fmt " + u32(16) + u16(3) + u16(1) + u32(16000) +
                  u32(16000 * 4) + u16(4) + u16(32) + "data" + u32(data);
  b.append(reinterpret_cast<const char*>(samples.data()), data);
  return b;
}

TEST(ReliabilityNonFinite, FloatWavHoldingNaNIsRefused) {
  testing::TempDir t("rel_wav");
  std::vector<float> s(1600, 0.25f);
  write_all(t / "ok.wav", float_wav(s));
  EXPECT_EQ(decode_audio(t / "ok.wav").frames, 1600);
  s[805] = std::numeric_limits<float>::quiet_NaN();
  write_all(t / "nan.wav", float_wav(s));
  testing::expect_error([&] { decode_audio(t / "nan.wav"); }, t / "nan.wav", "sample is NaN at frame 805, channel 0");
  s[805] = std::numeric_limits<float>::infinity();
  write_all(t / "inf.wav", float_wav(s));
  std::string out;
  EXPECT_NE(testing::run_command(cli("inspect-audio " + (t / "inf.wav")), &out), 0);
  EXPECT_NE(out.find("sample is infinite at frame 805"), std::string::npos) << out;
}

// ---------------------------------------------------------------------------------------------------
// Sizes validated before allocation (before: 1e9 layers allocated gigabytes — 19 GB resident before the kernel
// killed it here —, 1e10 wrapped to "cannot create std::vector larger than max_size()")

json tiny_config() { return json::parse(read_all(testing::tiny_checkpoint() + "/config.json")); }

std::string config_error(const json& j) {
  try {
    parse_config(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ReliabilityLimits, HugeLayerCountsAreRefusedBeforeAllocation) {
  for (const json& v : {json(1e9), json(1e10), json(int64_t(1) << 40), json(100000)}) {
    json j = tiny_config();
    j["text_config"]["num_hidden_layers"] = v;
    j["text_config"].erase("layer_types");
    const std::string e = config_error(j);
    EXPECT_NE(e.find("num_hidden_layers"), std::string::npos) << v << ": " << e;
    EXPECT_TRUE(e.find("limit of 1024") != std::string::npos || e.find("out of range") != std::string::npos)
        << v << ": " << e;
  }
}

TEST(ReliabilityLimits, FractionalAndOutOfRangeIntegersAreRefused) {
  // Before: hidden_size 64.5 ran as 64.
  for (const char* key : {"hidden_size", "num_attention_heads", "vocab_size", "sliding_window"}) {
    json j = tiny_config();
    j["text_config"][key] = 64.5;
    EXPECT_NE(config_error(j).find(std::string("key '") + key + "' = 64.5 must be an integer"), std::string::npos)
        << config_error(j);
  }
  json j = tiny_config();
  j["text_config"]["head_dim"] = 3e9;
  EXPECT_NE(config_error(j).find("'head_dim' = 3000000000.0 is out of range"), std::string::npos) << config_error(j);
  j = tiny_config();
  j["text_config"]["hidden_size"] = 32.0;  // a whole float is an integer
  EXPECT_EQ(config_error(j).find("must be an integer"), std::string::npos);
  j = tiny_config();
  j["text_config"]["hidden_size"] = 1 << 20;
  EXPECT_NE(config_error(j).find("'hidden_size' = 1048576 exceeds the limit of 65536"), std::string::npos)
      << config_error(j);
}

TEST(ReliabilityLimits, OneHourFlacIsRefusedBeforeDecoding) {
  testing::TempDir t("rel_flac");
  std::string out;
  if (testing::run_command("sox -n -r 8000 -c 1 " + (t / "hour.flac") + " trim 0 3600 2>&1", &out) != 0) {
    GTEST_SKIP() << "sox is not installed: " << out;
  }
  EXPECT_LT(fs::file_size(t / "hour.flac"), 2u << 20);
  EXPECT_NE(testing::run_command(cli("inspect-audio " + (t / "hour.flac")), &out), 0);
  EXPECT_NE(out.find("exceeds the decoding limit of 600"), std::string::npos) << out;
  // With a cap only the start is read.
  EXPECT_EQ(testing::run_command(cli("inspect-audio " + (t / "hour.flac") + " --max-audio-seconds 2"), &out), 0) << out;
}

TEST(ReliabilityLimits, LongPromptNamesTheLimit) {
  // Before: a 50,000-word prompt ended in a bare std::bad_alloc inside attention.
  auto m = Model::load(testing::tiny_checkpoint());
  auto s = make_session(*m, RunOptions{});
  const std::vector<int> ids(30000, 5);
  testing::expect_error([&] { s->forward(ids, {}, LogitRows::last); }, "prompt", "over this reference's limit of 4 GiB");
  testing::expect_error([&] { check_forward_size(kMaxContextTokens, 1, 8); }, "prompt", "past the model's context");
  check_forward_size(0, 20000, 8);  // 3.0 GiB: allowed
}

// ---------------------------------------------------------------------------------------------------
// Config keys that select another network (before: accepted and ignored)

TEST(ReliabilityConfig, UnimplementedVariantsAreRefusedByName) {
  const std::vector<std::pair<std::string, json>> wrong = {
      {"enable_moe_block", true},          {"use_double_wide_mlp", true},   {"attention_bias", true},
      {"hidden_size_per_layer_input", 256}, {"vocab_size_per_layer_input", 262144}, {"num_kv_shared_layers", 20},
      {"use_bidirectional_attention", "all"}, {"attn_logit_softcapping", 50.0}, {"num_experts", 128},
      {"top_k_experts", 8},                {"moe_intermediate_size", 704}};
  for (const auto& [key, value] : wrong) {
    json j = tiny_config();
    j["text_config"][key] = value;
    const std::string e = config_error(j);
    EXPECT_NE(e.find("key '" + key + "' = " + value.dump() + " selects a variant"), std::string::npos) << key << ": " << e;
    j = tiny_config();
    j[key] = value;  // at the top level too
    EXPECT_NE(config_error(j).find("key '" + key + "'"), std::string::npos) << key;
  }
  // The implemented values are accepted.
  json j = tiny_config();
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{
           {"enable_moe_block", false}, {"use_double_wide_mlp", false}, {"attention_bias", false},
           {"hidden_size_per_layer_input", 0}, {"vocab_size_per_layer_input", 0}, {"num_kv_shared_layers", 0},
           {"use_bidirectional_attention", "vision"}, {"attn_logit_softcapping", nullptr}}) {
    j["text_config"][key] = value;
  }
  EXPECT_EQ(config_error(j), "");
  // What the implementation writes, it reads.
  EXPECT_EQ(config_error(config_to_json(parse_config(tiny_config(), "config.json"))), "");
}

// ---------------------------------------------------------------------------------------------------
// A text GGUF whose vocabulary has no media pieces (before: "key 'boi_token_id' = 255999 lies outside the
// vocabulary" at load)

// Copies GGUF SRC to DST with each metadata value passed through EDIT (tensors as they are).
void rewrite_gguf(const std::string& src, const std::string& dst,
                  const std::function<GgufValue(const std::string&, const GgufValue&)>& edit) {
  auto f = GgufFile::open(src);
  GgufWriter w(dst);
  for (const auto& [key, value] : f->metadata()) {
    if (key != "general.alignment") w.set(key, edit(key, value));
  }
  for (const auto& t : f->tensors()) w.add_tensor(t.name, t.type, t.ne);
  for (const auto& t : f->tensors()) w.write_tensor_data(t.name, t.data, t.nbytes);
  w.finish();
}

// The same with the token pieces in RENAME replaced.
void rewrite_gguf_tokens(const std::string& src, const std::string& dst,
                         const std::map<std::string, std::string>& rename) {
  rewrite_gguf(src, dst, [&](const std::string& key, const GgufValue& value) -> GgufValue {
    if (key != "tokenizer.ggml.tokens") return value;
    GgufArray a = std::get<GgufArray>(value);
    for (auto& item : a.items) {
      auto& s = std::get<std::string>(item);
      if (auto it = rename.find(s); it != rename.end()) s = it->second;
    }
    return a;
  });
}

TEST(ReliabilityGguf, VocabularyWithoutMediaPiecesLoadsAndRefusesOnlyMedia) {
  testing::TempDir t("rel_gguf_media");
  auto src = Model::load(testing::tiny_checkpoint());
  export_text_gguf(*src, testing::tiny_checkpoint(), GgmlType::F32, t / "full.gguf");
  rewrite_gguf_tokens(t / "full.gguf", t / "text.gguf",
                      {{"<|image>", "<unused_a>"}, {"<image|>", "<unused_b>"}, {"<|image|>", "<unused_c>"},
                       {"<|video|>", "<unused_d>"}, {"<|audio>", "<unused_e>"}, {"<audio|>", "<unused_f>"},
                       {"<|audio|>", "<unused_g>"}});
  auto m = Model::load(t / "text.gguf");
  EXPECT_EQ(m->config().image_token_id, kAbsentTokenId);
  EXPECT_EQ(m->config().boa_token_id, kAbsentTokenId);
  auto s = make_session(*m, RunOptions{});
  EXPECT_EQ(s->forward({2, 3, 4}, {}, LogitRows::last).cols(), m->config().text.vocab_size);  // text runs
  testing::expect_error([&] { require_media_tokens(m->config(), MediaKind::image, t / "text.gguf"); },
                        t / "text.gguf", "has no '<|image>' token");
  testing::expect_error([&] { require_media_tokens(m->config(), MediaKind::audio, t / "text.gguf"); },
                        t / "text.gguf", "has no '<|audio>' token");
  MediaInput audio;
  audio.kind = MediaInput::Kind::audio;
  audio.rows = 1;
  audio.cols = 640;
  audio.values.assign(640, 0.1f);
  auto s2 = make_session(*m, RunOptions{});
  testing::expect_error([&] { s2->forward({2, 3}, {}, LogitRows::last, {audio}); }, t / "text.gguf",
                        "the request has audio");
  // The media ids absent, nothing indexes the logits with them.
  EXPECT_TRUE(load_generation_config(t / "text.gguf", m->config()).suppress_tokens.empty());
}

// ---------------------------------------------------------------------------------------------------
// Messages with context

TEST(ReliabilityMessages, InvalidUtf8GgufPieceNamesTheToken) {
  // Before: "[json.exception.type_error.316] invalid UTF-8 byte at index 1: 0xFE".
  testing::TempDir t("rel_gguf_utf8");
  auto src = Model::load(testing::tiny_checkpoint());
  export_text_gguf(*src, testing::tiny_checkpoint(), GgmlType::F32, t / "full.gguf");
  auto f = GgufFile::open(t / "full.gguf");
  const auto& tokens = std::get<GgufArray>(f->get("tokenizer.ggml.tokens")).items;
  const std::string victim = std::get<std::string>(tokens[300]);
  rewrite_gguf_tokens(t / "full.gguf", t / "bad.gguf", {{victim, "a\xFE\xFF"}});
  testing::expect_error([&] { load_tokenizer(t / "bad.gguf"); }, t / "bad.gguf",
                        "tokenizer.ggml.tokens[300] is not valid UTF-8 (byte 1 of 3)");
}

TEST(ReliabilityMessages, TruncatedJpegIsReportedAsJpeg) {
  // Before: "not a readable PNG, JPEG, BMP, GIF, PNM or TGA image (Not a PNG)" (stb's last decoder tried).
  const std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01};
  testing::expect_error([&] { decode_image_bytes(jpeg, "cut.jpg"); }, "cut.jpg", "not a readable JPEG: truncated or corrupt");
}

TEST(ReliabilityMessages, MmprojErrorsNameTheMmproj) {
  // Before: a bad size in the mmproj was reported against the checkpoint's config.json.
  testing::TempDir t("rel_mmproj");
  const std::string dir = testing::tiny_checkpoint();
  std::string out;
  ASSERT_EQ(testing::run_command(cli("export-gguf --model " + dir + " --out " + (t / "m.gguf") + " --mmproj " +
                                     (t / "mm.gguf")), &out), 0) << out;
  rewrite_gguf(t / "mm.gguf", t / "bad.gguf", [](const std::string& key, const GgufValue& value) {
    return key == "clip.vision.patch_size" ? GgufValue(uint32_t(4000000000u)) : value;
  });
  auto m = Model::load(dir);
  testing::expect_error([&] { m->attach_mmproj(t / "bad.gguf"); }, t / "bad.gguf",
                        "clip.vision.patch_size = 4000000000 lies outside [1, 341]");
}

TEST(ReliabilityMessages, GgufSizesDoNotWrapNegative) {
  // Before: gemma4.block_count = 2^32 + 1 narrowed to int 1, and larger counts printed as negative sizes.
  testing::TempDir t("rel_gguf_wrap");
  auto src = Model::load(testing::tiny_checkpoint());
  export_text_gguf(*src, testing::tiny_checkpoint(), GgmlType::F32, t / "full.gguf");
  rewrite_gguf(t / "full.gguf", t / "wrap.gguf", [](const std::string& key, const GgufValue& value) {
    return key == "gemma4.block_count" ? GgufValue(uint64_t(4294967297ull)) : value;
  });
  testing::expect_error([&] { Model::load(t / "wrap.gguf"); }, t / "wrap.gguf",
                        "gemma4.block_count = 4294967297 exceeds the limit of 1024");
}

// ---------------------------------------------------------------------------------------------------
// Findings of the fuzz targets (tests/fuzz), each reproducer written out here

TEST(ReliabilityFuzzFindings, JsonNumberOverflowNamesTheFile) {
  // fuzz_config: a number past double's range ("1e706") made nlohmann throw out_of_range.406, which escaped
  // every loader that caught only parse_error: "[json.exception.out_of_range.406] number overflow parsing '1e706'".
  testing::TempDir t("rel_fz_num");
  json j = tiny_config();
  std::string text = j.dump();
  text.replace(text.find("\"rms_norm_eps\":") + 15, 0, "1e706, \"x\":");
  write_all(t / "config.json", text);
  testing::expect_error([&] { load_config(t / "config.json"); }, t / "config.json", "number overflow");
  write_all(t / "generation_config.json", R"({"temperature": 1e706})");
  testing::expect_error([&] { load_generation_config(t.str(), parse_config(tiny_config(), "c")); },
                        t / "generation_config.json", "number overflow");
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"v"},"z":1e999})";
  uint64_t n = header.size();
  write_all(t / "num.safetensors", std::string(reinterpret_cast<const char*>(&n), 8) + header + std::string(4, '\0'));
  testing::expect_error([&] { SafetensorsFile::open(t / "num.safetensors"); }, t / "num.safetensors", "number overflow");
}

TEST(ReliabilityFuzzFindings, ZeroLengthSentencePiecePieceNamesTheFile) {
  // fuzz_tokenizer_model (long run, after 367,179 executions): a model whose pieces include an empty one made
  // SentencePiece's trie builder throw a bare Darts::Details::Exception ("failed to insert key: zero-length key").
  // The 81 bytes of that input, as libFuzzer kept them.
  static const char kModel[] =
      "\x0a\x0e\x0a\x05\x3c\x70\x61\x64\x0e\x0a\x05\x3c\x65\x6f\x73\x3e"
      "\x15\x00\x00\x00\x00\x18\x03\x0a\x0e\x0a\x05\x00\x00\x00\x00\x18"
      "\x15\x00\x00\x00\x00\x18\x0d\x0d\x0d\x0d\x0d\x03\x0a\x0e\x0a\x0a"
      "\x3c\x75\x6e\x6b\x3e\x15\x00\x00\x00\x00\x18\x02\x0a\x0f\x0a\x06"
      "\x3c\x6d\x61\x73\x6b\x3e\x15\x00\x00\x00\x00\x18\x04\x18\x00\x20"
      "\x00";
  testing::TempDir t("rel_fz_spm");
  write_all(t / "tokenizer.model", std::string(kModel, sizeof kModel - 1));
  testing::expect_error([&] { load_tokenizer(t / "tokenizer.model"); }, t / "tokenizer.model", "SentencePiece refused it");
}

// A fuzz_image input kept in tests/fuzz/regressions (its first byte is the target's mode, the rest the file).
std::vector<uint8_t> fuzz_image_regression(const std::string& name) {
  const std::string path = std::string(G4REF_SOURCE_DIR) + "/tests/fuzz/regressions/fuzz_image/" + name;
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A PNG of IMAGE as write_png writes it, with the byte offset and data length of its first IDAT chunk, found by
// walking the chunks (length, type, data, CRC from byte 8; PNG specification §5.3).
struct PngFile {
  std::vector<uint8_t> bytes;
  size_t idat = 0;
  size_t idat_length = 0;
};

PngFile png_file_of(const RgbImage& image, const testing::TempDir& t) {
  write_png(t / "plain.png", image);
  std::ifstream in(t / "plain.png", std::ios::binary);
  PngFile png;
  png.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const std::vector<uint8_t>& b = png.bytes;
  auto length_at = [&b](size_t at) {
    return (size_t(b[at]) << 24) | (size_t(b[at + 1]) << 16) | (size_t(b[at + 2]) << 8) | b[at + 3];
  };
  size_t idat = 8;
  while (idat + 8 <= b.size() && std::memcmp(&b[idat + 4], "IDAT", 4) != 0) idat += 12 + length_at(idat);
  EXPECT_LT(idat + 8, b.size()) << "write_png wrote no IDAT chunk";
  if (idat + 8 < b.size()) {
    png.idat = idat;
    png.idat_length = length_at(idat);
  }
  return png;
}

TEST(ReliabilityFuzzFindings, JpegScanWithAnUndefinedHuffmanTableNamesTheTable) {
  // fuzz_image (long run, after 38,928 executions): UBSan's "shift exponent 32 is too large" inside stb_image's
  // stbi__jpeg_huff_decode. The input's second scan (progressive, coefficients 1-5) decodes with AC table 3, which
  // none of its DHT segments defines; stb's decoder state is malloc'd and not cleared, so the table held whatever
  // an earlier input left there, and the file alone did not reproduce it. The input as libFuzzer kept it: its first
  // byte is the target's mode, the rest the file.
  const std::vector<uint8_t> input = fuzz_image_regression("crash-783c67f447f707f9137ac0436d44e3c0c2400455");
  ASSERT_EQ(input.size(), 3121u);
  const std::vector<uint8_t> jpeg(input.begin() + 1, input.end());
  testing::expect_error([&] { decode_image_bytes(jpeg, "finding.jpg"); }, "finding.jpg",
                        "corrupt JPEG: the scan at byte 342 decodes with AC Huffman table 3, which no DHT segment before "
                        "it defines");
}

TEST(ReliabilityFuzzFindings, PnmHeaderNumberPastIntIsRefused) {
  // fuzz_image (long run, after 138,173 executions): UBSan's "signed integer overflow: 777777777 * 10" inside
  // stb_image's stbi__pnm_getinteger, which reads a header number into an int without a bound. The input's header
  // (tests/fuzz/regressions/fuzz_image/crash-1fca..., after the target's mode byte): a 21-digit width.
  const std::string head = "P6\n777777777777777777770: value is not defined 50\n25\r";
  std::vector<uint8_t> pnm(head.begin(), head.end());
  pnm.resize(pnm.size() + 64, 0x80);
  testing::expect_error([&] { decode_image_bytes(pnm, "finding.ppm"); }, "finding.ppm",
                        "PNM header: a number (width, height or maxval) larger than 2147483647");
  // The largest number stb can hold still reaches the size limits, which name it.
  const std::string big = "P6\n2147483647 1\n255\n";
  std::vector<uint8_t> ok(big.begin(), big.end());
  ok.resize(ok.size() + 64, 0x80);
  testing::expect_error([&] { decode_image_bytes(ok, "wide.ppm"); }, "wide.ppm", "exceeds the limit");
}

TEST(ReliabilityFuzzFindings, FillBytesBeforeTheJpegStartStillGetTheTableChecks) {
  // fuzz_image (long run, 1,555 executions after the PNM fix): UBSan's "index 257 out of bounds" inside stb_image's
  // stbi__build_huffman. The file starts FF FF FF FF FF D8: stb skips fill bytes before the start-of-image marker,
  // jpeg_defect did not, so the DHT table at byte 2603 with more than 256 codes reached stb unchecked.
  const std::vector<uint8_t> input = fuzz_image_regression("crash-1c583621af6488c33b5a612bb10ae026b6ff27ca");
  ASSERT_EQ(input.size(), 10655u);
  const std::vector<uint8_t> jpeg(input.begin() + 1, input.end());
  testing::expect_error([&] { decode_image_bytes(jpeg, "finding.jpg"); }, "finding.jpg",
                        "corrupt JPEG: the Huffman table at byte 2603 declares more than 256 codes");
}

TEST(ReliabilityFuzzFindings, JpegScanFollowedByAMarkerThatCannotFollowOneIsRefusedBeforeStbDecodesIt) {
  // fuzz_image (long run from the seeds, after 426,769 executions): UBSan's "shift exponent 34 is too large for
  // 32-bit type 'unsigned int'" in stb_image's stbi__grow_buffer_unsafe. The scan's entropy-coded data (from byte
  // 623) ends at the marker 0xFF 0xF9 (byte 1219, after a run of fill bytes) before its blocks do, and stb's bit
  // count goes negative. 0xF9 cannot follow a scan (ITU T.81 §B.2.4): stb refuses the file after decoding the scan,
  // Pillow refuses it ("broken data stream"). Offsets by hand from the file's segment table: APP0 at 2 declaring 18
  // bytes, 2 more than its JFIF payload, so reading resumes at byte 22 inside the DQT at 20 and skips byte by byte to
  // the next 0xFF (stb does so before the frame): the DQT at 89, SOF0 at 158, four DHT, the scan at 609 (12 bytes of
  // header). The fuzz smoke run replays the input under UBSan.
  const std::vector<uint8_t> input = fuzz_image_regression("crash-2a2879ae29d01046c6530a54fbf8ea683ea4c9a1");
  ASSERT_EQ(input.size(), 1268u);
  const std::vector<uint8_t> finding(input.begin() + 1, input.end());
  testing::expect_error([&] { decode_image_bytes(finding, "finding.jpg"); }, "finding.jpg",
                        "corrupt JPEG: the scan at byte 609 is followed by marker 0xF9 at byte 1219, which cannot "
                        "follow a scan");
}

TEST(ReliabilityFuzzFindings, EmptyPngDataChunksAreSkippedAsThePngSpecificationReadsThem) {
  // fuzz_image (long run, after 145,230 executions): UBSan's "null pointer passed as argument 1" in stb_image's
  // stbi__getn. The file's first IDAT chunk (byte 33) is empty, and stb copies it into its image-data buffer before
  // allocating one. The image data is the IDAT contents concatenated (PNG specification §10.1), so empty IDAT chunks
  // are dropped before stb reads the file; this one then fails on a chunk stb does not know, naming the file. Only
  // the fuzz smoke run (UBSan) sees the null pointer itself: it replays this input.
  const std::vector<uint8_t> input = fuzz_image_regression("crash-233be34ed0c828f8dfe7f377386550915a9a37b6");
  ASSERT_EQ(input.size(), 276u);
  const std::vector<uint8_t> finding(input.begin() + 1, input.end());
  // Since the chunk-length check (PngChunkLongerThanTheFile… below) it is refused before that, at its third chunk.
  testing::expect_error([&] { decode_image_bytes(finding, "finding.png"); }, "finding.png",
                        "truncated or corrupt PNG: chunk '\\xe2\\x5eF\\xe3' at byte 45 declares 3211008 bytes");

  // A valid PNG of known pixels with empty IDAT chunks before and after its data decodes to those pixels.
  RgbImage image;
  image.width = 3;
  image.height = 2;
  image.rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
  testing::TempDir t("rel_png_idat");
  const PngFile plain = png_file_of(image, t);
  ASSERT_GT(plain.idat, 0u);
  std::vector<uint8_t> png = plain.bytes;
  const size_t idat = plain.idat;
  const size_t data_len = plain.idat_length;
  const uint8_t empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};  // CRC-32 of "IDAT"
  png.insert(png.begin() + idat + 12 + data_len, empty_idat, empty_idat + 12);
  png.insert(png.begin() + idat, empty_idat, empty_idat + 12);
  png.insert(png.begin() + idat, empty_idat, empty_idat + 12);
  const RgbImage back = decode_image_bytes(png, "empty_idat.png");
  EXPECT_EQ(back.width, 3);
  EXPECT_EQ(back.height, 2);
  EXPECT_EQ(back.rgb, image.rgb);
}

TEST(ReliabilityFuzzFindings, PngChunkLongerThanTheFileIsRefusedBeforeStbSizesItsBuffer) {
  // fuzz_image (long run, after 554,237 executions): libFuzzer's out-of-memory on malloc(2147483648) inside stb_image's
  // stbi__parse_png_file. The 311-byte input's second IDAT chunk (byte 263 of the file) declares 1,345,729,498 bytes;
  // stb grows its IDAT buffer to each chunk's declared length before reading it. Offsets and lengths by hand from the
  // file's chunk table: IHDR at 8 (13 bytes), IDAT at 33 (218), IDAT at 263, with 310 - 263 - 8 = 39 bytes after it.
  // The fuzz smoke run replays the input under the long run's malloc limit.
  const std::vector<uint8_t> input = fuzz_image_regression("oom-b4b1dfb836e0b43f3c37f5db4ddfcab4bb00c3bb");
  ASSERT_EQ(input.size(), 311u);
  const std::vector<uint8_t> finding(input.begin() + 1, input.end());
  testing::expect_error([&] { decode_image_bytes(finding, "finding.png"); }, "finding.png",
                        "truncated or corrupt PNG: chunk 'IDAT' at byte 263 declares 1345729498 bytes of data and a "
                        "4-byte CRC, and the file has 39 bytes after its length and type");

  // A valid PNG decodes with bytes after its IEND (stb and Pillow ignore them); the same PNG with its IDAT
  // length raised by one byte past the file is refused, naming that chunk.
  RgbImage image;
  image.width = 2;
  image.height = 2;
  image.rgb = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  testing::TempDir t("rel_png_chunk");
  const PngFile plain = png_file_of(image, t);
  ASSERT_GT(plain.idat, 0u);
  std::vector<uint8_t> png = plain.bytes;
  const size_t idat = plain.idat;
  std::vector<uint8_t> trailing = png;
  trailing.insert(trailing.end(), 20, 0xEE);
  EXPECT_EQ(decode_image_bytes(trailing, "trailing.png").rgb, image.rgb);
  const size_t longer = png.size() - idat - 12 + 1;  // data and CRC would end one byte after the file
  for (int i = 0; i < 4; ++i) png[idat + i] = uint8_t(longer >> (24 - 8 * i));
  testing::expect_error([&] { decode_image_bytes(png, "long_idat.png"); }, "long_idat.png",
                        "chunk 'IDAT' at byte " + std::to_string(idat) + " declares " + std::to_string(longer) +
                            " bytes of data");
}

TEST(ReliabilityFuzzFindings, TgaAndBmpDeclaringMorePixelsThanTheFileHoldsAreRefusedBeforeDecoding) {
  // fuzz_video_frames (long run): executions slowed from about 80 to under 10 per second, the slowest input taking
  // 11 s, nearly all of it in stb_image's stbi__tga_load. stb reads TGA and BMP pixel by pixel and answers reads past
  // the end with zeros, so a tiny file declaring a large image within the limits was allocated in full and walked to
  // its end before the truncation showed. The bytes such a file must hold are now checked first. The expected
  // values below are worked out by hand from the TGA and BMP layouts (the comment of least_file_bytes).
  auto tga_header = [](uint8_t type, uint16_t w, uint16_t h, uint8_t bits) {
    std::vector<uint8_t> b(18, 0);
    b[2] = type;
    b[12] = uint8_t(w), b[13] = uint8_t(w >> 8), b[14] = uint8_t(h), b[15] = uint8_t(h >> 8);
    b[16] = bits;
    return b;
  };
  // A bare 18-byte header declaring 10,000×10,000 24-bit pixels: 18 + 10^8 · 3 bytes. Before: 400 MB allocated and
  // 3·10^8 reads before "truncated: the image data ends before the declared 10000×10000 pixels".
  testing::expect_error([&] { decode_image_bytes(tga_header(2, 10000, 10000, 24), "bomb.tga"); }, "bomb.tga",
                        "truncated: a TGA of 10000×10000 pixels takes at least 300000018 bytes, the file has 18");

  // Run-length coded, 256×1: two repeat packets of 128 pixels (count byte 0xFF, then one B, G, R pixel) are the
  // fewest bytes it can take, 18 + 2·4 = 26. That file decodes; one byte less is refused.
  std::vector<uint8_t> rle = tga_header(10, 256, 1, 24);
  for (int packet = 0; packet < 2; ++packet) rle.insert(rle.end(), {0xFF, 30, 20, 10});
  const RgbImage run = decode_image_bytes(rle, "rle.tga");
  ASSERT_EQ(run.width, 256);
  ASSERT_EQ(run.height, 1);
  for (int x = 0; x < 256; ++x) {
    ASSERT_EQ(run.rgb[3 * x], 10) << x;
    ASSERT_EQ(run.rgb[3 * x + 1], 20) << x;
    ASSERT_EQ(run.rgb[3 * x + 2], 30) << x;
  }
  rle.pop_back();
  testing::expect_error([&] { decode_image_bytes(rle, "rle_cut.tga"); }, "rle_cut.tga",
                        "a TGA of 256×1 pixels takes at least 26 bytes, the file has 25");

  // Uncompressed 2×2 (bottom row first, B, G, R): exactly 18 + 12 bytes decodes; 29 are refused.
  std::vector<uint8_t> raw = tga_header(2, 2, 2, 24);
  raw.insert(raw.end(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  EXPECT_EQ(decode_image_bytes(raw, "raw.tga").rgb, (std::vector<uint8_t>{9, 8, 7, 12, 11, 10, 3, 2, 1, 6, 5, 4}));
  raw.pop_back();
  testing::expect_error([&] { decode_image_bytes(raw, "raw_cut.tga"); }, "raw_cut.tga",
                        "a TGA of 2×2 pixels takes at least 30 bytes, the file has 29");

  // A BMP (40-byte info header, 24 bits) declaring 10,000×10,000 with no pixel data: 14 + 40 + 10^4 · 30,000 bytes.
  std::vector<uint8_t> bmp(54, 0);
  auto put32 = [&bmp](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bmp[at + i] = uint8_t(v >> (8 * i));
  };
  bmp[0] = 'B', bmp[1] = 'M';
  put32(2, 54), put32(10, 54), put32(14, 40), put32(18, 10000), put32(22, 10000);
  bmp[26] = 1, bmp[28] = 24;
  testing::expect_error([&] { decode_image_bytes(bmp, "bomb.bmp"); }, "bomb.bmp",
                        "truncated: a BMP of 10000×10000 pixels takes at least 300000054 bytes, the file has 54");
  // The same header at 2×2 with its two rows (6 bytes and 2 of padding each) decodes (bottom row first, B, G, R).
  put32(18, 2), put32(22, 2);
  bmp.insert(bmp.end(), {1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0});
  EXPECT_EQ(decode_image_bytes(bmp, "small.bmp").rgb, (std::vector<uint8_t>{9, 8, 7, 12, 11, 10, 3, 2, 1, 6, 5, 4}));
}

TEST(ReliabilityFuzzFindings, NegativeLayerCountIsRefusedBeforeSizingTables) {
  // fuzz_config: num_hidden_layers = -4 without layer_types sized the default layer table from -4:
  // "cannot create std::vector larger than max_size()".
  json j = tiny_config();
  j["text_config"]["num_hidden_layers"] = -4;
  j["text_config"].erase("layer_types");
  EXPECT_NE(config_error(j).find("key 'num_hidden_layers' = -4 must be positive"), std::string::npos) << config_error(j);
}

}  // namespace
}  // namespace g4ref
