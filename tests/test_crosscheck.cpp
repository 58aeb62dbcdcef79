// The llama.cpp cross-check end to end (spec §7): the tiny checkpoint exported to GGUF, evaluated by llama.cpp's
// prebuilt CPU build (node-llama-cpp 3.22.1), compared at every position of a prompt three sliding windows long
// with the reference on the same (dequantized) weights. A correct export passes for F32, Q8_0 and Q4_K; the known
// wrong variants (run on the reference side) fail.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <type_traits>
#include <variant>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "backends/llamacpp_adapter.h"
#include "io/gguf.h"
#include "prompt/tokenizer.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

const char* kTokens = "2,105,10,20,30,40,50,60,70,80,90,100,110,120,130,140,150,160,170,180,190,200,210,220";

class Crosscheck : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string out;
    if (testing::run_command("command -v node", &out) != 0) GTEST_SKIP() << "node is not installed (run setup.sh)";
    if (!std::filesystem::exists(G4REF_SOURCE_DIR "/eval/adapters/llamacpp/node_modules/node-llama-cpp")) {
      GTEST_SKIP() << "node-llama-cpp is not installed in eval/adapters/llamacpp (run setup.sh)";
    }
  }
  static nlohmann::json run(const std::string& type, const std::string& extra = "") {
    std::string out;
    const std::string cmd = std::string(G4REF_CLI) + " crosscheck llamacpp --model " + testing::tiny_checkpoint() +
                            " --tokens " + kTokens + " --type " + type + " --json " + extra;
    const int rc = testing::run_command(cmd, &out);
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << cmd << "\n" << out;
    j["exit_code"] = rc;
    const auto& r = j["vs_f32_llamacpp_scale"];
    std::cout << "[ llama.cpp ] " << type << (extra.empty() ? "" : " " + extra) << ": worst NMSE "
              << r["worst_nmse"] << " (vs exact " << j["vs_exact"]["worst_nmse"] << "), top-1 "
              << r["top1_agreement"] << ", worst KL " << r["worst_kl"] << ", " << j["verdict"] << "\n";
    return j;
  }
};

TEST_F(Crosscheck, F32Q8AndQ4KPass) {
  for (const char* type : {"f32", "q8_0", "q4_k"}) {
    const nlohmann::json j = run(type);
    EXPECT_EQ(j["verdict"], "PASS") << type;
    EXPECT_EQ(j["exit_code"], 0) << type;
    EXPECT_EQ(j["positions"], 24);
  }
}

TEST_F(Crosscheck, KnownWrongVariantsFail) {
  for (const char* d : {"rope-rotated-denominator", "norm-one-plus-w", "window-off-by-one"}) {
    const nlohmann::json j = run("f32", std::string("--deviation ") + d);
    EXPECT_EQ(j["verdict"], "FAIL") << d;
    EXPECT_NE(j["exit_code"], 0) << d;
  }
  // The window variant cannot differ before the first position past the window (8).
  EXPECT_GE(run("f32", "--deviation window-off-by-one")["vs_f32_llamacpp_scale"]["first_failing_position"], 8);
}

// Media for the embeddings cross-check, written at test time: a 672×960 noise image (a fixed point of the
// target-size rule at the default budget of 280, so neither side resamples: 14 × 20 = 280 patches) as binary PPM,
// and 1.3 s of a 440 Hz tone at 16 kHz as 16-bit WAV (20,800 samples = 32.5 frames -> 33 with the padded one).
struct Media {
  std::string image, audio;
};

Media write_media(testing::TempDir& d) {
  Media m{d / "noise.ppm", d / "tone.wav"};
  {
    std::ofstream o(m.image, std::ios::binary);
    o << "P6\n960 672\n255\n";
    uint32_t x = 12345;
    for (int i = 0; i < 960 * 672 * 3; ++i) {
      x = x * 1664525u + 1013904223u;
      o.put(static_cast<char>(x >> 24));
    }
  }
  std::vector<int16_t> tone(20800);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<int16_t>(std::lround(9830.0 * std::sin(2 * M_PI * 440.0 * i / 16000.0)));
  testing::write_wav16(m.audio, tone);
  return m;
}

class CrosscheckMedia : public Crosscheck {
 protected:
  void SetUp() override {
    Crosscheck::SetUp();
    if (IsSkipped()) return;
    if (!std::filesystem::exists(G4REF_SOURCE_DIR "/eval/adapters/llamacpp/node_modules/@fugood/node-llama-linux-x64/index.node")) {
      GTEST_SKIP() << "@fugood/node-llama-linux-x64 is not installed in eval/adapters/llamacpp (run setup.sh)";
    }
  }
  static nlohmann::json run_media(const Media& m, const std::string& extra) {
    std::string out;
    const std::string cmd = std::string(G4REF_CLI) + " crosscheck llamacpp --model " + testing::tiny_checkpoint() +
                            " --prompt Describe --image " + m.image + " --audio " + m.audio + " --json " + extra;
    const int rc = testing::run_command(cmd, &out);
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << cmd << "\n" << out;
    if (j.is_discarded()) return {};
    j["exit_code"] = rc;
    for (const auto& item : j["media"]) {
      std::cout << "[ llama.cpp mtmd ] " << extra << " " << item["kind"] << ": " << item["tokens"] << " tokens (llama.cpp "
                << item["llamacpp_tokens"] << "), NMSE vs exact " << item["nmse_vs_exact"] << ", vs f32 "
                << item["nmse_vs_f32"] << ", " << item["verdict"] << "\n";
    }
    return j;
  }
};

TEST_F(CrosscheckMedia, EmbeddingsAndLogitsMatchLlamaCppWithItsImageMask) {
  // With the reference told to make the image block bidirectional on full layers too (as this llama.cpp build
  // does, see the next test), everything agrees: embeddings for f32, f16 and q8_0 projectors, and the logits at
  // every text position and at the end of each media block.
  testing::TempDir d("media_crosscheck");
  const Media m = write_media(d);
  for (const char* type : {"f32", "f16", "q8_0"}) {
    const nlohmann::json j = run_media(m, std::string("--image-attention all --mmproj-type ") + type);
    EXPECT_EQ(j["verdict"], "PASS") << type;
    EXPECT_EQ(j["exit_code"], 0) << type;
    ASSERT_EQ(j["media"].size(), 2u);
    EXPECT_EQ(j["media"][0]["kind"], "image");
    EXPECT_EQ(j["media"][0]["llamacpp_tokens"], 280);
    EXPECT_EQ(j["media"][1]["kind"], "audio");
    EXPECT_EQ(j["media"][1]["llamacpp_tokens"], 33);  // ceil(20800 / 640), counted by llama.cpp itself
    EXPECT_EQ(j["logits"]["verdict"], "PASS") << type;
    std::cout << "[ llama.cpp mtmd ] logits, projector " << type << ": worst NMSE "
              << j["logits"]["vs_f32_llamacpp_scale"]["worst_nmse"] << " over " << j["logits"]["positions"].size()
              << " positions, top-1 " << j["logits"]["vs_f32_llamacpp_scale"]["top1_agreement"] << "\n";
  }
}

TEST_F(CrosscheckMedia, ThisLlamaCppMakesImagesBidirectionalOnFullLayersToo) {
  // Against Hugging Face's rule (bidirectional on sliding layers only, spec §2.7) the embeddings still agree and the
  // logits agree up to the image, then fail from the image block's last position on: llama.cpp decodes the image
  // chunk non-causally in every layer (spec §7.3: builds before PR #28335). The JAX-style symmetric window is far
  // off, so llama.cpp bounds the window from below, as Hugging Face does.
  testing::TempDir d("media_crosscheck_mask");
  const Media m = write_media(d);
  const nlohmann::json j = run_media(m, "");
  EXPECT_EQ(j["verdict"], "FAIL");
  EXPECT_EQ(j["media"][0]["verdict"], "PASS");
  EXPECT_EQ(j["media"][1]["verdict"], "PASS");
  EXPECT_EQ(j["logits"]["verdict"], "FAIL");
  EXPECT_EQ(j["logits"]["vs_f32_llamacpp_scale"]["first_failing_position"], j["media"][0]["last_position"]);
  std::cout << "[ llama.cpp mtmd ] HF image mask: first failing position "
            << j["logits"]["vs_f32_llamacpp_scale"]["first_failing_position"] << " (image block ends at "
            << j["media"][0]["last_position"] << "), worst NMSE " << j["logits"]["vs_f32_llamacpp_scale"]["worst_nmse"]
            << "\n";
  const nlohmann::json sym = run_media(m, "--image-attention all --window symmetric");
  EXPECT_EQ(sym["logits"]["verdict"], "FAIL");
  EXPECT_GT(sym["logits"]["vs_f32_llamacpp_scale"]["worst_nmse"].get<double>(),
            100 * j["logits"]["vs_f32_llamacpp_scale"]["worst_nmse"].get<double>());
}

TEST_F(CrosscheckMedia, WrongProjectorLayoutsAndMisalignedFramesFail) {
  testing::TempDir d("media_crosscheck_wrong");
  const Media m = write_media(d);
  for (const char* dev : {"mmproj-hwc-patches", "mmproj-pos-axes-swapped"}) {
    const nlohmann::json j = run_media(m, std::string("--image-attention all --deviation ") + dev);
    EXPECT_EQ(j["verdict"], "FAIL") << dev;
    EXPECT_NE(j["exit_code"], 0) << dev;
    EXPECT_EQ(j["media"][0]["verdict"], "FAIL") << dev;
    EXPECT_EQ(j["media"][1]["verdict"], "PASS") << dev;  // the audio projection is untouched
  }
  const nlohmann::json j = run_media(m, "--image-attention all --deviation audio-shifted-one-sample");
  EXPECT_EQ(j["verdict"], "FAIL");
  EXPECT_EQ(j["media"][0]["verdict"], "PASS");
  EXPECT_EQ(j["media"][1]["verdict"], "FAIL");
}

TEST_F(CrosscheckMedia, VideoFramesAndLlamaCppsFlashAttentionDrift) {
  // A 5 s clip of 480×336 frames (made by the ffmpeg command line): 32 sampled frames, each a 70-patch fixed point
  // of the size rule at the per-frame budget, so llama.cpp takes each as it is; 2,554 positions in all. With flash
  // attention off every compared position agrees; with llama.cpp's default (auto = on for the CPU) the error grows
  // with the context, from ~1e-6 after the first frame to ~1e-3 at the end: its CPU kernel accumulates in f16.
  std::string out;
  if (testing::run_command("ffmpeg -version 2>/dev/null", &out) != 0) GTEST_SKIP() << "no ffmpeg command line";
  testing::TempDir d("media_crosscheck_video");
  const std::string clip = d / "clip.mp4";
  ASSERT_EQ(testing::run_command("ffmpeg -loglevel error -y -f lavfi -i testsrc=size=480x336:rate=8 -t 5 -pix_fmt yuv420p "
                                 "-c:v libx264 -qp 0 " + clip + " 2>&1", &out), 0) << out;
  auto run_video = [&](const std::string& extra) {
    const std::string cmd = std::string(G4REF_CLI) + " crosscheck llamacpp --model " + testing::tiny_checkpoint() +
                            " --prompt 'What happens?' --video " + clip + " --image-attention all --json " + extra;
    const int rc = testing::run_command(cmd, &out);
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << cmd << "\n" << out;
    if (j.is_discarded()) return nlohmann::json::object();
    j["exit_code"] = rc;
    const auto& nmse = j["logits"]["vs_f32_llamacpp_scale"]["nmse"];
    std::cout << "[ llama.cpp mtmd ] video, " << extra << ": " << j["media"].size() << " frames, logits at "
              << nmse.size() << " positions, NMSE first " << nmse.front() << ", last " << nmse.back() << ", worst "
              << j["logits"]["vs_f32_llamacpp_scale"]["worst_nmse"] << ", " << j["verdict"] << "\n";
    return j;
  };
  const nlohmann::json off = run_video("--flash-attn off --kv f32");
  EXPECT_EQ(off["verdict"], "PASS");
  ASSERT_EQ(off["media"].size(), 32u);
  for (const auto& frame : off["media"]) {
    EXPECT_EQ(frame["tokens"], 70);
    EXPECT_EQ(frame["llamacpp_tokens"], 70);
  }
  const nlohmann::json on = run_video("--flash-attn auto");
  EXPECT_EQ(on["verdict"], "FAIL");
  EXPECT_EQ(on["logits"]["verdict"], "FAIL");
  const auto& nmse = on["logits"]["vs_f32_llamacpp_scale"]["nmse"];
  ASSERT_FALSE(nmse.empty());
  EXPECT_GT(nmse.back().get<double>(), 100 * nmse.front().get<double>());
}

// Our quantizers against llama.cpp's own (llama_model_quantize, "pure"), on the same f32 GGUF: every tensor both
// store in one type must be byte-identical. The tiny model's rows (64, 128) are not whole K-quant blocks, so Q4_K
// and Q6_K are checked on the small preset (rows of 512 and 2048), where every weight is stored in them.
nlohmann::json quantize_check(const std::string& model, const std::string& type) {
  std::string out;
  const int rc = testing::run_command(std::string(G4REF_CLI) + " crosscheck quantize --model " + model + " --type " +
                                          type + " --json",
                                      &out);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out;
  if (j.is_discarded()) return {};
  j["exit_code"] = rc;
  std::cout << "[ llama.cpp quantizer ] " << type << ": " << j["identical"] << " tensors byte-identical ("
            << j["identical_in_requested_type"] << " in " << type << "), " << j["differing"] << " differing, "
            << j["different_type"] << " in another type\n";
  return j;
}

TEST_F(Crosscheck, QuantizersAreByteIdenticalToLlamaCpps) {
  for (const char* type : {"f16", "bf16", "q8_0", "q4_0"}) {
    const nlohmann::json j = quantize_check(testing::tiny_checkpoint(), type);
    EXPECT_EQ(j["verdict"], "PASS") << type;
    EXPECT_EQ(j["differing"], 0) << type;
    EXPECT_EQ(j["identical_in_requested_type"], 41) << type;  // every 2-D weight of the tiny model
  }
  testing::TempDir d("quantize_small");
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " synth --preset small --seed 3 --out " + (d / "small"), &out), 0)
      << out;
  for (const char* type : {"q4_k", "q6_k"}) {
    const nlohmann::json j = quantize_check(d / "small", type);
    EXPECT_EQ(j["verdict"], "PASS") << type;
    EXPECT_EQ(j["differing"], 0) << type;
    EXPECT_EQ(j["identical_in_requested_type"], 83) << type;  // every 2-D weight of the small model
  }
}

// The memory model's CPU_REPACK copy (memory_model.h llamacpp_repacks, `--repack host`) against the buffer llama.cpp
// itself logs when it loads a file its own quantizer wrote ("pure": every 2-D weight in the type). IQ4_NL: every
// weight repacked on an AVX2 CPU (the model once counted only Q4_0 and Q4_K); Q2_K: repacked only by an AVX-512
// build, so on an AVX2-only CPU both say none. The small model's rows are whole blocks of either type. llama.cpp
// prints MiB with two decimals: the model's bytes must round to the same figure.
TEST_F(Crosscheck, MemoryModelPredictsLlamaCppsRepackBuffer) {
  testing::TempDir d("repack");
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " synth --preset small --seed 3 --out " + (d / "small"), &out), 0)
      << out;
  const std::string f32 = d / "f32.gguf";
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " export-gguf --model " + (d / "small") + " --type f32 --out " + f32, &out), 0)
      << out;
  for (const auto& [name, ftype] : {std::pair<std::string, int>{"iq4_nl", 25}, {"q2_K", 10}}) {
    const std::string file = d / (name + ".gguf");
    ASSERT_EQ(testing::run_command(llamacpp_program() + " " + llamacpp_llama_library() + " quantize " + f32 + " " + file +
                                       " " + std::to_string(ftype) + " 2>&1",
                                   &out),
              0)
        << out;
    ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " memory --engine llamacpp --context 512 --json --model " + file, &out), 0)
        << out;
    const nlohmann::json model = nlohmann::json::parse(out);
    double model_mib = 0;
    for (const auto& i : model["items"]) {
      if (i["name"].get<std::string>().find("CPU_REPACK") != std::string::npos) model_mib = i["bytes"].get<double>() / 1048576.0;
    }
    ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " memory measure --engine llamacpp --context 512 --tokens 1 --json --model " + file, &out), 0)
        << out;
    const nlohmann::json measured = nlohmann::json::parse(out);
    EXPECT_EQ(measured["weights"], name);
    double llama_mib = 0;
    for (const auto& b : measured["llamacpp_buffers"]) {
      if (b["line"].get<std::string>().find("CPU_REPACK") != std::string::npos) llama_mib = b["mib"].get<double>();
    }
    std::cout << "[ llama.cpp CPU_REPACK ] " << name << " on " << model["request"]["repack"] << ": llama.cpp " << llama_mib
              << " MiB, model " << model_mib << " MiB\n";
    EXPECT_NEAR(model_mib, llama_mib, 0.0051) << name;
    if (name == "iq4_nl") EXPECT_GT(llama_mib, 20.0);  // repacked on every AVX2 CPU
  }
}

TEST_F(Crosscheck, TokenizerMatchesLlamaCppsGemma4Tokenizer) {
  // Issue oracle (b): llama.cpp's own gemma4 tokenizer, reading the vocabulary and merges our exporter wrote into
  // the GGUF, against our tokenizer.json path — on the bundled text plus the 2,320-line hostile corpus.
  testing::TempDir d("llama_tokenizer");
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " export-gguf --model " + testing::tiny_checkpoint() +
                                     " --out " + (d / "t.gguf") + " --type f32 2>&1",
                                 &out),
            0)
      << out;
  std::vector<std::string> lines;
  for (const char* f : {G4REF_SOURCE_DIR "/datasets/synth_tokenizer_corpus.txt",
                        G4REF_SOURCE_DIR "/tests/oracles/tokenizer_corpus.txt"}) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  {
    std::ofstream o(d / "lines.txt");
    for (const auto& l : lines) o << l << "\n";
  }
  ASSERT_EQ(testing::run_command("node " G4REF_SOURCE_DIR "/eval/adapters/llamacpp/tokenize.mjs " + (d / "t.gguf") +
                                     " " + (d / "lines.txt"),
                                 &out),
            0)
      << out;
  auto tok = load_tokenizer(testing::tiny_checkpoint() + "/tokenizer.json");
  std::istringstream theirs(out);
  int mismatches = 0;
  size_t n = 0;
  for (std::string row; std::getline(theirs, row); ++n) {
    ASSERT_LT(n, lines.size());
    const std::vector<int> ids = nlohmann::json::parse(row).get<std::vector<int>>();
    if (ids != tok->encode(lines[n]) && ++mismatches <= 5) ADD_FAILURE() << "ids differ on: " << lines[n];
  }
  EXPECT_EQ(n, lines.size());
  std::cout << "[ oracle ] llama.cpp gemma4 tokenizer vs tokenizer.json: " << n << " lines, " << mismatches
            << " mismatches\n";
}

// A GGUF metadata value as JSON: numbers as double (exact for every type the exporter writes), arrays element-wise.
nlohmann::json as_json(const GgufScalar& v) {
  return std::visit(
      [](const auto& x) -> nlohmann::json {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::string> || std::is_same_v<X, bool>) return x;
        else return static_cast<double>(x);
      },
      v);
}

nlohmann::json as_json(const GgufValue& v) {
  if (const auto* a = std::get_if<GgufArray>(&v)) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : a->items) out.push_back(as_json(item));
    return out;
  }
  return std::visit(
      [](const auto& x) -> nlohmann::json {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, GgufArray>) return nullptr;
        else if constexpr (std::is_same_v<X, std::string> || std::is_same_v<X, bool>) return x;
        else return static_cast<double>(x);
      },
      v);
}

TEST_F(Crosscheck, ExportedGgufReadsBackInAnIndependentReader) {
  // node-llama-cpp's readGgufFileInfo (its own JavaScript GGUF parser) must see exactly the metadata keys and
  // values, and the tensor list (names, ggml dims, types, offsets), that g4ref's reader sees — and
  // test_gguf_export.cpp checks that those are the values the exporter means to write.
  testing::TempDir d("gguf_info");
  std::string out;
  std::vector<std::pair<std::string, std::string>> files;  // (what, path)
  for (const char* type : {"f32", "q4_k"}) {
    const std::string gguf = d / (std::string(type) + ".gguf"), mmproj = d / (std::string(type) + "_mmproj.gguf");
    ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " export-gguf --model " + testing::tiny_checkpoint() +
                                       " --out " + gguf + " --type " + type + " --mmproj " + mmproj + " 2>&1",
                                   &out),
              0)
        << out;
    files.emplace_back(std::string(type) + " text", gguf);
    files.emplace_back(std::string(type) + " mmproj", mmproj);
  }
  for (const auto& [type, gguf] : files) {
    ASSERT_EQ(testing::run_command("node " G4REF_SOURCE_DIR "/eval/adapters/llamacpp/gguf_info.mjs " + gguf, &out), 0)
        << out;
    const nlohmann::json theirs = nlohmann::json::parse(out);
    const auto ours = GgufFile::open(gguf);
    EXPECT_EQ(theirs["version"], 3);
    ASSERT_EQ(theirs["metadata"].size(), ours->metadata().size()) << type;
    for (const auto& [key, value] : ours->metadata()) {
      ASSERT_TRUE(theirs["metadata"].contains(key)) << type << ": " << key;
      const nlohmann::json expected = as_json(value);
      const nlohmann::json& found = theirs["metadata"][key];
      if (expected.is_number()) EXPECT_DOUBLE_EQ(found.get<double>(), expected.get<double>()) << key;
      else if (expected.is_array() && !expected.empty() && expected[0].is_number()) {
        ASSERT_EQ(found.size(), expected.size()) << key;
        for (size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(found[i].get<double>(), expected[i].get<double>()) << key;
      } else {
        EXPECT_EQ(found, expected) << key;
      }
    }
    ASSERT_EQ(theirs["tensors"].size(), ours->tensors().size());
    for (size_t i = 0; i < ours->tensors().size(); ++i) {
      const GgufTensor& t = ours->tensors()[i];
      const nlohmann::json& j = theirs["tensors"][i];
      EXPECT_EQ(j["name"], t.name);
      EXPECT_EQ(j["dims"].get<std::vector<int64_t>>(), t.ne) << t.name;
      EXPECT_EQ(j["type"].get<uint32_t>(), static_cast<uint32_t>(t.type)) << t.name;
      EXPECT_EQ(j["offset"].get<uint64_t>(), t.offset) << t.name;
    }
    std::cout << "[ oracle ] readGgufFileInfo on the " << type << " export: " << ours->metadata().size()
              << " metadata keys, " << ours->tensors().size() << " tensors, all as written\n";
  }
}

}  // namespace
}  // namespace g4ref
