#include "cli/stage_stats.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace g4ref {

template <class T>
void StageStatsTracer::add(const std::string& name, const std::vector<int64_t>& shape, const T* data) {
  StageStats s;
  s.name = name;
  s.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  double sum = 0, sum_sq = 0;
  s.min = n ? static_cast<double>(data[0]) : 0;
  s.max = s.min;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(data[i]);
    sum += v;
    sum_sq += v * v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  if (n) {
    s.mean = sum / static_cast<double>(n);
    s.rms = std::sqrt(sum_sq / static_cast<double>(n));
  }
  stages_.push_back(s);
}

void StageStatsTracer::record(const std::string& name, const std::vector<int64_t>& shape, const double* data) {
  add(name, shape, data);
}
void StageStatsTracer::record(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  add(name, shape, data);
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < shape.size(); ++i) o << (i ? ", " : "") << shape[i];
  o << "]";
  return o.str();
}

}  // namespace g4ref
