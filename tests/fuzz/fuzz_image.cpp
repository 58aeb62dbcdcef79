// Image decode (PNG, JPEG, BMP, GIF, PNM, TGA through stb_image, EXIF orientation through libexif) and the
// preprocessing of spec §3.1 (target size, bicubic resize, patches) at the smallest budget. The first byte picks
// the alpha mode and the budget; the limits are lowered so a legitimate large image stays cheap to fuzz.
#include <vector>

#include "fuzz_util.h"
#include "preprocess/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::vector<uint8_t> bytes(data + 1, data + size);
  g4ref::DecodeLimits limits;
  limits.max_side = 2048;
  limits.max_pixels = 1 << 20;
  const g4ref::AlphaMode alpha = (mode & 1) ? g4ref::AlphaMode::composite_white : g4ref::AlphaMode::drop;
  const g4ref::ExifOrientation orient = (mode & 2) ? g4ref::ExifOrientation::ignore : g4ref::ExifOrientation::apply;
  const int budget = g4ref::kImageBudgets[(mode >> 2) % 2];  // 70 or 140
  g4ref::fuzz::expect_clean([&] {
    g4ref::RgbImage img = g4ref::decode_image_bytes(bytes, "input.img", alpha, limits, orient);
    if (img.rgb.size() != size_t(img.width) * size_t(img.height) * 3) std::abort();
    const g4ref::PreparedImage p = g4ref::prepare_decoded(std::move(img), budget);
    if (p.patches.n > budget) std::abort();
  });
  return 0;
}
