// ggml block types: layouts, dequantization and the reference quantizers (see quant.h).
//
// Every formula below is written with the operand order of ggml's C code, in float, and this file is
// compiled without floating-point contraction, so that no fused multiply-add changes a rounding.
#include "numerics/quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "numerics/bf16.h"
#include "numerics/dtype.h"

namespace g4ref {

namespace {

struct TypeInfo {
  GgmlType type;
  const char* name;
  int64_t block_size;
  size_t type_size;
};

// Block sizes and bytes per block, as in ggml's type traits.
constexpr TypeInfo kTypes[] = {
    {GgmlType::F32, "f32", 1, 4},
    {GgmlType::F16, "f16", 1, 2},
    {GgmlType::Q4_0, "q4_0", 32, 2 + 16},
    {GgmlType::Q4_1, "q4_1", 32, 2 + 2 + 16},
    {GgmlType::Q5_0, "q5_0", 32, 2 + 4 + 16},
    {GgmlType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16},
    {GgmlType::Q8_0, "q8_0", 32, 2 + 32},
    {GgmlType::Q8_1, "q8_1", 32, 2 + 2 + 32},
    {GgmlType::Q2_K, "q2_K", 256, 2 + 2 + 16 + 64},
    {GgmlType::Q3_K, "q3_K", 256, 2 + 64 + 32 + 12},
    {GgmlType::Q4_K, "q4_K", 256, 2 + 2 + 12 + 128},
    {GgmlType::Q5_K, "q5_K", 256, 2 + 2 + 12 + 32 + 128},
    {GgmlType::Q6_K, "q6_K", 256, 128 + 64 + 16 + 2},
    {GgmlType::Q8_K, "q8_K", 256, 4 + 256 + 32},
    {GgmlType::IQ2_XXS, "iq2_xxs", 256, 2 + 64},
    {GgmlType::IQ2_XS, "iq2_xs", 256, 2 + 64 + 8},
    {GgmlType::IQ3_XXS, "iq3_xxs", 256, 2 + 64 + 32},
    {GgmlType::IQ1_S, "iq1_s", 256, 2 + 32 + 16},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 2 + 16},
    {GgmlType::IQ3_S, "iq3_s", 256, 2 + 64 + 32 + 8 + 4},
    {GgmlType::IQ2_S, "iq2_s", 256, 2 + 64 + 16},
    {GgmlType::IQ4_XS, "iq4_xs", 256, 2 + 2 + 128 + 4},
    {GgmlType::I8, "i8", 1, 1},
    {GgmlType::I16, "i16", 1, 2},
    {GgmlType::I32, "i32", 1, 4},
    {GgmlType::I64, "i64", 1, 8},
    {GgmlType::F64, "f64", 1, 8},
    {GgmlType::IQ1_M, "iq1_m", 256, 32 + 16 + 8},
    {GgmlType::BF16, "bf16", 1, 2},
    {GgmlType::TQ1_0, "tq1_0", 256, 2 + 52},
    {GgmlType::TQ2_0, "tq2_0", 256, 2 + 64},
    {GgmlType::MXFP4, "mxfp4", 32, 1 + 16},
};

const TypeInfo* find_info(uint32_t id) {
  for (const TypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == id) return &info;
  }
  return nullptr;
}

const TypeInfo& info_of(GgmlType t) {
  const TypeInfo* info = find_info(static_cast<uint32_t>(t));
  if (!info) fail("ggml type " + std::to_string(static_cast<uint32_t>(t)), "unknown type id");
  return *info;
}

// --- little helpers: little-endian binary16 scales, ggml's rounding functions ------------------------

float load_f16(const std::byte* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return f16_bits_to_float(bits);
}

void store_f16(std::byte* p, float x) {
  const uint16_t bits = float_to_f16_bits(x);
  std::memcpy(p, &bits, 2);
}

uint8_t u8(const std::byte* p, size_t i) { return static_cast<uint8_t>(p[i]); }

// ggml's nearest_int: round half to even (it adds 1.5·2^23 and reads the mantissa), valid for
// |x| < 2^22, which every caller guarantees.
int nearest_int(float x) { return static_cast<int>(std::nearbyint(x)); }

// Six-bit scale and min of sub-block J of a Q4_K / Q5_K super-block, from the 12 packed bytes Q:
// sub-blocks 0..3 keep their scale in q[j] and min in q[j+4] (low six bits); sub-blocks 4..7 keep
// the low four bits in the nibbles of q[j+4] and the high two bits in the top bits of q[j-4] / q[j].
void get_scale_min_k4(int j, const std::byte* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = u8(q, j) & 63;
    *min = u8(q, j + 4) & 63;
  } else {
    *scale = static_cast<uint8_t>((u8(q, j + 4) & 0xF) | ((u8(q, j - 4) >> 6) << 4));
    *min = static_cast<uint8_t>((u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4));
  }
}

// The inverse packing of get_scale_min_k4 for eight six-bit (scale, min) pairs.
void put_scales_mins_k4(const uint8_t* ls, const uint8_t* lm, std::byte* q) {
  uint8_t out[12] = {};
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] = ls[j];
      out[j + 4] = lm[j];
    } else {
      out[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      out[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      out[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
  std::memcpy(q, out, 12);
}

// Below this a group counts as all zero (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// ====================================== dequantization ===========================================
//
// Block layouts (offsets in bytes; "d", "m", "dmin" are binary16):
//   Q8_0  [d][32 × int8 q]                       x = d·q
//   Q4_0  [d][16 bytes]                          x[j] = d·(lo(b[j]) − 8), x[j+16] = d·(hi(b[j]) − 8)
//   Q4_1  [d][m][16 bytes]                       x = d·q + m with q as in Q4_0, unbiased
//   Q5_0  [d][u32 qh][16 bytes]                  fifth bit of x[j] is bit j of qh; q − 16
//   Q5_1  [d][m][u32 qh][16 bytes]               as Q5_0, x = d·q + m
//   Q4_K  [d][dmin][12 scale bytes][128 bytes]   8 sub-blocks of 32: x = d·sc·q − dmin·mn
//   Q5_K  [d][dmin][12][32 qh][128 ql]           as Q4_K with a fifth bit from qh
//   Q6_K  [128 ql][64 qh][16 × int8 scale][d]    16 sub-blocks of 16: x = d·sc·(q − 32)

void dequant_q8_0(const std::byte* b, float* y) {
  const float d = load_f16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

void dequant_q4_0(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const std::byte* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    const int lo = (u8(qs, j) & 0x0F) - 8;
    const int hi = (u8(qs, j) >> 4) - 8;
    y[j] = static_cast<float>(lo) * d;
    y[j + 16] = static_cast<float>(hi) * d;
  }
}

void dequant_q4_1(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const float m = load_f16(b + 2);
  const std::byte* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(u8(qs, j) & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(u8(qs, j) >> 4) * d + m;
  }
}

void dequant_q5(const std::byte* qh_bytes, const std::byte* qs, float d, float m, bool has_min, float* y) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    const int high_lo = static_cast<int>(((qh >> j) << 4) & 0x10);
    const int high_hi = static_cast<int>((qh >> (j + 12)) & 0x10);
    const int q_lo = (u8(qs, j) & 0x0F) | high_lo;
    const int q_hi = (u8(qs, j) >> 4) | high_hi;
    if (has_min) {
      y[j] = static_cast<float>(q_lo) * d + m;
      y[j + 16] = static_cast<float>(q_hi) * d + m;
    } else {
      y[j] = static_cast<float>(q_lo - 16) * d;
      y[j + 16] = static_cast<float>(q_hi - 16) * d;
    }
  }
}

void dequant_q4_k(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const float dmin = load_f16(b + 2);
  const std::byte* scales = b + 4;
  const std::byte* q = b + 16;
  // Each 32-byte chunk of quants holds two sub-blocks: low nibbles, then high nibbles.
  for (int chunk = 0; chunk < 4; ++chunk) {
    uint8_t sc, mn;
    get_scale_min_k4(2 * chunk, scales, &sc, &mn);
    const float d1 = d * sc, m1 = dmin * mn;
    get_scale_min_k4(2 * chunk + 1, scales, &sc, &mn);
    const float d2 = d * sc, m2 = dmin * mn;
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(u8(q, l) & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(u8(q, l) >> 4) - m2;
    q += 32;
  }
}

void dequant_q5_k(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const float dmin = load_f16(b + 2);
  const std::byte* scales = b + 4;
  const std::byte* qh = b + 16;
  const std::byte* ql = b + 48;
  // The fifth bit of sub-block 2c (2c+1) is bit 2c (2c+1) of qh[l].
  for (int chunk = 0; chunk < 4; ++chunk) {
    uint8_t sc, mn;
    get_scale_min_k4(2 * chunk, scales, &sc, &mn);
    const float d1 = d * sc, m1 = dmin * mn;
    get_scale_min_k4(2 * chunk + 1, scales, &sc, &mn);
    const float d2 = d * sc, m2 = dmin * mn;
    const uint8_t bit1 = static_cast<uint8_t>(1u << (2 * chunk));
    const uint8_t bit2 = static_cast<uint8_t>(2u << (2 * chunk));
    for (int l = 0; l < 32; ++l) {
      const int q = (u8(ql, l) & 0xF) + ((u8(qh, l) & bit1) ? 16 : 0);
      *y++ = d1 * static_cast<float>(q) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int q = (u8(ql, l) >> 4) + ((u8(qh, l) & bit2) ? 16 : 0);
      *y++ = d2 * static_cast<float>(q) - m2;
    }
    ql += 32;
  }
}

void dequant_q6_k(const std::byte* b, float* y) {
  const std::byte* ql = b;
  const std::byte* qh = b + 128;
  const std::byte* sc = b + 192;
  const float d = load_f16(b + 208);
  // Each half (128 values) uses 64 ql bytes, 32 qh bytes and 8 scales; value l + 32·k of the half
  // takes nibble (k / 2) of ql[l + 32·(k % 2)] and bits 2k..2k+1 of qh[l].
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((u8(ql, l) & 0xF) | (((u8(qh, l) >> 0) & 3) << 4)) - 32;
      const int q2 = ((u8(ql, l + 32) & 0xF) | (((u8(qh, l) >> 2) & 3) << 4)) - 32;
      const int q3 = ((u8(ql, l) >> 4) | (((u8(qh, l) >> 4) & 3) << 4)) - 32;
      const int q4 = ((u8(ql, l + 32) >> 4) | (((u8(qh, l) >> 6) & 3) << 4)) - 32;
      const auto scale = [&](int k) { return static_cast<float>(static_cast<int8_t>(sc[is + k])); };
      y[l + 0] = d * scale(0) * static_cast<float>(q1);
      y[l + 32] = d * scale(2) * static_cast<float>(q2);
      y[l + 64] = d * scale(4) * static_cast<float>(q3);
      y[l + 96] = d * scale(6) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// ===================================== reference quantizers =======================================

void quant_q8_0(const float* x, std::byte* b) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  store_f16(b, d);
  // roundf: halves away from zero (unlike nearest_int), as ggml.
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<std::byte>(static_cast<int8_t>(std::round(x[j] * id)));
}

void quant_q4_0(const float* x, std::byte* b) {
  // The scale maps the value of largest magnitude, with its sign, to −8.
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  store_f16(b, d);
  for (int j = 0; j < 16; ++j) {
    const float x0 = x[j] * id;
    const float x1 = x[j + 16] * id;
    // truncation of (v + 8.5) is rounding half up of v + 8, then clipped to 15
    const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f)));
    const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f)));
    b[2 + j] = static_cast<std::byte>(q0 | (q1 << 4));
  }
}

// ggml's make_qkx2_quants: an asymmetric grid L ∈ [0, nmax] with x ≈ scale·L − min, searched over
// nstep+1 trial inverse scales around nmax/(max − min); each trial is refitted by weighted least
// squares and kept when its weighted absolute/squared error is smaller. Returns the scale, sets *the_min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const float lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ggml's make_qx_quants with rmse_type 1 and no importance weights (weights x²): a symmetric grid
// L − nmax ∈ [−nmax, nmax − 1], scale refined by weighted least squares over 18 trial grids.
float make_qx_quants_rmse1(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float nmaxf = static_cast<float>(nmax);
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const float lf = static_cast<float>(l);
    sumlx += w * x[i] * lf;
    suml2 += w * lf * lf;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmaxf + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      const float lf = static_cast<float>(l);
      sumlx += w * x[i] * lf;
      suml2 += w * lf * lf;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void quant_q4_k(const float* x, std::byte* b) {
  uint8_t L[256];
  uint8_t Laux[32];
  float weights[32];
  float mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(32, 15, xs, weights, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  // Sub-block scales and mins become six-bit multiples of the super-block's d and dmin.
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  put_scales_mins_k4(ls, lm, b + 4);
  store_f16(b, max_scale / 63.0f);
  store_f16(b + 2, max_min / 63.0f);
  // Requantize against the scales as stored.
  const float d_all = load_f16(b), dmin_all = load_f16(b + 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    get_scale_min_k4(j, b + 4, &sc, &mn);
    const float d = d_all * sc;
    if (d == 0.0f) continue;
    const float dm = dmin_all * mn;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(15, l)));
    }
  }
  std::byte* q = b + 16;
  for (int j = 0; j < 256; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<std::byte>(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

void quant_q6_k(const float* x, std::byte* b) {
  int8_t L[256];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float scale = make_qx_quants_rmse1(16, 32, x + 16 * ib, L + 16 * ib);
    scales[ib] = scale;
    if (std::fabs(scale) > max_abs_scale) {
      max_abs_scale = std::fabs(scale);
      max_scale = scale;
    }
  }
  std::memset(b, 0, 210);
  if (max_abs_scale < kGroupMaxEps) return;  // all-zero block: every byte zero, d = +0

  // Eight-bit sub-block scales; the largest in magnitude maps to −128 (clipped to 127 at +128).
  const float iscale = -128.0f / max_scale;
  store_f16(b + 208, 1 / iscale);
  for (int ib = 0; ib < 16; ++ib) {
    b[192 + ib] = static_cast<std::byte>(static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib]))));
  }
  const float d_all = load_f16(b + 208);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * static_cast<float>(static_cast<int8_t>(b[192 + j]));
    if (d == 0.0f) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
    }
  }
  std::byte* ql = b;
  std::byte* qh = b + 128;
  for (int j = 0; j < 256; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const auto q = [&](int k) { return static_cast<uint8_t>(L[j + l + 32 * k]); };
      ql[l] = static_cast<std::byte>((q(0) & 0xF) | ((q(2) & 0xF) << 4));
      ql[l + 32] = static_cast<std::byte>((q(1) & 0xF) | ((q(3) & 0xF) << 4));
      qh[l] = static_cast<std::byte>((q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

int64_t whole_blocks(GgmlType t, int64_t n, const char* what) {
  const int64_t bs = ggml_block_size(t);
  if (n < 0 || n % bs != 0) {
    fail(std::string(what) + " " + ggml_type_name(t),
         "length " + std::to_string(n) + " is not a multiple of the block size " + std::to_string(bs));
  }
  return n / bs;
}

}  // namespace

bool ggml_type_known(uint32_t id) { return find_info(id) != nullptr; }

std::string ggml_type_name(GgmlType t) {
  const TypeInfo* info = find_info(static_cast<uint32_t>(t));
  return info ? info->name : "type" + std::to_string(static_cast<uint32_t>(t));
}

int64_t ggml_block_size(GgmlType t) { return info_of(t).block_size; }
size_t ggml_type_size(GgmlType t) { return info_of(t).type_size; }

size_t ggml_row_size(GgmlType t, int64_t n) {
  return static_cast<size_t>(whole_blocks(t, n, "row of")) * ggml_type_size(t);
}

bool ggml_can_dequantize(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool ggml_can_quantize(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0:
    case GgmlType::Q4_0: case GgmlType::Q4_K: case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

void dequantize_row(GgmlType t, const std::byte* src, float* dst, int64_t n) {
  if (!ggml_can_dequantize(t)) fail("dequantize " + ggml_type_name(t), "type not supported");
  const int64_t nb = whole_blocks(t, n, "dequantize");
  const size_t ts = ggml_type_size(t);
  const int64_t bs = ggml_block_size(t);
  for (int64_t i = 0; i < nb; ++i) {
    const std::byte* b = src + static_cast<size_t>(i) * ts;
    float* y = dst + i * bs;
    switch (t) {
      case GgmlType::F32: std::memcpy(y, b, 4); break;
      case GgmlType::F16: *y = load_f16(b); break;
      case GgmlType::BF16: {
        uint16_t bits;
        std::memcpy(&bits, b, 2);
        *y = bf16_bits_to_float(bits);
        break;
      }
      case GgmlType::Q8_0: dequant_q8_0(b, y); break;
      case GgmlType::Q4_0: dequant_q4_0(b, y); break;
      case GgmlType::Q4_1: dequant_q4_1(b, y); break;
      case GgmlType::Q5_0: dequant_q5(b + 2, b + 6, load_f16(b), 0.0f, false, y); break;
      case GgmlType::Q5_1: dequant_q5(b + 4, b + 8, load_f16(b), load_f16(b + 2), true, y); break;
      case GgmlType::Q4_K: dequant_q4_k(b, y); break;
      case GgmlType::Q5_K: dequant_q5_k(b, y); break;
      case GgmlType::Q6_K: dequant_q6_k(b, y); break;
      default: break;
    }
  }
}

void quantize_row(GgmlType t, const float* src, std::byte* dst, int64_t n) {
  if (!ggml_can_quantize(t)) fail("quantize " + ggml_type_name(t), "type not supported");
  const int64_t nb = whole_blocks(t, n, "quantize");
  const size_t ts = ggml_type_size(t);
  const int64_t bs = ggml_block_size(t);
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * bs;
    std::byte* b = dst + static_cast<size_t>(i) * ts;
    switch (t) {
      case GgmlType::F32: std::memcpy(b, x, 4); break;
      case GgmlType::F16: store_f16(b, *x); break;
      case GgmlType::BF16: {
        const uint16_t bits = float_to_bf16_bits(*x);
        std::memcpy(b, &bits, 2);
        break;
      }
      case GgmlType::Q8_0: quant_q8_0(x, b); break;
      case GgmlType::Q4_0: quant_q4_0(x, b); break;
      case GgmlType::Q4_K: quant_q4_k(x, b); break;
      case GgmlType::Q6_K: quant_q6_k(x, b); break;
      default: break;
    }
  }
}

}  // namespace g4ref
