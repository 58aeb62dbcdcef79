// Image preprocessing (spec §3.1). Decoding uses stb_image; resampling re-implements Pillow's
// Resample.c so that its results are bit-identical to Pillow's, which is what the official JAX code
// (and HF's PIL backend) run; HF's default torchvision backend differs by up to 2 levels on some pixels
// (see resize_bicubic below).
#include "preprocess/image.h"

#include <libexif/exif-data.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "io/output_file.h"

// stb_image, only the formats we accept (fewer decoders, less attack surface), with its functions
// static to this file so that no other translation unit's copy can clash with ours.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_ONLY_TGA
#define STBI_NO_STDIO         // we read files ourselves (size limit, truncation check)
#define STBI_FAILURE_USERMSG  // "PNG file corrupt" instead of "bad ..." codes
// Every allocation of stb's cleared: its JPEG decoder state (Huffman tables included) is one malloc'd block that it
// does not clear, so a corrupt file could otherwise decode with leftovers of earlier images (jpeg_defect below).
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace g4ref {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------------------
// Decoding

namespace {

// The file's bytes, handed to stb through its callback interface. stb answers a read past the end of
// its input with zero bytes and carries on, so a truncated BMP, TGA, GIF, PNM or JPEG would otherwise
// decode "successfully" into black; recording that the decoder wanted more than the file holds turns
// that into an error. stb reads in two ways: refills of its own small buffer (always the same
// destination, the first one it reads into; a short refill at the end of a valid file is normal) and
// bulk reads of exactly the bytes it needs straight into its pixel rows (any other destination; a short
// one means the data ends early).
struct ByteReader {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  bool read_past_end = false;
  const char* refill_buffer = nullptr;

  void restart() {  // before each stb call: every call reads the stream from its start
    pos = 0;
    read_past_end = false;
    refill_buffer = nullptr;
  }
  static int read(void* user, char* out, int n) {
    auto* r = static_cast<ByteReader*>(user);
    if (!r->refill_buffer) r->refill_buffer = out;
    const size_t left = r->size - std::min(r->pos, r->size);
    const size_t count = std::min(static_cast<size_t>(std::max(n, 0)), left);
    if (count == 0 || (count < static_cast<size_t>(n) && out != r->refill_buffer)) r->read_past_end = true;
    if (count) std::memcpy(out, r->data + r->pos, count);
    r->pos += count;
    return static_cast<int>(count);
  }
  static void skip(void* user, int n) {
    auto* r = static_cast<ByteReader*>(user);
    if (n < 0) {  // stb's "unget": never below the start
      r->pos -= std::min(r->pos, static_cast<size_t>(-static_cast<int64_t>(n)));
      return;
    }
    if (static_cast<size_t>(n) > r->size - std::min(r->pos, r->size)) r->read_past_end = true;
    r->pos = std::min(r->size, r->pos + static_cast<size_t>(n));
  }
  static int eof(void* user) {
    auto* r = static_cast<ByteReader*>(user);
    return r->pos >= r->size ? 1 : 0;
  }
};

constexpr stbi_io_callbacks kCallbacks = {ByteReader::read, ByteReader::skip, ByteReader::eof};

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// The format the first bytes announce, or "" when none: stb tries each decoder in turn and reports the reason
// of the last one tried, so a truncated JPEG would otherwise be reported as "Not a PNG".
std::string magic_format(const std::vector<uint8_t>& b) {
  auto starts = [&](std::initializer_list<uint8_t> sig) {
    return b.size() >= sig.size() && std::equal(sig.begin(), sig.end(), b.begin());
  };
  if (starts({0xFF, 0xD8, 0xFF})) return "JPEG";
  if (starts({0x89, 'P', 'N', 'G'})) return "PNG";
  if (starts({'G', 'I', 'F', '8'})) return "GIF";
  if (starts({'B', 'M'})) return "BMP";
  if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM";
  return "";
}

bool is_png(const std::vector<uint8_t>& b) {
  static constexpr uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return b.size() >= 8 && std::equal(sig, sig + 8, b.begin());
}

std::string size_str(int64_t w, int64_t h) { return std::to_string(w) + "×" + std::to_string(h); }

// The big-endian 32-bit number at byte I (PNG lengths and sizes); the caller checks that 4 bytes are there.
int64_t be32(const std::vector<uint8_t>& b, size_t i) {
  return (int64_t(b[i]) << 24) | (int64_t(b[i + 1]) << 16) | (int64_t(b[i + 2]) << 8) | b[i + 3];
}

// Width and height from a PNG's IHDR. stb checks PNG sizes itself but reports a failure under the name
// of the last format it tried, so for PNG (the common bomb carrier) we read the size first.
bool png_declared_size(const std::vector<uint8_t>& b, int64_t* w, int64_t* h) {
  if (!is_png(b) || b.size() < 24 || std::memcmp(&b[12], "IHDR", 4) != 0) return false;
  *w = be32(b, 16);
  *h = be32(b, 20);
  return true;
}

// One chunk of a PNG: length, type, data, CRC (PNG specification §5.3).
struct PngChunk {
  size_t at = 0;          // byte offset of its length field
  uint64_t length = 0;    // declared length of its data
  bool past_end = false;  // its data and 4-byte CRC run past the end of the file
};

// A PNG's chunks from byte 8 up to IEND, which stb and Pillow read and nothing after; the walk stops at the first
// chunk that runs past the end of the file (the last one returned, past_end set) or where fewer than the 8 bytes of a
// length and type are left (stb reports that truncation itself). Empty for a file that is not a PNG.
std::vector<PngChunk> png_chunks(const std::vector<uint8_t>& b) {
  std::vector<PngChunk> chunks;
  if (!is_png(b)) return chunks;
  for (size_t p = 8; p + 8 <= b.size();) {
    PngChunk& c = chunks.emplace_back();
    c.at = p;
    c.length = uint64_t(be32(b, p));
    c.past_end = c.length + 12 > b.size() - p;
    if (c.past_end || std::memcmp(&b[p + 4], "IEND", 4) == 0) break;
    p += 12 + size_t(c.length);
  }
  return chunks;
}

bool png_chunk_is(const std::vector<uint8_t>& b, const PngChunk& c, const char* type) {
  return std::memcmp(&b[c.at + 4], type, 4) == 0;
}

// A chunk's 4-byte type for a message: letters and digits as they are, other bytes as \xNN.
std::string png_chunk_type(const std::vector<uint8_t>& b, const PngChunk& c) {
  std::string type;
  for (size_t i = c.at + 4; i < c.at + 8; ++i) {
    if (std::isalnum(b[i])) {
      type += char(b[i]);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", b[i]);
      type += hex;
    }
  }
  return type;
}

// A PNG's zero-length IDAT chunks, removed. The image data is the concatenation of the IDAT chunks' contents (PNG
// specification §10.1), so an empty one changes nothing; but stb_image 2.27 copies an empty first IDAT into its not
// yet allocated buffer (memcpy to a null pointer: a fuzz finding, UBSan's "null pointer passed as argument 1" in
// stbi__getn). Only chunks up to IEND are looked at; the rest of the file is kept as it is. Returns false, leaving
// OUT alone, when there is nothing to remove. CHUNKS: png_chunks(B).
bool png_without_empty_idat(const std::vector<uint8_t>& b, const std::vector<PngChunk>& chunks,
                            std::vector<uint8_t>* out) {
  std::vector<std::pair<size_t, size_t>> empty;  // [start, end) of each empty IDAT chunk
  for (const PngChunk& c : chunks) {
    if (!c.past_end && c.length == 0 && png_chunk_is(b, c, "IDAT")) empty.emplace_back(c.at, c.at + 12);
  }
  if (empty.empty()) return false;
  out->clear();
  out->reserve(b.size());
  size_t from = 0;
  for (const auto& [start, end] : empty) {
    out->insert(out->end(), b.begin() + from, b.begin() + start);
    from = end;
  }
  out->insert(out->end(), b.begin() + from, b.end());
  return true;
}

// The markers stb_image 2.27 reads after a scan's entropy-coded data: end of image, another scan, DNL, and the table
// and miscellaneous segments (DQT, DHT, DRI, APPn, COM), as ITU T.81 §B.2.4 allows there (stb has no arithmetic
// coding, so no DAC). Any other marker there makes stb refuse the file once the scan is decoded.
bool jpeg_marker_after_scan(int code) {
  return code == 0xD9 || code == 0xDA || code == 0xDC || code == 0xDB || code == 0xC4 || code == 0xDD ||
         (code >= 0xE0 && code <= 0xEF) || code == 0xFE;
}

std::string hex2(int v) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02X", v & 0xFF);
  return buf;
}

// Three JPEG defects stb_image 2.27 (the Debian version) mishandles, found before stb sees the file:
// - a Huffman table whose 16 code counts add up to more than 256: stb writes past its tables (CVE-2021-37789);
// - a scan that decodes with a Huffman table no DHT segment before it defined: stb's decoder state is allocated
//   with malloc, not cleared, so it would decode with whatever the memory held (a fuzz finding: UBSan's "shift
//   exponent" inside stbi__jpeg_huff_decode, and pixels that depend on earlier inputs). libjpeg-turbo refuses such
//   a file too, except that it substitutes the standard tables of ITU T.81 Annex K for an undefined table 0 or 1 of
//   a sequential JPEG (Motion-JPEG frames carry none); g4ref refuses those as well, naming the table.
// - a scan followed by a marker that cannot follow one (jpeg_marker_after_scan): stb refuses such a file, but only
//   after decoding the scan, and its bit reader goes wrong on a scan whose data ends before its blocks do (a fuzz
//   finding: UBSan's "shift exponent 34 is too large" in stbi__grow_buffer_unsafe, stb issue 1293, fixed after
//   2.27); refused first, naming the scan and the marker. A short scan followed by an allowed marker still reaches
//   stb: telling it needs the scan's Huffman data decoded.
// We walk the segments the way stb reads them: marker, length, payload; after a start-of-scan the entropy-coded
// data up to the next marker (0xFF followed by anything but 0x00, 0xFF or a restart marker). Each DHT table is
// checked with stb's own reading (the counts may run past the segment, as stb's do) and recorded as defined; each
// start-of-scan's table selectors are checked against them: a sequential scan decodes with its components' DC and AC
// tables, a progressive DC scan with the DC table (its first pass only), a progressive AC scan with the AC table.
// Bytes other than 0xFF between segments before the start-of-frame are skipped one by one, as stb does. Where the
// structure is lost after it (garbage between segments, which stb refuses), every 0xFF 0xC4 in the rest of the file
// is checked for the first defect; stb's state is cleared (STBI_MALLOC above) for the rest.
struct JpegDefect {
  size_t at = 0;  // byte offset of the segment's marker
  std::string what;
};

bool jpeg_defect(const std::vector<uint8_t>& b, JpegDefect* defect) {
  const size_t size = b.size();
  // stb takes fill bytes (0xFF) before the start-of-image marker as it does before any marker.
  size_t soi = 1;
  while (soi < size && b[soi] == 0xFF) ++soi;
  if (size < 2 || b[0] != 0xFF || soi >= size || b[soi] != 0xD8) return false;
  auto byte = [&](size_t i) -> int { return i < size ? b[i] : 0; };  // stb reads zeros past the end
  bool defined[2][4] = {};  // [0: DC, 1: AC][table id]
  // Whether a DHT segment of LEN payload bytes at Q overflows; records the tables it defines.
  auto dht_overflows = [&](size_t q, int64_t len) {
    while (len > 0) {
      const int table = byte(q++);
      if ((table >> 4) > 1 || (table & 15) > 3 || q > size) return false;  // stb stops with an error here
      int n = 0;
      for (int i = 0; i < 16; ++i) n += byte(q++);
      if (n > 256) return true;
      defined[table >> 4][table & 15] = true;
      q += size_t(n);
      len -= 17 + n;
    }
    return false;
  };
  bool progressive = false, frame_seen = false;
  size_t p = soi + 1, scan_at = 0;  // scan_at: the start-of-scan whose entropy-coded data ends at P, or 0
  bool structured = true;
  while (p + 1 < size) {
    if (b[p] != 0xFF) {
      // Before the start-of-frame stb skips such bytes one by one to the next 0xFF; after it, it refuses the file.
      if (!frame_seen) {
        ++p;
        continue;
      }
      structured = false;
      break;
    }
    size_t m = p + 1;
    while (m < size && b[m] == 0xFF) ++m;  // fill bytes
    if (m >= size) break;
    const int code = b[m];
    p = m + 1;
    if (scan_at != 0 && !jpeg_marker_after_scan(code)) {
      *defect = {m - 1, "the scan at byte " + std::to_string(scan_at) + " is followed by marker 0x" + hex2(code) +
                            " at byte " + std::to_string(m - 1) + ", which cannot follow a scan"};
      return true;
    }
    scan_at = 0;
    if (code == 0xC0 || code == 0xC1 || code == 0xC2) frame_seen = true;
    // end of image, or a marker stb refuses between segments (it stops there)
    if (code == 0xD9 || code == 0x00 || code == 0x01 || (code >= 0xD0 && code <= 0xD8)) break;
    const int64_t len = (int64_t(byte(p)) << 8) | byte(p + 1);
    if (code == 0xC4 && dht_overflows(p + 2, len - 2)) {
      *defect = {m - 1, "the Huffman table at byte " + std::to_string(m - 1) + " declares more than 256 codes"};
      return true;
    }
    if (code == 0xC2) progressive = true;
    if (code == 0xDA) {
      const int components = byte(p + 2);
      // Ss (the first coefficient of the scan) and Ah (the successive-approximation pass, 0 on the first).
      const int spectral_start = byte(p + 3 + 2 * components), approx_high = byte(p + 5 + 2 * components) >> 4;
      const bool uses_dc = !progressive || (spectral_start == 0 && approx_high == 0);
      const bool uses_ac = !progressive || spectral_start > 0;
      for (int c = 0; c < components; ++c) {
        const int selectors = byte(p + 4 + 2 * c), dc = selectors >> 4, ac = selectors & 15;
        if (dc > 3 || ac > 3) break;  // stb refuses the scan itself
        const bool dc_missing = uses_dc && !defined[0][dc], ac_missing = uses_ac && !defined[1][ac];
        if (dc_missing || ac_missing) {
          *defect = {m - 1, "the scan at byte " + std::to_string(m - 1) + " decodes with " + (dc_missing ? "DC" : "AC") +
                                " Huffman table " + std::to_string(dc_missing ? dc : ac) +
                                ", which no DHT segment before it defines"};
          return true;
        }
      }
    }
    if (len < 2) break;
    p += size_t(len);
    if (code == 0xDA) {  // entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte) or a restart marker
      while (p + 1 < size && !(b[p] == 0xFF && b[p + 1] != 0x00 && b[p + 1] != 0xFF && (b[p + 1] < 0xD0 || b[p + 1] > 0xD7))) {
        ++p;
      }
      scan_at = m - 1;
    }
  }
  if (!structured) {
    for (size_t i = p; i + 1 < size; ++i) {
      if (b[i] == 0xFF && b[i + 1] == 0xC4 && dht_overflows(i + 4, ((int64_t(byte(i + 2)) << 8) | byte(i + 3)) - 2)) {
        *defect = {i, "the Huffman table at byte " + std::to_string(i) + " declares more than 256 codes"};
        return true;
      }
    }
  }
  return false;
}

// The maxval of a binary PNM (P5/P6) header, or -1 if the bytes are not one. stb reads only maxval 255
// correctly: it ignores other values below 256 (PIL rescales them) and mishandles 16-bit PNM with a
// channel conversion (reading past its buffer), so those are refused.
int pnm_maxval(const std::vector<uint8_t>& b) {
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return -1;
  auto space = [](uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  size_t p = 2;
  int64_t fields[3] = {0, 0, 0};
  for (int64_t& field : fields) {
    for (;;) {  // whitespace and '#' comments, as stb skips them
      while (p < b.size() && space(b[p])) ++p;
      if (p < b.size() && b[p] == '#') {
        while (p < b.size() && b[p] != '\n' && b[p] != '\r') ++p;
        continue;
      }
      break;
    }
    if (p >= b.size() || b[p] < '0' || b[p] > '9') return -1;
    // stb reads each number into an int without a bound (a signed overflow past 2^31 - 1): refused first.
    while (p < b.size() && b[p] >= '0' && b[p] <= '9') {
      field = field * 10 + (b[p++] - '0');
      if (field > std::numeric_limits<int>::max()) return -2;
    }
  }
  return static_cast<int>(std::min<int64_t>(fields[2], std::numeric_limits<int>::max()));
}

void check_declared_size(const std::string& name, int64_t w, int64_t h, const DecodeLimits& limits) {
  if (w <= 0 || h <= 0) fail(name, "declared image size " + size_str(w, h) + " is empty");
  if (w > limits.max_side || h > limits.max_side) {
    fail(name, "declared image size " + size_str(w, h) + " (width×height) exceeds the limit of " +
                   std::to_string(limits.max_side) + " pixels per side; refusing to decode");
  }
  if (w * h > limits.max_pixels) {
    fail(name, "declared image size " + size_str(w, h) + " = " + std::to_string(w * h) +
                   " pixels exceeds the limit of " + std::to_string(limits.max_pixels) + "; refusing to decode");
  }
}

// The fewest bytes a TGA or an uncompressed BMP of the declared W×H can be stored in (its format in *FORMAT), or 0
// for the other formats.
// stb decodes these two formats pixel by pixel, answering reads past the end of the file with zeros, so a
// 20-byte file declaring 10,000×10,000 pixels would have its 400 MB allocated and walked to the end before the
// truncation shows; with this bound it is refused at once. It is a lower bound on what stb reads from a file it
// decodes (stb_image.h, stbi__tga_load and stbi__bmp_load), so no file that decodes is refused:
//  - TGA (18-byte header, then an ID field of byte 0's length): at least max(1, bits per pixel / 8) bytes per
//    pixel (8- or 16-bit palette indices, 15/16-bit colours in 2 bytes, 24/32-bit in 3/4); run-length coded
//    (types 9–11), each packet a count byte and at least one pixel, for at most 128 pixels. Palette ignored.
//  - BMP (14-byte file header, then the info header of the size at byte 14): every row's ceil(W·bits/8)
//    bytes; row padding and palette ignored.
// stb tries TGA last and only for files whose byte 1 (the colour-map type) is 0 or 1, which no PNG, JPEG, GIF,
// BMP or PNM signature has.
int64_t least_file_bytes(const std::vector<uint8_t>& b, int64_t w, int64_t h, std::string* format) {
  auto at = [&](size_t i) -> int64_t { return i < b.size() ? b[i] : 0; };
  auto le16 = [&](size_t i) { return at(i) | (at(i + 1) << 8); };
  const int64_t pixels = w * h;
  if (at(0) == 'B' && at(1) == 'M') {
    const int64_t header = le16(14) | (le16(16) << 16);
    const int64_t bits = header == 12 ? le16(24) : le16(28);
    const int64_t compression = header == 12 ? 0 : le16(30) | (le16(32) << 16);
    if (compression != 0 && compression != 3) return 0;  // stb refuses the compressed kinds itself
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32) return 0;
    *format = "BMP";
    return 14 + header + h * ((w * bits + 7) / 8);
  }
  if (magic_format(b).empty() && b.size() >= 2 && b[1] <= 1) {
    const int64_t type = at(2);
    const int64_t per_pixel = std::max<int64_t>(1, at(16) / 8);
    const int64_t start = 18 + at(0);
    *format = "TGA";
    if (type == 1 || type == 2 || type == 3) return start + pixels * per_pixel;
    if (type == 9 || type == 10 || type == 11) return start + (pixels + 127) / 128 * (1 + per_pixel);
  }
  return 0;
}

}  // namespace

uint8_t composite_over_white(uint8_t c, uint8_t alpha) {
  // Pillow AlphaComposite.c (ImagingAlphaComposite), specialised to an opaque white destination. Pillow
  // blends in 32-bit integers with 7 extra bits of precision and divides by 255 with the shift trick
  // SHIFTFORDIV255(x) = ((x >> 8) + x) >> 8, rounding by adding half before it:
  //   blend = dst_a·(255 − a); outa255 = a·255 + blend; coef1 = a·255·255·2^7 / outa255;
  //   coef2 = 255·2^7 − coef1; out = SHIFTFORDIV255(c·coef1 + dst·coef2 + (128 << 7)) >> 7.
  // A fully transparent source pixel copies the destination unchanged.
  if (alpha == 0) return 255;
  constexpr uint32_t kBits = 7;
  const uint32_t a = alpha;
  const uint32_t blend = 255u * (255u - a);
  const uint32_t outa255 = a * 255u + blend;
  const uint32_t coef1 = a * 255u * 255u * (1u << kBits) / outa255;
  const uint32_t coef2 = 255u * (1u << kBits) - coef1;
  const uint32_t tmp = uint32_t(c) * coef1 + 255u * coef2 + (0x80u << kBits);
  return static_cast<uint8_t>((((tmp >> 8) + tmp) >> 8) >> kBits);
}

int exif_orientation(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> block;  // what libexif reads: a JPEG stream (it finds APP1 itself), or "Exif\0\0" + TIFF data
  if (bytes.size() > 3 && bytes[0] == 0xFF && bytes[1] == 0xD8) {
    block = bytes;
  } else if (is_png(bytes)) {
    for (size_t at = 8; at + 12 <= bytes.size();) {  // chunks: u32 length, type, data, crc
      const uint32_t len = (uint32_t(bytes[at]) << 24) | (uint32_t(bytes[at + 1]) << 16) | (uint32_t(bytes[at + 2]) << 8) |
                           uint32_t(bytes[at + 3]);
      if (len > bytes.size() - at - 12) break;
      if (std::memcmp(&bytes[at + 4], "eXIf", 4) == 0) {
        static const uint8_t header[] = {'E', 'x', 'i', 'f', 0, 0};
        block.assign(header, header + 6);
        block.insert(block.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at + 8),
                     bytes.begin() + static_cast<std::ptrdiff_t>(at + 8 + len));
        break;
      }
      if (std::memcmp(&bytes[at + 4], "IDAT", 4) == 0) break;  // eXIf must come before the image data
      at += 12 + len;
    }
  }
  if (block.empty() || block.size() > std::numeric_limits<unsigned int>::max()) return 1;
  ExifData* data = exif_data_new_from_data(block.data(), static_cast<unsigned int>(block.size()));
  if (!data) return 1;
  int orientation = 1;
  // Orientation lives in IFD 0, where PIL reads it.
  if (ExifEntry* e = exif_content_get_entry(data->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
      e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data) {
    orientation = exif_get_short(e->data, exif_data_get_byte_order(data));
  }
  exif_data_unref(data);
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

RgbImage apply_orientation(const RgbImage& in, int orientation) {
  if (orientation <= 1 || orientation > 8) return in;
  const int W = in.width, H = in.height;
  const bool swap = orientation >= 5;  // 5–8 exchange width and height
  RgbImage out;
  out.width = swap ? H : W;
  out.height = swap ? W : H;
  out.rgb.resize(in.rgb.size());
  for (int r = 0; r < out.height; ++r) {
    for (int c = 0; c < out.width; ++c) {
      int sr = r, sc = c;  // the source pixel of output pixel (r, c)
      switch (orientation) {
        case 2: sc = W - 1 - c; break;                    // FLIP_LEFT_RIGHT
        case 3: sr = H - 1 - r, sc = W - 1 - c; break;    // ROTATE_180
        case 4: sr = H - 1 - r; break;                    // FLIP_TOP_BOTTOM
        case 5: sr = c, sc = r; break;                    // TRANSPOSE
        case 6: sr = H - 1 - c, sc = r; break;            // ROTATE_270 (90° clockwise)
        case 7: sr = H - 1 - c, sc = W - 1 - r; break;    // TRANSVERSE
        case 8: sr = c, sc = W - 1 - r; break;            // ROTATE_90 (90° counter-clockwise)
      }
      std::memcpy(&out.rgb[(size_t(r) * out.width + c) * 3], &in.rgb[(size_t(sr) * W + sc) * 3], 3);
    }
  }
  return out;
}

RgbImage decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name, AlphaMode alpha,
                            const DecodeLimits& limits, ExifOrientation orientation) {
  if (bytes.empty()) fail(name, "empty file (0 bytes), not an image");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    fail(name, "file of " + std::to_string(bytes.size()) + " bytes is larger than the decoder accepts (2 GiB)");
  }
  // A PNG chunk up to IEND whose declared length runs past the end of the file is refused. stb collects the IDAT
  // chunks in one buffer that it grows to each chunk's declared length before reading it (doubling from 4 KiB), so a
  // 311-byte file whose second IDAT declares 1.35 GB had 2 GiB allocated before the missing data showed (a fuzz_image
  // finding). stb reads every chunk up to IEND and each one's 4-byte CRC, so a file with such a chunk never decodes;
  // what follows IEND, which stb and Pillow ignore, is not looked at.
  const std::vector<PngChunk> chunks = png_chunks(bytes);
  if (!chunks.empty() && chunks.back().past_end) {
    const PngChunk& chunk = chunks.back();
    fail(name, "truncated or corrupt PNG: chunk '" + png_chunk_type(bytes, chunk) + "' at byte " + std::to_string(chunk.at) +
                   " declares " + std::to_string(chunk.length) + " bytes of data and a 4-byte CRC, and the file has " +
                   std::to_string(bytes.size() - chunk.at - 8) + " bytes after its length and type; refusing to decode");
  }
  std::vector<uint8_t> png;
  if (png_without_empty_idat(bytes, chunks, &png)) return decode_image_bytes(png, name, alpha, limits, orientation);
  ByteReader reader{bytes.data(), bytes.size()};

  // 1. The header alone: format and declared size, refused before any allocation that size implies;
  // first the inputs this stb version mishandles (stb parses JPEG tables already to read the header).
  const int maxval = pnm_maxval(bytes);
  if (maxval == -2) fail(name, "PNM header: a number (width, height or maxval) larger than 2147483647");
  if (maxval >= 0 && maxval != 255) {
    fail(name, "PNM with maxval " + std::to_string(maxval) + " is not supported (only 255: 8 bits per sample)");
  }
  JpegDefect defect;
  if (jpeg_defect(bytes, &defect)) fail(name, "corrupt JPEG: " + defect.what);
  int64_t pw = 0, ph = 0;
  if (png_declared_size(bytes, &pw, &ph)) check_declared_size(name, pw, ph, limits);
  int w = 0, h = 0, comp = 0;
  reader.restart();
  const std::string format = magic_format(bytes);
  if (!stbi_info_from_callbacks(&kCallbacks, &reader, &w, &h, &comp)) {
    if (!format.empty()) {
      fail(name, "not a readable " + format + ": truncated or corrupt, its header cannot be read (" + std::to_string(bytes.size()) +
                     " bytes" + (reader.read_past_end ? ", the data ends inside the header" : "") + ")");
    }
    fail(name, "not a readable PNG, JPEG, BMP, GIF, PNM or TGA image (" + stb_reason() + ")");
  }
  check_declared_size(name, w, h, limits);
  std::string stored_as;
  if (const int64_t least = least_file_bytes(bytes, w, h, &stored_as); int64_t(bytes.size()) < least) {
    fail(name, "truncated: a " + stored_as + " of " + size_str(w, h) +
                   " pixels takes at least " + std::to_string(least) + " bytes, the file has " +
                   std::to_string(bytes.size()) + "; refusing to decode");
  }

  // 2. Decode. 16-bit greyscale PNG is the one case where stb (high byte) and PIL disagree: PIL opens it
  // as a 32-bit integer image and convert("RGB") clips each value to 255, so we do the same.
  reader.restart();
  const bool gray16_png = comp == 1 && is_png(bytes) && stbi_is_16_bit_from_callbacks(&kCallbacks, &reader);
  const int want = alpha == AlphaMode::composite_white ? 4 : 3;
  reader.restart();
  int dw = 0, dh = 0, dcomp = 0;
  std::unique_ptr<void, StbFree> pixels(
      gray16_png ? static_cast<void*>(stbi_load_16_from_callbacks(&kCallbacks, &reader, &dw, &dh, &dcomp, 1))
                 : static_cast<void*>(stbi_load_from_callbacks(&kCallbacks, &reader, &dw, &dh, &dcomp, want)));
  if (!pixels) {
    fail(name, "cannot decode" + (format.empty() ? std::string() : " the " + format) + ": " + stb_reason() +
                   (reader.read_past_end ? " (the file is truncated)" : ""));
  }
  if (reader.read_past_end) fail(name, "truncated: the image data ends before the declared " + size_str(w, h) + " pixels");
  if (dw != w || dh != h) {
    fail(name, "decoded size " + size_str(dw, dh) + " differs from the header's " + size_str(w, h));
  }

  RgbImage out;
  out.width = w;
  out.height = h;
  const size_t n = size_t(w) * size_t(h);
  out.rgb.resize(n * 3);
  if (gray16_png) {
    const auto* g = static_cast<const uint16_t*>(pixels.get());
    for (size_t i = 0; i < n; ++i) {
      const uint8_t v = static_cast<uint8_t>(std::min<uint16_t>(g[i], 255));
      out.rgb[3 * i] = out.rgb[3 * i + 1] = out.rgb[3 * i + 2] = v;
    }
  } else if (want == 3) {
    std::memcpy(out.rgb.data(), pixels.get(), n * 3);
  } else {
    const auto* p = static_cast<const uint8_t*>(pixels.get());
    for (size_t i = 0; i < n; ++i) {
      const uint8_t a = p[4 * i + 3];
      for (int ch = 0; ch < 3; ++ch) out.rgb[3 * i + ch] = composite_over_white(p[4 * i + ch], a);
    }
  }
  if (orientation == ExifOrientation::apply) return apply_orientation(out, exif_orientation(bytes));
  return out;
}

RgbImage decode_image(const std::string& path, AlphaMode alpha, const DecodeLimits& limits,
                      ExifOrientation orientation) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(path, "cannot open: no such file");
  if (!fs::is_regular_file(st)) fail(path, "cannot read: not a regular file");
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read its size: " + ec.message());
  if (size > static_cast<uintmax_t>(limits.max_file_bytes)) {
    fail(path, "file of " + std::to_string(size) + " bytes exceeds the limit of " +
                   std::to_string(limits.max_file_bytes) + " bytes for an image");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    fail(path, "read error");
  }
  return decode_image_bytes(bytes, path, alpha, limits, orientation);
}

void write_png(const std::string& path, int width, int height, int channels, const uint8_t* pixels) {
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4) {
    fail(path, "cannot write a PNG of " + size_str(width, height) + " with " + std::to_string(channels) + " channels");
  }
  std::vector<uint8_t> encoded;
  auto append = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &encoded, width, height, channels, pixels, width * channels)) {
    fail(path, "PNG encoding failed");
  }
  write_file_atomically(path, std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
}

// ------------------------------------------------------------------------------------------------
// Target size

void check_image_budget(int budget) {
  for (int b : kImageBudgets) {
    if (b == budget) return;
  }
  fail("image budget", std::to_string(budget) + " soft tokens is not supported (expected one of 70, 140, 280, 560, 1120)");
}

TargetSize aspect_ratio_preserving_size(int height, int width, int patch_size, int64_t max_patches,
                                        int pooling_kernel_size) {
  if (height <= 0 || width <= 0) fail("image target size", "image of " + size_str(width, height) + " is empty");
  // Python evaluates these on exact integers and true division rounds once; every integer here is
  // below 2^53, so the same double operations reproduce it.
  const double total_px = static_cast<double>(int64_t(height) * width);
  const double target_px = static_cast<double>(max_patches * patch_size * patch_size);
  const double factor = std::sqrt(target_px / total_px);
  const double ideal_h = factor * height;
  const double ideal_w = factor * width;
  const int side = pooling_kernel_size * patch_size;

  TargetSize t;
  t.height = static_cast<int>(std::floor(ideal_h / side)) * side;
  t.width = static_cast<int>(std::floor(ideal_w / side)) * side;
  if (t.height == 0 && t.width == 0) {
    fail("image target size", "image of " + size_str(width, height) + " maps to 0×0 (official JAX code uses 48×48; HF raises)");
  }
  const int64_t max_side = (max_patches / (int64_t(pooling_kernel_size) * pooling_kernel_size)) * side;
  if (t.height == 0) {  // a very wide image: one row of patches, as many columns as the ratio gives
    t.height = side;
    t.width = static_cast<int>(std::min<int64_t>(int64_t(std::floor(double(width) / height)) * side, max_side));
  } else if (t.width == 0) {
    t.width = side;
    t.height = static_cast<int>(std::min<int64_t>(int64_t(std::floor(double(height) / width)) * side, max_side));
  }
  if (int64_t(t.height) * t.width > max_patches * patch_size * patch_size) {
    fail("image target size", "resizing " + size_str(width, height) + " to " + size_str(t.width, t.height) +
                                  " exceeds " + std::to_string(max_patches) + " patches");
  }
  return t;
}

TargetSize target_size(int height, int width, int budget) {
  check_image_budget(budget);
  constexpr int kPatch = 16, kPooling = 3;  // vision_config patch_size, pooling_kernel_size (spec §1.3)
  return aspect_ratio_preserving_size(height, width, kPatch, int64_t(budget) * kPooling * kPooling, kPooling);
}

// ------------------------------------------------------------------------------------------------
// Resampling: Pillow's Resample.c, rewritten. The facts it fixes (all needed for bit-identity):
//  * filter: Keys cubic convolution with a = −0.5, support 2, evaluated as Pillow writes it;
//  * per axis: scale = in/out, filterscale = max(scale, 1); support = 2·filterscale (antialiasing when
//    shrinking); output i is centred at (i + 0.5)·scale; taps xmin = (int)(center − support + 0.5)
//    clipped at 0, xmax = (int)(center + support + 0.5) clipped at in; tap weight
//    filter((x + xmin − center + 0.5) / filterscale), divided by their sum (all in double);
//  * weights to fixed point with 22 fraction bits (PRECISION_BITS = 32 − 8 − 2), rounding half away
//    from zero via (int)(w·2^22 ± 0.5);
//  * each pass accumulates in a 32-bit integer started at 2^21 (the rounding half), then clips
//    acc >> 22 (arithmetic shift) to 0..255 — the intermediate image is uint8;
//  * horizontal pass first, then vertical; a pass whose size does not change is skipped.
// Pillow also limits the intermediate image to the source rows the vertical pass reads; rows are
// independent, so that saves work without changing any value.
//
// HF's default backend is torchvision on uint8 tensors, a port of Pillow-SIMD: same kernel, support,
// centres, pass order and rounding, but int16 weights whose fraction bits are chosen per axis (the
// largest p < 22 with round(max_weight·2^(p+1)) < 2^15, i.e. 15 bits when enlarging) instead of 22.
// PyTorch reports its uint8 output bit-exact to Pillow-SIMD and within 2 levels of Pillow.

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Fixed-point weights of one axis. Output i reads `count[i]` inputs from `first[i]` with weights
// k[i·taps ...]. The table is one flat array with `taps` slots per output, as in Pillow; should a
// rounding of center ± support ever give one tap more than `taps`, the extra weight lands in the next
// output's first slot exactly as in Pillow's buffer (hence the spare slots at the end).
struct AxisWeights {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;
};

AxisWeights axis_weights(int in_size, int out_size) {
  // Pillow passes the box edges as float: (float)in_size − 0.0f is exact for sizes below 2^24.
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  AxisWeights w;
  w.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  w.first.resize(out_size);
  w.count.resize(out_size);
  std::vector<double> kk(size_t(out_size) * w.taps + w.taps + 1, 0.0);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = 0.0 + (xx + 0.5) * scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double* k = &kk[size_t(xx) * w.taps];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double v = bicubic_filter((x + xmin - center + 0.5) * ss);
      k[x] = v;
      ww += v;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    for (int x = std::max(xmax, 0); x < w.taps; ++x) k[x] = 0;
    w.first[xx] = xmin;
    w.count[xx] = xmax;
  }
  w.k.resize(kk.size());
  for (size_t i = 0; i < kk.size(); ++i) {
    w.k[i] = kk[i] < 0 ? static_cast<int32_t>(-0.5 + kk[i] * (1 << kPrecisionBits))
                       : static_cast<int32_t>(0.5 + kk[i] * (1 << kPrecisionBits));
  }
  return w;
}

uint8_t clip8(int64_t acc) {
  const int64_t v = acc >> kPrecisionBits;  // arithmetic shift: floor, as Pillow's int >> on x86
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

// out has `rows` rows of out_w pixels; row y reads source row y + row_offset.
void resample_horizontal(const RgbImage& in, int row_offset, RgbImage& out, const AxisWeights& w) {
  const int rows = out.height;
#pragma omp parallel for schedule(static)
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = &in.rgb[size_t(y + row_offset) * in.width * 3];
    uint8_t* dst = &out.rgb[size_t(y) * out.width * 3];
    for (int xx = 0; xx < out.width; ++xx) {
      const int32_t* k = &w.k[size_t(xx) * w.taps];
      const uint8_t* s = src + size_t(w.first[xx]) * 3;
      int64_t a0 = 1 << (kPrecisionBits - 1), a1 = a0, a2 = a0;
      for (int x = 0; x < w.count[xx]; ++x) {
        a0 += int64_t(s[3 * x + 0]) * k[x];
        a1 += int64_t(s[3 * x + 1]) * k[x];
        a2 += int64_t(s[3 * x + 2]) * k[x];
      }
      dst[3 * xx + 0] = clip8(a0);
      dst[3 * xx + 1] = clip8(a1);
      dst[3 * xx + 2] = clip8(a2);
    }
  }
}

// Output row yy reads source rows first[yy] − row_offset ... (the source may start at row_offset).
void resample_vertical(const RgbImage& in, int row_offset, RgbImage& out, const AxisWeights& w) {
  const size_t stride = size_t(in.width) * 3;
#pragma omp parallel for schedule(static)
  for (int yy = 0; yy < out.height; ++yy) {
    const int32_t* k = &w.k[size_t(yy) * w.taps];
    const uint8_t* src = &in.rgb[size_t(w.first[yy] - row_offset) * stride];
    uint8_t* dst = &out.rgb[size_t(yy) * stride];
    for (size_t i = 0; i < stride; ++i) {
      int64_t acc = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < w.count[yy]; ++y) acc += int64_t(src[size_t(y) * stride + i]) * k[y];
      dst[i] = clip8(acc);
    }
  }
}

}  // namespace

RgbImage resize_bicubic(const RgbImage& image, int out_h, int out_w) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * image.height * 3) {
    fail("resize_bicubic", "input image " + size_str(image.width, image.height) + " holds " +
                               std::to_string(image.rgb.size()) + " bytes (expected width×height×3)");
  }
  if (out_h <= 0 || out_w <= 0) fail("resize_bicubic", "output size " + size_str(out_w, out_h) + " is empty");
  const bool need_horizontal = out_w != image.width;
  const bool need_vertical = out_h != image.height;
  if (!need_horizontal && !need_vertical) return image;

  const AxisWeights vert = axis_weights(image.height, out_h);
  // Source rows the vertical pass reads: the intermediate image holds only these.
  const int row_first = vert.first[0];
  const int row_last = vert.first[out_h - 1] + vert.count[out_h - 1];

  RgbImage src_rows;  // the horizontally resampled rows (or the input itself)
  const RgbImage* cur = &image;
  int row_offset = 0;
  if (need_horizontal) {
    const AxisWeights horiz = axis_weights(image.width, out_w);
    src_rows.width = out_w;
    src_rows.height = row_last - row_first;
    src_rows.rgb.resize(size_t(src_rows.width) * src_rows.height * 3);
    resample_horizontal(image, row_first, src_rows, horiz);
    cur = &src_rows;
    row_offset = row_first;
  }
  if (!need_vertical) return src_rows;

  RgbImage out;
  out.width = cur->width;
  out.height = out_h;
  out.rgb.resize(size_t(out.width) * out.height * 3);
  resample_vertical(*cur, row_offset, out, vert);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Patches and the whole pipeline

ImagePatches patchify(const RgbImage& resized, int patch) {
  if (patch <= 0 || resized.width <= 0 || resized.height <= 0 || resized.width % patch || resized.height % patch) {
    fail("patchify", "image of " + size_str(resized.width, resized.height) + " is not a whole number of " +
                         std::to_string(patch) + "×" + std::to_string(patch) + " patches");
  }
  ImagePatches p;
  p.patch = patch;
  p.grid_h = resized.height / patch;
  p.grid_w = resized.width / patch;
  p.n = p.grid_h * p.grid_w;
  const size_t per_patch = size_t(patch) * patch * 3;
  p.values.resize(size_t(p.n) * per_patch);
  p.xy.reserve(p.n);
  for (int by = 0; by < p.grid_h; ++by) {
    for (int bx = 0; bx < p.grid_w; ++bx) {
      float* dst = &p.values[size_t(by * p.grid_w + bx) * per_patch];
      for (int r = 0; r < patch; ++r) {
        const uint8_t* row = &resized.rgb[(size_t(by * patch + r) * resized.width + size_t(bx) * patch) * 3];
        // float32 × float32, one rounding: HF multiplies the uint8 tensor by 1/255 in float32 (spec §3.1 step 5)
        for (int i = 0; i < patch * 3; ++i) dst[size_t(r) * patch * 3 + i] = static_cast<float>(row[i]) * kRescale;
      }
      p.xy.emplace_back(bx, by);
    }
  }
  return p;
}

PreparedImage prepare_decoded(RgbImage decoded, int budget) {
  PreparedImage p;
  p.orig_h = decoded.height;
  p.orig_w = decoded.width;
  p.target = target_size(decoded.height, decoded.width, budget);
  p.resampled = p.target != TargetSize{decoded.height, decoded.width};
  p.resized = p.resampled ? resize_bicubic(decoded, p.target.height, p.target.width) : std::move(decoded);
  p.patches = patchify(p.resized);
  return p;
}

PreparedImage prepare_image(const std::string& path, int budget, AlphaMode alpha, const DecodeLimits& limits) {
  check_image_budget(budget);
  return prepare_decoded(decode_image(path, alpha, limits), budget);
}

}  // namespace g4ref
