// eval audit: a run made with a fast backend (llama.cpp, a server) checked sample by sample by the reference on
// the same weights, teacher-forced. Log-likelihood tasks: does the reference pick the same choice? Generative
// tasks: is every token the backend produced the reference's greedy choice (the first one that is not), and how
// far apart are the two distributions along the backend's path (KL over the tokens both report)? The agreement
// rate, printed next to the run's score, says whether the backend's benchmark number can be trusted.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "harness/runner.h"

namespace g4ref {

struct AuditOptions {
  std::string dir;          // the run (or shard) folder
  std::string model;        // for the record only; MAKE builds the reference
  int samples = 50;         // a fixed subset chosen by a hash of the sample ids; 0: all
  int top_k = 20;
  BackendMaker make;
};

// Also writes DIR/audit.json.
nlohmann::ordered_json run_audit(const AuditOptions& options);
std::string audit_text(const nlohmann::ordered_json& audit);

// Log-probabilities of each choice letter's continuation after PROMPT (the task's "loglikelihood" rule), the
// same computation for a run and for its audit.
nlohmann::ordered_json choice_logprobs(Backend& backend, const Prompt& prompt, const nlohmann::ordered_json& task_spec,
                                       const std::string& letters, const std::vector<std::string>& choices,
                                       std::string* best, const std::string& where);

}  // namespace g4ref
