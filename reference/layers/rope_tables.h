// Float32 bit patterns of the 12B's RoPE inverse frequencies as PyTorch produces them (see rope_tables.cpp).
#pragma once

#include <cstdint>

namespace g4ref {

extern const uint32_t kRopeInvFreq12BSliding[128];  // default, theta 1e4, head_dim 256
extern const uint32_t kRopeInvFreq12BFull[64];      // proportional, theta 1e6, head_dim 512, factor 0.25

}  // namespace g4ref
