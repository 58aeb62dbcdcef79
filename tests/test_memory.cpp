// The memory model (eval/memory/memory_model.h) against independent byte counts: the real 12B checkpoint's size
// (spec §1.5), files export-gguf actually writes, and KV-cache sizes worked out by hand from the spec.
#include <filesystem>

#include "convert/gguf_export.h"
#include "convert/mmproj_export.h"
#include "convert/synth.h"
#include "io/gguf.h"
#include "memory/memory_model.h"
#include "memory/process_sampler.h"
#include "model/weights.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

using namespace memory;
using testing::TempDir;

// Spec §1.5: 677 tensors, 11,959,730,224 parameters, 23,919,460,448 bytes of bf16 tensor data in the published
// model.safetensors (its recorded size 23,919,549,408 minus the 8-byte length and the 88,952-byte header).
TEST(MemoryModel, TwelveBMatchesThePublishedSafetensorsSize) {
  const Arch a = preset_12b();
  EXPECT_EQ(checkpoint_tensors(a).size(), 677u);
  EXPECT_EQ(parameter_count(a), 11959730224);
  const WeightBytes w = safetensors_bytes(a, 2, "bf16");
  EXPECT_EQ(w.total(), 23919460448u);
  EXPECT_EQ(w.total() + 8 + 88952, 23919549408u);
  // Spec §1.5 table: text 11,907,350,320; embedders 35,176,704 + 14,745,600 + 2,457,600.
  EXPECT_EQ(w.text_bytes, 2u * 11907350320u);
  EXPECT_EQ(w.projector_bytes, 2u * (35176704u + 14745600u + 2457600u));
  EXPECT_EQ(w.text_groups.at("embedding"), 2u * 1006632960u);
}

// The tiny checkpoint's config read back through the HF parser gives the file's own tensor data size.
TEST(MemoryModel, ConfigParserMatchesTheTinySafetensorsFile) {
  const std::string dir = testing::tiny_checkpoint();
  const Arch a = arch_from_config_file(dir + "/config.json");
  const WeightBytes w = safetensors_bytes(a, 2, "bf16");
  // safetensors: u64 header length, JSON header, then the tensor data (its size is the file size minus both).
  std::FILE* f = std::fopen((dir + "/model.safetensors").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  uint64_t header = 0;
  ASSERT_EQ(std::fread(&header, 8, 1, f), 1u);
  std::fclose(f);
  const uint64_t data = std::filesystem::file_size(dir + "/model.safetensors") - 8 - header;
  EXPECT_EQ(w.total(), data);
}

// export-gguf's files: the model's predicted tensor-data size for each type equals the data section of the file
// actually written (file size minus the data offset), text and mmproj.
TEST(MemoryModel, GgufBytesMatchFilesExportGgufWrites) {
  const std::string dir = testing::tiny_checkpoint();
  auto model = Model::load(dir);
  const Arch a = arch_from_config_file(dir + "/config.json");
  TempDir tmp("memory_gguf");
  for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}) {
    SCOPED_TRACE(type);
    const GgmlType t = parse_gguf_export_type(type);
    const std::string text = tmp / (std::string(type) + ".gguf"), mm = tmp / (std::string(type) + "-mmproj.gguf");
    export_text_gguf(*model, dir, t, text);
    export_mmproj_gguf(*model, default_mmproj_type(t), mm);
    const WeightBytes w = gguf_bytes(a, t);
    auto f = GgufFile::open(text);
    auto m = GgufFile::open(mm);
    EXPECT_EQ(w.text_bytes, std::filesystem::file_size(text) - f->data_offset());
    EXPECT_EQ(w.projector_bytes, std::filesystem::file_size(mm) - m->data_offset());
    // The same file read as it is (its tensor table) gives the same data size.
    EXPECT_EQ(gguf_file_bytes(text).text_bytes, std::filesystem::file_size(text) - f->data_offset());
    // And its metadata the same cache geometry as the checkpoint's config.
    const Arch g = arch_from_gguf(text);
    EXPECT_EQ(g.layers, a.layers);
    EXPECT_EQ(g.full, a.full);
    EXPECT_EQ(g.kv_heads, a.kv_heads);
    EXPECT_EQ(g.global_kv_heads, a.global_kv_heads);
    EXPECT_EQ(g.head_dim, a.head_dim);
    EXPECT_EQ(g.global_head_dim, a.global_head_dim);
    EXPECT_EQ(g.sliding_window, a.sliding_window);
    EXPECT_EQ(g.k_eq_v, a.k_eq_v);
  }
}

// Q4_0 of the 12B by hand: 18 bytes per 32 values for every 2-D text weight (rows of 3840, 4096, 8192, 15360 are
// whole blocks), f32 for 1-D tensors and rope_freqs.
TEST(MemoryModel, TwelveBQ4_0ByHand) {
  const Arch a = preset_12b();
  const WeightBytes w = gguf_bytes(a, GgmlType::Q4_0);
  const uint64_t two_d = 1006632960ull + 40ull * (4096 + 2048 + 2048 + 4096 + 3 * 15360) * 3840 +
                         8ull * (8192 + 512 + 8192 + 3 * 15360) * 3840;
  const uint64_t one_d = 3840 + 40ull * (256 + 256 + 4 * 3840 + 1) + 8ull * (512 + 512 + 4 * 3840 + 1) + 256;
  // Every tensor starts at a 32-byte boundary: the 1-D tensors of 256/512/3840 floats are whole multiples; the
  // 48 one-float layer scalars take 4 bytes + 28 of padding each.
  EXPECT_EQ(w.text_bytes, two_d / 32 * 18 + one_d * 4 + 48 * 28);
}

// llama.cpp's CPU_REPACK copy, from the rules of ggml-cpu/repack.cpp (ggml_repack_get_optimal_repack_type, x86): an
// AVX2 build repacks Q4_0, Q4_K, IQ4_NL and MXFP4 matrices whose ne[1] is a multiple of 8, an AVX-512F build Q2_K
// too. On the 12B in Q4_0 that is every 2-D text weight (TwelveBQ4_0ByHand's two_d, 18 bytes per 32): 6,697,451,520
// bytes, which llama.cpp itself logged as "CPU_REPACK model buffer size = 6387.19 MiB" (reports/memory.md).
TEST(MemoryModel, LlamacppRepackFollowsTheBuild) {
  EXPECT_TRUE(llamacpp_repacks("avx2", GgmlType::Q4_0, {3840, 4096}));
  EXPECT_TRUE(llamacpp_repacks("avx2", GgmlType::IQ4_NL, {256, 16}));
  EXPECT_TRUE(llamacpp_repacks("avx2", GgmlType::MXFP4, {256, 8}));
  EXPECT_FALSE(llamacpp_repacks("avx2", GgmlType::IQ4_NL, {256, 12}));  // ne[1] not a multiple of 8
  EXPECT_FALSE(llamacpp_repacks("avx2", GgmlType::Q2_K, {256, 16}));
  EXPECT_TRUE(llamacpp_repacks("avx512", GgmlType::Q2_K, {256, 16}));
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_K, GgmlType::F16, GgmlType::BF16}) {
    EXPECT_FALSE(llamacpp_repacks("avx512", t, {256, 16})) << ggml_type_name(t);
  }
  EXPECT_FALSE(llamacpp_repacks("avx2", GgmlType::Q4_0, {3840}));  // 1-D
  EXPECT_FALSE(llamacpp_repacks("none", GgmlType::Q4_0, {3840, 4096}));
  EXPECT_THROW(llamacpp_repacks("neon", GgmlType::Q4_0, {3840, 4096}), Error);

  const Arch a = preset_12b();
  auto repack_bytes = [&](GgmlType type, const std::string& build) {
    WeightsChoice w;
    w.gguf = true;
    w.type = type;
    Request r;
    r.repack = build;
    for (const Item& i : llamacpp_breakdown(a, w, r).items) {
      if (i.name.find("CPU_REPACK") != std::string::npos) return i.bytes;
    }
    return uint64_t(0);
  };
  EXPECT_EQ(repack_bytes(GgmlType::Q4_0, "avx2"), 6697451520ull);
  EXPECT_EQ(repack_bytes(GgmlType::Q4_0, "avx512"), 6697451520ull);
  EXPECT_EQ(repack_bytes(GgmlType::Q4_0, "none"), 0u);
  EXPECT_EQ(repack_bytes(GgmlType::Q8_0, "avx2"), 0u);
  EXPECT_EQ(repack_bytes(GgmlType::Q6_K, "avx512"), 0u);
  // Q4_K: 144 bytes per 256 values, every 12B row a whole number of super-blocks.
  EXPECT_EQ(repack_bytes(GgmlType::Q4_K, "avx2"), 11906580480ull / 256 * 144);
}

// KV cache by hand from spec §2.5 / §1.2 at 32,768 tokens: sliding layers K and V of 8×256 per token, full layers K
// and V of 1×512; Q8_0 stores 32 values in 34 bytes.
TEST(MemoryModel, KvCacheByHand) {
  const Arch a = preset_12b();
  Request r;
  r.context = 32768;
  r.batch = 512;
  r.kv_type = GgmlType::Q8_0;
  const auto kv = kv_llamacpp(a, r);
  ASSERT_EQ(kv.size(), 2u);
  // llama.cpp SWA cells: pad256(min(32768, 1024 + 512)) = 1536.
  EXPECT_EQ(kv[0].layers, 40);
  EXPECT_EQ(kv[0].cells, 1536);
  EXPECT_EQ(kv[0].bytes, 40ull * 1536 * 2 * (2048 / 32 * 34));
  EXPECT_EQ(kv[1].layers, 8);
  EXPECT_EQ(kv[1].bytes, 8ull * 32768 * 2 * (512 / 32 * 34));
  // Without flash attention V rows are padded to the widest layer (2048) on the full layers too.
  r.flash_attn = false;
  r.kv_type = GgmlType::F16;
  const auto kv_nofa = kv_llamacpp(a, r);
  EXPECT_EQ(kv_nofa[1].bytes, 8ull * 32768 * (512 + 2048) * 2);
  // The ideal cache at 4096 tokens in f16: sliding layers the 1024-token window, full layers K = V once.
  const auto ideal = kv_ideal(a, 4096, GgmlType::F16, true);
  EXPECT_EQ(ideal[0].bytes, 40ull * 1024 * 2 * 2048 * 2);
  EXPECT_EQ(ideal[1].bytes, 8ull * 4096 * 512 * 2);
  // A context shorter than the window: every layer holds the context, padded to 256 cells in llama.cpp.
  r.context = 300;
  r.flash_attn = true;
  const auto kv_short = kv_llamacpp(a, r);
  EXPECT_EQ(kv_short[0].cells, 512);
  EXPECT_EQ(kv_short[1].cells, 512);
}

// The reference's activations at a 32,768-token exact prompt, by hand from layers/attention.h and spec §1.2
// (hidden 3840, 16 heads; sliding layers 8 KV heads of 256, full layers 1 KV head of 512; MLP 15360). Float64
// values per token: sliding attention 2·3840 + 3·16·256 + 4·8·256 = 28160, plus per thread one head's scores and
// its queries and output, m + 2·256; full attention 2·3840 + 3·16·512 + 4·512 = 34304, plus m + 2·512 per thread;
// the MLP 5·3840 + 3·15360 = 65280. At n = m = 32768 with one thread the full layer is the largest (68096 values
// per token), plus the n·m mask bytes; each further thread adds one more head's n·(m + 1024) values. The logits
// phase holds the n final hidden rows, the last one normed and its logits: (n + 1)·3840 + 262144 values.
TEST(MemoryModel, ReferenceActivationsByHandPerThread) {
  const Arch a = preset_12b();
  WeightsChoice wc;
  Request r;
  r.context = 32768;
  r.precision = "exact";
  auto item = [&](const std::string& prefix, int threads) {
    r.threads = threads;
    for (const Item& it : reference_breakdown(a, wc, r).items) {
      if (it.name.rfind(prefix, 0) == 0) return it.bytes;
    }
    ADD_FAILURE() << "no item " << prefix;
    return uint64_t(0);
  };
  const uint64_t n = 32768;
  EXPECT_EQ(item("activations", 1), n * 68096 * 8 + n * n);
  EXPECT_EQ(item("activations", 2) - item("activations", 1), n * (n + 1024) * 8);
  EXPECT_EQ(item("final hidden rows", 2), ((n + 1) * 3840 + 262144) * 8);
  // A short prompt: the MLP's live set is the largest (65280 values per token against 34304 + 16 + 1024).
  r.context = 16;
  EXPECT_EQ(item("activations", 2), 16ull * 65280 * 8);
}

// The reference's peak is the larger of its two phases (measured: the 12B Q4_0 GGUF in exact peaks during the last
// layer at 4,096 prompt tokens and at the logits at 1,024). The layers phase maps the prompt's rows of the tied
// embedding only; the logits phase maps all of it. Q4_0 rows of 3840 values are 120 blocks of 18 bytes = 2160
// bytes, one 4 KiB page per looked-up row.
TEST(MemoryModel, ReferencePeakIsTheLargerPhase) {
  const Arch a = preset_12b();
  WeightsChoice wc;
  wc.gguf = true;
  wc.type = GgmlType::Q4_0;
  Request r;
  r.precision = "exact";
  r.threads = 2;
  const uint64_t embedding = 262144ull * 2160;
  for (const int64_t n : {int64_t(1024), int64_t(4096)}) {
    r.context = n;
    const Breakdown b = reference_breakdown(a, wc, r);
    const uint64_t file_layers = b.phase_bytes("layers", true), file_logits = b.phase_bytes("logits", true);
    EXPECT_EQ(file_logits - file_layers, embedding - uint64_t(n) * 4096) << n;
    uint64_t all_file = 0;
    for (const Item& it : b.items) all_file += it.file_backed ? it.bytes : 0;
    EXPECT_EQ(file_logits, all_file) << n;
    const uint64_t layers = b.phase_bytes("layers", false) + file_layers;
    const uint64_t logits = b.phase_bytes("logits", false) + file_logits;
    EXPECT_EQ(b.resident(), std::max(layers, logits)) << n;
    EXPECT_EQ(b.peak_phase(), layers > logits ? "layers" : "logits") << n;
  }
  // As measured: the last layer at 4k (its activations, 2.1 GB, outweigh the unread embedding, 0.55 GB); the
  // logits at 1k (0.53 GB of activations against 0.56 GB of embedding).
  r.context = 4096;
  EXPECT_EQ(reference_breakdown(a, wc, r).peak_phase(), "layers");
  r.context = 1024;
  EXPECT_EQ(reference_breakdown(a, wc, r).peak_phase(), "logits");
}

// The family's parameter counts from their published configs against the published totals (model card).
TEST(MemoryModel, FamilyParameterCounts) {
  const std::string cfg = std::string(G4REF_SOURCE_DIR) + "/eval/memory/configs/";
  const Arch b31 = arch_from_config_file(cfg + "gemma-4-31b.json");
  EXPECT_NEAR(double(parameter_count(b31)) / 1e9, 30.7, 0.05);
  const Arch moe = arch_from_config_file(cfg + "gemma-4-26b-a4b.json");
  EXPECT_NEAR(double(parameter_count(moe)) / 1e9, 25.2, 0.05);
  EXPECT_NEAR(double(active_parameter_count(moe)) / 1e9, 3.8, 0.05);
  const Arch e2b = arch_from_config_file(cfg + "gemma-4-e2b.json");
  EXPECT_NEAR(double(active_parameter_count(e2b)) / 1e9, 2.3, 0.05);
  // KV sharing: E2B's last 20 layers have no cache and no k/v weights.
  const auto kv = kv_ideal(e2b, 4096, GgmlType::F16, true);
  int cached = 0;
  for (const auto& k : kv) cached += k.cells > 0 ? k.layers : 0;
  EXPECT_EQ(cached, 15);
}

TEST(MemoryModel, BadConfigNamesTheFile) {
  TempDir tmp("memory_cfg");
  const std::string p = tmp / "config.json";
  std::FILE* f = std::fopen(p.c_str(), "w");
  std::fputs("{\"text_config\": {\"num_hidden_layers\": 3, \"layer_types\": [\"full_attention\"]}}", f);
  std::fclose(f);
  testing::expect_error([&] { arch_from_config_file(p); }, p, "layer_types");
}

TEST(MemoryCli, HelpJsonAndErrors) {
  std::string out;
  for (const char* cmd : {"memory --help", "memory measure --help"}) {
    EXPECT_EQ(testing::run_command(std::string(G4REF_CLI) + " " + cmd, &out), 0) << cmd;
    EXPECT_NE(out.find("Usage"), std::string::npos) << cmd << ": " << out;
  }
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " memory --preset 12b --weights q4_0 --engine llamacpp --json", &out), 0);
  EXPECT_NE(out.find("\"parameters\": 11959730224"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " memory --preset 7b 2>&1", &out), 0);
  EXPECT_NE(out.find("--preset"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " memory --preset 12b --kv-type q2 2>&1", &out), 0);
  EXPECT_NE(out.find("--kv-type"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " memory --preset 12b --engine llamacpp --repack neon 2>&1", &out), 0);
  EXPECT_NE(out.find("--repack"), std::string::npos) << out;
}

TEST(ProcessSampler, SeesAChildsAnonymousMemory) {
  // python3 holds 200 MB of touched anonymous memory for a moment.
  const ProcessPeak p = run_and_sample({"python3", "-c", "import time; b = bytearray(200 * 1024 * 1024); time.sleep(0.5)"});
  ASSERT_EQ(p.exit_code, 0);
  EXPECT_GE(p.anon_bytes, 200ull * 1024 * 1024);
  EXPECT_LT(p.anon_bytes, 300ull * 1024 * 1024);
}

// Peaks that do not coincide: python3 first reads a 96 MiB file through a mapping, unmaps it, then holds 200 MiB of
// anonymous memory. The RSS peak is the second phase: its sample holds the anonymous memory and not the mapping.
TEST(ProcessSampler, RecordsWhatTheRssPeakHeldAndWhenEachPeakCame) {
  TempDir dir("sampler");
  const std::string file = dir / "pages.bin";
  const std::string script =
      "import mmap, time\n"
      "f = open('" + file + "', 'w+b'); f.write(b'x' * (96 << 20)); f.flush()\n"
      "m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n"
      "s = sum(m[i] for i in range(0, len(m), 4096)); time.sleep(0.3); m.close(); f.close()\n"
      "b = bytearray(200 << 20); time.sleep(0.5)\n";
  const ProcessPeak p = run_and_sample({"python3", "-c", script});
  ASSERT_EQ(p.exit_code, 0) << p.stderr_tail;
  EXPECT_GE(p.file_bytes, 96ull << 20);
  EXPECT_GE(p.anon_bytes, 200ull << 20);
  EXPECT_GE(p.anon_at_rss_peak, 200ull << 20);
  EXPECT_LT(p.file_at_rss_peak, 64ull << 20);  // the mapping was gone by then
  EXPECT_GT(p.anon_peak_seconds, p.file_peak_seconds);
  EXPECT_GE(p.rss_peak_seconds, p.anon_peak_seconds);
  EXPECT_LE(p.anon_at_rss_peak + p.file_at_rss_peak, p.rss_bytes);  // VmRSS also counts shared memory
}

}  // namespace
}  // namespace g4ref
