// Video preprocessing (spec §3.4): sample 32 frame indices the way Hugging Face's video processor does, decode
// exactly those frames to 8-bit RGB at the source size, and time-stamp them index / fps. Each frame then goes
// through the image rule (prepare_decoded with the per-frame budget, 70 by default).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "preprocess/image.h"

namespace g4ref {

inline constexpr int kVideoFrames = 32;        // HF Gemma4 video processor `num_frames`
inline constexpr int kVideoFrameBudget = 70;   // HF `max_soft_tokens` per frame
inline constexpr double kDefaultVideoFps = 24;  // when the file does not say

struct VideoFrames {
  double fps = kDefaultVideoFps;
  int64_t total_frames = 0;
  std::vector<int64_t> indices;  // sampled frame numbers in the whole video, increasing
  std::vector<double> times;     // indices[i] / fps, seconds
  std::vector<RgbImage> frames;  // the sampled frames, RGB at the source size
};

// The frame numbers HF samples from a video of `total` frames:
//   torch.arange(0, total, total / num_frames).int()
// (BaseVideoProcessor.sample_frames, which the Gemma 4 video processor does not override). The Python step is a
// double; arange fills a float32 tensor with CPU vector code, and .int() truncates toward zero. For 32 frames the
// step is exact and the result is trunc(i·total/32) for i = 0…31 whenever total < 2^19; beyond that float32
// rounding is reproduced as PyTorch does it (8-lane float vectors). For other num_frames the count
// ceil(total / step) may exceed num_frames, as in PyTorch.
// Throws g4ref::Error when total < num_frames ("the video has N frames; at least M are needed").
std::vector<int64_t> sample_frame_indices(int64_t total, int num_frames = kVideoFrames);

// Decodes a video file: the first video stream's frame count (from the container, or counted by decoding when the
// container does not record it), its average frame rate (24 when unknown), and the sampled frames converted to
// RGB24 without resizing. Unreadable or corrupt files, files without a video stream and videos shorter than
// num_frames are g4ref::Error naming the file.
VideoFrames decode_video(const std::string& path, int num_frames = kVideoFrames);

// A directory of image files (sorted by file name; names starting with '.' are ignored) taken as the frames of a
// video at `fps`. Only the sampled files are decoded.
VideoFrames load_frame_directory(const std::string& dir, double fps = kDefaultVideoFps, int num_frames = kVideoFrames);

}  // namespace g4ref
