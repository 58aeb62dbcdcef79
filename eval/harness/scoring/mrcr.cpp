#include "harness/scoring/mrcr.h"

#include "harness/scoring/sequence_matcher.h"

namespace g4ref::scoring {

double mrcr_grade(const std::string& response, const std::string& answer, const std::string& prefix) {
  // startswith / removeprefix compare code points; on valid UTF-8 that is the same as comparing bytes.
  if (response.compare(0, prefix.size(), prefix) != 0) return 0.0;
  const std::string r = response.substr(prefix.size());
  const std::string a = answer.compare(0, prefix.size(), prefix) == 0 ? answer.substr(prefix.size()) : answer;
  return difflib_ratio(r, a);
}

}  // namespace g4ref::scoring
