// Comparing a candidate trace (another implementation, or an emulation mode) with a golden one: align tensors
// by name, measure each pair, judge it against the expected error of its precision, and name the first tensor
// in data-flow order that leaves that envelope — where a bug shows up first.
//
// Judging rule, per tensor:
//   with an envelope entry E (the error of a correct emulation of that precision against exact):
//     FAIL if nmse > k²·E.nmse + floor_nmse  or  max_abs > k·E.max_abs + floor_abs
//     (nmse is a squared error, so its budget scales with k²)
//   without one: FAIL if nmse > tol_nmse or max_abs > tol_max_abs.
//   Always FAIL on a non-finite mismatch (NaN, or an infinity the other side lacks) and on element counts
//   that cannot be aligned.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/metrics.h"
#include "compare/name_map.h"
#include "trace/trace_file.h"

namespace g4ref {

struct EnvelopeEntry {
  double max_abs = 0;
  double nmse = 0;
};

// Expected error per tensor name (g4ref names), measured between an emulation mode and exact.
struct Envelope {
  std::string description;  // what was measured: modes, model, prompt
  std::map<std::string, EnvelopeEntry> tensors;
};

// A small JSON file: {"format": "g4ref-envelope", "version": 1, "description": …,
//                     "tensors": {"layers.0.q": {"max_abs": …, "nmse": …}, …}}
void save_envelope(const std::string& path, const Envelope& envelope);
Envelope load_envelope(const std::string& path);

struct CompareOptions {
  MapKind names = MapKind::G4ref;  // how the candidate names its tensors
  int num_layers = 0;              // for HF hidden_states; 0: the highest hidden_states index in the candidate

  std::optional<Envelope> envelope;
  double k = 4;
  // The floors matter only where the envelope is (near) zero: tensors an emulation mode reproduces exactly
  // (token ids, positions, pass-through values). 1e-12 in nmse is a relative RMS error of 1e-6, about
  // eight float32 ulps and far below one bf16 ulp (nmse ~1e-5), so it forgives a float32 dump of exact
  // values without hiding any real error; 1e-9 absolute is above double-precision noise for values of O(1).
  double floor_nmse = 1e-12;
  double floor_abs = 1e-9;

  // Fixed tolerances for tensors without an envelope entry (or without an envelope). The defaults suit a
  // float32 implementation against exact; judge bf16 implementations with an envelope.
  double tol_nmse = 1e-6;
  double tol_max_abs = std::numeric_limits<double>::infinity();

  // Optional judging of the logits rows (0 = off).
  double max_kl = 0;        // FAIL if any position's KL exceeds it
  double min_top1 = 0;      // FAIL if the top-1 agreement fraction is below it

  // When the candidate holds fewer rows than the golden with the same row width (llama.cpp outputs the
  // last token's logits and final norm only), compare against the golden's LAST rows.
  bool align_tail_rows = true;

  std::string filter;  // regex (std::regex_search) over g4ref names: compare only those; empty = all
};

struct TensorComparison {
  std::string name;            // g4ref name
  std::string candidate_name;  // as the candidate file spells it
  std::vector<int64_t> golden_shape, candidate_shape;
  std::string alignment;       // "" (same shape), "flattened", "last N of M rows", or why it failed
  bool aligned = false;        // element counts could be matched
  TensorMetrics metrics;
  std::optional<LogitsMetrics> logits;
  std::optional<EnvelopeEntry> envelope;  // the entry judged against, when there was one
  double budget_ratio = 0;     // measured / allowed, the larger of the two criteria (> 1 fails)
  bool pass = false;
  std::string reason;          // why it failed
};

struct CompareReport {
  std::string golden_path, candidate_path;
  MapKind names = MapKind::G4ref;
  bool used_envelope = false;
  std::string envelope_description;
  double k = 4, floor_nmse = 0, floor_abs = 0, tol_nmse = 0, tol_max_abs = 0;
  std::vector<TensorComparison> tensors;  // data-flow order
  std::vector<std::string> only_in_golden;     // g4ref names
  std::vector<std::string> only_in_candidate;  // mapped g4ref names the golden lacks
  std::vector<std::string> unmapped;           // candidate names with no g4ref counterpart
  std::vector<std::string> duplicates;         // candidate names mapping to a tensor already taken
  int64_t failures = 0;
  bool pass = false;                           // at least one tensor compared and none failed
  std::optional<std::string> first_failure;    // g4ref name, first in data-flow order
};

// Throws g4ref::Error when both traces carry token ids and they differ, or both carry config hashes and they
// differ: such traces describe different computations and any comparison would be meaningless.
CompareReport compare_traces(const Trace& golden, const Trace& candidate, const CompareOptions& options);

// The envelope an emulation trace defines against exact: its max_abs and nmse per aligned tensor.
Envelope envelope_from_report(const CompareReport& report, const std::string& description);

nlohmann::json report_json(const CompareReport& report);
std::string report_table(const CompareReport& report);

}  // namespace g4ref
