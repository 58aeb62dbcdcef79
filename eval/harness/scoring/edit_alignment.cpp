#include "harness/scoring/edit_alignment.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace g4ref::scoring {

size_t levenshtein_distance(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

EditCounts align(const std::vector<uint32_t>& ref, const std::vector<uint32_t>& hyp) {
  EditCounts c;
  // rapidfuzz removes the common prefix and suffix first: they are hits whatever the rest aligns to.
  size_t pre = 0;
  while (pre < ref.size() && pre < hyp.size() && ref[pre] == hyp[pre]) ++pre;
  size_t suf = 0;
  while (suf < ref.size() - pre && suf < hyp.size() - pre && ref[ref.size() - 1 - suf] == hyp[hyp.size() - 1 - suf]) {
    ++suf;
  }
  c.hits = pre + suf;
  const size_t n = ref.size() - pre - suf;  // reference symbols left: the columns of rapidfuzz's bit matrix
  const size_t m = hyp.size() - pre - suf;  // hypothesis symbols left: its rows
  if (n == 0 || m == 0) {
    c.deletions = n;
    c.insertions = m;
    return c;
  }
  if ((n + 1) * (m + 1) > size_t{50'000'000}) {
    fail("alignment", "sequences too long to align (" + std::to_string(n) + " x " + std::to_string(m) +
                          " symbols after the common prefix and suffix)");
  }
  // D[i][j]: distance of ref[pre, pre+i) and hyp[pre, pre+j).
  const size_t w = m + 1;
  std::vector<uint32_t> d((n + 1) * w);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return d[i * w + j]; };
  for (size_t j = 0; j <= m; ++j) at(0, j) = static_cast<uint32_t>(j);
  for (size_t i = 1; i <= n; ++i) {
    at(i, 0) = static_cast<uint32_t>(i);
    const uint32_t r = ref[pre + i - 1];
    for (size_t j = 1; j <= m; ++j) {
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (r != hyp[pre + j - 1] ? 1u : 0u)});
    }
  }
  // rapidfuzz's backtrace from the end (recover_alignment): a deletion when the vertical delta is +1, else an
  // insertion when the delta one row up is -1, else the diagonal.
  size_t i = n, j = m;
  while (i > 0 && j > 0) {
    if (at(i, j) == at(i - 1, j) + 1) {
      ++c.deletions;
      --i;
    } else if (j - 1 > 0 && at(i, j - 1) + 1 == at(i - 1, j - 1)) {
      ++c.insertions;
      --j;
    } else {
      if (ref[pre + i - 1] != hyp[pre + j - 1]) {
        ++c.substitutions;
      } else {
        ++c.hits;
      }
      --i;
      --j;
    }
  }
  c.deletions += i;
  c.insertions += j;
  return c;
}

}  // namespace g4ref::scoring
