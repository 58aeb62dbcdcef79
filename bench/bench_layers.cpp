// Each layer kind of the 12B at its real shapes (spec §1.2: hidden 3840, 16 heads, sliding layers 8 KV heads of
// 256, full layers 1 KV head of 512 with k = v, MLP 15360, vocabulary 262144), with random bf16 weights, in exact
// (float64) and f32. Counters: GFLOP/s of the products each layer runs, and the ratio to this run's GEMM ceiling
// (perf/ceilings.h, measured once at start) — the figure to read, not the seconds.
//   bench_layers --benchmark_filter=Mlp       (Google Benchmark's options)
#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <vector>

#include "forward/kv_cache.h"
#include "base/profile.h"
#include "layers/decoder_layer.h"
#include "layers/logits.h"
#include "layers/rope.h"
#include "perf/ceilings.h"

namespace g4ref {
namespace {

const TextConfig& config_12b() {
  static const TextConfig t = [] {
    TextConfig c;
    c.layer_types.assign(c.num_hidden_layers, LayerType::sliding);
    for (int l = 5; l < c.num_hidden_layers; l += 6) c.layer_types[l] = LayerType::full;
    return c;
  }();
  return t;
}

const Ceilings& ceilings() {
  static const Ceilings c = measure_ceilings(0, 0.3);
  return c;
}

// A bf16 matrix of N(0, 0.02²) values (ones for norm weights), kept alive for the whole program.
MatrixView bf16_matrix(int64_t rows, int64_t cols, const std::string& name, bool ones = false) {
  static std::vector<std::vector<uint16_t>> store;
  std::mt19937 gen(static_cast<unsigned>(store.size() + 1));
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<uint16_t> bits(static_cast<size_t>(rows * cols));
  for (auto& b : bits) b = float_to_bf16_bits(ones ? 1.0f : d(gen));
  store.push_back(std::move(bits));
  MatrixView v;
  v.dtype = DType::BF16;
  v.data = reinterpret_cast<const std::byte*>(store.back().data());
  v.rows = rows;
  v.cols = cols;
  v.name = name;
  return v;
}

const LayerWeights& layer_weights(bool full) {
  auto make = [](bool f) {
    const TextConfig& t = config_12b();
    const int layer = f ? 5 : 0;
    const int64_t H = t.hidden_size, D = t.layer_head_dim(layer), kv = t.layer_kv_heads(layer);
    LayerWeights w;
    w.input_norm = bf16_matrix(H, 1, "input_norm", true);
    w.post_attn_norm = bf16_matrix(H, 1, "post_attn_norm", true);
    w.pre_ffn_norm = bf16_matrix(H, 1, "pre_ffn_norm", true);
    w.post_ffn_norm = bf16_matrix(H, 1, "post_ffn_norm", true);
    w.layer_scalar = bf16_matrix(1, 1, "layer_scalar", true);
    w.q = bf16_matrix(t.num_attention_heads * D, H, "q_proj");
    w.k = bf16_matrix(kv * D, H, "k_proj");
    if (t.layer_has_v_proj(layer)) w.v = bf16_matrix(kv * D, H, "v_proj");
    w.o = bf16_matrix(H, t.num_attention_heads * D, "o_proj");
    w.q_norm = bf16_matrix(D, 1, "q_norm", true);
    w.k_norm = bf16_matrix(D, 1, "k_norm", true);
    w.gate = bf16_matrix(t.intermediate_size, H, "gate_proj");
    w.up = bf16_matrix(t.intermediate_size, H, "up_proj");
    w.down = bf16_matrix(H, t.intermediate_size, "down_proj");
    return w;
  };
  static const LayerWeights sliding = make(false), full_w = make(true);
  return full ? full_w : sliding;
}

template <class T>
Mat<T> activations(int64_t n, int64_t width) {
  std::mt19937 gen(7);
  std::normal_distribution<double> d(0.0, 1.0);
  Mat<T> x(n, width);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<T>(d(gen));
  return x;
}

// Wall time of the timed loop, for the ratio (Google Benchmark's own rate counters cannot be divided).
struct LoopClock {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

template <class P>
void report(benchmark::State& state, const StageProfile& profile, double seconds) {
  const double flops = static_cast<double>(profile.matmul_flops.load());
  const double gflops = flops / seconds * 1e-9;
  const double ceiling = P::kind == Precision::exact ? ceilings().gemm_f64_gflops : ceilings().gemm_f32_gflops;
  state.counters["GFLOP/s"] = gflops;
  state.counters["ceiling_GFLOP/s"] = ceiling;
  state.counters["ratio_to_ceiling"] = gflops / ceiling;
}

// One whole decoder layer over a prompt of state.range(0) tokens from position 0 (a fresh cache each time).
template <class P, bool Full>
void BM_DecoderLayer(benchmark::State& state) {
  using T = typename P::T;
  const TextConfig& t = config_12b();
  const int layer = Full ? 5 : 0;
  const int64_t n = state.range(0);
  const Mat<T> x = activations<T>(n, t.hidden_size);
  AttentionShape a{layer, t.layer_types[layer], t.num_attention_heads, t.layer_kv_heads(layer),
                   t.layer_head_dim(layer), t.rms_norm_eps};
  MaskRule rule;
  rule.layer_type = a.type;
  rule.window = t.sliding_window;
  const std::vector<float> inv = rope_inv_freq(t.layer_rope(layer), a.head_dim);
  std::vector<int64_t> pos(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = i;
  const std::vector<int> blocks(static_cast<size_t>(n), -1);
  const LayerWeights& w = layer_weights(Full);  // made before the clock starts
  StageProfile profile;
  ProfileScope scope(profile);
  const LoopClock clock;
  for (auto _ : state) {
    LayerCache<T> cache;
    benchmark::DoNotOptimize(
        decoder_layer<P>(x, w, a, rule, inv, pos, blocks, Deviations{}, cache, nullptr).data());
  }
  report<P>(state, profile, clock.seconds());
}

// The MLP alone (gate, up, gelu·up, down) on state.range(0) rows.
template <class P>
void BM_Mlp(benchmark::State& state) {
  using T = typename P::T;
  const Mat<T> x = activations<T>(state.range(0), config_12b().hidden_size);
  const LayerWeights& w = layer_weights(false);
  StageProfile profile;
  ProfileScope scope(profile);
  const LoopClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(mlp<P>(x, w, "", nullptr).data());
  report<P>(state, profile, clock.seconds());
}

// One decode step of a full layer's attention against a cache of state.range(0) tokens: the cost must grow
// with the context as its FLOPs do (4·heads·D per cached token), no faster.
template <class P>
void BM_FullAttentionDecode(benchmark::State& state) {
  using T = typename P::T;
  const TextConfig& t = config_12b();
  const int layer = 5;
  const int64_t ctx = state.range(0);
  AttentionShape a{layer, LayerType::full, t.num_attention_heads, 1, t.global_head_dim, t.rms_norm_eps};
  MaskRule rule;
  rule.layer_type = LayerType::full;
  const std::vector<float> inv = rope_inv_freq(t.rope_full, a.head_dim);
  LayerCache<T> cache;
  {
    const Mat<T> kv = activations<T>(ctx, a.head_dim);
    std::vector<int64_t> pos(static_cast<size_t>(ctx));
    for (int64_t i = 0; i < ctx; ++i) pos[static_cast<size_t>(i)] = i;
    cache.append(kv, kv, 1, a.head_dim, pos, std::vector<int>(static_cast<size_t>(ctx), -1));
  }
  const Mat<T> x = activations<T>(1, t.hidden_size);
  const LayerWeights& w = layer_weights(true);
  StageProfile profile;
  ProfileScope scope(profile);
  const LoopClock clock;
  int64_t p = ctx;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        attention<P>(x, w, a, rule, inv, {p}, {-1}, Deviations{}, cache, nullptr).data());
    ++p;
  }
  report<P>(state, profile, clock.seconds());
  state.counters["attention_core_s_per_step"] =
      profile.seconds[static_cast<size_t>(Stage::attention_core)] / static_cast<double>(state.iterations());
}

// RMSNorm of the residual stream and RoPE of the queries: memory-bound element-wise stages.
template <class P>
void BM_RmsNorm(benchmark::State& state) {
  using T = typename P::T;
  const TextConfig& t = config_12b();
  const Mat<T> x = activations<T>(state.range(0), t.hidden_size);
  const Vec<T> w = Vec<T>::Ones(t.hidden_size);
  for (auto _ : state) benchmark::DoNotOptimize(rms_norm<P>(x, t.hidden_size, &w, t.rms_norm_eps).data());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * x.size() * sizeof(T));
}

template <class P>
void BM_Rope(benchmark::State& state) {
  using T = typename P::T;
  const TextConfig& t = config_12b();
  Mat<T> x = activations<T>(state.range(0), t.num_attention_heads * t.head_dim);
  const std::vector<float> inv = rope_inv_freq(t.rope_sliding, t.head_dim);
  std::vector<int64_t> pos(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int64_t>(i);
  for (auto _ : state) {
    apply_rope<P>(x, t.head_dim, pos, inv);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * x.size() * sizeof(T));
}

// The output head: one row (a decode step) against the tied 262144 × 3840 bf16 table (2 GB): bandwidth-bound.
template <class P>
void BM_LogitsOneRow(benchmark::State& state) {
  using T = typename P::T;
  const TextConfig& t = config_12b();
  static const MatrixView table = bf16_matrix(t.vocab_size, t.hidden_size, "embed_tokens");
  const Mat<T> h = activations<T>(1, t.hidden_size);
  for (auto _ : state) benchmark::DoNotOptimize(logits<P>(h, table, t.final_logit_softcapping).data());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * t.vocab_size * t.hidden_size * 2);
  state.counters["read_ceiling_GB/s"] = ceilings().read_gbps;
}

BENCHMARK(BM_DecoderLayer<ExactPolicy, false>)->Name("DecoderLayer/sliding/exact")->Arg(64)->Arg(512)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecoderLayer<ExactPolicy, true>)->Name("DecoderLayer/full/exact")->Arg(64)->Arg(512)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecoderLayer<F32Policy, false>)->Name("DecoderLayer/sliding/f32")->Arg(64)->Arg(512)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecoderLayer<F32Policy, true>)->Name("DecoderLayer/full/f32")->Arg(64)->Arg(512)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Mlp<ExactPolicy>)->Name("Mlp/exact")->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Mlp<F32Policy>)->Name("Mlp/f32")->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_FullAttentionDecode<ExactPolicy>)->Name("FullAttentionDecode/exact")->Arg(4096)->Arg(16384)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RmsNorm<ExactPolicy>)->Name("RmsNorm/exact")->Arg(512)->UseRealTime();
BENCHMARK(BM_Rope<ExactPolicy>)->Name("Rope/exact")->Arg(512)->UseRealTime();
BENCHMARK(BM_LogitsOneRow<ExactPolicy>)->Name("LogitsOneRow/exact")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LogitsOneRow<F32Policy>)->Name("LogitsOneRow/f32")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace g4ref

BENCHMARK_MAIN();
