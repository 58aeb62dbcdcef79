#include "base/profile.h"

namespace g4ref {

namespace {
std::atomic<StageProfile*> g_profile{nullptr};
}  // namespace

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::embed: return "embed";
    case Stage::media: return "media_embedders";
    case Stage::norms: return "norms";
    case Stage::residual: return "residual";
    case Stage::qkv_proj: return "matmul.qkv_proj";
    case Stage::qk_norm_rope: return "qk_norm_rope";
    case Stage::attention_core: return "attention_core";
    case Stage::o_proj: return "matmul.o_proj";
    case Stage::mlp_gate_up: return "matmul.mlp_gate_up";
    case Stage::mlp_act: return "mlp_act";
    case Stage::mlp_down: return "matmul.mlp_down";
    case Stage::logits: return "logits";
    case Stage::count: break;
  }
  return "?";
}

StageProfile* active_profile() { return g_profile.load(std::memory_order_relaxed); }

ProfileScope::ProfileScope(StageProfile& profile) { g_profile.store(&profile); }
ProfileScope::~ProfileScope() { g_profile.store(nullptr); }

}  // namespace g4ref
