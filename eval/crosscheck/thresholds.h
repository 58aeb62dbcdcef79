// The thresholds the cross-checks judge by, each measured on a correct implementation and set with a margin
// (the numbers behind each are in thresholds.cpp).
#pragma once

#include <string>

#include "numerics/quant.h"

namespace g4ref {

// Worst per-position logits NMSE a correct llama.cpp reaches with weights of TYPE ("f32", "q8_0", ...).
double default_max_nmse(const std::string& type);
// NMSE of a correct llama.cpp's projected media embeddings with a projector of MMPROJ type.
double default_max_embedding_nmse(GgmlType mmproj);

}  // namespace g4ref
