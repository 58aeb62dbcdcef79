#include "prompt/bpe.h"

#include <algorithm>
#include <functional>

namespace g4ref {

namespace {

// Fibonacci hashing: spreads the consecutive ids of a pair key over the table.
uint32_t slot_of(uint64_t key, uint32_t mask) {
  return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

// std::push_heap keeps the largest on top; this order puts the smallest key there.
constexpr std::greater<uint64_t> later;

uint64_t candidate(uint32_t rank, int pos) { return (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(pos); }

}  // namespace

void BpeMerges::grow() {
  const size_t capacity = table_.empty() ? 1024 : table_.size() * 2;
  std::vector<Entry> old = std::move(table_);
  table_.assign(capacity, Entry{kEmpty, 0, 0});
  mask_ = static_cast<uint32_t>(capacity - 1);
  for (const Entry& e : old) {
    if (e.key == kEmpty) continue;
    uint32_t i = slot_of(e.key, mask_);
    while (table_[i].key != kEmpty) i = (i + 1) & mask_;
    table_[i] = e;
  }
}

void BpeMerges::add(int left, int right, int merged) {
  if (2 * (static_cast<size_t>(entries_) + 1) > table_.size()) grow();  // load factor at most 1/2
  const uint64_t key = pair_key(left, right);
  uint32_t i = slot_of(key, mask_);
  while (table_[i].key != kEmpty && table_[i].key != key) i = (i + 1) & mask_;
  if (table_[i].key == kEmpty) ++entries_;
  table_[i] = Entry{key, next_rank_++, merged};
}

const BpeMerges::Entry* BpeMerges::find(int left, int right) const {
  if (table_.empty()) return nullptr;
  const uint64_t key = pair_key(left, right);
  for (uint32_t i = slot_of(key, mask_);; i = (i + 1) & mask_) {
    if (table_[i].key == key) return &table_[i];
    if (table_[i].key == kEmpty) return nullptr;
  }
}

void BpeMerges::push_candidate(Workspace& ws, int pos, int left, int right) const {
  const Entry* e = find(left, right);
  if (!e) return;
  ws.heap.push_back(candidate(e->rank, pos));
  std::push_heap(ws.heap.begin(), ws.heap.end(), later);
}

void BpeMerges::merge(const std::vector<int>& symbols, std::vector<int>& out, Workspace& ws) const {
  const int n = static_cast<int>(symbols.size());
  if (n < 2) {
    out.insert(out.end(), symbols.begin(), symbols.end());
    return;
  }
  ws.symbols.resize(n);
  ws.heap.clear();
  for (int i = 0; i < n; ++i) ws.symbols[i] = {symbols[i], i - 1, i + 1 < n ? i + 1 : -1};
  for (int i = 0; i + 1 < n; ++i) {
    if (const Entry* e = find(symbols[i], symbols[i + 1])) ws.heap.push_back(candidate(e->rank, i));
  }
  std::make_heap(ws.heap.begin(), ws.heap.end(), later);

  auto& sym = ws.symbols;
  while (!ws.heap.empty()) {
    std::pop_heap(ws.heap.begin(), ws.heap.end(), later);
    const uint32_t rank = static_cast<uint32_t>(ws.heap.back() >> 32);
    const int pos = static_cast<int>(ws.heap.back() & 0xFFFFFFFFu);
    ws.heap.pop_back();
    // Stale once either side has merged with something else (or was absorbed itself).
    const int right_pos = sym[pos].next;
    if (sym[pos].id < 0 || right_pos < 0) continue;
    const Entry* e = find(sym[pos].id, sym[right_pos].id);
    if (!e || e->rank != rank) continue;

    sym[pos].id = e->merged;
    sym[right_pos].id = -1;
    sym[pos].next = sym[right_pos].next;
    if (sym[pos].next >= 0) sym[sym[pos].next].prev = pos;

    if (sym[pos].prev >= 0) push_candidate(ws, sym[pos].prev, sym[sym[pos].prev].id, sym[pos].id);
    if (sym[pos].next >= 0) push_candidate(ws, pos, sym[pos].id, sym[sym[pos].next].id);
  }
  // The first symbol only ever absorbs its right neighbours, so the list still starts at 0.
  for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace g4ref
