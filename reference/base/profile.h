// Per-stage wall time of the forward pass (issue "Speed": where the 12B's time goes). Off unless a caller installs
// a StageProfile with ProfileScope; each stage of the data flow then adds its wall time to its slot. Stages do not
// nest, so the slots add up to the forward's time (less the untimed glue). Weight conversion happens inside the
// matrix products, on every thread at once: it is kept apart as thread-seconds, a part of the product stages.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace g4ref {

enum class Stage : int {
  embed,            // token lookup, scaling, media scatter
  media,            // vision / audio embedders
  norms,            // the RMSNorms of the residual stream (input, post-attention, pre- and post-FFN, final)
  residual,         // residual adds and the layer scalar
  qkv_proj,         // Q, K, V projections (matrix products)
  qk_norm_rope,     // per-head q/k/v norms and RoPE
  attention_core,   // mask, Q·Kᵀ, softmax, P·V, the KV cache
  o_proj,           // attention output projection
  mlp_gate_up,      // gate and up projections
  mlp_act,          // gelu_tanh(gate) · up
  mlp_down,         // down projection
  logits,           // output head (tied embedding) and softcap
  count
};

const char* stage_name(Stage s);

struct StageProfile {
  std::array<double, static_cast<size_t>(Stage::count)> seconds{};
  std::array<int64_t, static_cast<size_t>(Stage::count)> calls{};
  // Thread-seconds spent converting stored weights (bf16, f16, quantized blocks) to the compute type, in products
  // of more than kFewRows rows (numerics/matmul.h); the few-row path converts row by row inside its dot products.
  std::atomic<int64_t> conversion_ns{0};
  // What the matrix products executed: 2·n·m·k floating-point operations each (masked attention entries
  // included: the reference computes dense products), and the bytes of their right-hand operands as stored
  // (weights in their checkpoint type, the KV cache in the compute type) — what a decode step must stream.
  std::atomic<int64_t> matmul_flops{0};
  std::atomic<int64_t> operand_bytes{0};
  void reset() {
    seconds.fill(0);
    calls.fill(0);
    conversion_ns = 0;
    matmul_flops = 0;
    operand_bytes = 0;
  }
};

// The installed profile, or null (the usual case: then every probe is one load and a branch).
StageProfile* active_profile();

// Installs PROFILE for this object's lifetime (one at a time; not for concurrent sessions).
class ProfileScope {
 public:
  explicit ProfileScope(StageProfile& profile);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;
};

// Adds the wall time from construction to destruction to STAGE of the active profile.
class StageTimer {
 public:
  explicit StageTimer(Stage s) : profile_(active_profile()), stage_(s) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~StageTimer() { stop(); }
  void stop() {
    if (!profile_) return;
    const auto i = static_cast<size_t>(stage_);
    profile_->seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    profile_->calls[i] += 1;
    profile_ = nullptr;
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageProfile* profile_;
  Stage stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace g4ref
