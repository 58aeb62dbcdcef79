// Audio preprocessing (spec §4): libsndfile decode → channel mean → libsoxr to 16 kHz → 640-sample frames.
//
// Which loader this mirrors. Hugging Face's chat-template path (ProcessorMixin.apply_chat_template in
// transformers' processing_utils.py) loads every audio file with
// `load_audio(fname, sampling_rate=16000, backend="auto")` (transformers/audio_utils.py). "auto" picks
// torchcodec when it is installed (≥ 0.3.0) and librosa otherwise; librosa's path is
// `librosa.load(path, sr=16000)`, whose defaults are mono=True and res_type="soxr_hq"
// (librosa.org, librosa.resample: "By default, this uses a high-quality method (soxr_hq)"; librosa
// before 0.10 defaulted to resampy's kaiser_best instead).
// librosa.load reads float32 samples with soundfile (libsndfile), averages the channels
// (librosa.to_mono: np.mean over the channel axis), then resamples with python-soxr:
// `soxr.resample(y, orig_sr, target_sr, quality="soxr_hq")`, and finally pads or trims to
// ceil(n · target_sr / orig_sr) samples (librosa.util.fix_length). python-soxr's resample
// (dofuuz/python-soxr, soxr_ext.cpp csoxr_divide_proc) creates one libsoxr resampler with
// soxr_quality_spec(SOXR_HQ, 0), float32 in and out, default runtime spec, feeds the input in chunks of
// 48000 · in_rate / out_rate samples into an output buffer of floor(n · out_rate / in_rate) + 1 samples,
// then flushes. This file does the same steps with the same two C libraries.
//
// UNCONFIRMED / not reproduced: with torchcodec installed, HF decodes with FFmpeg and resamples and
// downmixes with FFmpeg's libswresample instead (torchcodec's AudioDecoder(sample_rate=…, num_channels=1);
// torchcodec PR #551 brought in libswresample for it). FFmpeg's default resampler differs from soxr HQ
// by about 1 % rms on speech at 22,050 Hz (mostly near 8 kHz) and 2e-4 on tones well inside the
// passband (measured with Debian's ffmpeg against this file). python-soxr wheels bundle
// their own libsoxr build; Debian's libsoxr 0.1.3 may pick another SIMD kernel, so agreement with a given
// Python install is expected to float32 rounding, not guaranteed bit for bit. For more than two channels,
// numpy's float32 summation order is not reproduced (stereo, (L + R) / 2, is exact either way).
#include "preprocess/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <type_traits>

#include "base/error.h"

namespace g4ref {

namespace {

// No more than 2^30 interleaved samples (4 GiB of float) are ever held, whatever the header says.
constexpr int64_t kMaxDecodedSamples = int64_t{1} << 27;  // 512 MB of float samples, all channels
// When only the start of a file is wanted, this much more is read and resampled, so that the kept part
// never sees the resampler's end-of-stream flush (a second is far longer than the HQ filter; the
// tests check that a capped result equals the start of the uncapped one bit for bit).
constexpr double kCapMarginSeconds = 1.0;

std::string seconds_text(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

// libsndfile's format codes under the names python-soundfile gives them ("WAV", "PCM_16"): the
// enum names of sndfile.h without "SF_FORMAT_".
std::string major_name(int major) {
  switch (major) {
    case SF_FORMAT_WAV: return "WAV";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_AU: return "AU";
    case SF_FORMAT_RAW: return "RAW";
    case SF_FORMAT_PAF: return "PAF";
    case SF_FORMAT_SVX: return "SVX";
    case SF_FORMAT_NIST: return "NIST";
    case SF_FORMAT_VOC: return "VOC";
    case SF_FORMAT_IRCAM: return "IRCAM";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_MAT4: return "MAT4";
    case SF_FORMAT_MAT5: return "MAT5";
    case SF_FORMAT_PVF: return "PVF";
    case SF_FORMAT_XI: return "XI";
    case SF_FORMAT_HTK: return "HTK";
    case SF_FORMAT_SDS: return "SDS";
    case SF_FORMAT_AVR: return "AVR";
    case SF_FORMAT_WAVEX: return "WAVEX";
    case SF_FORMAT_SD2: return "SD2";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_WVE: return "WVE";
    case SF_FORMAT_OGG: return "OGG";
    case SF_FORMAT_MPC2K: return "MPC2K";
    case SF_FORMAT_RF64: return "RF64";
    case SF_FORMAT_MPEG: return "MP3";
    default: break;
  }
  SF_FORMAT_INFO info{};
  info.format = major;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof info) == 0 && info.name) return info.name;
  return "format 0x" + std::to_string(major);
}

std::string subtype_name(int subtype) {
  switch (subtype) {
    case SF_FORMAT_PCM_S8: return "PCM_S8";
    case SF_FORMAT_PCM_16: return "PCM_16";
    case SF_FORMAT_PCM_24: return "PCM_24";
    case SF_FORMAT_PCM_32: return "PCM_32";
    case SF_FORMAT_PCM_U8: return "PCM_U8";
    case SF_FORMAT_FLOAT: return "FLOAT";
    case SF_FORMAT_DOUBLE: return "DOUBLE";
    case SF_FORMAT_ULAW: return "ULAW";
    case SF_FORMAT_ALAW: return "ALAW";
    case SF_FORMAT_IMA_ADPCM: return "IMA_ADPCM";
    case SF_FORMAT_MS_ADPCM: return "MS_ADPCM";
    case SF_FORMAT_GSM610: return "GSM610";
    case SF_FORMAT_VOX_ADPCM: return "VOX_ADPCM";
    case SF_FORMAT_NMS_ADPCM_16: return "NMS_ADPCM_16";
    case SF_FORMAT_NMS_ADPCM_24: return "NMS_ADPCM_24";
    case SF_FORMAT_NMS_ADPCM_32: return "NMS_ADPCM_32";
    case SF_FORMAT_G721_32: return "G721_32";
    case SF_FORMAT_G723_24: return "G723_24";
    case SF_FORMAT_G723_40: return "G723_40";
    case SF_FORMAT_DWVW_12: return "DWVW_12";
    case SF_FORMAT_DWVW_16: return "DWVW_16";
    case SF_FORMAT_DWVW_24: return "DWVW_24";
    case SF_FORMAT_DWVW_N: return "DWVW_N";
    case SF_FORMAT_DPCM_8: return "DPCM_8";
    case SF_FORMAT_DPCM_16: return "DPCM_16";
    case SF_FORMAT_VORBIS: return "VORBIS";
    case SF_FORMAT_OPUS: return "OPUS";
    case SF_FORMAT_ALAC_16: return "ALAC_16";
    case SF_FORMAT_ALAC_20: return "ALAC_20";
    case SF_FORMAT_ALAC_24: return "ALAC_24";
    case SF_FORMAT_ALAC_32: return "ALAC_32";
    case SF_FORMAT_MPEG_LAYER_I: return "MPEG_LAYER_I";
    case SF_FORMAT_MPEG_LAYER_II: return "MPEG_LAYER_II";
    case SF_FORMAT_MPEG_LAYER_III: return "MPEG_LAYER_III";
    default: break;
  }
  SF_FORMAT_INFO info{};
  info.format = subtype;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof info) == 0 && info.name) return info.name;
  return "encoding 0x" + std::to_string(subtype);
}

uint32_t le32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// libsndfile opens a RIFF/WAVE file whose data chunk runs past the end of the file and silently
// returns the part that is there (its log says "data : N (should be M)"). A cut-off download must not
// pass for a shorter clip, so the data chunk's declared size is checked here. Files written to a pipe
// carry a placeholder size instead (0; 0x7FFFF000 from espeak-ng --stdout; 0xFFFFFFFF from FFmpeg):
// those are read to the end of the file, as libsndfile does.
void check_riff_data_chunk(const std::string& path, uint64_t file_size) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[12];
  if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return;
  if (std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "WAVE", 4) != 0) return;
  uint64_t pos = 12;
  while (pos + 8 <= file_size) {
    unsigned char chunk[8];
    in.seekg(static_cast<std::streamoff>(pos));
    if (!in.read(reinterpret_cast<char*>(chunk), sizeof chunk)) return;
    const uint32_t size = le32(chunk + 4);
    const uint64_t available = file_size - (pos + 8);
    if (std::memcmp(chunk, "data", 4) == 0) {
      const bool placeholder = size == 0 || size >= 0x7FFF0000u;
      if (!placeholder && size > available) {
        fail(path, "truncated WAV: its data chunk declares " + std::to_string(size) + " bytes but only " +
                       std::to_string(available) + " follow");
      }
      return;
    }
    pos += 8 + uint64_t{size} + (size & 1u);
  }
}

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

std::string sndfile_log(SNDFILE* f) {
  std::string log(8192, '\0');
  sf_command(f, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
  log.resize(std::strlen(log.c_str()));
  return log;
}

}  // namespace

DecodedAudio decode_audio(const std::string& path, double max_seconds, double read_seconds) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) fail(path, "no such audio file");
  if (!std::filesystem::is_regular_file(status)) fail(path, "not a regular file, cannot decode audio from it");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read the audio file: " + ec.message());
  if (file_size == 0) fail(path, "empty file (0 bytes), not audio");
  check_riff_data_chunk(path, file_size);

  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) {
    fail(path, std::string("cannot decode audio: ") + sf_strerror(nullptr) + " (" + sf_version_string() + ")");
  }
  if (info.channels < 1 || info.samplerate < 1) {
    fail(path, "invalid audio header: " + std::to_string(info.channels) + " channels at " +
                   std::to_string(info.samplerate) + " Hz");
  }

  DecodedAudio audio;
  audio.sample_rate = info.samplerate;
  audio.channels = info.channels;
  const int major = info.format & SF_FORMAT_TYPEMASK;
  audio.format = major_name(major) + " " + subtype_name(info.format & SF_FORMAT_SUBMASK);
  const bool length_known = info.frames >= 0 && info.frames != SF_COUNT_MAX;
  audio.header_frames = length_known ? info.frames : -1;
  // MP3 has no length field: libsndfile's count is an estimate from the bit rate, so it is read to the end.
  const bool length_exact = length_known && major != SF_FORMAT_MPEG;

  const int64_t unlimited = std::numeric_limits<int64_t>::max();
  int64_t wanted = length_exact ? info.frames : unlimited;
  if (read_seconds > 0) wanted = std::min<int64_t>(wanted, std::ceil(read_seconds * info.samplerate));
  const int64_t limit = max_seconds > 0 ? static_cast<int64_t>(std::floor(max_seconds * info.samplerate)) : unlimited;
  const int64_t announced = length_known ? std::min<int64_t>(info.frames, wanted) : 0;
  if (announced > limit) {
    fail(path, seconds_text(static_cast<double>(announced) / info.samplerate) + " of audio exceeds the decoding limit of " +
                   seconds_text(max_seconds) + " (cap the clip length to read only its start)");
  }
  const int64_t max_frames = kMaxDecodedSamples / info.channels;
  if (announced > max_frames) {
    fail(path, std::to_string(announced) + " frames × " + std::to_string(info.channels) +
                   " channels exceed the decoder's memory limit of " + std::to_string(kMaxDecodedSamples) + " samples");
  }

  // Read in blocks until the wanted length or the end of the stream; one frame past a limit is enough
  // to know it was exceeded.
  const int64_t stop = std::min({wanted, limit == unlimited ? unlimited : limit + 1, max_frames + 1});
  constexpr int64_t kBlock = 1 << 16;
  std::vector<float>& out = audio.interleaved;
  if (length_known) out.reserve(static_cast<size_t>(std::min(announced, stop)) * info.channels);
  int64_t done = 0;
  while (done < stop) {
    const int64_t n = std::min(kBlock, stop - done);
    out.resize(static_cast<size_t>(done + n) * info.channels);
    const sf_count_t got = sf_readf_float(file.get(), out.data() + done * info.channels, n);
    if (got <= 0) break;
    done += got;
    if (got < n) break;
  }
  out.resize(static_cast<size_t>(done) * info.channels);
  audio.frames = done;
  if (read_seconds > 0 && done == wanted) {
    std::vector<float> probe(static_cast<size_t>(info.channels));
    audio.read_to_end = sf_readf_float(file.get(), probe.data(), 1) == 0;
  }

  if (sf_error(file.get()) != SF_ERR_NO_ERROR) fail(path, std::string("decoding failed: ") + sf_strerror(file.get()));
  if (done > limit) {
    fail(path, "more than " + seconds_text(max_seconds) + " of audio, over the decoding limit (cap the clip length "
               "to read only its start)");
  }
  if (done > max_frames) fail(path, "more audio than the decoder's memory limit of " + std::to_string(kMaxDecodedSamples) + " samples");
  if (length_exact && done < wanted) {
    fail(path, "truncated or corrupt audio: the header announces " + std::to_string(info.frames) +
                   " frames but only " + std::to_string(done) + " could be decoded");
  }
  // An Ogg stream cut short has no end-of-stream page; libsndfile only says so in its log.
  if (sndfile_log(file.get()).find("ended unexpectedly") != std::string::npos) {
    fail(path, "truncated audio: the stream ended unexpectedly (no end-of-stream marker)");
  }
  if (done == 0) fail(path, "no audio frames (" + audio.format + " with zero length)");
  // A float WAV (or any float format) may hold NaN or infinity; each would spread through the frame's RMSNorm
  // into NaN logits. Fail at the first one, naming where it is.
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) {
      const int64_t frame = static_cast<int64_t>(i / size_t(info.channels));
      char where[96];
      std::snprintf(where, sizeof where, "frame %lld, channel %d, %.6f s", static_cast<long long>(frame),
                    static_cast<int>(i % size_t(info.channels)), static_cast<double>(frame) / info.samplerate);
      fail(path, std::string("sample is ") + (std::isnan(out[i]) ? "NaN" : "infinite") + " at " + where +
                     "; audio samples must be finite");
    }
  }
  return audio;
}

std::vector<float> to_mono(const DecodedAudio& audio) {
  const int c = audio.channels;
  if (c == 1) return audio.interleaved;
  std::vector<float> mono(static_cast<size_t>(audio.frames));
  for (size_t i = 0; i < mono.size(); ++i) {
    const float* frame = audio.interleaved.data() + i * c;
    float sum = frame[0];
    for (int ch = 1; ch < c; ++ch) sum += frame[ch];
    mono[i] = sum / static_cast<float>(c);
  }
  return mono;
}

std::vector<float> resample(const std::vector<float>& mono, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) {
    throw Error("resample: sample rates must be positive (from " + std::to_string(from_rate) + " Hz to " +
                std::to_string(to_rate) + " Hz)");
  }
  if (from_rate == to_rate) return mono;  // librosa.resample returns y itself for equal rates
  const double in_rate = from_rate, out_rate = to_rate;
  // librosa's fix_length target: int(np.ceil(n * (float(target_sr) / orig_sr))), the same double arithmetic.
  const size_t n_samples = static_cast<size_t>(std::ceil(static_cast<double>(mono.size()) * (out_rate / in_rate)));
  if (mono.empty()) return {};

  soxr_error_t err = nullptr;
  const soxr_io_spec_t io_spec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_t resampler = soxr_create(in_rate, out_rate, 1, &err, &io_spec, &quality, nullptr);
  if (err) throw Error("resample: libsoxr cannot convert " + std::to_string(from_rate) + " Hz to " +
                       std::to_string(to_rate) + " Hz: " + err);
  std::unique_ptr<std::remove_pointer_t<soxr_t>, void (*)(soxr_t)> owner(resampler, soxr_delete);

  const size_t ilen = mono.size();
  const size_t olen = static_cast<size_t>(static_cast<double>(ilen) * out_rate / in_rate + 1);
  const size_t chunk = std::max<size_t>(1, static_cast<size_t>(48000 * in_rate / out_rate));
  std::vector<float> out(olen, 0.0f);
  size_t pos = 0, odone = 0;
  // idone = nullptr: libsoxr then takes every input sample of the call, as python-soxr relies on.
  for (size_t i = 0; i < ilen; i += chunk) {
    err = soxr_process(resampler, mono.data() + i, std::min(chunk, ilen - i), nullptr, out.data() + pos, olen - pos, &odone);
    if (err) throw Error(std::string("resample: libsoxr failed: ") + err);
    pos += odone;
  }
  err = soxr_process(resampler, nullptr, 0, nullptr, out.data() + pos, olen - pos, &odone);  // flush
  if (err) throw Error(std::string("resample: libsoxr failed while flushing: ") + err);
  pos += odone;
  out.resize(pos);
  out.resize(n_samples, 0.0f);  // fix_length: zero-pad or trim
  return out;
}

AudioFrames frame_audio(const std::vector<float>& samples_16k, int frame_size) {
  if (frame_size <= 0) throw Error("frame_audio: frame size must be positive (audio_embed_dim), got " + std::to_string(frame_size));
  AudioFrames frames;
  frames.samples = static_cast<int64_t>(samples_16k.size());
  frames.frame_size = frame_size;
  frames.n_frames = (frames.samples + frame_size - 1) / frame_size;
  frames.values.assign(static_cast<size_t>(frames.n_frames) * frame_size, 0.0f);  // zero padding of the last frame
  std::copy(samples_16k.begin(), samples_16k.end(), frames.values.begin());
  return frames;
}

PreparedAudio prepare_audio(const std::string& path, int frame_size, double max_seconds, double max_decode_seconds) {
  if (frame_size <= 0) fail(path, "frame size must be positive (audio_embed_dim), got " + std::to_string(frame_size));
  PreparedAudio p;
  // With a cap only the start of the file is read; the decoding limit then applies to that start, less
  // the margin read past the cap.
  const bool capped = max_seconds > 0;
  const double read_seconds = capped ? max_seconds + kCapMarginSeconds : 0.0;
  const double limit = capped && max_decode_seconds > 0 ? max_decode_seconds + kCapMarginSeconds : max_decode_seconds;
  p.info = decode_audio(path, limit, read_seconds);
  std::vector<float> mono = to_mono(p.info);
  p.info.interleaved.clear();
  p.info.interleaved.shrink_to_fit();
  p.samples_16k = resample(mono, p.info.sample_rate, kAudioSampleRate);
  if (max_seconds > 0) {
    const auto cap = static_cast<size_t>(std::floor(max_seconds * kAudioSampleRate));
    p.truncated = !p.info.read_to_end || p.samples_16k.size() > cap;
    if (p.samples_16k.size() > cap) p.samples_16k.resize(cap);
  }
  p.frames = frame_audio(p.samples_16k, frame_size);
  p.over_30s = static_cast<double>(p.samples_16k.size()) > kAudioInDistributionSeconds * kAudioSampleRate;
  return p;
}

}  // namespace g4ref
