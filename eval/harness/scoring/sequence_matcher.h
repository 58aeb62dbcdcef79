// Python difflib's SequenceMatcher(None, a, b) over code points, reimplemented from its documented algorithm:
// b is indexed (b2j); with autojunk (on by default) and len(b) >= 200, every element occurring more than
// len(b) // 100 + 1 times is "popular" and left out of the index; matching blocks come from the recursive
// longest-match search (ties: the earliest in a, then in b), each longest match extended over equal elements on
// both sides. ratio() = 2·M / (len(a) + len(b)), 1.0 when both are empty. MRCR's metric (§3.10) needs this exact
// algorithm: an LCS or a Levenshtein similarity gives other numbers.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace g4ref::scoring {

struct MatchingBlock {
  size_t a = 0, b = 0, size = 0;
};

class SequenceMatcher {
 public:
  SequenceMatcher(std::u32string a, std::u32string b, bool autojunk = true);
  std::vector<MatchingBlock> matching_blocks() const;  // sorted, adjacent blocks joined, final (len a, len b, 0)
  double ratio() const;

 private:
  MatchingBlock find_longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi) const;
  std::u32string a_, b_;
  std::vector<std::vector<size_t>> b2j_;  // per distinct element of b (dense ids), its indices in b
  std::vector<int> a_ids_;                // a's elements as ids into b2j_ (-1: not in the index)
};

double difflib_ratio(const std::string& a_utf8, const std::string& b_utf8);

}  // namespace g4ref::scoring
