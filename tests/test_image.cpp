// Image preprocessing (spec §3.1): the target-size rule against the spec's worked table and its edge
// cases; resampling against Pillow bit for bit (oracle: Debian's python3-pil through
// tests/oracles/pil_resize.py); decoding and alpha handling against PIL's; the patch layout by hand;
// hostile files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "preprocess/image.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

// ------------------------------------------------------------------------------------------------
// Helpers

// Deterministic on every platform (std::uniform_*_distribution is not).
struct Rng {
  uint64_t s;
  uint32_t next() {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint32_t>(n)); }
};

RgbImage blank(int h, int w, uint8_t v = 0) {
  RgbImage im;
  im.height = h;
  im.width = w;
  im.rgb.assign(size_t(h) * w * 3, v);
  return im;
}

uint8_t* px(RgbImage& im, int r, int c) { return &im.rgb[(size_t(r) * im.width + c) * 3]; }

void fill_rect(RgbImage& im, int r0, int c0, int r1, int c1, const uint8_t rgb[3]) {
  for (int r = std::max(r0, 0); r < std::min(r1, im.height); ++r) {
    for (int c = std::max(c0, 0); c < std::min(c1, im.width); ++c) std::memcpy(px(im, r, c), rgb, 3);
  }
}

// Test images meant to stress a resampler: noise, gradients, hard edges, text-like strokes,
// checkerboards, one-pixel stripes (overshoot, so clipping), smooth waves, isolated impulses.
constexpr int kPatterns = 8;
const char* const kPatternNames[kPatterns] = {"noise", "gradient", "edges", "strokes",
                                              "checker", "stripes", "waves", "impulses"};

RgbImage make_pattern(int kind, int h, int w, uint64_t seed) {
  Rng rng{seed * 1000003 + uint64_t(kind)};
  RgbImage im = blank(h, w);
  switch (kind) {
    case 0:
      for (auto& v : im.rgb) v = static_cast<uint8_t>(rng.next());
      break;
    case 1:
      for (int r = 0; r < h; ++r) {
        for (int c = 0; c < w; ++c) {
          uint8_t* p = px(im, r, c);
          p[0] = static_cast<uint8_t>(w > 1 ? c * 255 / (w - 1) : 128);
          p[1] = static_cast<uint8_t>(h > 1 ? r * 255 / (h - 1) : 64);
          p[2] = static_cast<uint8_t>((r + 2 * c) & 255);
        }
      }
      break;
    case 2: {
      const uint8_t bg[3] = {static_cast<uint8_t>(rng.next()), static_cast<uint8_t>(rng.next()),
                             static_cast<uint8_t>(rng.next())};
      fill_rect(im, 0, 0, h, w, bg);
      for (int i = 0; i < 12; ++i) {
        const uint8_t col[3] = {static_cast<uint8_t>(rng.below(2) * 255), static_cast<uint8_t>(rng.next()),
                                static_cast<uint8_t>(rng.below(2) * 255)};
        const int r0 = rng.below(h), c0 = rng.below(w);
        fill_rect(im, r0, c0, r0 + 1 + rng.below(std::max(1, h / 2)), c0 + 1 + rng.below(std::max(1, w / 2)), col);
      }
      break;
    }
    case 3: {  // dark glyph-like strokes, 1–3 px wide, on white
      const uint8_t white[3] = {255, 255, 255};
      fill_rect(im, 0, 0, h, w, white);
      const int glyphs = std::max(1, h * w / 200);
      for (int g = 0; g < glyphs; ++g) {
        const uint8_t ink[3] = {static_cast<uint8_t>(rng.below(40)), static_cast<uint8_t>(rng.below(40)),
                                static_cast<uint8_t>(rng.below(90))};
        const int r0 = rng.below(h), c0 = rng.below(w), gh = 3 + rng.below(9), gw = 2 + rng.below(7);
        const int t = 1 + rng.below(3);
        if (rng.below(2)) fill_rect(im, r0, c0, r0 + gh, c0 + t, ink);           // vertical stem
        if (rng.below(2)) fill_rect(im, r0, c0, r0 + t, c0 + gw, ink);           // top bar
        if (rng.below(2)) fill_rect(im, r0 + gh / 2, c0, r0 + gh / 2 + t, c0 + gw, ink);  // middle bar
        if (rng.below(2)) fill_rect(im, r0, c0 + gw, r0 + gh, c0 + gw + t, ink);  // second stem
      }
      break;
    }
    case 4: {
      static constexpr int cells[] = {1, 2, 3, 5, 8, 13};
      const int cell = cells[rng.below(6)];
      for (int r = 0; r < h; ++r) {
        for (int c = 0; c < w; ++c) {
          const bool on = ((r / cell) + (c / cell)) & 1;
          uint8_t* p = px(im, r, c);
          p[0] = on ? 255 : 0;
          p[1] = on ? 200 : 30;
          p[2] = on ? 0 : 255;
        }
      }
      break;
    }
    case 5:
      for (int r = 0; r < h; ++r) {
        for (int c = 0; c < w; ++c) {
          uint8_t* p = px(im, r, c);
          p[0] = (c & 1) ? 255 : 0;
          p[1] = (r & 1) ? 255 : 0;
          p[2] = ((r + c) & 1) ? 255 : 0;
        }
      }
      break;
    case 6:
      for (int r = 0; r < h; ++r) {
        for (int c = 0; c < w; ++c) {
          uint8_t* p = px(im, r, c);
          p[0] = static_cast<uint8_t>(127.5 + 127.5 * std::sin(0.05 * c + 0.02 * r));
          p[1] = static_cast<uint8_t>(127.5 + 127.5 * std::cos(0.031 * r));
          p[2] = static_cast<uint8_t>(127.5 + 127.5 * std::sin(0.013 * (r + c)));
        }
      }
      break;
    default:
      for (int i = 0; i < std::max(1, h * w / 50); ++i) {
        uint8_t* p = px(im, rng.below(h), rng.below(w));
        p[0] = p[1] = p[2] = 255;
      }
      break;
  }
  return im;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Debian's Python with Pillow and NumPy (the oracle's interpreter), or "" when it cannot import them.
std::string pil_python() {
  std::string out;
  if (testing::run_command("/usr/bin/python3 -c 'import PIL.Image, numpy' 2>/dev/null && echo ok", &out) == 0 &&
      out.find("ok") != std::string::npos) {
    return "/usr/bin/python3";
  }
  return "";
}

// Runs the Pillow oracle on a manifest (see the script's docstring); fails the test on error.
bool run_pil(const std::string& manifest) {
  std::string out;
  const std::string cmd = pil_python() + " " G4REF_SOURCE_DIR "/tests/oracles/pil_resize.py " + manifest + " 2>&1";
  const int rc = testing::run_command(cmd, &out);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  return rc == 0;
}

struct PixelDiff {
  int64_t pixels = 0;  // pixels with any channel different
  int max_abs = 0;
  std::string first;  // where the first difference is
};

PixelDiff compare(const RgbImage& ours, const std::vector<uint8_t>& theirs) {
  PixelDiff d;
  if (theirs.size() != ours.rgb.size()) {
    d.pixels = int64_t(ours.width) * ours.height;
    d.first = "size: ours " + std::to_string(ours.rgb.size()) + " bytes, Pillow's " + std::to_string(theirs.size());
    return d;
  }
  for (size_t i = 0; i < ours.rgb.size(); i += 3) {
    int m = 0;
    for (int ch = 0; ch < 3; ++ch) m = std::max(m, std::abs(int(ours.rgb[i + ch]) - int(theirs[i + ch])));
    if (m) {
      if (!d.pixels) {
        const size_t p = i / 3;
        d.first = "pixel (row " + std::to_string(p / ours.width) + ", column " + std::to_string(p % ours.width) +
                  "): ours " + std::to_string(ours.rgb[i]) + "," + std::to_string(ours.rgb[i + 1]) + "," +
                  std::to_string(ours.rgb[i + 2]) + " Pillow " + std::to_string(theirs[i]) + "," +
                  std::to_string(theirs[i + 1]) + "," + std::to_string(theirs[i + 2]);
      }
      ++d.pixels;
      d.max_abs = std::max(d.max_abs, m);
    }
  }
  return d;
}

// ------------------------------------------------------------------------------------------------
// Target size (spec §3.1 step 3)

TEST(ImageTargetSize, WorkedTableOfTheSpec) {
  struct Row {
    int h, w;
    int out[5][3];  // per budget 70, 140, 280, 560, 1120: Th, Tw, tokens
  };
  const Row table[] = {
      {480, 640, {{336, 432, 63}, {480, 624, 130}, {672, 912, 266}, {960, 1296, 540}, {1344, 1824, 1064}}},
      {1000, 1000, {{384, 384, 64}, {528, 528, 121}, {768, 768, 256}, {1104, 1104, 529}, {1584, 1584, 1089}}},
      {1080, 1920, {{288, 528, 66}, {384, 720, 120}, {576, 1056, 264}, {816, 1488, 527}, {1200, 2112, 1100}}},
      {100, 2000, {{48, 1776, 37}, {96, 2496, 104}, {144, 3552, 222}, {240, 5040, 525}, {336, 7152, 1043}}},
  };
  int cells = 0;
  for (const Row& row : table) {
    for (int b = 0; b < 5; ++b) {
      const int budget = kImageBudgets[b];
      const TargetSize t = target_size(row.h, row.w, budget);
      EXPECT_EQ(t.height, row.out[b][0]) << row.h << "×" << row.w << " at " << budget;
      EXPECT_EQ(t.width, row.out[b][1]) << row.h << "×" << row.w << " at " << budget;
      EXPECT_EQ((t.height / 48) * (t.width / 48), row.out[b][2]) << row.h << "×" << row.w << " at " << budget;
      ++cells;
    }
  }
  EXPECT_EQ(cells, 20);
}

TEST(ImageTargetSize, EdgeCases) {
  // A side that rounds to 0 becomes one row (column) of patches; the other side is the aspect ratio in
  // patches, at most B of them. (Rounding to 0 means factor·H < 48, i.e. W/H > B, so the cap always binds.)
  EXPECT_EQ(target_size(1, 5000, 280), (TargetSize{48, 13440}));
  EXPECT_EQ(target_size(5000, 1, 280), (TargetSize{13440, 48}));
  EXPECT_EQ(target_size(1, 5000, 70), (TargetSize{48, 3360}));
  EXPECT_EQ(target_size(5000, 1, 1120), (TargetSize{53760, 48}));
  EXPECT_EQ(target_size(2, 700, 280), (TargetSize{48, 13440}));
  EXPECT_EQ(target_size(3, 700, 280), (TargetSize{48, 12240}));  // 52.6 px high: one row without the edge case
  EXPECT_EQ(target_size(1, 280, 280), (TargetSize{48, 13440}));  // factor exactly 48
  EXPECT_EQ(target_size(10, 10000, 280), (TargetSize{48, 13440}));
  // Tiny images are scaled up to the budget, like squares of any size.
  EXPECT_EQ(target_size(1, 1, 70), (TargetSize{384, 384}));
  EXPECT_EQ(target_size(1, 1, 280), (TargetSize{768, 768}));
  EXPECT_EQ(target_size(1, 1, 1120), (TargetSize{1584, 1584}));
  EXPECT_EQ(target_size(224, 224, 280), (TargetSize{768, 768}));  // the spec's example of upscaling
  // Fixed points: no resampling.
  EXPECT_EQ(target_size(672, 960, 280), (TargetSize{672, 960}));
  EXPECT_EQ(target_size(480, 672, 140), (TargetSize{480, 672}));
  // Multiples of 48 within the budget are not enough (spec §3.1 step 4): 96×144 is resized at every budget.
  for (int b : kImageBudgets) EXPECT_NE(target_size(96, 144, b), (TargetSize{96, 144})) << b;

  // Both sides 0 cannot happen for max_patches ≥ 9 (the area would be below one patch); HF raises.
  EXPECT_THROW(aspect_ratio_preserving_size(100, 100, 16, 0, 3), Error);
  for (int bad : {0, -1, 100, 281, 2240}) {
    try {
      target_size(100, 100, bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("70, 140, 280, 560, 1120"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(target_size(0, 100, 280), Error);
  EXPECT_THROW(target_size(100, -5, 280), Error);
}

TEST(ImageTargetSize, AlwaysWholePatchesWithinTheBudget) {
  Rng rng{7};
  for (int i = 0; i < 20000; ++i) {
    const int h = 1 + rng.below(i % 3 ? 4000 : 60), w = 1 + rng.below(i % 5 ? 4000 : 60);
    const int b = kImageBudgets[rng.below(5)];
    const TargetSize t = target_size(h, w, b);
    ASSERT_GT(t.height, 0);
    ASSERT_GT(t.width, 0);
    ASSERT_EQ(t.height % 48, 0) << h << "×" << w;
    ASSERT_EQ(t.width % 48, 0) << h << "×" << w;
    ASSERT_LE((t.height / 48) * (t.width / 48), b) << h << "×" << w << " at " << b;
  }
}

// ------------------------------------------------------------------------------------------------
// Resampling without the oracle

TEST(ImageResize, SameSizeIsACopyAndConstantsStayConstant) {
  const RgbImage noise = make_pattern(0, 37, 53, 1);
  EXPECT_EQ(resize_bicubic(noise, 37, 53).rgb, noise.rgb);
  // Normalised weights sum to 1 within 2^-22 per tap, far too little to move a constant by one level.
  for (uint8_t v : {0, 1, 127, 254, 255}) {
    const RgbImage flat = blank(31, 17, v);
    for (auto [h, w] : {std::pair{5, 3}, {100, 70}, {31, 40}, {7, 17}, {1, 1}}) {
      const RgbImage out = resize_bicubic(flat, h, w);
      ASSERT_EQ(out.height, h);
      ASSERT_EQ(out.width, w);
      EXPECT_TRUE(std::all_of(out.rgb.begin(), out.rgb.end(), [v](uint8_t x) { return x == v; }))
          << int(v) << " to " << h << "×" << w;
    }
  }
  EXPECT_THROW(resize_bicubic(noise, 0, 5), Error);
  EXPECT_THROW(resize_bicubic(RgbImage{}, 5, 5), Error);
}

// ------------------------------------------------------------------------------------------------
// Resampling against Pillow

class ImagePillow : public ::testing::Test {
 protected:
  void SetUp() override {
    if (pil_python().empty()) {
      GTEST_SKIP() << "/usr/bin/python3 cannot import PIL and numpy (Debian's python3-pil, python3-numpy; run setup.sh)";
    }
  }
};

// What it proves: resize_bicubic computes, bit for bit, Pillow's Image.resize(BICUBIC) — the kernel, the
// antialiasing support, the tap bounds, the 22-bit fixed-point weights, the rounding and clipping and
// the pass order — over down- and up-scaling, one-axis resizes, extreme aspect ratios and the sizes the
// §3.1 rule produces at every budget.
TEST_F(ImagePillow, ResizeIsBitIdenticalToPillow) {
  testing::TempDir dir("image_oracle");
  struct Job {
    std::string input;
    RgbImage source;
    int out_h, out_w;
    std::string label;
  };
  std::vector<Job> jobs;
  int pattern = 0;
  auto add_input = [&](int h, int w) {
    const int kind = pattern++ % kPatterns;
    const std::string path = dir / ("in_" + std::to_string(jobs.size()) + ".png");
    RgbImage im = make_pattern(kind, h, w, uint64_t(h) * 7919 + w);
    write_png(path, im);
    return std::make_tuple(path, std::move(im), std::string(kPatternNames[kind]));
  };
  // Sizes mapped by the §3.1 rule, each input at every budget.
  const std::pair<int, int> rule_inputs[] = {{1, 1},     {1, 5000},  {5000, 1},  {3, 700},   {700, 3},
                                             {17, 23},   {48, 48},   {96, 144},  {100, 2000}, {2000, 100},
                                             {224, 224}, {333, 517}, {480, 640}, {600, 401}, {37, 1500},
                                             {1080, 1920}, {1000, 1000}, {761, 389}};
  for (auto [h, w] : rule_inputs) {
    auto [path, im, name] = add_input(h, w);
    for (int b : kImageBudgets) {
      const TargetSize t = target_size(h, w, b);
      jobs.push_back({path, im, t.height, t.width,
                      name + " " + std::to_string(h) + "×" + std::to_string(w) + " at B=" + std::to_string(b)});
    }
  }
  // Arbitrary sizes: non-integer shrink and enlarge factors, one axis only, to and from one pixel.
  const int free_sizes[][4] = {{300, 400, 97, 131}, {300, 400, 150, 200}, {300, 400, 299, 401}, {5, 7, 300, 420},
                               {2, 2, 1, 1},        {1000, 1000, 1, 1},   {1, 1000, 1, 10},     {1000, 1, 10, 1},
                               {100, 200, 100, 77}, {200, 100, 77, 100},  {64, 64, 64, 65},     {64, 64, 63, 64},
                               {129, 257, 48, 96},  {720, 1280, 144, 240}, {50, 50, 733, 733},  {7, 300, 480, 48},
                               {333, 1, 1, 333},    {2048, 37, 96, 48},    {99, 101, 101, 99},  {640, 480, 480, 640}};
  for (const auto& s : free_sizes) {
    auto [path, im, name] = add_input(s[0], s[1]);
    jobs.push_back({path, std::move(im), s[2], s[3],
                    name + " " + std::to_string(s[0]) + "×" + std::to_string(s[1]) + " to " + std::to_string(s[2]) +
                        "×" + std::to_string(s[3])});
  }

  const std::string manifest = dir / "manifest.tsv";
  {
    std::ofstream m(manifest);
    for (size_t i = 0; i < jobs.size(); ++i) {
      m << "resize\t" << jobs[i].input << "\t" << jobs[i].out_w << "\t" << jobs[i].out_h << "\t"
        << (dir / ("out_" + std::to_string(i) + ".rgb")) << "\n";
    }
  }
  ASSERT_TRUE(run_pil(manifest));

  int64_t differing = 0, total = 0;
  int images_differing = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const RgbImage ours = resize_bicubic(jobs[i].source, jobs[i].out_h, jobs[i].out_w);
    ASSERT_EQ(ours.height, jobs[i].out_h);
    ASSERT_EQ(ours.width, jobs[i].out_w);
    const PixelDiff d = compare(ours, read_bytes(dir / ("out_" + std::to_string(i) + ".rgb")));
    total += int64_t(ours.width) * ours.height;
    if (d.pixels) {
      ++images_differing;
      differing += d.pixels;
      ADD_FAILURE() << jobs[i].label << ": " << d.pixels << " pixels differ (max " << d.max_abs << "), first at "
                    << d.first;
    }
  }
  std::cout << "[ oracle ] " << jobs.size() << " images, " << differing << " differing pixels (of " << total
            << ", in " << images_differing << " images) vs Pillow\n";
  EXPECT_GE(jobs.size(), 100u);
  EXPECT_EQ(differing, 0);
}

// What it proves: decode_image gives PIL's RGB pixels for the formats PIL writes (its convert("RGB"),
// which is HF's load_image), in both alpha modes; JPEG is measured, not required equal (stb_image and
// libjpeg-turbo round their IDCT and colour conversion differently).
TEST_F(ImagePillow, DecodingMatchesPillow) {
  testing::TempDir dir("image_decode");
  // A colourful base with an alpha ramp, written by us; PIL re-encodes it in each format and mode.
  RgbImage base = make_pattern(1, 47, 61, 3);
  const RgbImage noise = make_pattern(0, 47, 61, 4);
  for (size_t i = 0; i < base.rgb.size(); i += 7) base.rgb[i] = noise.rgb[i];
  std::vector<uint8_t> rgba(size_t(47) * 61 * 4);
  for (int i = 0; i < 47 * 61; ++i) {
    std::memcpy(&rgba[4 * i], &base.rgb[3 * i], 3);
    rgba[4 * i + 3] = static_cast<uint8_t>((i * 37) % 256);
  }
  const std::string src = dir / "base.png";
  write_png(src, 61, 47, 4, rgba.data());

  const char* variants[] = {"png-rgb", "png-rgba", "png-l", "png-la", "png-p", "png-p-trns", "png-rgb-trns",
                            "png-i16", "png-rgb16", "bmp-rgb", "bmp-p", "tga-rgb", "tga-rgba", "tga-rle", "ppm",
                            "pgm", "gif", "jpeg-420", "jpeg-444", "jpeg-gray", "jpeg-progressive"};
  std::ofstream m(dir / "manifest.tsv");
  for (const char* v : variants) m << "save\t" << src << "\t" << v << "\t" << (dir / v) << "\n";
  for (const char* v : variants) {
    m << "decode\t" << (dir / v) << "\tdrop\t" << (dir / (std::string(v) + ".drop")) << "\n";
    m << "decode\t" << (dir / v) << "\tcomposite\t" << (dir / (std::string(v) + ".comp")) << "\n";
  }
  m.close();
  ASSERT_TRUE(run_pil(dir / "manifest.tsv"));

  for (const char* v : variants) {
    const bool jpeg = std::string(v).rfind("jpeg", 0) == 0;
    for (auto [mode, ext] : {std::pair{AlphaMode::drop, ".drop"}, {AlphaMode::composite_white, ".comp"}}) {
      const RgbImage ours = decode_image(dir / v, mode);
      const PixelDiff d = compare(ours, read_bytes(dir / (std::string(v) + ext)));
      if (jpeg) {
        std::cout << "[ oracle ] " << v << ext << ": " << d.pixels << " of " << 47 * 61
                  << " pixels differ from PIL (max " << d.max_abs << " levels)\n";
        EXPECT_LE(d.max_abs, 8) << v << ext << ": " << d.first;
      } else {
        EXPECT_EQ(d.pixels, 0) << v << ext << ": " << d.first;
      }
    }
  }

  // Truncated files of the formats stb would otherwise decode "successfully" into black.
  for (const char* v : {"bmp-rgb", "tga-rgb", "ppm", "gif", "jpeg-420", "png-rgb"}) {
    std::vector<uint8_t> bytes = read_bytes(dir / v);
    bytes.resize(bytes.size() * 2 / 3);
    const std::string cut = dir / (std::string(v) + ".cut");
    write_bytes(cut, bytes);
    try {
      decode_image(cut);
      ADD_FAILURE() << v << ": a truncated file decoded without error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(cut, 0), 0u) << e.what();
    }
  }
}

// What it proves: composite_white is PIL's alpha_composite over white, for every (colour, alpha) pair,
// and drop is PIL's convert("RGB").
TEST_F(ImagePillow, AlphaMatchesPillowForEveryColourAndAlpha) {
  testing::TempDir dir("image_alpha");
  std::vector<uint8_t> rgba(size_t(256) * 256 * 4);
  for (int a = 0; a < 256; ++a) {
    for (int c = 0; c < 256; ++c) {
      uint8_t* p = &rgba[(size_t(a) * 256 + c) * 4];
      p[0] = static_cast<uint8_t>(c);
      p[1] = static_cast<uint8_t>(255 - c);
      p[2] = static_cast<uint8_t>((c * 7) & 255);
      p[3] = static_cast<uint8_t>(a);
    }
  }
  const std::string path = dir / "alpha.png";
  write_png(path, 256, 256, 4, rgba.data());
  {
    std::ofstream m(dir / "manifest.tsv");
    m << "decode\t" << path << "\tcomposite\t" << (dir / "comp.rgb") << "\n";
    m << "decode\t" << path << "\tdrop\t" << (dir / "drop.rgb") << "\n";
  }
  ASSERT_TRUE(run_pil(dir / "manifest.tsv"));
  const PixelDiff comp = compare(decode_image(path, AlphaMode::composite_white), read_bytes(dir / "comp.rgb"));
  const PixelDiff drop = compare(decode_image(path, AlphaMode::drop), read_bytes(dir / "drop.rgb"));
  std::cout << "[ oracle ] alpha 256×256 (colour, alpha) pairs: composite " << comp.pixels << ", drop " << drop.pixels
            << " differing pixels vs PIL\n";
  EXPECT_EQ(comp.pixels, 0) << comp.first;
  EXPECT_EQ(drop.pixels, 0) << drop.first;
}

// ------------------------------------------------------------------------------------------------
// Alpha by hand, patches, the pipeline

TEST(ImageAlpha, CompositeOverWhiteByHand) {
  for (int c = 0; c < 256; ++c) {
    EXPECT_EQ(composite_over_white(uint8_t(c), 255), c);    // opaque: unchanged
    EXPECT_EQ(composite_over_white(uint8_t(c), 0), 255);    // transparent: the white background
  }
  EXPECT_EQ(composite_over_white(0, 128), 127);    // (0·128 + 255·127) / 255 = 127
  EXPECT_EQ(composite_over_white(100, 51), 224);   // (100·51 + 255·204) / 255 = 224.0
  for (int c = 0; c < 256; ++c) {
    for (int a = 0; a < 256; ++a) {  // never further than one level from the exact blend
      const double exact = (c * a + 255.0 * (255 - a)) / 255.0;
      ASSERT_LE(std::abs(composite_over_white(uint8_t(c), uint8_t(a)) - exact), 1.0) << c << " " << a;
    }
  }
}

TEST(ImagePatches, LayoutByHand) {
  // 48 rows × 96 columns: two patches side by side.
  RgbImage im = blank(48, 96);
  auto value = [](int r, int c, int ch) { return static_cast<uint8_t>(ch == 0 ? (r * 7 + c * 3) % 256 : ch == 1 ? (c + 100) % 256 : r); };
  for (int r = 0; r < 48; ++r) {
    for (int c = 0; c < 96; ++c) {
      for (int ch = 0; ch < 3; ++ch) px(im, r, c)[ch] = value(r, c, ch);
    }
  }
  const ImagePatches p = patchify(im);
  ASSERT_EQ(p.n, 2);
  EXPECT_EQ(p.grid_h, 1);
  EXPECT_EQ(p.grid_w, 2);
  ASSERT_EQ(p.values.size(), 2u * 6912);
  EXPECT_EQ(p.xy, (std::vector<std::pair<int, int>>{{0, 0}, {1, 0}}));
  for (int patch = 0; patch < 2; ++patch) {
    for (int r = 0; r < 48; ++r) {
      for (int c = 0; c < 48; ++c) {
        for (int ch = 0; ch < 3; ++ch) {
          const float want = static_cast<float>(value(r, patch * 48 + c, ch)) * 0.0039215688593685627f;
          ASSERT_EQ(p.values[size_t(patch) * 6912 + (r * 48 + c) * 3 + ch], want) << patch << " " << r << " " << c;
        }
      }
    }
  }
  EXPECT_EQ(kRescale, 0.0039215688593685627f);
  EXPECT_EQ(255.0f * kRescale, 1.0f);

  // 96 rows × 48 columns: one column of two patches, positions (column, row).
  const ImagePatches tall = patchify(blank(96, 48, 9));
  EXPECT_EQ(tall.xy, (std::vector<std::pair<int, int>>{{0, 0}, {0, 1}}));
  // 3 × 2 blocks: raster order, row of blocks major.
  const ImagePatches grid = patchify(blank(96, 144));
  EXPECT_EQ(grid.xy, (std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}}));
  EXPECT_THROW(patchify(blank(50, 48)), Error);
}

// What it proves: patch values are what HF's torchvision path computes, uint8 tensor × (1/255) in
// PyTorch (float32 × float32, one rounding), for all 256 byte values (spec §3.1 step 5).
TEST(ImagePatches, RescaleIsPyTorchs) {
  if (testing::torch_python().empty()) GTEST_SKIP() << "Debian's python3-torch is not installed (run setup.sh)";
  std::string out;
  const std::string cmd = testing::torch_python() +
                          " -c 'import torch; v = torch.arange(256, dtype=torch.uint8) * (1 / 255);"
                          " print(v.dtype); print(\" \".join(str(x) for x in v.view(torch.int32).tolist()))'";
  ASSERT_EQ(testing::run_command(cmd, &out), 0) << cmd << "\n" << out;
  std::istringstream in(out);
  std::string dtype;
  in >> dtype;
  EXPECT_EQ(dtype, "torch.float32");
  RgbImage im = blank(48, 48);
  for (int i = 0; i < 256; ++i) im.rgb[size_t(i)] = static_cast<uint8_t>(i);
  const ImagePatches p = patchify(im);
  int differ = 0;
  for (int i = 0; i < 256; ++i) {
    int32_t bits = 0;
    in >> bits;
    float theirs;
    std::memcpy(&theirs, &bits, 4);
    if (p.values[size_t(i)] != theirs) ++differ;
  }
  ASSERT_FALSE(in.fail()) << out;
  std::cout << "[ oracle ] rescale: " << differ << " of 256 byte values differ from PyTorch\n";
  EXPECT_EQ(differ, 0);
}

TEST(ImagePipeline, FixedPointIsNotResampled) {
  testing::TempDir dir("image_pipeline");
  const RgbImage im = make_pattern(0, 480, 672, 11);
  const std::string path = dir / "fixed.png";
  write_png(path, im);
  const PreparedImage p = prepare_image(path, 140);
  EXPECT_EQ(p.orig_h, 480);
  EXPECT_EQ(p.orig_w, 672);
  EXPECT_EQ(p.target, (TargetSize{480, 672}));
  EXPECT_FALSE(p.resampled);
  EXPECT_EQ(p.resized.rgb, im.rgb);
  EXPECT_EQ(p.soft_tokens(), 140);
  EXPECT_EQ(p.patches.grid_h, 10);
  EXPECT_EQ(p.patches.grid_w, 14);
  // Block (row 3, column 5), pixel (r 7, c 11), green.
  const size_t i = size_t(3 * 14 + 5) * 6912 + (7 * 48 + 11) * 3 + 1;
  EXPECT_EQ(p.patches.values[i], float(im.rgb[((3 * 48 + 7) * 672 + 5 * 48 + 11) * 3 + 1]) * kRescale);
  EXPECT_EQ(p.patches.xy[3 * 14 + 5], (std::pair<int, int>{5, 3}));

  const PreparedImage up = prepare_decoded(make_pattern(1, 224, 224, 2), 280);
  EXPECT_TRUE(up.resampled);
  EXPECT_EQ(up.target, (TargetSize{768, 768}));
  EXPECT_EQ(up.soft_tokens(), 256);
  EXPECT_THROW(prepare_image(path, 100), Error);
}

// ------------------------------------------------------------------------------------------------
// Hostile files: each error names the file and the problem.

void expect_decode_error(const std::string& path, const std::string& problem, const DecodeLimits& limits = {}) {
  try {
    decode_image(path, AlphaMode::drop, limits);
    ADD_FAILURE() << path << " decoded without error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(problem), std::string::npos) << "expected \"" << problem << "\" in: " << msg;
  }
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}
void put_le32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 0; s < 32; s += 8) v.push_back(static_cast<uint8_t>(x >> s));
}
void put_le16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x));
  v.push_back(static_cast<uint8_t>(x >> 8));
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A PNG that declares w×h (colour type: 0 grey, 2 RGB) and carries almost no data.
std::vector<uint8_t> png_header_only(uint32_t w, uint32_t h, uint8_t colour_type) {
  std::vector<uint8_t> v = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&v](const char* type, const std::vector<uint8_t>& data) {
    put_be32(v, static_cast<uint32_t>(data.size()));
    const size_t start = v.size();
    v.insert(v.end(), type, type + 4);
    v.insert(v.end(), data.begin(), data.end());
    put_be32(v, crc32(&v[start], v.size() - start));
  };
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr.insert(ihdr.end(), {8, colour_type, 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});  // an empty zlib stream
  chunk("IEND", {});
  return v;
}

// A 24-bit BMP that declares w×h; `pixel_bytes` bytes of pixel data follow the header.
std::vector<uint8_t> bmp(int32_t w, int32_t h, size_t pixel_bytes) {
  std::vector<uint8_t> v = {'B', 'M'};
  put_le32(v, static_cast<uint32_t>(54 + pixel_bytes));
  put_le32(v, 0);
  put_le32(v, 54);
  put_le32(v, 40);
  put_le32(v, static_cast<uint32_t>(w));
  put_le32(v, static_cast<uint32_t>(h));
  put_le16(v, 1);
  put_le16(v, 24);
  for (int i = 0; i < 6; ++i) put_le32(v, 0);
  for (size_t i = 0; i < pixel_bytes; ++i) v.push_back(static_cast<uint8_t>(i * 13));
  return v;
}

TEST(ImageDecode, HostileFilesGiveClearErrors) {
  testing::TempDir dir("image_hostile");
  const std::string empty = dir / "empty.png";
  write_bytes(empty, {});
  expect_decode_error(empty, "empty file");

  Rng rng{99};
  std::vector<uint8_t> junk(4096);
  for (auto& b : junk) b = static_cast<uint8_t>(rng.next());
  const std::string random = dir / "random.jpg";
  write_bytes(random, junk);
  expect_decode_error(random, "not a readable PNG, JPEG, BMP, GIF, PNM or TGA image");

  const std::string text = dir / "notes.png";
  write_bytes(text, std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o', ',', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  expect_decode_error(text, "not a readable");

  const std::string signature = dir / "signature.png";
  write_bytes(signature, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
  expect_decode_error(signature, "not a readable");

  expect_decode_error(dir / "missing.png", "no such file");
  expect_decode_error(dir.str(), "not a regular file");

  // Decompression bombs: refused from the header, before any pixel buffer exists.
  const std::string huge_bmp = dir / "huge.bmp";
  write_bytes(huge_bmp, bmp(100000, 100000, 64));
  expect_decode_error(huge_bmp, "100000×100000 (width×height) exceeds the limit of 32768 pixels per side");
  const std::string huge_png = dir / "huge.png";
  write_bytes(huge_png, png_header_only(100000, 100000, 2));
  expect_decode_error(huge_png, "100000×100000 (width×height) exceeds the limit of 32768 pixels per side");
  const std::string many_png = dir / "many.png";  // 30000×30000 grey: within stb's own limit, over ours
  write_bytes(many_png, png_header_only(30000, 30000, 0));
  expect_decode_error(many_png, "900000000 pixels exceeds the limit of 100000000");
  const std::string small = dir / "small.png";
  write_png(small, make_pattern(0, 100, 80, 5));
  expect_decode_error(small, "exceeds the limit of 50 pixels per side", DecodeLimits{50, 1000000, 1 << 20});
  expect_decode_error(small, "exceeds the limit of 1000", DecodeLimits{1000, 1000, 1 << 20});

  // Inputs the bundled stb_image mishandles: a JPEG Huffman table with more than 256 codes (it would
  // write past its tables) and PNM samples other than 8-bit.
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x13, 0x00};
  for (int i = 0; i < 16; ++i) jpeg.push_back(0x20);  // 16 × 32 = 512 codes
  jpeg.resize(jpeg.size() + 600, 0x01);
  const std::string bad_dht = dir / "dht.jpg";
  write_bytes(bad_dht, jpeg);
  expect_decode_error(bad_dht, "Huffman table at byte 2 declares more than 256 codes");
  const std::string pnm16 = dir / "deep.ppm";
  std::vector<uint8_t> ppm = {'P', '6', '\n', '2', ' ', '2', '\n', '6', '5', '5', '3', '5', '\n'};
  ppm.resize(ppm.size() + 24, 0x80);
  write_bytes(pnm16, ppm);
  expect_decode_error(pnm16, "PNM with maxval 65535 is not supported");

  // Truncated data.
  std::vector<uint8_t> png = read_bytes(small);
  png.resize(png.size() / 2);
  const std::string cut_png = dir / "cut.png";
  write_bytes(cut_png, png);
  expect_decode_error(cut_png, "truncated or corrupt PNG: chunk 'IDAT' at byte 33");  // its data ends inside the IDAT
  const std::string cut_bmp = dir / "cut.bmp";
  write_bytes(cut_bmp, bmp(64, 64, 64 * 3 * 20));  // 20 of 64 rows
  expect_decode_error(cut_bmp, "truncated");
  const std::string whole_bmp = dir / "whole.bmp";
  write_bytes(whole_bmp, bmp(64, 64, 64 * 3 * 64));
  EXPECT_EQ(decode_image(whole_bmp).width, 64);
}

// The start-of-scan segments of a JPEG: the offset of each 0xFF 0xDA marker and its Ss (first coefficient). An
// independent walk of the segments (ITU T.81 B.1: marker, length, payload; entropy-coded data after each scan).
std::vector<std::pair<size_t, int>> jpeg_scans(const std::vector<uint8_t>& b) {
  std::vector<std::pair<size_t, int>> scans;
  size_t i = 2;
  while (i + 3 < b.size() && b[i] == 0xFF && b[i + 1] != 0xD9) {
    const size_t length = (size_t(b[i + 2]) << 8) | b[i + 3];
    if (b[i + 1] == 0xDA) scans.push_back({i, b[i + 5 + 2 * b[i + 4]]});
    const bool scan = b[i + 1] == 0xDA;
    i += 2 + length;
    while (scan && i + 1 < b.size() && !(b[i] == 0xFF && b[i + 1] != 0 && (b[i + 1] < 0xD0 || b[i + 1] > 0xD7))) ++i;
  }
  return scans;
}

// A 56×40 pattern of KIND (make_pattern) saved by Pillow as DIR/jpeg-420 (sequential, 4:2:0) and
// DIR/jpeg-progressive.
bool save_pil_jpegs(const testing::TempDir& dir, int kind) {
  const std::string src = dir / "base.png";
  write_png(src, make_pattern(kind, 40, 56, 3));
  {
    std::ofstream m(dir / "save.tsv");
    for (const char* v : {"jpeg-420", "jpeg-progressive"}) m << "save\t" << src << "\t" << v << "\t" << (dir / v) << "\n";
  }
  return run_pil(dir / "save.tsv");
}

// What it proves: a JPEG scan that decodes with a Huffman table no DHT segment defined is refused, naming the scan
// and the table, as Pillow (libjpeg-turbo) refuses it; before, stb_image decoded it with whatever its malloc'd
// tables held (the fuzz finding of tests/fuzz/regressions/fuzz_image). The one case where Pillow decodes and g4ref
// refuses is pinned too: a sequential JPEG with no DHT at all, for which libjpeg-turbo substitutes the standard
// tables of T.81 Annex K (Motion-JPEG frames).
TEST_F(ImagePillow, JpegScanWithAnUndefinedHuffmanTableIsRefusedLikePillow) {
  testing::TempDir dir("image_jpeg_tables");
  ASSERT_TRUE(save_pil_jpegs(dir, 1));

  struct Case {
    std::string file, problem;
  };
  std::vector<Case> cases;
  for (const char* v : {"jpeg-420", "jpeg-progressive"}) {
    std::vector<uint8_t> b = read_bytes(dir / v);
    ASSERT_NO_THROW(decode_image(dir / v)) << v;
    const auto scans = jpeg_scans(b);
    ASSERT_FALSE(scans.empty()) << v;
    // The first scan that decodes AC coefficients (every scan of a sequential JPEG, Ss > 0 in a progressive one):
    // its first component's AC table selector (the low nibble) becomes 3, which PIL's files never define.
    size_t at = 0;
    for (auto [offset, ss] : scans) {
      if (std::string(v) == "jpeg-420" || ss > 0) {
        at = offset;
        break;
      }
    }
    ASSERT_NE(at, 0u) << v;
    b[at + 6] = static_cast<uint8_t>((b[at + 6] & 0xF0) | 3);
    const std::string bad = dir / (std::string(v) + "-ac3.jpg");
    write_bytes(bad, b);
    cases.push_back({bad, "corrupt JPEG: the scan at byte " + std::to_string(at) +
                              " decodes with AC Huffman table 3, which no DHT segment before it defines"});
  }
  // Every DHT segment of the sequential file left out: its first scan decodes with DC table 0, now undefined.
  const std::vector<uint8_t> seq = read_bytes(dir / "jpeg-420");
  std::vector<uint8_t> no_dht(seq.begin(), seq.begin() + 2);
  size_t i = 2, first_scan = 0;
  while (i + 3 < seq.size() && seq[i + 1] != 0xDA) {
    const size_t length = (size_t(seq[i + 2]) << 8) | seq[i + 3];
    if (seq[i + 1] != 0xC4) no_dht.insert(no_dht.end(), seq.begin() + i, seq.begin() + i + 2 + length);
    i += 2 + length;
  }
  first_scan = no_dht.size();
  no_dht.insert(no_dht.end(), seq.begin() + i, seq.end());
  const std::string bare = dir / "no-dht.jpg";
  write_bytes(bare, no_dht);

  std::ofstream m(dir / "probe.tsv");
  for (const Case& c : cases) m << "probe\t" << c.file << "\t" << c.file << ".pil\n";
  m << "probe\t" << bare << "\t" << bare << ".pil\n";
  m.close();
  ASSERT_TRUE(run_pil(dir / "probe.tsv"));
  for (const Case& c : cases) {
    expect_decode_error(c.file, c.problem);
    const std::vector<uint8_t> pil = read_bytes(c.file + ".pil");
    EXPECT_EQ(std::string(pil.begin(), pil.end()).rfind("refused: ", 0), 0u) << c.file;
  }
  expect_decode_error(bare, "corrupt JPEG: the scan at byte " + std::to_string(first_scan) +
                                " decodes with DC Huffman table 0, which no DHT segment before it defines");
  const std::vector<uint8_t> pil = read_bytes(bare + ".pil");
  EXPECT_EQ(std::string(pil.begin(), pil.end()), "decoded 56 40\n") << "libjpeg-turbo's Annex K substitution";
}

// What it proves: a JPEG whose last scan is followed by a marker that cannot follow a scan (0xF9 where the end of
// image belongs) is refused before stb decodes the scan, naming the scan and the marker, and Pillow refuses the same
// files; bytes that are not a marker between segments before the frame are skipped as stb skips them, so such a file
// decodes to the pixels of the file without them, and Pillow decodes it too (the fuzz finding of
// tests/fuzz/regressions/fuzz_image/crash-2a28… has both).
TEST_F(ImagePillow, JpegScanFollowedByAMarkerThatCannotFollowOneIsRefusedLikePillow) {
  testing::TempDir dir("image_jpeg_after_scan");
  ASSERT_TRUE(save_pil_jpegs(dir, 2));
  std::ofstream probe(dir / "probe.tsv");
  std::vector<std::pair<std::string, std::string>> refused;  // file, expected problem
  std::vector<std::pair<std::string, std::string>> skipped;  // file with junk, the file without
  for (const char* v : {"jpeg-420", "jpeg-progressive"}) {
    const std::vector<uint8_t> b = read_bytes(dir / v);
    const auto scans = jpeg_scans(b);
    ASSERT_FALSE(scans.empty()) << v;
    ASSERT_GE(b.size(), 4u);
    ASSERT_EQ(b[b.size() - 2], 0xFF) << v;
    ASSERT_EQ(b.back(), 0xD9) << v << ": the file ends with its end-of-image marker";
    std::vector<uint8_t> f9 = b;
    f9.back() = 0xF9;
    const std::string bad = dir / (std::string(v) + "-f9.jpg");
    write_bytes(bad, f9);
    refused.push_back({bad, "corrupt JPEG: the scan at byte " + std::to_string(scans.back().first) +
                                " is followed by marker 0xF9 at byte " + std::to_string(b.size() - 2) +
                                ", which cannot follow a scan"});
    // Three bytes after the first segment (PIL writes its JFIF APP0 there, before the tables and the frame).
    ASSERT_EQ(b[3], 0xE0) << v;
    const size_t after_app0 = 4 + ((size_t(b[4]) << 8) | b[5]);
    std::vector<uint8_t> junk = b;
    const uint8_t extra[3] = {0x00, 0x11, 0x22};
    junk.insert(junk.begin() + after_app0, extra, extra + 3);
    const std::string padded = dir / (std::string(v) + "-junk.jpg");
    write_bytes(padded, junk);
    skipped.push_back({padded, dir / v});
    probe << "probe\t" << bad << "\t" << bad << ".pil\n";
    probe << "probe\t" << padded << "\t" << padded << ".pil\n";
  }
  probe.close();
  ASSERT_TRUE(run_pil(dir / "probe.tsv"));
  for (const auto& [file, problem] : refused) {
    expect_decode_error(file, problem);
    const std::vector<uint8_t> pil = read_bytes(file + ".pil");
    EXPECT_EQ(std::string(pil.begin(), pil.end()).rfind("refused: ", 0), 0u) << file;
  }
  for (const auto& [file, plain] : skipped) {
    EXPECT_EQ(decode_image(file).rgb, decode_image(plain).rgb) << file;
    const std::vector<uint8_t> pil = read_bytes(file + ".pil");
    EXPECT_EQ(std::string(pil.begin(), pil.end()), "decoded 56 40\n") << file;
  }
}

TEST(ImageDecode, PngRoundTripAndAtomicWrite) {
  testing::TempDir dir("image_png");
  const RgbImage im = make_pattern(3, 33, 65, 8);
  const std::string path = dir / "a.png";
  write_png(path, im);
  const RgbImage back = decode_image(path);
  EXPECT_EQ(back.width, 65);
  EXPECT_EQ(back.height, 33);
  EXPECT_EQ(back.rgb, im.rgb);
  for (const auto& e : std::filesystem::directory_iterator(dir.str())) {
    EXPECT_EQ(e.path().filename().string(), "a.png") << "temporary file left behind";
  }
  EXPECT_THROW(write_png(dir / "no_such_dir/b.png", im), Error);
}

// ------------------------------------------------------------------------------------------------
// The command line

TEST(ImageCli, InspectImage) {
  std::string out;
  testing::run_command(std::string(G4REF_CLI) + " inspect-image --help 2>&1", &out);
  if (out.find("inspect-image [OPTIONS]") == std::string::npos) {
    GTEST_SKIP() << "inspect-image is not registered in the g4ref program yet (eval/cli/main.cpp)";
  }
  testing::TempDir dir("image_cli");
  const std::string path = dir / "in.png";
  write_png(path, make_pattern(2, 480, 640, 9));
  const std::string resized = dir / "resized.png";
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " inspect-image " + path +
                                     " --image-tokens 280 --json --resized-out " + resized,
                                 &out),
            0)
      << out;
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["original"]["height"], 480);
  EXPECT_EQ(j["original"]["width"], 640);
  EXPECT_EQ(j["target"]["height"], 672);
  EXPECT_EQ(j["target"]["width"], 912);
  EXPECT_EQ(j["resampled"], true);
  EXPECT_EQ(j["soft_tokens"], 266);
  EXPECT_EQ(j["grid"]["rows"], 14);
  EXPECT_EQ(j["grid"]["columns"], 19);
  const RgbImage written = decode_image(resized);
  EXPECT_EQ(written.rgb, resize_bicubic(decode_image(path), 672, 912).rgb);

  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " inspect-image " + path + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("266"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " inspect-image " + dir / "none.png" + " 2>&1", &out), 0);
  EXPECT_NE(out.find("none.png: cannot open"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(std::string(G4REF_CLI) + " inspect-image " + path + " --image-tokens 100 2>&1", &out),
            0);
}

TEST(ImageDecode, ExifOrientationAsPilsExifTranspose) {
  // Hugging Face's load_image turns images upright with PIL's ImageOps.exif_transpose. Oracle: Debian's Pillow
  // writes a 40×24 image under each EXIF orientation 1–8, as PNG (eXIf chunk) and JPEG (APP1), and what
  // exif_transpose makes of each. PNG is lossless, so equal means identical; JPEG decoders differ in rounding (stb
  // vs libjpeg-turbo, ≤ 3 levels), while a wrong rotation or mirror moves pixels by up to 255.
  if (pil_python().empty()) GTEST_SKIP() << "/usr/bin/python3 cannot import PIL and numpy (run setup.sh)";
  testing::TempDir d("exif");
  std::string out;
  ASSERT_EQ(testing::run_command(pil_python() + " " G4REF_SOURCE_DIR "/tests/oracles/pil_exif.py " + d.str() + " 2>&1", &out), 0)
      << out;
  for (int o = 1; o <= 8; ++o) {
    for (const char* ext : {"png", "jpg"}) {
      std::string name = "o";
      name += std::to_string(o);
      name += '.';
      name += ext;
      const std::string file = d / name;
      std::ifstream in(file + ".rgb", std::ios::binary);
      int w = 0, h = 0;
      in >> w >> h;
      in.get();
      std::vector<uint8_t> want(static_cast<size_t>(w) * h * 3);
      in.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size()));
      ASSERT_TRUE(in) << file;
      std::ifstream raw(file, std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(raw)), {});
      EXPECT_EQ(exif_orientation(bytes), o) << file;
      const RgbImage got = decode_image(file);
      ASSERT_EQ(got.width, w) << file;
      ASSERT_EQ(got.height, h) << file;
      int worst = 0;
      for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(int(got.rgb[i]) - int(want[i])));
      EXPECT_LE(worst, std::string(ext) == "png" ? 0 : 3) << file;
      // Ignoring the tag keeps the stored pixels: the stored size is 40×24.
      const RgbImage stored = decode_image(file, AlphaMode::drop, {}, ExifOrientation::ignore);
      EXPECT_EQ(stored.width, 40) << file;
      EXPECT_EQ(stored.height, 24) << file;
    }
  }
}

}  // namespace
}  // namespace g4ref
