// The KV cache of one layer (spec §2.5 "KV cache"): keys after k_norm and RoPE, values after the weightless norm,
// one contiguous [tokens, D] matrix per KV head, with each cached token's position and block id for the masks.
// Sliding layers keep only what a later query can still see; full layers keep every token.
#pragma once

#include <cstdint>
#include <vector>

#include "numerics/precision.h"

namespace g4ref {

template <class T>
class LayerCache {
 public:
  int64_t size() const { return static_cast<int64_t>(position_.size()); }
  int64_t position(int64_t j) const { return position_[static_cast<size_t>(j)]; }
  int block(int64_t j) const { return block_[static_cast<size_t>(j)]; }
  const T* keys(int g) const { return k_[static_cast<size_t>(g)].data(); }
  const T* values(int g) const { return v_[static_cast<size_t>(g)].data(); }

  // K and V of this call's tokens: [n, kv_heads · D] each, head-major columns.
  void append(const Mat<T>& k, const Mat<T>& v, int kv_heads, int head_dim, const std::vector<int64_t>& positions,
              const std::vector<int>& blocks) {
    head_dim_ = head_dim;
    k_.resize(static_cast<size_t>(kv_heads));
    v_.resize(static_cast<size_t>(kv_heads));
    for (int g = 0; g < kv_heads; ++g) {
      for (Eigen::Index t = 0; t < k.rows(); ++t) {
        const T* kr = k.data() + t * k.cols() + int64_t(g) * head_dim;
        const T* vr = v.data() + t * v.cols() + int64_t(g) * head_dim;
        k_[g].insert(k_[g].end(), kr, kr + head_dim);
        v_[g].insert(v_[g].end(), vr, vr + head_dim);
      }
    }
    position_.insert(position_.end(), positions.begin(), positions.end());
    block_.insert(block_.end(), blocks.begin(), blocks.end());
  }

  // Sliding layers only ever look back `window` tokens: drop what no future query can see (with one token of
  // slack so the off-by-one test variant still finds its extra key).
  void trim(int64_t next_position, int64_t window) {
    int64_t drop = 0;
    while (drop < size() && position_[static_cast<size_t>(drop)] < next_position - window - 1) ++drop;
    if (drop < window) return;  // amortized: trim in batches
    for (auto* side : {&k_, &v_}) {
      for (auto& rows : *side) rows.erase(rows.begin(), rows.begin() + drop * head_dim_);
    }
    position_.erase(position_.begin(), position_.begin() + drop);
    block_.erase(block_.begin(), block_.begin() + drop);
  }

  // Bytes held (keys, values and the per-token bookkeeping).
  int64_t bytes() const {
    int64_t b = 0;
    for (const auto& rows : k_) b += static_cast<int64_t>(rows.capacity() * sizeof(T));
    for (const auto& rows : v_) b += static_cast<int64_t>(rows.capacity() * sizeof(T));
    return b + static_cast<int64_t>(position_.capacity() * sizeof(int64_t) + block_.capacity() * sizeof(int));
  }

 private:
  std::vector<std::vector<T>> k_, v_;  // [kv_heads][tokens · D]
  std::vector<int64_t> position_;
  std::vector<int> block_;
  int head_dim_ = 0;
};

}  // namespace g4ref
