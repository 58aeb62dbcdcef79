// The readers of g4ref compare (eval/trace): a trace .safetensors, .npy, .npz, llama.cpp logits .bin and
// MTMD_DEBUG_EMBEDDINGS dumps. The first byte picks the format (or auto-detection by extension and magic);
// every tensor is then converted to float64.
#include "fuzz_util.h"
#include "trace/trace_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* const kName[] = {"t.safetensors", "t.npy", "t.npz", "t.bin", "t.safetensors", "t.npy",
                                      "t.npz", "t.bin"};
  static const g4ref::TraceFormat kFormat[] = {
      g4ref::TraceFormat::Auto, g4ref::TraceFormat::Auto,      g4ref::TraceFormat::Auto,
      g4ref::TraceFormat::Auto, g4ref::TraceFormat::Safetensors, g4ref::TraceFormat::Npy,
      g4ref::TraceFormat::Npz,  g4ref::TraceFormat::MtmdEmbeddings};
  const int k = data[0] % 8;
  const std::string path = g4ref::fuzz::write_input(kName[k], data + 1, size - 1);
  g4ref::fuzz::expect_clean([&] {
    g4ref::TraceOpenOptions o;
    o.format = kFormat[k];
    if (k == 3 && size > 1) o.row_width = 1 + data[1] % 16;
    const g4ref::Trace t = g4ref::Trace::open(path, o);
    int64_t total = 0;
    for (const auto& name : t.names()) {
      const g4ref::TraceTensor v = t.tensor(name);
      total += v.numel();
      if (total > (int64_t(1) << 24)) break;
    }
  });
  return 0;
}
