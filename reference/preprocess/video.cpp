#include "preprocess/video.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <set>

#include "base/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace g4ref {

std::vector<int64_t> sample_frame_indices(int64_t total, int num_frames) {
  if (num_frames <= 0) throw Error("sample_frame_indices: num_frames must be positive, found " + std::to_string(num_frames));
  if (total < num_frames)
    throw Error("the video has " + std::to_string(total) + " frames; at least " + std::to_string(num_frames) +
                " are needed");
  const double step = static_cast<double>(total) / static_cast<double>(num_frames);
  const int64_t count = static_cast<int64_t>(std::ceil(static_cast<double>(total) / step));
  // PyTorch's CPU arange fills whole pairs of 8-float vectors first: each vector starts at float(step·i0) and its
  // lanes add k·step in double before rounding to float; the tail is filled one element at a time as
  // float(step·i).
  constexpr int64_t kLanes = 8;
  const int64_t vectorized = count / (2 * kLanes) * (2 * kLanes);
  std::vector<int64_t> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    float v;
    if (i < vectorized) {
      const float base = static_cast<float>(step * static_cast<double>(i - i % kLanes));
      v = static_cast<float>(static_cast<double>(base) + static_cast<double>(i % kLanes) * step);
    } else {
      v = static_cast<float>(step * static_cast<double>(i));
    }
    out[static_cast<size_t>(i)] = static_cast<int64_t>(std::trunc(v));
  }
  for (int64_t idx : out)
    if (idx >= total)
      throw Error("sampling " + std::to_string(num_frames) + " of " + std::to_string(total) +
                  " frames yields frame index " + std::to_string(idx) + ", past the end");
  return out;
}

namespace {

std::string av_message(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

struct FormatCloser {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecFreer {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameFreer {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFreer {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};

// A decoder for the file's video stream, opened from the start.
struct Decoder {
  std::unique_ptr<AVFormatContext, FormatCloser> fmt;
  std::unique_ptr<AVCodecContext, CodecFreer> codec;
  int stream = -1;

  explicit Decoder(const std::string& path) {
    AVFormatContext* raw = nullptr;
    int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    if (rc < 0) fail(path, "cannot open as a video (" + av_message(rc) + ")");
    fmt.reset(raw);
    rc = avformat_find_stream_info(fmt.get(), nullptr);
    if (rc < 0) fail(path, "cannot read the stream information (" + av_message(rc) + ")");
    const AVCodec* dec = nullptr;
    stream = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (stream < 0 || !dec) fail(path, "no decodable video stream");
    codec.reset(avcodec_alloc_context3(dec));
    if (!codec) fail(path, "out of memory creating the decoder");
    rc = avcodec_parameters_to_context(codec.get(), fmt->streams[stream]->codecpar);
    if (rc < 0) fail(path, "bad codec parameters (" + av_message(rc) + ")");
    rc = avcodec_open2(codec.get(), dec, nullptr);
    if (rc < 0) fail(path, "cannot open the video decoder (" + av_message(rc) + ")");
  }

  // Calls on_frame(frame) for every decoded frame in output order until it returns false or the stream ends.
  template <typename F>
  void run(const std::string& path, F&& on_frame) {
    std::unique_ptr<AVPacket, PacketFreer> pkt(av_packet_alloc());
    std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
    if (!pkt || !frame) fail(path, "out of memory decoding");
    bool draining = false;
    for (;;) {
      if (!draining) {
        const int rc = av_read_frame(fmt.get(), pkt.get());
        if (rc == AVERROR_EOF) {
          draining = true;
          avcodec_send_packet(codec.get(), nullptr);
        } else if (rc < 0) {
          fail(path, "corrupt video data (" + av_message(rc) + ")");
        } else {
          if (pkt->stream_index != stream) {
            av_packet_unref(pkt.get());
            continue;
          }
          const int sent = avcodec_send_packet(codec.get(), pkt.get());
          av_packet_unref(pkt.get());
          if (sent < 0 && sent != AVERROR(EAGAIN)) fail(path, "corrupt video data (" + av_message(sent) + ")");
        }
      }
      for (;;) {
        const int rc = avcodec_receive_frame(codec.get(), frame.get());
        if (rc == AVERROR(EAGAIN)) break;
        if (rc == AVERROR_EOF) return;
        if (rc < 0) fail(path, "corrupt video data (" + av_message(rc) + ")");
        const bool more = on_frame(frame.get());
        av_frame_unref(frame.get());
        if (!more) return;
      }
    }
  }
};

}  // namespace

VideoFrames decode_video(const std::string& path, int num_frames) {
  // Problems reach the caller as g4ref::Error naming the file; the decoders' own log lines would only repeat them.
  static const bool quiet = [] {
    av_log_set_level(AV_LOG_FATAL);
    return true;
  }();
  (void)quiet;
  if (!std::filesystem::exists(path)) fail(path, "no such file");
  VideoFrames out;
  int64_t declared = 0;
  {
    Decoder probe(path);
    const AVStream* st = probe.fmt->streams[probe.stream];
    const AVRational r = st->avg_frame_rate;
    out.fps = (r.num > 0 && r.den > 0) ? av_q2d(r) : kDefaultVideoFps;
    declared = st->nb_frames;
    if (declared <= 0) {
      // The container does not record the count: decode the stream once to count its frames.
      int64_t n = 0;
      probe.run(path, [&](AVFrame*) {
        ++n;
        return true;
      });
      declared = n;
    }
  }
  out.total_frames = declared;
  try {
    out.indices = sample_frame_indices(declared, num_frames);
  } catch (const Error& e) {
    fail(path, e.what());
  }
  for (int64_t idx : out.indices) out.times.push_back(static_cast<double>(idx) / out.fps);

  Decoder dec(path);
  std::unique_ptr<SwsContext, SwsFreer> sws;
  size_t next = 0;
  int64_t n = 0;
  dec.run(path, [&](AVFrame* f) {
    const int64_t index = n++;
    if (index != out.indices[next]) return true;
    if (f->width <= 0 || f->height <= 0) fail(path, "decoded a frame without a size");
    SwsContext* ctx = sws_getCachedContext(sws.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                           f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr,
                                           nullptr);
    if (!ctx) fail(path, "cannot convert frame " + std::to_string(index) + " to RGB");
    sws.reset(ctx);
    RgbImage img;
    img.width = f->width;
    img.height = f->height;
    img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
    uint8_t* dst[4] = {img.rgb.data(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {img.width * 3, 0, 0, 0};
    const int rows = sws_scale(ctx, f->data, f->linesize, 0, f->height, dst, dst_stride);
    if (rows != f->height) fail(path, "cannot convert frame " + std::to_string(index) + " to RGB");
    // Several sampled indices may name one frame only when num_frames > total, which sampling rejects; still,
    // hand the same frame to every index that names it.
    while (next < out.indices.size() && out.indices[next] == index) {
      out.frames.push_back(img);
      ++next;
    }
    return next < out.indices.size();
  });
  if (out.frames.size() != out.indices.size())
    fail(path, "the video ends after " + std::to_string(n) + " decoded frames, but frame " +
                   std::to_string(out.indices[out.frames.size()]) + " of " + std::to_string(out.total_frames) +
                   " was expected");
  return out;
}

VideoFrames load_frame_directory(const std::string& dir, double fps, int num_frames) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "not a directory of frame images");
  if (!(fps > 0) || !std::isfinite(fps)) fail(dir, "the frame rate must be positive, found " + std::to_string(fps));
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  if (ec) fail(dir, "cannot list the directory (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  VideoFrames out;
  out.fps = fps;
  out.total_frames = static_cast<int64_t>(files.size());
  try {
    out.indices = sample_frame_indices(out.total_frames, num_frames);
  } catch (const Error& e) {
    fail(dir, e.what());
  }
  for (int64_t idx : out.indices) {
    out.times.push_back(static_cast<double>(idx) / fps);
    out.frames.push_back(decode_image(files[static_cast<size_t>(idx)]));
  }
  return out;
}

}  // namespace g4ref
