// Levenshtein alignment counts (hits, substitutions, deletions, insertions) of a reference and a hypothesis
// sequence, with the alignment rapidfuzz's Levenshtein.opcodes picks among equal-cost ones (jiwer v4 uses it).
// The distance S + D + I is unique; the split between them is not, and MER, WIL and WIP depend on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace g4ref::scoring {

struct EditCounts {
  size_t hits = 0;
  size_t substitutions = 0;
  size_t deletions = 0;
  size_t insertions = 0;
  size_t distance() const { return substitutions + deletions + insertions; }
};

// Sequences of symbol ids (words mapped to ids, or code points).
EditCounts align(const std::vector<uint32_t>& reference, const std::vector<uint32_t>& hypothesis);

// Plain Levenshtein distance (two rows; any length).
size_t levenshtein_distance(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);

}  // namespace g4ref::scoring
