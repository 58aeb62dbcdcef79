// g4ref inspect-audio: what the audio front end (spec §4) makes of a file — the decoded format, its
// length at 16 kHz, the number of 640-sample frames (= audio soft tokens) and their RMS range, and the
// warning for clips past the 30-second limit (spec §4, §8).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/common.h"
#include "base/error.h"
#include "preprocess/audio.h"

namespace g4ref {

namespace {

struct InspectAudioArgs {
  std::string file;
  double max_seconds = 0.0;
  int frame_size = 640;
  bool json = false;
};

// sqrt(mean(x²)) of each frame over all frame_size samples (the zero padding included, as the
// embedder's RMSNorm sees it), in double; the smallest and the largest.
std::pair<double, double> frame_rms_range(const AudioFrames& frames) {
  double lo = 0.0, hi = 0.0;
  for (int64_t f = 0; f < frames.n_frames; ++f) {
    const float* x = frames.values.data() + f * frames.frame_size;
    double sum = 0.0;
    for (int i = 0; i < frames.frame_size; ++i) sum += static_cast<double>(x[i]) * x[i];
    const double rms = std::sqrt(sum / frames.frame_size);
    lo = f == 0 ? rms : std::min(lo, rms);
    hi = f == 0 ? rms : std::max(hi, rms);
  }
  return {lo, hi};
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void inspect_audio(const InspectAudioArgs& args) {
  const PreparedAudio audio = prepare_audio(args.file, args.frame_size, args.max_seconds);
  const DecodedAudio& info = audio.info;
  const AudioFrames& frames = audio.frames;
  if (frames.n_frames == 0) fail(args.file, "no audio left after the --max-audio-seconds cap");
  const auto [rms_min, rms_max] = frame_rms_range(frames);
  const double decoded_seconds = static_cast<double>(info.frames) / info.sample_rate;
  const double seconds_16k = static_cast<double>(audio.samples_16k.size()) / kAudioSampleRate;
  const int64_t last_frame_samples = frames.samples - (frames.n_frames - 1) * frames.frame_size;
  const int64_t in_distribution_frames =
      static_cast<int64_t>(kAudioInDistributionSeconds * kAudioSampleRate) / frames.frame_size;
  std::string warning;
  if (audio.over_30s) {
    warning = args.file + ": " + fixed(seconds_16k, 3) + " s of audio is over the 30-second clip limit; " +
              std::to_string(frames.n_frames) + " audio tokens (more than " + std::to_string(in_distribution_frames) +
              ") are out of distribution for the model (pass --max-audio-seconds 30 to cut it)";
    std::cerr << "g4ref: warning: " << warning << "\n";
  }

  if (args.json) {
    nlohmann::json j = {{"file", args.file},
                        {"format", info.format},
                        {"channels", info.channels},
                        {"sample_rate", info.sample_rate},
                        {"frames", info.frames},
                        {"header_frames", info.header_frames},
                        {"read_to_end", info.read_to_end},
                        {"duration_seconds", decoded_seconds},
                        {"samples_16k", audio.samples_16k.size()},
                        {"duration_16k_seconds", seconds_16k},
                        {"max_audio_seconds", args.max_seconds},
                        {"truncated", audio.truncated},
                        {"frame_size", frames.frame_size},
                        {"n_frames", frames.n_frames},
                        {"last_frame_samples", last_frame_samples},
                        {"frame_rms_min", rms_min},
                        {"frame_rms_max", rms_max},
                        {"over_30s", audio.over_30s},
                        {"warning", warning}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "file          " << args.file << "\n"
            << "format        " << info.format << ", " << info.channels << (info.channels == 1 ? " channel, " : " channels, ")
            << info.sample_rate << " Hz\n"
            << "decoded       " << info.frames << " frames, " << fixed(decoded_seconds, 3) << " s"
            << (info.read_to_end ? "" : " (only the start of the file was read)") << "\n"
            << "at 16 kHz     " << audio.samples_16k.size() << " samples, " << fixed(seconds_16k, 3) << " s"
            << (audio.truncated ? " (cut to --max-audio-seconds " + fixed(args.max_seconds, 3) + ")" : "") << "\n"
            << "audio frames  " << frames.n_frames << " × " << frames.frame_size << " samples (last frame: "
            << last_frame_samples << " samples + " << frames.frame_size - last_frame_samples << " zeros)\n"
            << "frame RMS     min " << fixed(rms_min, 6) << ", max " << fixed(rms_max, 6) << "\n";
}

}  // namespace

void add_inspect_audio_command(CLI::App& app) {
  auto args = std::make_shared<InspectAudioArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect-audio", "Prepare an audio file as the model's audio input (mono, 16 kHz, 640-sample frames) and report it");
  cmd->add_option("file", args->file, "audio file: WAV, FLAC, OGG/Vorbis, Opus, MP3, … (what libsndfile reads)")
      ->required();
  cmd->add_option("--max-audio-seconds", args->max_seconds, "keep only the first S seconds of audio (0: all)")
      ->check(finite_in(0))
      ->capture_default_str();
  cmd->add_option("--frame-size", args->frame_size,
                  "samples per audio token (the checkpoint's audio_config.audio_embed_dim)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "machine-readable output");
  cmd->callback([args] { inspect_audio(*args); });
}

}  // namespace g4ref
