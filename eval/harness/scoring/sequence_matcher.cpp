#include "harness/scoring/sequence_matcher.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>

#include "harness/scoring/unicode_text.h"

namespace g4ref::scoring {

SequenceMatcher::SequenceMatcher(std::u32string a, std::u32string b, bool autojunk)
    : a_(std::move(a)), b_(std::move(b)) {
  std::unordered_map<char32_t, size_t> id;
  for (size_t j = 0; j < b_.size(); ++j) {
    auto [it, fresh] = id.emplace(b_[j], b2j_.size());
    if (fresh) b2j_.emplace_back();
    b2j_[it->second].push_back(j);
  }
  const size_t n = b_.size();
  if (autojunk && n >= 200) {
    const size_t ntest = n / 100 + 1;
    for (auto& idxs : b2j_) {
      if (idxs.size() > ntest) idxs.clear();  // popular: no longer indexed (but not junk)
    }
  }
  a_ids_.resize(a_.size());
  for (size_t i = 0; i < a_.size(); ++i) {
    auto it = id.find(a_[i]);
    a_ids_[i] = it == id.end() || b2j_[it->second].empty() ? -1 : static_cast<int>(it->second);
  }
}

MatchingBlock SequenceMatcher::find_longest_match(size_t alo, size_t ahi, size_t blo, size_t bhi) const {
  size_t besti = alo, bestj = blo, bestsize = 0;
  // j2len[j]: length of the longest match ending with a[i-1] and b[j]; kept as sparse maps like difflib's dicts.
  std::unordered_map<size_t, size_t> j2len, newj2len;
  for (size_t i = alo; i < ahi; ++i) {
    newj2len.clear();
    if (a_ids_[i] >= 0) {
      for (size_t j : b2j_[static_cast<size_t>(a_ids_[i])]) {
        if (j < blo) continue;
        if (j >= bhi) break;
        size_t prev = 0;
        if (j > 0) {
          auto it = j2len.find(j - 1);
          if (it != j2len.end()) prev = it->second;
        }
        const size_t k = prev + 1;
        newj2len[j] = k;
        if (k > bestsize) {
          besti = i + 1 - k;
          bestj = j + 1 - k;
          bestsize = k;
        }
      }
    }
    std::swap(j2len, newj2len);
  }
  // With no junk function nothing is junk: extend over equal elements (popular ones included) on both sides.
  while (besti > alo && bestj > blo && a_[besti - 1] == b_[bestj - 1]) {
    --besti;
    --bestj;
    ++bestsize;
  }
  while (besti + bestsize < ahi && bestj + bestsize < bhi && a_[besti + bestsize] == b_[bestj + bestsize]) {
    ++bestsize;
  }
  return {besti, bestj, bestsize};
}

std::vector<MatchingBlock> SequenceMatcher::matching_blocks() const {
  std::vector<std::tuple<size_t, size_t, size_t, size_t>> queue = {{0, a_.size(), 0, b_.size()}};
  std::vector<MatchingBlock> blocks;
  while (!queue.empty()) {
    const auto [alo, ahi, blo, bhi] = queue.back();
    queue.pop_back();
    const MatchingBlock m = find_longest_match(alo, ahi, blo, bhi);
    if (m.size) {
      blocks.push_back(m);
      if (alo < m.a && blo < m.b) queue.emplace_back(alo, m.a, blo, m.b);
      if (m.a + m.size < ahi && m.b + m.size < bhi) queue.emplace_back(m.a + m.size, ahi, m.b + m.size, bhi);
    }
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const MatchingBlock& x, const MatchingBlock& y) { return std::tie(x.a, x.b, x.size) < std::tie(y.a, y.b, y.size); });
  std::vector<MatchingBlock> joined;
  for (const auto& m : blocks) {
    if (!joined.empty() && joined.back().a + joined.back().size == m.a && joined.back().b + joined.back().size == m.b) {
      joined.back().size += m.size;
    } else {
      joined.push_back(m);
    }
  }
  joined.push_back({a_.size(), b_.size(), 0});
  return joined;
}

double SequenceMatcher::ratio() const {
  size_t matches = 0;
  for (const auto& m : matching_blocks()) matches += m.size;
  const size_t length = a_.size() + b_.size();
  return length ? 2.0 * static_cast<double>(matches) / static_cast<double>(length) : 1.0;
}

double difflib_ratio(const std::string& a, const std::string& b) {
  return SequenceMatcher(utf8_to_u32(a, "first sequence"), utf8_to_u32(b, "second sequence")).ratio();
}

}  // namespace g4ref::scoring
