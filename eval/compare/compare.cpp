#include "compare/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/error.h"
#include "io/output_file.h"

namespace g4ref {

using json = nlohmann::json;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string sci(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

// JSON has no inf or NaN: write them as strings rather than let them become null.
json num(double x) {
  if (std::isfinite(x)) return x;
  return sci(x);
}

bool is_logits(const std::string& name) { return name == "logits" || name == "logits.raw"; }

void check_same_run(const Trace& golden, const Trace& candidate) {
  const auto& gt = golden.meta().tokens;
  const auto& ct = candidate.meta().tokens;
  if (!gt.empty() && !ct.empty() && gt != ct) {
    size_t i = 0;
    while (i < gt.size() && i < ct.size() && gt[i] == ct[i]) ++i;
    std::string where = i < gt.size() && i < ct.size()
                            ? "first difference at position " + std::to_string(i) + ": " + std::to_string(gt[i]) +
                                  " vs " + std::to_string(ct[i])
                            : "one is a prefix of the other";
    fail(candidate.path(), "refusing to compare with " + golden.path() +
                               ": the traces were computed from different token ids (" + std::to_string(gt.size()) +
                               " vs " + std::to_string(ct.size()) + " tokens; " + where + ")");
  }
  // Options both traces record must agree: a window or embedding-scale difference is a setting, not an error.
  for (const auto& [key, value] : golden.meta().extra) {
    if (key.rfind(kTraceOptionPrefix, 0) != 0) continue;
    const auto it = candidate.meta().extra.find(key);
    if (it != candidate.meta().extra.end() && it->second != value) {
      fail(candidate.path(), "refusing to compare with " + golden.path() + ": the traces were computed with different " +
                                 key.substr(std::string(kTraceOptionPrefix).size()) + " ('" + it->second + "' vs '" +
                                 value + "')");
    }
  }
  const auto& gh = golden.meta().config_hash;
  const auto& ch = candidate.meta().config_hash;
  if (!gh.empty() && !ch.empty() && gh != ch) {
    fail(candidate.path(), "refusing to compare with " + golden.path() + ": the traces come from different model " +
                               "configs (config hash " + ch + " vs " + gh + ")");
  }
}

// The number of decoder layers an HF hidden_states dump implies: it holds N + 1 entries, 0 … N.
int infer_num_layers(const Trace& candidate) {
  int highest = 0;
  for (const std::string& name : candidate.names()) {
    if (name.rfind("hidden_states.", 0) != 0) continue;
    const std::string idx = name.substr(14);
    if (idx.empty() || idx.size() > 6 || idx.find_first_not_of("0123456789") != std::string::npos) continue;
    highest = std::max(highest, std::stoi(idx));
  }
  return highest;
}

void judge(TensorComparison& t, const CompareOptions& o) {
  std::vector<std::string> reasons;
  double allowed_nmse = o.tol_nmse, allowed_abs = o.tol_max_abs;
  if (o.envelope) {
    auto it = o.envelope->tensors.find(t.name);
    if (it != o.envelope->tensors.end()) {
      t.envelope = it->second;
      allowed_nmse = o.k * o.k * it->second.nmse + o.floor_nmse;
      allowed_abs = o.k * it->second.max_abs + o.floor_abs;
    }
  }
  auto ratio = [](double measured, double allowed) {
    if (std::isinf(allowed)) return 0.0;
    if (allowed <= 0) return measured > 0 ? kInf : 0.0;
    return measured / allowed;
  };
  const TensorMetrics& m = t.metrics;
  t.budget_ratio = std::max(ratio(m.nmse, allowed_nmse), ratio(m.max_abs, allowed_abs));
  if (m.nonfinite_mismatches > 0) {
    reasons.push_back(std::to_string(m.nonfinite_mismatches) + " non-finite mismatches (NaN or unshared inf)");
  }
  if (m.nmse > allowed_nmse) reasons.push_back("nmse " + sci(m.nmse) + " > allowed " + sci(allowed_nmse));
  if (m.max_abs > allowed_abs) reasons.push_back("max_abs " + sci(m.max_abs) + " > allowed " + sci(allowed_abs));
  if (t.logits) {
    if (o.max_kl > 0 && t.logits->max_kl > o.max_kl) {
      reasons.push_back("KL " + sci(t.logits->max_kl) + " at position " + std::to_string(t.logits->worst_position) +
                        " > " + sci(o.max_kl));
    }
    if (o.min_top1 > 0 && t.logits->top1_fraction < o.min_top1) {
      reasons.push_back("top-1 agreement " + std::to_string(t.logits->top1_fraction) + " < " +
                        std::to_string(o.min_top1));
    }
  }
  t.pass = reasons.empty();
  for (size_t i = 0; i < reasons.size(); ++i) t.reason += (i ? "; " : "") + reasons[i];
}

TensorComparison compare_one(const Trace& golden, const Trace& candidate, const std::string& name,
                             const std::string& candidate_name, const CompareOptions& o) {
  TensorComparison t;
  t.name = name;
  t.candidate_name = candidate_name;
  const TraceTensor g = golden.tensor(name);
  const TraceTensor c = candidate.tensor(candidate_name);
  t.golden_shape = g.shape;
  t.candidate_shape = c.shape;

  // Align: same element count → compare flattened (layouts of equal order, see name_map.h); a candidate
  // holding only the last rows of a golden of the same row width → compare those rows.
  const double* gp = g.values.data();
  int64_t n = c.numel();
  const int64_t row = g.shape.empty() ? 1 : g.shape.back();
  if (g.numel() == c.numel()) {
    t.aligned = true;
    if (g.shape != c.shape) t.alignment = "flattened";
  } else if (o.align_tail_rows && row > 0 && c.numel() > 0 && c.numel() < g.numel() && c.numel() % row == 0 &&
             g.numel() % row == 0) {
    t.aligned = true;
    gp += g.numel() - c.numel();
    t.alignment = "last " + std::to_string(c.numel() / row) + " of " + std::to_string(g.numel() / row) + " rows";
  } else {
    t.alignment = "element counts differ: golden " + shape_str(g.shape) + " = " + std::to_string(g.numel()) +
                  ", candidate " + shape_str(c.shape) + " = " + std::to_string(c.numel());
    t.pass = false;
    t.budget_ratio = kInf;
    t.reason = t.alignment;
    return t;
  }

  MetricOptions mo;
  mo.skip_one_sided_neg_inf = is_logits(name);
  t.metrics = tensor_metrics(gp, c.values.data(), n, mo);
  if (is_logits(name) && row > 0 && n > 0) t.logits = logits_metrics(gp, c.values.data(), n / row, row);
  judge(t, o);
  return t;
}

}  // namespace

CompareReport compare_traces(const Trace& golden, const Trace& candidate, const CompareOptions& o) {
  check_same_run(golden, candidate);
  CompareReport r;
  r.golden_path = golden.path();
  r.candidate_path = candidate.path();
  r.names = o.names;
  r.used_envelope = o.envelope.has_value();
  if (o.envelope) r.envelope_description = o.envelope->description;
  r.k = o.k;
  r.floor_nmse = o.floor_nmse;
  r.floor_abs = o.floor_abs;
  r.tol_nmse = o.tol_nmse;
  r.tol_max_abs = o.tol_max_abs;

  std::optional<std::regex> filter;
  if (!o.filter.empty()) {
    try {
      filter.emplace(o.filter, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error("compare filter " + in_quotes(o.filter) + " is not a valid regular expression: " + e.what());
    }
  }
  auto selected = [&](const std::string& name) { return !filter || std::regex_search(name, *filter); };

  // Map the candidate's names, keeping the first tensor that claims each g4ref name.
  const int num_layers = o.num_layers > 0 ? o.num_layers : infer_num_layers(candidate);
  std::map<std::string, std::string> candidate_of;  // g4ref name -> candidate name
  for (const std::string& cname : candidate.names()) {
    const std::optional<std::string> mapped = to_g4ref(cname, o.names, num_layers);
    if (!mapped) {
      r.unmapped.push_back(cname);
    } else if (!candidate_of.emplace(*mapped, cname).second) {
      r.duplicates.push_back(cname);
    }
  }

  std::set<std::string> golden_names;
  for (const std::string& name : golden.names()) {
    golden_names.insert(name);
    if (!selected(name)) continue;
    auto it = candidate_of.find(name);
    if (it == candidate_of.end()) {
      r.only_in_golden.push_back(name);
      continue;
    }
    r.tensors.push_back(compare_one(golden, candidate, name, it->second, o));
  }
  for (const auto& [name, cname] : candidate_of) {
    if (!golden_names.count(name) && selected(name)) r.only_in_candidate.push_back(name);
  }

  std::stable_sort(r.tensors.begin(), r.tensors.end(), [](const TensorComparison& a, const TensorComparison& b) {
    return data_flow_key(a.name) < data_flow_key(b.name);
  });
  std::sort(r.only_in_candidate.begin(), r.only_in_candidate.end(),
            [](const std::string& a, const std::string& b) { return data_flow_key(a) < data_flow_key(b); });
  for (const TensorComparison& t : r.tensors) {
    if (t.pass) continue;
    ++r.failures;
    if (!r.first_failure) r.first_failure = t.name;
  }
  r.pass = !r.tensors.empty() && r.failures == 0;
  return r;
}

Envelope envelope_from_report(const CompareReport& report, const std::string& description) {
  Envelope e;
  e.description = description;
  for (const TensorComparison& t : report.tensors) {
    if (!t.aligned || !std::isfinite(t.metrics.max_abs) || !std::isfinite(t.metrics.nmse)) continue;
    e.tensors[t.name] = {t.metrics.max_abs, t.metrics.nmse};
  }
  return e;
}

// ---------------------------------------------------------------------------------------------------
// Envelope files

void save_envelope(const std::string& path, const Envelope& envelope) {
  json tensors = json::object();
  for (const auto& [name, e] : envelope.tensors) {
    if (!std::isfinite(e.max_abs) || !std::isfinite(e.nmse) || e.max_abs < 0 || e.nmse < 0) {
      fail(path, "envelope entry " + in_quotes(name) + " is not a finite non-negative error (max_abs " + sci(e.max_abs) +
                     ", nmse " + sci(e.nmse) + ")");
    }
    tensors[name] = {{"max_abs", e.max_abs}, {"nmse", e.nmse}};
  }
  const json j = {{"format", "g4ref-envelope"}, {"version", 1}, {"description", envelope.description},
                  {"tensors", tensors}};
  write_file_atomically(path, j.dump(2) + "\n");
}

Envelope load_envelope(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open envelope file");
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    fail(path, std::string("envelope is not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", std::string()) != "g4ref-envelope") {
    fail(path, "not an envelope file (expected an object with \"format\": \"g4ref-envelope\")");
  }
  if (!j.contains("version") || j["version"] != 1) fail(path, "unsupported envelope version (expected 1)");
  Envelope e;
  if (j.contains("description")) {
    if (!j["description"].is_string()) fail(path, "\"description\" must be a string");
    e.description = j["description"].get<std::string>();
  }
  if (!j.contains("tensors") || !j["tensors"].is_object()) fail(path, "\"tensors\" must be an object");
  for (const auto& item : j["tensors"].items()) {
    // Named, not a structured binding: clang before 16 cannot capture bindings in the lambda below.
    const std::string name = item.key();
    const auto& v = item.value();
    auto field = [&](const char* key) {
      if (!v.is_object() || !v.contains(key) || !v[key].is_number()) {
        fail(path, "envelope entry " + in_quotes(name) + ": missing number " + in_quotes(key));
      }
      const double x = v[key].get<double>();
      if (!std::isfinite(x) || x < 0) {
        fail(path, "envelope entry " + in_quotes(name) + ": " + in_quotes(key) + " must be finite and >= 0 (found " +
                       sci(x) + ")");
      }
      return x;
    };
    e.tensors[name] = {field("max_abs"), field("nmse")};
  }
  return e;
}

// ---------------------------------------------------------------------------------------------------
// Output

json report_json(const CompareReport& r) {
  json tensors = json::array();
  for (const TensorComparison& t : r.tensors) {
    json row = {{"name", t.name},
                {"candidate_name", t.candidate_name},
                {"golden_shape", t.golden_shape},
                {"candidate_shape", t.candidate_shape},
                {"alignment", t.alignment},
                {"aligned", t.aligned},
                {"pass", t.pass},
                {"reason", t.reason},
                {"budget_ratio", num(t.budget_ratio)}};
    if (t.aligned) {
      const TensorMetrics& m = t.metrics;
      row["metrics"] = {{"count", m.count},
                        {"skipped", m.skipped},
                        {"nonfinite_mismatches", m.nonfinite_mismatches},
                        {"max_abs", num(m.max_abs)},
                        {"mean_abs", num(m.mean_abs)},
                        {"nmse", num(m.nmse)},
                        {"cosine", num(m.cosine)},
                        {"bf16_ulps", m.bf16_ulps}};
    }
    if (t.envelope) row["envelope"] = {{"max_abs", num(t.envelope->max_abs)}, {"nmse", num(t.envelope->nmse)}};
    if (t.logits) {
      const LogitsMetrics& l = *t.logits;
      json kl = json::array();
      for (double x : l.kl) kl.push_back(num(x));
      row["logits"] = {{"positions", l.positions},
                       {"vocab", l.vocab},
                       {"max_kl", num(l.max_kl)},
                       {"mean_kl", num(l.mean_kl)},
                       {"worst_position", l.worst_position},
                       {"top1_agreements", l.top1_agreements},
                       {"top1_fraction", num(l.top1_fraction)},
                       {"mean_top10_overlap", num(l.mean_top10_overlap)},
                       {"masked", l.masked},
                       {"kl", kl}};
    }
    tensors.push_back(row);
  }
  json rule = {{"envelope", r.used_envelope}};
  if (r.used_envelope) {
    rule["description"] = r.envelope_description;
    rule["k"] = r.k;
    rule["floor_nmse"] = num(r.floor_nmse);
    rule["floor_abs"] = num(r.floor_abs);
  }
  rule["tol_nmse"] = num(r.tol_nmse);
  rule["tol_max_abs"] = num(r.tol_max_abs);
  return {{"golden", r.golden_path},
          {"candidate", r.candidate_path},
          {"names", map_kind_name(r.names)},
          {"rule", rule},
          {"pass", r.pass},
          {"failures", r.failures},
          {"first_failure", r.first_failure ? json(*r.first_failure) : json(nullptr)},
          {"tensors", tensors},
          {"only_in_golden", r.only_in_golden},
          {"only_in_candidate", r.only_in_candidate},
          {"unmapped", r.unmapped},
          {"duplicates", r.duplicates}};
}

std::string report_table(const CompareReport& r) {
  const std::vector<std::string> header = {"tensor", "shape", "max_abs", "mean_abs", "nmse",
                                           "cosine", "bf16_ulps", "ratio", "verdict"};
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // printed under the row with the same index
  for (const TensorComparison& t : r.tensors) {
    char cos[32];
    std::snprintf(cos, sizeof cos, "%.9f", t.metrics.cosine);
    const bool m = t.aligned;
    rows.push_back({t.name, shape_str(t.golden_shape), m ? sci(t.metrics.max_abs) : "-",
                    m ? sci(t.metrics.mean_abs) : "-", m ? sci(t.metrics.nmse) : "-", m ? cos : "-",
                    m ? std::to_string(t.metrics.bf16_ulps) : "-", sci(t.budget_ratio), t.pass ? "PASS" : "FAIL"});
    std::string note;
    if (!t.alignment.empty() && t.aligned) note += "candidate " + t.candidate_name + " " + shape_str(t.candidate_shape) + ": " + t.alignment;
    if (t.logits) {
      const LogitsMetrics& l = *t.logits;
      char buf[256];
      std::snprintf(buf, sizeof buf, "logits: worst KL %s at position %lld, top-1 %lld/%lld (%.3f), mean top-10 overlap %.3f",
                    sci(l.max_kl).c_str(), static_cast<long long>(l.worst_position),
                    static_cast<long long>(l.top1_agreements), static_cast<long long>(l.positions), l.top1_fraction,
                    l.mean_top10_overlap);
      note += (note.empty() ? "" : "; ") + std::string(buf);
      if (l.masked > 0) note += ", " + std::to_string(l.masked) + " one-sided -inf tokens masked";
    }
    if (!t.pass) note += (note.empty() ? "" : "; ") + t.reason;
    notes.push_back(note);
  }
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::ostringstream out;
  out << "golden:    " << r.golden_path << "\n";
  out << "candidate: " << r.candidate_path << " (names: " << map_kind_name(r.names) << ")\n";
  if (r.used_envelope) {
    out << "rule:      envelope \"" << r.envelope_description << "\": fail if nmse > k^2*env.nmse + " << sci(r.floor_nmse)
        << " or max_abs > k*env.max_abs + " << sci(r.floor_abs) << ", k = " << r.k
        << " (tensors without an entry: nmse <= " << sci(r.tol_nmse) << ", max_abs <= " << sci(r.tol_max_abs) << ")\n";
  } else {
    out << "rule:      fixed tolerances: nmse <= " << sci(r.tol_nmse) << ", max_abs <= " << sci(r.tol_max_abs) << "\n";
  }
  out << "ratio:     measured error / allowed error (the larger of nmse and max_abs; > 1 fails)\n\n";
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      const bool left = i < 2;
      const std::string pad(width[i] - cells[i].size(), ' ');
      out << (i ? "  " : "") << (left ? cells[i] + pad : pad + cells[i]);
    }
    out << "\n";
  };
  line(header);
  for (size_t i = 0; i < rows.size(); ++i) {
    line(rows[i]);
    if (!notes[i].empty()) out << "    " << notes[i] << "\n";
  }
  out << "\ncompared " << r.tensors.size() << " tensors, " << r.failures << " failed";
  if (!r.only_in_golden.empty()) out << "; only in golden: " << r.only_in_golden.size();
  if (!r.only_in_candidate.empty()) out << "; only in candidate: " << r.only_in_candidate.size();
  if (!r.unmapped.empty()) out << "; unmapped candidate names: " << r.unmapped.size();
  if (!r.duplicates.empty()) out << "; duplicates ignored: " << r.duplicates.size();
  out << "\n";
  if (r.pass) {
    out << "verdict:   PASS\n";
  } else if (r.first_failure) {
    out << "verdict:   FAIL - first failing tensor in data-flow order: " << *r.first_failure;
    for (const TensorComparison& t : r.tensors) {
      if (t.name == *r.first_failure) out << " (" << t.reason << ")";
    }
    out << "\n";
  } else {
    out << "verdict:   FAIL - no tensor in common\n";
  }
  return out.str();
}

}  // namespace g4ref
