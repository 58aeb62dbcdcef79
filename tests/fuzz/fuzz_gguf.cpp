// A GGUF file (io/gguf.h) loaded as each of its roles: the container with every tensor dequantized, a text
// model (Model::load_gguf: gemma4.* metadata, tokenizer.ggml.*, tensor binding), its tokenizer, and an
// mmproj attached to a tiny synthetic checkpoint (clip.* metadata, gemma4uv/gemma4ua tensors). The first byte
// picks the role so that each path sees whole files.
#include "convert/synth.h"
#include "fuzz_util.h"
#include "io/gguf.h"
#include "model/weights.h"
#include "prompt/gguf_tokenizer.h"
#include "prompt/tokenizer.h"

namespace {

const std::string& tiny_checkpoint() {
  static const std::string dir = [] {
    g4ref::SynthOptions o;
    o.preset = "tiny";
    o.out_dir = g4ref::fuzz::scratch_dir() + "/tiny";
    g4ref::write_synthetic_checkpoint(o);
    return o.out_dir;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int role = data[0] % 4;
  const std::string path = g4ref::fuzz::write_input("model.gguf", data + 1, size - 1);
  g4ref::fuzz::expect_clean([&] {
    switch (role) {
      case 0: {
        auto f = g4ref::GgufFile::open(path);
        int64_t total = 0;
        for (const auto& t : f->tensors()) {
          total += t.numel();
          if (total > (int64_t(1) << 24)) break;  // keep one input's work bounded
          (void)f->dequantize(t);
        }
        break;
      }
      case 1:
        (void)g4ref::Model::load_gguf(path);
        break;
      case 2: {
        auto tok = g4ref::load_gguf_tokenizer(path);
        (void)tok->decode(tok->encode("Hello, world!\n"));
        break;
      }
      default: {
        auto model = g4ref::Model::load(tiny_checkpoint());
        model->attach_mmproj(path);
        break;
      }
    }
  });
  return 0;
}
