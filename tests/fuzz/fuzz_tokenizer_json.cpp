// tokenizer.json (Hugging Face BPE): load, then encode and decode a fixed text, and decode the input's own
// bytes read as ids (ids outside the vocabulary must be errors, not reads out of range).
#include <vector>

#include "fuzz_util.h"
#include "prompt/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = g4ref::fuzz::write_input("tokenizer.json", data, size);
  g4ref::fuzz::expect_clean([&] {
    auto tok = g4ref::load_tokenizer(path);
    const std::vector<int> ids = tok->encode("Hello, world! <start_of_turn>user\n\xc3\xa9t\xc3\xa9 12345  \t\n");
    (void)tok->decode(ids);
    std::vector<int> raw;
    for (size_t i = 0; i + 1 < size && raw.size() < 16; i += 2) raw.push_back(int(data[i]) | int(data[i + 1]) << 8);
    (void)tok->decode(raw);
    for (int id = 0; id < tok->vocab_size() && id < 64; ++id) (void)tok->piece(id);
  });
  return 0;
}
