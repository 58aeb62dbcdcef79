// Trace taps: every arrow of the data flow (DESIGN "Trace names") can hand its tensor to a Tracer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "numerics/precision.h"

namespace g4ref {

class Tracer {
 public:
  virtual ~Tracer() = default;
  // Asked before a tensor is materialized for recording, so unwanted names cost nothing.
  virtual bool wants(const std::string& name) const = 0;
  virtual void record(const std::string& name, const std::vector<int64_t>& shape, const double* data) = 0;
  virtual void record(const std::string& name, const std::vector<int64_t>& shape, const float* data) = 0;
};

// Records m under `name` with `shape` (default: the matrix's own [rows, cols]).
template <class T>
void trace(Tracer* tracer, const std::string& name, const Mat<T>& m, std::vector<int64_t> shape = {}) {
  if (!tracer || !tracer->wants(name)) return;
  if (shape.empty()) shape = {m.rows(), m.cols()};
  tracer->record(name, shape, m.data());
}

}  // namespace g4ref
