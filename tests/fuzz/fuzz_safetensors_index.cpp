// model.safetensors.index.json of a sharded checkpoint; the directory also holds two small valid shards, so
// the weight map can name real files, missing ones, or paths that try to leave the directory.
#include <vector>

#include "fuzz_util.h"
#include "io/safetensors.h"

namespace {

const std::string& checkpoint_dir() {
  static const std::string dir = [] {
    const std::string d = g4ref::fuzz::scratch_dir() + "/ckpt";
    std::filesystem::create_directories(d);
    g4ref::write_safetensors(d + "/model-00001-of-00002.safetensors",
                             {{{"a", g4ref::DType::F32, {2, 2}}, std::vector<std::byte>(16, std::byte{0})}});
    g4ref::write_safetensors(d + "/model-00002-of-00002.safetensors",
                             {{{"b", g4ref::DType::F32, {2}}, std::vector<std::byte>(8, std::byte{0})}});
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = checkpoint_dir();
  std::FILE* f = std::fopen((dir + "/model.safetensors.index.json").c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  g4ref::fuzz::expect_clean([&] {
    auto store = g4ref::TensorStore::open_dir(dir);
    for (const auto& name : store->names()) {
      const auto& t = store->get(name);
      g4ref::fuzz::touch(t.data, t.nbytes);
    }
  });
  return 0;
}
