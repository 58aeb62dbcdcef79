// Audio decode (libsndfile: WAV, FLAC, OGG, MP3, ...), downmix, resampling to 16 kHz (libsoxr) and framing
// (spec §4), with a 20-second cap on what is decoded so that one input's work stays bounded.
#include "fuzz_util.h"
#include "preprocess/audio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = g4ref::fuzz::write_input("input.audio", data, size);
  g4ref::fuzz::expect_clean([&] {
    const g4ref::PreparedAudio a = g4ref::prepare_audio(path, 640, /*max_seconds=*/0, /*max_decode_seconds=*/20);
    if (a.frames.values.size() != size_t(a.frames.n_frames) * 640) std::abort();
  });
  return 0;
}
