// Levenshtein alignment counts (hits, substitutions, deletions, insertions) of a reference and a hypothesis
// sequence, with the alignment rapidfuzz's Levenshtein.opcodes picks among equal-cost ones (jiwer v4 uses it).
// The distance S + D + I is unique; the split between them is not, and MER, WIL and WIP depend on it.
// rapidfuzz's choice, read from its recover_alignment: common prefix and suffix first, then from the end a
// deletion when the cell above is one less, else an insertion when the cell to the left is, else the diagonal.
// For long, very different sequences (its matrix over 1 MiB) rapidfuzz switches to Hirschberg's algorithm, whose
// ties may fall otherwise; WER and CER are unaffected, MER/WIL/WIP of such pairs may differ.
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
