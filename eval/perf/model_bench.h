// g4ref bench's measurement of one checkpoint: prefill of N prompt tokens and M decode steps in one precision,
// with the per-stage times (base/profile.h) and the executed FLOPs and streamed bytes, each set against the
// ceilings measured in the same run (perf/ceilings.h).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "model/options.h"
#include "model/weights.h"
#include "perf/ceilings.h"

namespace g4ref {

struct ModelBenchOptions {
  int prompt_tokens = 64;
  int new_tokens = 4;
  Precision precision = Precision::exact;
  int threads = 0;
  int repeats = 1;  // best of REPEATS runs (each a fresh session)
};

// The prompt: <bos> then ordinary text ids from a fixed sequence (no control or media ids), so that any
// checkpoint of this family can run it and two runs see the same tokens.
std::vector<int> bench_prompt(const ModelConfig& c, int tokens);

// Runs the prefill and decode of O on MODEL; CEILINGS (may be null) turns speeds into ratios.
nlohmann::json bench_model(const Model& model, const ModelBenchOptions& o, const Ceilings* ceilings);

}  // namespace g4ref
