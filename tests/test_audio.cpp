// Audio preprocessing (spec §4) against oracles that are not our code: speech synthesized by espeak-ng,
// format variants and a second resampler from SoX, frame counts worked out by hand, the frequency and
// amplitude of a band-limited sine, and hostile files that must fail with the file's name.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include <unsupported/Eigen/FFT>

#include "base/error.h"
#include "preprocess/audio.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

// ---------------------------------------------------------------------------------------------
// helpers

void sh(const std::string& cmd) {
  std::string out;
  if (testing::run_command(cmd + " 2>&1", &out) != 0) throw std::runtime_error("command failed: " + cmd + "\n" + out);
}

// Writes samples with libsndfile (its writer, not our reader); format e.g. SF_FORMAT_WAV | SF_FORMAT_FLOAT.
void write_audio(const std::string& path, const std::vector<float>& interleaved, int rate, int channels, int format) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": " + sf_strerror(nullptr));
  const sf_count_t frames = static_cast<sf_count_t>(interleaved.size()) / channels;
  const sf_count_t written = sf_writef_float(f, interleaved.data(), frames);
  sf_close(f);
  if (written != frames) throw std::runtime_error(path + ": short write");
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path, size_t max = std::string::npos) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.substr(0, max);
}

std::vector<float> sine(double freq, double amplitude, int rate, size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(amplitude * std::sin(2.0 * M_PI * freq * i / rate));
  return x;
}

// The error must name the file and say what is wrong.
void expect_audio_error(const std::function<void()>& f, const std::string& path, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << path << ": no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << what;
  }
}

// Least-squares amplitude of a sinusoid of frequency freq in x[begin, end).
double fitted_amplitude(const std::vector<float>& x, double freq, int rate, size_t begin, size_t end) {
  double ss = 0, sc = 0, cc = 0, xs = 0, xc = 0;
  for (size_t i = begin; i < end; ++i) {
    const double w = 2.0 * M_PI * freq * i / rate, s = std::sin(w), c = std::cos(w);
    ss += s * s, sc += s * c, cc += c * c, xs += x[i] * s, xc += x[i] * c;
  }
  const double det = ss * cc - sc * sc;
  const double a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
  return std::hypot(a, b);
}

// Frequency from zero crossings in x[begin, end): crossings located by linear interpolation, half a
// period between successive ones.
double zero_crossing_frequency(const std::vector<float>& x, int rate, size_t begin, size_t end) {
  double first = -1, last = -1;
  int crossings = 0;
  for (size_t i = begin; i + 1 < end; ++i) {
    const double a = x[i], b = x[i + 1];
    if ((a < 0 && b >= 0) || (a >= 0 && b < 0)) {
      const double t = i + a / (a - b);
      if (first < 0) first = t;
      last = t;
      ++crossings;
    }
  }
  return 0.5 * (crossings - 1) / ((last - first) / rate);
}

// Fraction of x's energy at frequencies in [f_lo, f_hi] (both signs), by Parseval on the DFT of x
// zero-padded to a power of two. Padding adds no energy; the abrupt edges of a clip (the tones below)
// are part of the signal, and their broadband energy rightly counts.
double band_energy_fraction(const std::vector<float>& x, int rate, double f_lo, double f_hi) {
  size_t n = 1;
  while (n < x.size()) n *= 2;
  std::vector<double> padded(n, 0.0);
  std::copy(x.begin(), x.end(), padded.begin());
  std::vector<std::complex<double>> spectrum;
  Eigen::FFT<double> fft;
  fft.fwd(spectrum, padded);
  double total = 0, band = 0;
  for (size_t k = 0; k < n; ++k) {
    const double power = std::norm(spectrum[k]);
    const double f = static_cast<double>(std::min(k, n - k)) * rate / n;
    total += power;
    if (f >= f_lo && f <= f_hi) band += power;
  }
  return band / total;
}

double relative_rms_difference(const std::vector<float>& a, const std::vector<float>& b, size_t n) {
  double diff = 0, power = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    diff += d * d;
    power += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(diff / power);
}

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return std::sqrt(s / x.size());
}

// libsoxr's own output length for a whole stream, before librosa's fix_length.
size_t raw_soxr_length(size_t n, double from, double to) {
  soxr_error_t err = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_t s = soxr_create(from, to, 1, &err, &io, &q, nullptr);
  std::vector<float> x(n, 0.25f), y(static_cast<size_t>(n * to / from) + 64);
  size_t done = 0, pos = 0;
  soxr_process(s, x.data(), n, nullptr, y.data(), y.size(), &done);
  pos += done;
  soxr_process(s, nullptr, 0, nullptr, y.data() + pos, y.size() - pos, &done);
  soxr_delete(s);
  return pos + done;
}

// The soxr HQ recipe's documented guarantees (soxr.h): passband roll-off "<= 0.01 dB" (flag
// SOXR_ROLLOFF_SMALL, the default) up to passband_end = 0.913 of the lower Nyquist frequency, and
// 20-bit precision, i.e. aliasing and imaging at most 2^-20 of full scale. SoX's `rate` effect at its
// default quality (-h) documents the same 0.01-dB roll-off class.
constexpr double kRolloff = 1.0011519;  // 10^(0.01/20)
constexpr double kPassbandEnd = 0.913;
const double kPrecision = std::ldexp(1.0, -20);

// ---------------------------------------------------------------------------------------------
// pure functions: no media tools needed

TEST(AudioFrames, CountsByHand) {
  // N = ceil(samples / 640): 0 → 0, 1 → 1, 639 → 1, 640 → 1, 641 → 2, 22050·16000/22050 = 16000 → 25.
  const std::vector<std::pair<int, int>> cases = {{0, 0}, {1, 1}, {639, 1}, {640, 1}, {641, 2}, {16000, 25}};
  for (const auto& [samples, frames] : cases) {
    std::vector<float> x(samples);
    for (int i = 0; i < samples; ++i) x[i] = 0.001f * (i + 1);
    const AudioFrames f = frame_audio(x, 640);
    EXPECT_EQ(f.samples, samples);
    EXPECT_EQ(f.n_frames, frames) << samples << " samples";
    ASSERT_EQ(f.values.size(), static_cast<size_t>(frames) * 640);
    for (int i = 0; i < samples; ++i) ASSERT_EQ(f.values[i], x[i]);
    for (size_t i = samples; i < f.values.size(); ++i) ASSERT_EQ(f.values[i], 0.0f) << "padding is zeros";
  }
  EXPECT_EQ(frame_audio(std::vector<float>(10), 4).n_frames, 3);  // the frame size is the caller's
  EXPECT_THROW(frame_audio({1.0f}, 0), Error);
  EXPECT_THROW(frame_audio({1.0f}, -640), Error);
}

TEST(AudioResample, EqualRatesPassThroughBitExact) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(12345);
  for (float& v : x) v = u(rng);
  x[5] = -0.0f;
  x[6] = 1e-40f;  // a subnormal survives untouched
  for (int rate : {16000, 44100}) {
    const std::vector<float> y = resample(x, rate, rate);
    ASSERT_EQ(y.size(), x.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
  }
  EXPECT_TRUE(resample({}, 44100).empty());
  EXPECT_THROW(resample(x, 0), Error);
  EXPECT_THROW(resample(x, 44100, -1), Error);
}

TEST(AudioResample, LengthIsLibrosasCeilingOfSoxrsRoundedLength) {
  // libsoxr emits round(n · to / from) samples for a whole stream (halves rounded up); librosa then
  // pads or trims to ceil(n · to / from) (librosa.util.fix_length), and so does resample().
  struct Case { size_t n; int from; size_t soxr_raw, ours; };
  const std::vector<Case> cases = {
      {22050, 22050, 16000, 16000},  // one second: exact, 25 frames of 640
      {2, 22050, 1, 2},              // 1.45: soxr rounds to 1, librosa pads a zero
      {7, 22050, 5, 6},              // 5.08
      {1, 44100, 0, 1},              // 0.36
      {641, 44100, 233, 233},        // 232.56
      {3, 96000, 1, 1},              // 0.5 rounds up
      {641, 48000, 214, 214},        // 213.67
      {7, 24000, 5, 5},              // 4.67
      {641, 8000, 1282, 1282},       // upsampling, exact
      {61402, 22050, 44555, 44555},  // the espeak-ng clip below
  };
  for (const Case& c : cases) {
    EXPECT_EQ(raw_soxr_length(c.n, c.from, 16000), c.soxr_raw) << c.n << " @ " << c.from;
    const std::vector<float> y = resample(std::vector<float>(c.n, 0.25f), c.from);
    EXPECT_EQ(y.size(), c.ours) << c.n << " @ " << c.from;
    EXPECT_EQ(y.size(), static_cast<size_t>(std::ceil(c.n * (16000.0 / c.from))));
    if (c.ours > c.soxr_raw) {
      EXPECT_EQ(y.back(), 0.0f) << "fix_length pads with zeros";
    }
  }
  EXPECT_EQ(frame_audio(resample(std::vector<float>(22050, 0.1f), 22050), 640).n_frames, 25);
}

TEST(AudioResample, SineKeepsItsFrequencyAndAmplitude) {
  // A 1 kHz sine of amplitude 0.5, two seconds at several source rates, resampled to 16 kHz.
  // Frequency: the resampler changes it only if the rate ratio is wrong. The zero-crossing estimate
  // itself errs by at most about ω³/24 samples per crossing (linear interpolation of a sine near zero,
  // ω = 2π·1000/16000 rad per sample: 2.5e-3 samples) at each end of a 30,000-sample span, so
  // |Δf| ≤ 1000 Hz · 2 · 2.5e-3 / 30,000 ≈ 1.7e-4 Hz; the bound used is 1e-3 Hz.
  // Amplitude: within the documented 0.01-dB passband roll-off. The fit spans a whole number of
  // periods (16 samples each), away from the edge transients.
  const int to = 16000;
  for (int from : {8000, 22050, 44100, 48000}) {
    const std::vector<float> y = resample(sine(1000.0, 0.5, from, 2 * from), from, to);
    ASSERT_EQ(y.size(), 32000u);
    const double f = zero_crossing_frequency(y, to, 1000, 31000);
    const double a = fitted_amplitude(y, 1000.0, to, 1008, 1008 + 16 * 1875);
    std::cout << "[ measured ] 1 kHz sine " << from << " Hz -> 16 kHz: frequency error " << f - 1000.0
              << " Hz, amplitude error " << a / 0.5 - 1.0 << " (relative)\n";
    EXPECT_NEAR(f, 1000.0, 1e-3) << from;
    EXPECT_LE(std::abs(a / 0.5 - 1.0), kRolloff - 1.0) << from;
  }
}

TEST(AudioResample, RejectsWhatWouldAlias) {
  // 9 kHz at 44.1 kHz lies above the new Nyquist frequency (8 kHz) and would alias to 7 kHz: what
  // remains must be below the 20-bit precision of the HQ recipe, 2^-20 of the input amplitude.
  const std::vector<float> y = resample(sine(9000.0, 0.5, 44100, 88200), 44100);
  const std::vector<float> interior(y.begin() + 1000, y.end() - 1000);
  const double residual = std::sqrt(2.0) * rms(interior);
  std::cout << "[ measured ] 9 kHz at 44.1 kHz -> 16 kHz: residual amplitude " << residual << " ("
            << 20 * std::log10(residual / 0.5) << " dB)\n";
  EXPECT_LE(residual, 0.5 * kPrecision);
}

// ---------------------------------------------------------------------------------------------
// files: espeak-ng speech and SoX variants, made at test time

class AudioFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string out;
    tools_ = testing::run_command("command -v espeak-ng && command -v sox", &out) == 0;
    if (!tools_) return;
    dir_ = std::make_unique<testing::TempDir>("audio");
    speech_ = *dir_ / "speech.wav";
    // espeak-ng writes 16-bit mono WAV at 22,050 Hz, so every path through the resampler is exercised.
    sh("espeak-ng -w " + speech_ + " 'The quick brown fox jumps over the lazy dog. Gemma listens to sixteen kilohertz.'");
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (!tools_) GTEST_SKIP() << "espeak-ng and sox are needed to make test audio (Debian: espeak-ng sox libsox-fmt-all)";
  }
  static std::string path(const std::string& name) { return *dir_ / name; }

  static inline bool tools_ = false;
  static inline std::unique_ptr<testing::TempDir> dir_;
  static inline std::string speech_;
};

TEST_F(AudioFiles, SpeechIsDecodedResampledAndFramed) {
  const DecodedAudio d = decode_audio(speech_);
  EXPECT_EQ(d.format, "WAV PCM_16");
  EXPECT_EQ(d.sample_rate, 22050);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.header_frames, d.frames);
  ASSERT_GT(d.frames, 22050);
  for (float v : d.interleaved) ASSERT_EQ(v * 32768.0f, std::round(v * 32768.0f)) << "PCM_16 is scaled by 1/32768";

  const PreparedAudio p = prepare_audio(speech_, 640, 0.0);
  const auto expected = static_cast<size_t>(std::ceil(d.frames * (16000.0 / 22050)));
  EXPECT_EQ(p.samples_16k.size(), expected);
  EXPECT_EQ(p.frames.n_frames, static_cast<int64_t>((expected + 639) / 640));
  EXPECT_EQ(p.samples_16k, resample(to_mono(d), 22050));
  EXPECT_TRUE(p.info.interleaved.empty());
  EXPECT_FALSE(p.over_30s);
  EXPECT_FALSE(p.truncated);
}

TEST_F(AudioFiles, ExactLengthsAt16kHzPassThroughAndFrameByHand) {
  for (const auto& [n, frames] : std::vector<std::pair<int, int>>{{1, 1}, {639, 1}, {640, 1}, {641, 2}}) {
    const std::string f = path("len" + std::to_string(n) + ".wav");
    sh("sox -r 16000 -n -b 16 -c 1 " + f + " synth " + std::to_string(n) + "s sine 300 vol 0.5");
    const DecodedAudio d = decode_audio(f);
    ASSERT_EQ(d.frames, n);
    const PreparedAudio p = prepare_audio(f, 640, 0.0);
    EXPECT_EQ(p.samples_16k, d.interleaved) << "16 kHz input is passed through bit for bit";
    EXPECT_EQ(p.frames.n_frames, frames) << n;
  }
  // One second at 22,050 Hz: 22,050 samples → 16,000 → 25 frames.
  const std::string second = path("second.wav");
  sh("sox -r 22050 -n -b 16 -c 1 " + second + " synth 22050s sine 300 vol 0.5");
  const PreparedAudio p = prepare_audio(second, 640, 0.0);
  EXPECT_EQ(p.info.frames, 22050);
  EXPECT_EQ(p.samples_16k.size(), 16000u);
  EXPECT_EQ(p.frames.n_frames, 25);
  // Zero samples: a valid WAV header with no data is not a clip.
  const std::string empty = path("zero_frames.wav");
  write_audio(empty, {}, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  expect_audio_error([&] { decode_audio(empty); }, empty, "no audio frames");
}

TEST_F(AudioFiles, ResamplerAgreesWithSox) {
  // SoX's `rate` effect (SoX 14.4, its own implementation by libsoxr's author, not the library) at its
  // default quality is the second resampler. Where both filters pass the signal, they may differ by
  // their passband roll-off (≤ 0.01 dB each) plus aliasing (≤ 2^-20 each); in the transition band, from
  // 0.913 of the lower Nyquist frequency up to it, they may differ by up to the whole signal there. So
  //   rms(ours − sox) / rms(sox) ≤ 2·(10^(0.01/20) − 1) + sqrt(transition-band energy fraction) + 4·2^-20.
  // SoX writes 32-bit float, so neither quantization nor dither enters.
  // Speech has energy in the transition band; tones inside the passband leave only the roll-off term.
  const std::string s44 = path("speech44.wav"), s8 = path("speech8.wav");
  sh("sox " + speech_ + " -b 32 -e floating-point " + s44 + " rate -v 44100");
  sh("sox " + speech_ + " -b 32 -e floating-point " + s8 + " rate -v 8000");
  std::vector<std::string> inputs = {speech_, s44, s8};
  for (int rate : {8000, 22050, 44100}) {
    const int n = 2 * rate;
    std::vector<float> tones(n, 0.0f);
    for (double f : {300.0, 1234.5, 3000.0, 5555.0}) {
      if (f > kPassbandEnd * std::min(rate, 16000) / 2) continue;
      const std::vector<float> s = sine(f, 0.2, rate, n);
      for (int i = 0; i < n; ++i) tones[i] += s[i];
    }
    inputs.push_back(path("tones" + std::to_string(rate) + ".wav"));
    write_audio(inputs.back(), tones, rate, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  }
  for (const std::string& in : inputs) {
    const std::string ref = in + ".sox16k.wav";
    sh("sox " + in + " -b 32 -e floating-point " + ref + " rate 16000");
    const DecodedAudio d = decode_audio(in);
    const std::vector<float> ours = resample(to_mono(d), d.sample_rate);
    const std::vector<float> sox = decode_audio(ref).interleaved;
    EXPECT_LE(std::abs(static_cast<double>(ours.size()) - static_cast<double>(sox.size())), 1.0) << in;
    const size_t n = std::min(ours.size(), sox.size());
    const double nyquist = std::min(d.sample_rate, 16000) / 2.0;
    const double transition = band_energy_fraction(to_mono(d), d.sample_rate, kPassbandEnd * nyquist, nyquist);
    const double bound = 2 * (kRolloff - 1.0) + std::sqrt(transition) + 4 * kPrecision;
    const double measured = relative_rms_difference(ours, sox, n);
    std::cout << "[ measured ] " << std::filesystem::path(in).filename().string() << " (" << d.sample_rate
              << " Hz) -> 16 kHz, ours vs sox: relative rms difference "
              << measured << " (bound " << bound << ", transition-band energy fraction " << transition << ")\n";
    EXPECT_LE(measured, bound) << in;
  }
}

TEST_F(AudioFiles, FormatVariantsDecodeToTheSameSpeech) {
  const DecodedAudio ref = decode_audio(speech_);
  const auto variant = [&](const std::string& name, const std::string& sox_args) {
    const std::string f = path(name);
    sh("sox " + speech_ + " " + sox_args + " " + f);
    return decode_audio(f);
  };
  // Lossless: the same samples, bit for bit.
  const DecodedAudio flac = variant("speech.flac", "");
  EXPECT_EQ(flac.format, "FLAC PCM_16");
  EXPECT_EQ(flac.interleaved, ref.interleaved);
  const DecodedAudio pcm24 = variant("speech24.wav", "-b 24");  // 16 → 24 bits is a shift, no dither
  EXPECT_EQ(pcm24.format, "WAVEX PCM_24");  // SoX writes 24-bit WAV as WAVE_FORMAT_EXTENSIBLE
  EXPECT_EQ(pcm24.interleaved, ref.interleaved);
  const DecodedAudio dual = variant("dual.wav", "-c 2");  // the one channel on both sides
  EXPECT_EQ(dual.channels, 2);
  EXPECT_EQ(to_mono(dual), ref.interleaved) << "(x + x) / 2 == x";
  // Other rates: the length follows the rate; the 16 kHz result stays close to the original's.
  const std::vector<float> ref16 = resample(ref.interleaved, 22050);
  for (const auto& [name, rate] : std::vector<std::pair<std::string, int>>{{"speech8k.wav", 8000}, {"speech44k.wav", 44100}}) {
    const DecodedAudio d = variant(name, "-r " + std::to_string(rate));
    EXPECT_EQ(d.sample_rate, rate);
    EXPECT_NEAR(static_cast<double>(d.frames) / rate, static_cast<double>(ref.frames) / 22050, 1e-3);
    const std::vector<float> y = prepare_audio(path(name), 640, 0.0).samples_16k;
    EXPECT_EQ(y.size(), static_cast<size_t>(std::ceil(d.frames * (16000.0 / rate))));
    if (rate == 44100) {
      EXPECT_LT(relative_rms_difference(y, ref16, std::min(y.size(), ref16.size())), 0.01);
    }
  }
  // Lossy: the right container, length and loudness.
  const DecodedAudio ogg = variant("speech.ogg", "");
  EXPECT_EQ(ogg.format, "OGG VORBIS");
  EXPECT_EQ(ogg.frames, ref.frames) << "Vorbis keeps the exact length";
  EXPECT_LT(relative_rms_difference(ogg.interleaved, ref.interleaved, ref.interleaved.size()), 0.5);
  const DecodedAudio mp3 = variant("speech.mp3", "");
  EXPECT_EQ(mp3.format, "MP3 MPEG_LAYER_III");
  EXPECT_NEAR(static_cast<double>(mp3.frames) / mp3.sample_rate, static_cast<double>(ref.frames) / 22050, 0.15);
  EXPECT_NEAR(rms(mp3.interleaved) / rms(ref.interleaved), 1.0, 0.2);
  // Opus (only 8/12/16/24/48 kHz), written by libsndfile from a 48 kHz copy.
  const DecodedAudio s48 = variant("speech48.wav", "-b 32 -e floating-point -r 48000");
  const std::string opus = path("speech.opus");
  write_audio(opus, s48.interleaved, 48000, 1, SF_FORMAT_OGG | SF_FORMAT_OPUS);
  const DecodedAudio op = decode_audio(opus);
  EXPECT_EQ(op.format, "OGG OPUS");
  EXPECT_EQ(op.sample_rate, 48000);
  EXPECT_NEAR(static_cast<double>(op.frames) / 48000, static_cast<double>(ref.frames) / 22050, 0.05);
  EXPECT_NEAR(rms(op.interleaved) / rms(ref.interleaved), 1.0, 0.2);
}

TEST_F(AudioFiles, ChannelMeanOfDifferentLeftAndRight) {
  const DecodedAudio left = decode_audio(speech_);
  const std::string right = path("right.wav"), third = path("third.wav"), stereo = path("stereo.wav"),
                    three = path("three.wav");
  const std::string n = std::to_string(left.frames) + "s";
  sh("sox -r 22050 -n -b 16 -c 1 " + right + " synth " + n + " sine 440 vol 0.3");
  sh("sox -r 22050 -n -b 16 -c 1 " + third + " synth " + n + " square 97 vol 0.2");
  sh("sox -M " + speech_ + " " + right + " " + stereo);
  sh("sox -M " + speech_ + " " + right + " " + third + " " + three);
  const DecodedAudio r = decode_audio(right), t = decode_audio(third);
  ASSERT_EQ(r.frames, left.frames);
  ASSERT_EQ(t.frames, left.frames);
  const DecodedAudio st = decode_audio(stereo);
  ASSERT_EQ(st.channels, 2);
  const std::vector<float> mono = to_mono(st);
  ASSERT_EQ(mono.size(), static_cast<size_t>(left.frames));
  size_t differ = 0;
  for (size_t i = 0; i < mono.size(); ++i) {
    ASSERT_EQ(mono[i], (left.interleaved[i] + r.interleaved[i]) / 2.0f) << i;  // numpy's float32 mean, exactly
    differ += left.interleaved[i] != r.interleaved[i];
  }
  EXPECT_GT(differ, mono.size() / 2) << "left and right really differ";
  const std::vector<float> mono3 = to_mono(decode_audio(three));
  for (size_t i = 0; i < mono3.size(); ++i) {
    const double mean = (static_cast<double>(left.interleaved[i]) + r.interleaved[i] + t.interleaved[i]) / 3.0;
    ASSERT_NEAR(mono3[i], mean, 2e-7) << i;  // float32 sum and division: a few ulps of values below 1
  }
}

TEST_F(AudioFiles, HostileFilesFailNamingTheFile) {
  const std::string wav = read_bytes(speech_);
  const std::string empty = path("empty.wav"), cut = path("cut.wav"), header = path("header_only.wav"),
                    noise = path("noise.wav"), text = path("notes.wav"), flac_cut = path("cut.flac"),
                    flac_half = path("half.flac"), ogg_half = path("half.ogg");
  write_bytes(empty, "");
  write_bytes(cut, wav.substr(0, 1000));
  write_bytes(header, wav.substr(0, 44));
  std::mt19937 rng(1234);
  std::string random_bytes(4096, '\0');
  for (char& c : random_bytes) c = static_cast<char>(rng());
  write_bytes(noise, random_bytes);
  write_bytes(text, "this is not audio, only text in a file named .wav\n");
  sh("sox " + speech_ + " " + path("full.flac"));
  sh("sox " + speech_ + " " + path("full.ogg"));
  const std::string flac = read_bytes(path("full.flac")), ogg = read_bytes(path("full.ogg"));
  write_bytes(flac_cut, flac.substr(0, 100));
  write_bytes(flac_half, flac.substr(0, flac.size() / 2));
  write_bytes(ogg_half, ogg.substr(0, ogg.size() / 2));

  expect_audio_error([&] { decode_audio(empty); }, empty, "empty file");
  expect_audio_error([&] { decode_audio(cut); }, cut, "truncated WAV");
  expect_audio_error([&] { decode_audio(header); }, header, "truncated WAV");
  expect_audio_error([&] { decode_audio(noise); }, noise, "Format not recognised");
  expect_audio_error([&] { decode_audio(text); }, text, "Format not recognised");
  expect_audio_error([&] { decode_audio(flac_cut); }, flac_cut, "cannot decode audio");
  expect_audio_error([&] { decode_audio(flac_half); }, flac_half, "flac decoder lost sync");
  expect_audio_error([&] { decode_audio(ogg_half); }, ogg_half, "truncated audio");
  expect_audio_error([&] { decode_audio(path("missing.wav")); }, path("missing.wav"), "no such audio file");
  expect_audio_error([&] { decode_audio(dir_->str()); }, dir_->str(), "not a regular file");
  expect_audio_error([&] { prepare_audio(cut, 640, 0.0); }, cut, "truncated WAV");

  // A WAV streamed to a pipe has a placeholder data size (espeak-ng writes 0x7FFFF000): not truncated.
  const std::string streamed = path("streamed.wav");
  sh("espeak-ng --stdout 'The quick brown fox jumps over the lazy dog. Gemma listens to sixteen kilohertz.' > " +
     streamed);
  EXPECT_EQ(decode_audio(streamed).interleaved, decode_audio(speech_).interleaved);
}

TEST_F(AudioFiles, LengthLimitCapAndThirtySecondFlag) {
  expect_audio_error([&] { decode_audio(speech_, 1.0); }, speech_, "exceeds the decoding limit of 1.000 s");
  EXPECT_NO_THROW(decode_audio(speech_, 0.0)) << "≤ 0: no limit";

  // 33 seconds of speech: out of distribution whole; cut to 30 s it is exactly 750 frames, and the cut
  // (which reads only the start of the file) equals the start of the uncut result bit for bit.
  const std::string longer = path("long.wav");
  sh("sox " + speech_ + " " + longer + " repeat 11");
  const PreparedAudio whole = prepare_audio(longer, 640, 0.0);
  ASSERT_GT(whole.samples_16k.size(), 480000u);
  EXPECT_TRUE(whole.over_30s);
  EXPECT_FALSE(whole.truncated);
  const PreparedAudio cut = prepare_audio(longer, 640, 30.0);
  EXPECT_EQ(cut.samples_16k.size(), 480000u);
  EXPECT_EQ(cut.frames.n_frames, 750);
  EXPECT_FALSE(cut.over_30s);
  EXPECT_TRUE(cut.truncated);
  EXPECT_FALSE(cut.info.read_to_end);
  EXPECT_TRUE(std::equal(cut.samples_16k.begin(), cut.samples_16k.end(), whole.samples_16k.begin()));
  // The decoding limit does not stop a capped read of a long file.
  EXPECT_EQ(prepare_audio(longer, 640, 2.0, 2.0).samples_16k.size(), 32000u);
  expect_audio_error([&] { prepare_audio(longer, 640, 0.0, 2.0); }, longer, "exceeds the decoding limit");
  // A cap longer than the clip changes nothing.
  const PreparedAudio roomy = prepare_audio(speech_, 640, 30.0);
  EXPECT_FALSE(roomy.truncated);
  EXPECT_EQ(roomy.samples_16k, prepare_audio(speech_, 640, 0.0).samples_16k);
  // Exactly 30 s at 16 kHz is still in distribution; one sample more is not.
  const std::string thirty = path("thirty.wav"), over = path("over.wav");
  sh("sox -r 16000 -n -b 16 -c 1 " + thirty + " synth 480000s sine 200 vol 0.1");
  sh("sox -r 16000 -n -b 16 -c 1 " + over + " synth 480001s sine 200 vol 0.1");
  EXPECT_FALSE(prepare_audio(thirty, 640, 0.0).over_30s);
  const PreparedAudio o = prepare_audio(over, 640, 0.0);
  EXPECT_TRUE(o.over_30s);
  EXPECT_EQ(o.frames.n_frames, 751);
}

TEST_F(AudioFiles, CliInspectAudio) {
  const auto g4ref = [](const std::string& args) { return std::string(G4REF_CLI) + " " + args; };
  std::string out;
  ASSERT_EQ(testing::run_command(g4ref("inspect-audio " + speech_ + " --json"), &out), 0) << out;
  const nlohmann::json j = nlohmann::json::parse(out);
  const DecodedAudio d = decode_audio(speech_);
  EXPECT_EQ(j["format"], "WAV PCM_16");
  EXPECT_EQ(j["sample_rate"], 22050);
  EXPECT_EQ(j["channels"], 1);
  EXPECT_EQ(j["frames"], d.frames);
  const auto samples = static_cast<int64_t>(std::ceil(d.frames * (16000.0 / 22050)));
  EXPECT_EQ(j["samples_16k"], samples);
  EXPECT_EQ(j["n_frames"], (samples + 639) / 640);
  EXPECT_EQ(j["over_30s"], false);
  EXPECT_GE(j["frame_rms_max"].get<double>(), j["frame_rms_min"].get<double>());
  EXPECT_GT(j["frame_rms_max"].get<double>(), 0.01);

  ASSERT_EQ(testing::run_command(g4ref("inspect-audio " + speech_), &out), 0) << out;
  EXPECT_NE(out.find("WAV PCM_16, 1 channel, 22050 Hz"), std::string::npos) << out;
  EXPECT_NE(out.find("audio frames"), std::string::npos) << out;

  const std::string longer = path("cli_long.wav");
  sh("sox " + speech_ + " " + longer + " repeat 11");
  ASSERT_EQ(testing::run_command(g4ref("inspect-audio " + longer + " 2>&1"), &out), 0) << out;
  EXPECT_NE(out.find("over the 30-second clip limit"), std::string::npos) << out;
  ASSERT_EQ(testing::run_command(g4ref("inspect-audio " + longer + " --max-audio-seconds 30 --json 2>&1"), &out), 0);
  const nlohmann::json capped = nlohmann::json::parse(out);
  EXPECT_EQ(capped["n_frames"], 750);
  EXPECT_EQ(capped["truncated"], true);

  const std::string text = path("cli_text.wav");
  write_bytes(text, "not audio\n");
  EXPECT_NE(testing::run_command(g4ref("inspect-audio " + text + " 2>&1"), &out), 0);
  EXPECT_NE(out.find(text + ": cannot decode audio"), std::string::npos) << out;
}

}  // namespace
}  // namespace g4ref
