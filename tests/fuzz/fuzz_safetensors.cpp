// A .safetensors file: the 8-byte header length, the JSON header, the data section (io/safetensors.h).
#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = g4ref::fuzz::write_input("model.safetensors", data, size);
  g4ref::fuzz::expect_clean([&] {
    auto f = g4ref::SafetensorsFile::open(path);
    for (const auto& t : f->tensors()) {
      g4ref::fuzz::touch(t.data, t.nbytes);
      if (f->find(t.name) != &t) std::abort();
    }
  });
  return 0;
}
