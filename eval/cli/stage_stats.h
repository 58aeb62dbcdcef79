// A Tracer that keeps, for each trace name, its shape and a few statistics (mean, rms, min, max): the
// per-stage summary of `g4ref demo` and the teaching view.
#pragma once

#include <string>
#include <vector>

#include "model/tracer.h"

namespace g4ref {

struct StageStats {
  std::string name;
  std::vector<int64_t> shape;
  double mean = 0, rms = 0, min = 0, max = 0;
};

class StageStatsTracer : public Tracer {
 public:
  // Only names for which `keep(name)` is true are recorded (all when no filter is given).
  explicit StageStatsTracer(bool (*keep)(const std::string&) = nullptr) : keep_(keep) {}
  bool wants(const std::string& name) const override { return !keep_ || keep_(name); }
  void record(const std::string& name, const std::vector<int64_t>& shape, const double* data) override;
  void record(const std::string& name, const std::vector<int64_t>& shape, const float* data) override;
  const std::vector<StageStats>& stages() const { return stages_; }

 private:
  template <class T>
  void add(const std::string& name, const std::vector<int64_t>& shape, const T* data);
  bool (*keep_)(const std::string&);
  std::vector<StageStats> stages_;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace g4ref
