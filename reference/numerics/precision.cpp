#include "numerics/precision.h"

#include "base/error.h"

namespace g4ref {

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::exact: return "exact";
    case Precision::f32: return "f32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "exact") return Precision::exact;
  if (name == "f32") return Precision::f32;
  if (name == "bf16") return Precision::bf16;
  fail("--precision", "unknown precision '" + name + "' (expected exact, f32 or bf16)");
}

}  // namespace g4ref
