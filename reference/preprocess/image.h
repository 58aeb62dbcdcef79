// Image preprocessing (spec §3.1): decode to RGB uint8 → target size from the soft-token budget →
// bicubic antialias resampling (bit-identical to Pillow's Image.resize(..., BICUBIC)) → rescale by
// float32(1/255) → 48×48 patches in raster order with (column, row) positions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace g4ref {

// 8-bit RGB, row-major, channel fastest (HWC): pixel (r, c) channel ch is rgb[(r·width + c)·3 + ch].
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

// What to do with an alpha channel (or a PNG tRNS colour key).
//  drop:            keep the colour channels as stored. This is what both reference pipelines do: the
//                   official JAX code drops alpha, and Hugging Face's load_image and convert_to_rgb call
//                   PIL's convert("RGB"), which discards alpha (only a few older HF models composite).
//  composite_white: PIL's Image.alpha_composite(white, image.convert("RGBA")).convert("RGB"), with PIL's
//                   integer arithmetic — what "convert_to_rgb composites over white" meant in older HF code.
enum class AlphaMode { drop, composite_white };

// Refusals checked from the file header before any pixel is decoded (decompression bombs).
struct DecodeLimits {
  int max_side = 32768;                     // pixels per side
  int64_t max_pixels = 100'000'000;         // width × height
  int64_t max_file_bytes = int64_t(1) << 30;  // the file is read into memory once
};

// An EXIF orientation tag (JPEG APP1, PNG eXIf) turns the decoded pixels upright, as Hugging Face's load_image
// does with PIL's ImageOps.exif_transpose; `ignore` keeps the stored orientation (the official JAX code reads
// pixels as stored).
enum class ExifOrientation { apply, ignore };

// Decodes PNG, JPEG (baseline and progressive), BMP, GIF (first frame), PNM (PPM/PGM) and TGA to RGB.
// Every failure — missing or empty file, unknown format, a declared size over the limits, corrupt or
// truncated data — is a g4ref::Error whose message starts with the path.
RgbImage decode_image(const std::string& path, AlphaMode alpha = AlphaMode::drop, const DecodeLimits& limits = {},
                      ExifOrientation orientation = ExifOrientation::apply);
// The same from bytes already in memory; `name` stands for the file in error messages.
RgbImage decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name,
                            AlphaMode alpha = AlphaMode::drop, const DecodeLimits& limits = {},
                            ExifOrientation orientation = ExifOrientation::apply);

// The EXIF orientation (1–8; 1 = as stored) of a JPEG's APP1 segment or a PNG's eXIf chunk, read with libexif;
// 1 when there is none or it is not a valid value (PIL ignores those too).
int exif_orientation(const std::vector<uint8_t>& bytes);
// PIL's exif_transpose for ORIENTATION: 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise,
// 7 transverse, 8 rotate 90° counter-clockwise.
RgbImage apply_orientation(const RgbImage& image, int orientation);

// One colour channel of PIL's alpha_composite of (c, alpha) over opaque white.
uint8_t composite_over_white(uint8_t c, uint8_t alpha);

// Writes an 8-bit PNG with 1–4 channels (row-major, channel fastest) atomically: a temporary file in the
// same directory, renamed over `path` once complete.
void write_png(const std::string& path, int width, int height, int channels, const uint8_t* pixels);
inline void write_png(const std::string& path, const RgbImage& image) {
  write_png(path, image.width, image.height, 3, image.rgb.data());
}

// Soft-token budgets the model supports (HF `max_soft_tokens`; default 280).
inline constexpr int kImageBudgets[] = {70, 140, 280, 560, 1120};
inline constexpr int kDefaultImageBudget = 280;
// Throws unless `budget` is one of kImageBudgets.
void check_image_budget(int budget);

struct TargetSize {
  int height = 0;
  int width = 0;
  bool operator==(const TargetSize&) const = default;
};

// HF get_aspect_ratio_preserving_size, in double precision and in its order of operations (spec §3.1
// step 3): the largest multiple-of-(pooling·patch) size whose patch count stays within max_patches,
// scaling up as well as down; a side that rounds to 0 becomes one patch row/column. Both sides 0 is an
// error (it cannot happen for max_patches ≥ pooling²).
TargetSize aspect_ratio_preserving_size(int height, int width, int patch_size, int64_t max_patches,
                                        int pooling_kernel_size);
// The same for a supported budget B: max_patches = 9·B teacher patches of 16 px, model patches of 48 px.
TargetSize target_size(int height, int width, int budget);

// Pillow's antialiased bicubic resize of RGB uint8 (Image.resize((out_w, out_h), Image.BICUBIC)), bit for bit.
RgbImage resize_bicubic(const RgbImage& image, int out_h, int out_w);

inline constexpr int kModelPatch = 48;

// The model's patches: the non-overlapping patch×patch blocks of the image in raster order (block row
// major, block column minor). Patch i occupies values[i·patch²·3, (i+1)·patch²·3), flattened HWC
// (index (r·patch + c)·3 + ch), each value float32(u8) × float32(1/255); its position is xy[i] =
// (block column, block row).
struct ImagePatches {
  int n = 0;
  int grid_h = 0;  // block rows
  int grid_w = 0;  // block columns
  int patch = kModelPatch;
  std::vector<float> values;
  std::vector<std::pair<int, int>> xy;
};
// The image's sides must be multiples of `patch`.
ImagePatches patchify(const RgbImage& resized, int patch = kModelPatch);

// float32(1/255) = 0.0039215688593685627, the rescale factor as HF's torchvision path multiplies it.
inline constexpr float kRescale = static_cast<float>(1.0 / 255.0);

struct PreparedImage {
  int orig_h = 0;
  int orig_w = 0;
  TargetSize target;
  bool resampled = false;  // false when the image is already a fixed point of the size rule
  RgbImage resized;
  ImagePatches patches;
  int soft_tokens() const { return patches.n; }
};

// The whole of spec §3.1 for one image file.
PreparedImage prepare_image(const std::string& path, int budget = kDefaultImageBudget,
                            AlphaMode alpha = AlphaMode::drop, const DecodeLimits& limits = {});
// Steps 3–6 for an image already decoded.
PreparedImage prepare_decoded(RgbImage decoded, int budget = kDefaultImageBudget);

}  // namespace g4ref
