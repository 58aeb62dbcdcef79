// Audio preprocessing (spec §4): decode a file, average the channels to mono, resample to 16 kHz,
// and cut the waveform into non-overlapping frames of audio_embed_dim (640) samples, the last one
// zero-padded and kept. N = ceil(samples / 640). No normalization, pre-emphasis or dithering.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace g4ref {

// The sample rate the model's audio frames are defined at (spec §4).
inline constexpr int kAudioSampleRate = 16000;
// Google documents a 30-second clip limit; longer clips (> 750 frames of 640) are out of distribution (spec §4, §8).
inline constexpr double kAudioInDistributionSeconds = 30.0;
// decode_audio refuses files longer than this unless told otherwise: ten minutes are already 15,000 soft
// tokens, twenty times the 30 s the model was trained on, and the limit keeps a tiny, highly compressed file
// (an hour of FLAC silence is under 1 MB) from asking for gigabytes of decoded samples (README "Limits").
inline constexpr double kDefaultMaxDecodeSeconds = 600.0;

struct DecodedAudio {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;                // frames decoded (one sample per channel each)
  int64_t header_frames = -1;        // frames the file announces (-1: unknown; only an estimate for MP3)
  bool read_to_end = true;           // false when read_seconds stopped the decoder before the end of the file
  std::string format;                // container and encoding, e.g. "WAV PCM_16", "FLAC PCM_24", "OGG VORBIS"
  std::vector<float> interleaved;    // frames × channels, libsndfile's float scaling (PCM_16: x / 32768)
};

// Decodes PATH with libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, …: whatever the installed
// libsndfile reads). Empty, truncated, corrupt or unsupported files and files without a single frame
// are g4ref::Error naming the file and the problem. A file whose header announces more than
// max_seconds of audio (≤ 0: no limit) is refused before its samples are read.
// read_seconds > 0 reads only the first read_seconds of the file; the length limit then applies to
// what is read.
DecodedAudio decode_audio(const std::string& path, double max_seconds = kDefaultMaxDecodeSeconds,
                          double read_seconds = 0.0);

// The channel mean, frame by frame: (x_0 + x_1 + … + x_{C-1}) / C in float, summed in channel order.
std::vector<float> to_mono(const DecodedAudio& audio);

// Resamples a mono waveform with libsoxr at the quality Hugging Face's librosa loader uses (soxr "HQ",
// 20-bit, linear phase), and fixes the length to ceil(n · to_rate / from_rate) as librosa does.
// Equal rates return the input unchanged, bit for bit.
std::vector<float> resample(const std::vector<float>& mono, int from_rate, int to_rate = kAudioSampleRate);

// The waveform cut into n_frames rows of frame_size samples; the last row is zero-padded.
struct AudioFrames {
  int64_t samples = 0;        // samples before padding
  int64_t n_frames = 0;       // ceil(samples / frame_size); 0 samples give 0 frames
  int frame_size = 0;
  std::vector<float> values;  // n_frames × frame_size, row-major
};

// frame_size is the checkpoint's audio_config.audio_embed_dim (640 for the 12B).
AudioFrames frame_audio(const std::vector<float>& samples_16k, int frame_size);

struct PreparedAudio {
  DecodedAudio info;                // what was decoded; interleaved is emptied to save memory
  bool truncated = false;           // the max_seconds cap cut audio off
  std::vector<float> samples_16k;   // mono, 16 kHz, after the cap
  AudioFrames frames;
  bool over_30s = false;            // more than 30 s at 16 kHz: out of distribution (the caller warns)
};

// decode → mono → 16 kHz → cap → frames. max_seconds > 0 keeps only the first max_seconds of audio
// (floor(max_seconds · 16000) samples); ≤ 0 keeps everything. With a cap only the start of the file is
// read (the cap plus a margin, so the kept samples equal those of the whole file's conversion), and
// max_decode_seconds limits that start; without one, a file longer than max_decode_seconds is refused.
PreparedAudio prepare_audio(const std::string& path, int frame_size, double max_seconds,
                            double max_decode_seconds = kDefaultMaxDecodeSeconds);

}  // namespace g4ref
