// Byte-pair merging (spec §5): while some adjacent pair of symbols has a merge, merge the pair of
// lowest rank, the leftmost one among equal ranks. Gemma runs it over a whole text span between
// special tokens (there are no word boundaries), so it is a heap of candidate pairs over a linked
// list of symbols, O(n log n), rather than the quadratic rescan of textbook BPE.
#pragma once

#include <cstdint>
#include <vector>

namespace g4ref {

class BpeMerges {
 public:
  // Adds the merge LEFT + RIGHT -> MERGED with the next rank (the order of the merges list). A pair
  // given twice keeps its later rank and result, as Hugging Face tokenizers and transformers.js do.
  void add(int left, int right, int merged);
  int size() const { return entries_; }  // distinct pairs

  // Reusable buffers, so that merging many short spans allocates once.
  struct Workspace {
    struct Symbol {
      int id;
      int prev;  // -1 at the start
      int next;  // -1 at the end
    };
    std::vector<Symbol> symbols;
    // Candidate merges as rank << 32 | position of the left symbol, smallest first: the lowest rank,
    // then the leftmost pair. A rank names one pair, so a candidate is still valid exactly when the
    // symbols at its position still form the pair of that rank.
    std::vector<uint64_t> heap;
  };

  // Merges SYMBOLS (token ids) and appends the result to OUT.
  void merge(const std::vector<int>& symbols, std::vector<int>& out, Workspace& ws) const;

 private:
  struct Entry {
    uint64_t key;  // left << 32 | right; kEmpty marks a free slot
    uint32_t rank;
    int merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pair_key(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Entry* find(int left, int right) const;
  void grow();
  void push_candidate(Workspace& ws, int pos, int left, int right) const;

  // Open addressing with linear probing: a Gemma tokenizer has ~515k merges, and a lookup per merge
  // step dominates the encoding time.
  std::vector<Entry> table_;
  uint32_t mask_ = 0;
  int entries_ = 0;
  uint32_t next_rank_ = 0;
};

}  // namespace g4ref
