#include "model/token_types.h"

namespace g4ref {

std::vector<int> block_ids_from_token_types(const std::vector<int>& token_types, int first_id) {
  std::vector<int> ids(token_types.size(), -1);
  int next = first_id;
  for (size_t i = 0; i < token_types.size(); ++i) {
    const int t = token_types[i];
    if (t != kImage && t != kVideo) continue;
    const bool continues = i > 0 && token_types[i - 1] == t;
    ids[i] = continues ? ids[i - 1] : next++;
  }
  return ids;
}

}  // namespace g4ref
