#include "numerics/matmul.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <type_traits>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "base/error.h"
#include "base/profile.h"

namespace g4ref {

namespace {

// A stored bf16 value read at any byte offset (GCC and clang lower the alignment of a typedef).
typedef uint16_t unaligned_u16 __attribute__((aligned(1), may_alias));

template <class T>
constexpr DType native_dtype() {
  return std::is_same_v<T, double> ? DType::F64 : DType::F32;
}

template <class T>
T element(const MatrixView& w, int64_t index) {
  const std::byte* p = w.data + index * static_cast<int64_t>(dtype_size(w.dtype));
  switch (w.dtype) {
    case DType::BF16: { uint16_t b; std::memcpy(&b, p, 2); return static_cast<T>(bf16_bits_to_float(b)); }
    case DType::F16: { uint16_t b; std::memcpy(&b, p, 2); return static_cast<T>(f16_bits_to_float(b)); }
    case DType::F32: { float f; std::memcpy(&f, p, 4); return static_cast<T>(f); }
    case DType::F64: { double d; std::memcpy(&d, p, 8); return static_cast<T>(d); }
  }
  return T(0);
}

// A weight is used only after it is converted, so this is where a non-finite stored value (a corrupt or
// shifted checkpoint) is caught: the first one fails, naming the tensor and the element, instead of turning every
// logit into NaN.
[[noreturn]] void non_finite(const MatrixView& w, int64_t index, double value) {
  const int64_t cols = std::max<int64_t>(w.cols, 1);
  const std::string at = w.rows == 1 || w.cols == 1 ? "[" + std::to_string(index) + "]"
                                                    : "[" + std::to_string(index / cols) + ", " +
                                                          std::to_string(index % cols) + "]";
  fail(w.name.empty() ? std::string("weight") : w.name,
       std::string("holds a non-finite value (") + (std::isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf") +
           ") at " + at +
           (w.quantized() ? " after dequantization" : "") + "; weights must be finite");
}

template <class T>
void check_finite(const MatrixView& w, int64_t base, const T* values, int64_t count) {
  bool bad = false;
  for (int64_t i = 0; i < count; ++i) bad |= !std::isfinite(values[i]);
  if (!bad) return;
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) non_finite(w, base + i, static_cast<double>(values[i]));
  }
}

// x·wᵀ for a few activation rows (a decode step): each weight row is converted once and dotted with every
// activation row, instead of converting a whole block of rows and handing it to a general product that packs it
// again. Summed in a fixed order (kLanes<T> partial sums, combined pairwise, then the tail), so the result depends
// on neither the thread count nor the block. Float64 keeps 32 partial sums: four independent 8-wide vectors, so an
// addition's latency no longer bounds a decode step (bench_layers Mlp/exact/1 at 12B shapes, 2 threads: 32.9 ms
// with 8 sums, 23.6 ms with 32, 78 % of the read bandwidth). Float keeps 8 (the f32 and bf16 modes' order).
template <class T>
constexpr int64_t kLanes = std::is_same_v<T, double> ? 32 : 8;
// Rows of a stored weight converted at once in a larger product (see matmul_nt).
constexpr int64_t kConvertRows = 64;

// ((a0 + a1) + (a2 + a3)) + ... : the pairwise combination of L partial sums.
template <class T, int64_t L>
T combine_pairwise(const T* a) {
  if constexpr (L == 1) {
    return a[0];
  } else {
    return combine_pairwise<T, L / 2>(a) + combine_pairwise<T, L / 2>(a + L / 2);
  }
}

template <class T>
T dot_fixed_order(const T* a, const T* b, int64_t k) {
  constexpr int64_t L = kLanes<T>;
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= k; i += L) {
    for (int64_t l = 0; l < L; ++l) acc[l] += a[i + l] * b[i + l];
  }
  T tail = 0;
  for (; i < k; ++i) tail += a[i] * b[i];
  return combine_pairwise<T, L>(acc) + tail;
}

float bf16_value(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Weight rows one_row_bf16 takes side by side: their partial sums stay in registers together, so each step issues
// several independent loads and multiply-adds, and the hardware prefetchers follow several streams at once instead
// of waiting on one row's. Float takes eight (eight 8-wide sums: a full register file in AVX2), float64 six
// (twenty-four 8-wide sums, with the four activation and four weight vectors all thirty-two AVX-512 registers).
// A 1 GB bf16 matrix against one activation row, 2 threads, 2-core EPYC: float 25.8 GB/s with four rows, 29.9 with
// eight (read ceiling 32.9 GB/s in the same run); float64 27.5 with two, 30.0 with four, 31.9 with six (read
// ceiling 35.4 GB/s).
template <class T>
constexpr int64_t kRowsAtOnce = std::is_same_v<T, double> ? 6 : 8;

// How far ahead of each row the float64 kernel asks for the weights (bf16 elements; 2 KB), into the second-level
// cache: one core's demand loads alone do not keep enough of memory's latency in flight for the float64 arithmetic
// to overlap it (same matrix, four rows: 25.8 GB/s without, 27.3 at 512 elements, 30.0 at 1024, 27.3 at 2048;
// into the first-level cache 26.3). Float gains nothing from it (29.9 -> 30.0).
constexpr int64_t kPrefetchAhead = 1024;

// The steps of one_row_bf16 written with vector instructions, in the same arithmetic: the bf16 bits shifted into
// a float (exact), widened to float64 where T is (exact), one multiply and one add per element, rounded separately
// (the build disables contraction, and no fused instruction is written here), each lane its own running sum. The
// compilers' own vectorization of the portable loop below gathers the rows into wide registers with shuffles that
// cost more than the arithmetic. acc[r][l] and the loop bounds are exactly the portable loop's, so the result is the
// same bit for bit in every build (tests/test_layers.cpp writes the order out and checks it).
#if defined(__AVX2__)
// Eight stored bf16 values at P (any alignment) as floats: widened to 32 bits and shifted into the high half.
inline __m256 bf16x8_as_float(const unaligned_u16* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
}
#endif

#if defined(__AVX512F__)
// The float64 steps read sixteen bf16 values with one load and split them without moving any across the register:
// the even-numbered ones shifted into the high half of each 32-bit pair, the odd-numbered ones already there with
// the low half cleared, each eight then widened to float64. That spares the widening loads and shifts of eight at a
// time (same matrix, four rows: 27.7 -> 29.4 GB/s; in the third-level cache 36.4 -> 42.4 GB/s). Lane l of register
// q then holds element kStepElement[q][l] of each 32-element block, and the activations are laid out to match
// (arrange_activations); the partial sums go back to their elements' places at the end, so each still sums the
// elements it sums in the portable loop, in the same order.
constexpr int kStepElement(int q, int l) { return 16 * (q / 2) + 2 * l + q % 2; }

// A's first FULL elements in the order the float64 steps read them: each 32-element block as its even-numbered
// elements of the first sixteen, the odd-numbered ones, then the same for the second sixteen.
void arrange_activations(const double* a, int64_t full, double* out) {
  for (int64_t i = 0; i < full; i += 32) {
    for (int q = 0; q < 4; ++q) {
      for (int l = 0; l < 8; ++l) out[i + 8 * q + l] = a[i + kStepElement(q, l)];
    }
  }
}

template <int64_t R>
void one_row_steps(const double* arranged, const unaligned_u16* bits, int64_t k, int64_t full, int64_t stored,
                   double (&acc)[R][32]) {
  const __m256i high_half = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m512d sum[R][4];
  for (int64_t r = 0; r < R; ++r) {
    for (int q = 0; q < 4; ++q) sum[r][q] = _mm512_setzero_pd();
  }
  for (int64_t i = 0; i < full; i += 32) {
    __m512d x[4];
    for (int q = 0; q < 4; ++q) x[q] = _mm512_loadu_pd(arranged + i + 8 * q);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t ahead = r * k + i + kPrefetchAhead;  // past the matrix's last element: nothing to ask for
      if (ahead < stored) _mm_prefetch(reinterpret_cast<const char*>(bits + ahead), _MM_HINT_T1);
      __m512d wq[4];
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + r * k + i + 16 * h));
        wq[2 * h] = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        wq[2 * h + 1] = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_and_si256(v, high_half)));
      }
      for (int q = 0; q < 4; ++q) sum[r][q] = _mm512_add_pd(sum[r][q], _mm512_mul_pd(x[q], wq[q]));
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    for (int q = 0; q < 4; ++q) {
      alignas(64) double lanes[8];
      _mm512_store_pd(lanes, sum[r][q]);
      for (int l = 0; l < 8; ++l) acc[r][kStepElement(q, l)] = lanes[l];
    }
  }
}
#endif

#if defined(__AVX2__)
template <int64_t R>
void one_row_steps(const float* a, const unaligned_u16* bits, int64_t k, int64_t full, int64_t,
                   float (&acc)[R][8]) {
  __m256 sum[R];
  for (int64_t r = 0; r < R; ++r) sum[r] = _mm256_setzero_ps();
  for (int64_t i = 0; i < full; i += 8) {
    const __m256 x = _mm256_loadu_ps(a + i);
    for (int64_t r = 0; r < R; ++r) {
      sum[r] = _mm256_add_ps(sum[r], _mm256_mul_ps(x, bf16x8_as_float(bits + r * k + i)));
    }
  }
  for (int64_t r = 0; r < R; ++r) _mm256_storeu_ps(acc[r], sum[r]);
}
#endif

// Whether one_row_steps has a vector form for T in this build.
template <class T>
constexpr bool kVectorSteps =
#if defined(__AVX512F__)
    true;
#elif defined(__AVX2__)
    std::is_same_v<T, float>;
#else
    false;
#endif

// Whether one_row_steps reads the activations rearranged (arrange_activations) rather than as they are.
template <class T>
constexpr bool kArrangedSteps =
#if defined(__AVX512F__)
    std::is_same_v<T, double>;
#else
    false;
#endif

// y(0, j + r) = x.row(0) · W.row(j + r), r < R, of a bf16 weight, for one activation row: each element is converted
// where it is multiplied, with no buffer between (one pass over the weight bytes). Every row keeps its own kLanes
// partial sums in dot_fixed_order's order, so a row's result is the same whichever rows share its pass.
// The weights' finiteness is tested on the result: a non-finite weight times anything is ±inf or NaN, and no sum or
// pairwise combination turns those finite again, so only a row whose result is not finite can hold one; that row is
// then checked element by element (a finite row whose sum overflowed passes, as it would element by element).
// STEPS_A: the activations as one_row_steps reads them (arranged where kArrangedSteps, else x's row itself).
template <class T, int64_t R>
void one_row_bf16(const Mat<T>& x, const T* steps_a, const MatrixView& w, int64_t j, Mat<T>& y) {
  constexpr int64_t L = kLanes<T>;
  const int64_t k = w.cols;
  const auto* bits = reinterpret_cast<const unaligned_u16*>(w.data + j * k * 2);  // row j + r at bits + r * k
  const T* a = x.data();  // one row: contiguous whatever the storage order
  T acc[R][L] = {};
  const int64_t full = k / L * L;
  if constexpr (kVectorSteps<T>) {
    one_row_steps<R>(steps_a, bits, k, full, (w.rows - j) * k, acc);  // elements from row j to the matrix's end
  } else {
    for (int64_t i = 0; i < full; i += L) {
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t l = 0; l < L; ++l) acc[r][l] += a[i + l] * static_cast<T>(bf16_value(bits[r * k + i + l]));
      }
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    T tail = 0;
    for (int64_t i = full; i < k; ++i) tail += a[i] * static_cast<T>(bf16_value(bits[r * k + i]));
    y(0, j + r) = combine_pairwise<T, L>(acc[r]) + tail;
  }
  for (int64_t r = 0; r < R; ++r) {
    if (std::isfinite(y(0, j + r))) continue;
    Mat<T> row;
    convert_rows(w, j + r, 1, row);  // fails at the row's first non-finite weight, if it has one
  }
}

// y(i, j) = x.row(i) · W.row(j) for every activation row i (2 to kFewRows) of a bf16 weight, converted kChunk
// elements at a time into a buffer that stays in the first-level cache and dotted with every row at once: each
// weight byte is read once from memory, and nothing larger than the chunk is written. The products and the order of
// the sums are exactly dot_fixed_order's (lane l of row i sums the elements ≡ l mod kLanes in increasing order, then
// the same pairwise combination and the tail), so the result is the same bit for bit, and one row alone
// (one_row_bf16) gives the same as that row among others.
constexpr int64_t kChunk = 512;  // a multiple of kLanes: only the last chunk has a tail

template <class T>
void few_rows_bf16(const Mat<T>& x, const MatrixView& w, int64_t j, Mat<T>& y) {
  constexpr int64_t L = kLanes<T>;
  static_assert(kChunk % L == 0);
  const int64_t n = x.rows(), k = w.cols;
  const auto* bits = reinterpret_cast<const unaligned_u16*>(w.data + j * k * 2);
  alignas(64) T buf[kChunk];
  T acc[kFewRows][L] = {};
  T tail[kFewRows] = {};
  uint32_t top_exponent = 0;
  for (int64_t c0 = 0; c0 < k; c0 += kChunk) {
    const int64_t len = std::min(kChunk, k - c0);
    for (int64_t i = 0; i < len; ++i) {
      const uint32_t u = static_cast<uint32_t>(bits[c0 + i]) << 16;
      const uint32_t e = u & 0x7F800000u;
      top_exponent = top_exponent > e ? top_exponent : e;
      float f;
      std::memcpy(&f, &u, sizeof f);
      buf[i] = static_cast<T>(f);
    }
    if (top_exponent == 0x7F800000u) check_finite(w, j * k + c0, buf, len);
    const int64_t full = len / L * L;
    for (int64_t r = 0; r < n; ++r) {
      const T* a = x.row(r).data() + c0;
      T lanes[L];  // in registers for the chunk, not read and written through memory at every step
      for (int64_t l = 0; l < L; ++l) lanes[l] = acc[r][l];
      for (int64_t i = 0; i < full; i += L) {
        for (int64_t l = 0; l < L; ++l) lanes[l] += a[i + l] * buf[i + l];
      }
      for (int64_t l = 0; l < L; ++l) acc[r][l] = lanes[l];
      for (int64_t i = full; i < len; ++i) tail[r] += a[i] * buf[i];
    }
  }
  for (int64_t r = 0; r < n; ++r) y(r, j) = combine_pairwise<T, L>(acc[r]) + tail[r];
}

}  // namespace

template <class T>
void convert_rows(const MatrixView& w, int64_t row0, int64_t n, Mat<T>& out) {
  out.resize(n, w.cols);
  T* dst = out.data();
  const int64_t count = n * w.cols;
  const int64_t base = row0 * w.cols;
  if (w.quantized()) {
    const size_t row_bytes = ggml_row_size(w.quant, w.cols);
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = 0; r < n; ++r) {
      dequantize_row(w.quant, w.data + (row0 + r) * row_bytes, row.data(), w.cols);
      for (int64_t i = 0; i < w.cols; ++i) dst[r * w.cols + i] = static_cast<T>(row[i]);
    }
    check_finite(w, base, dst, count);
    return;
  }
  if (w.dtype == DType::BF16) {
    // The hot path of every weight: bf16 -> T is a shift, done without per-element dispatch.
    // The finiteness test is on the bits (exponent all ones), folded into the same pass. One plain loop the compiler vectorizes: the bits are read through a type with byte alignment (the data may
    // sit at any offset of the mapped file), and the exponent test is a running maximum.
    const auto* bits = reinterpret_cast<const unaligned_u16*>(w.data + base * 2);
    T* __restrict out = dst;
    uint32_t top_exponent = 0;
    for (int64_t i = 0; i < count; ++i) {
      const uint32_t u = static_cast<uint32_t>(bits[i]) << 16;
      const uint32_t e = u & 0x7F800000u;
      top_exponent = top_exponent > e ? top_exponent : e;
      float f;
      std::memcpy(&f, &u, sizeof f);
      out[i] = static_cast<T>(f);
    }
    const bool bad = top_exponent == 0x7F800000u;
    if (bad) check_finite(w, base, dst, count);
    return;
  }
  for (int64_t i = 0; i < count; ++i) dst[i] = element<T>(w, base + i);
  check_finite(w, base, dst, count);
}

template <class T>
Vec<T> convert_vector(const MatrixView& w) {
  if (w.quantized()) {
    Mat<T> all;
    convert_rows(w, 0, w.rows, all);
    return Eigen::Map<const Vec<T>>(all.data(), all.size());
  }
  Vec<T> v(w.rows * w.cols);
  for (int64_t i = 0; i < v.size(); ++i) v[i] = element<T>(w, i);
  check_finite(w, 0, v.data(), v.size());
  return v;
}

template <class T>
MatrixView view_of(const Mat<T>& m, const std::string& name) {
  MatrixView v;
  v.dtype = native_dtype<T>();
  v.data = reinterpret_cast<const std::byte*>(m.data());
  v.rows = m.rows();
  v.cols = m.cols();
  v.name = name;
  return v;
}

template <class T>
Mat<T> matmul_nt(const Mat<T>& x, const MatrixView& w, const Vec<T>* bias) {
  if (x.cols() != w.cols) {
    fail(w.name.empty() ? "matmul" : w.name,
         "inner dimensions differ (activations have " + std::to_string(x.cols()) + " columns, weight has " +
             std::to_string(w.cols) + ")");
  }
  const int64_t n = x.rows();
  const int64_t m = w.rows;
  Mat<T> y(n, m);
  const int64_t col_blocks = (m + kColBlock - 1) / kColBlock;
  const bool native = w.dtype == native_dtype<T>() && !w.quantized();
  StageProfile* profile = active_profile();
  if (profile) {
    profile->matmul_flops += 2 * n * m * w.cols;
    profile->operand_bytes += static_cast<int64_t>(
        w.quantized() ? ggml_row_size(w.quant, w.cols) * static_cast<size_t>(m)
                      : static_cast<size_t>(m * w.cols) * dtype_size(w.dtype));
  }

  // A decode step's activations as the vector steps of one_row_bf16 read them, laid out once for every weight row.
  const T* steps_a = x.data();
  std::vector<T> arranged;
  if constexpr (kArrangedSteps<T>) {
    if (n == 1 && w.dtype == DType::BF16 && !w.quantized()) {
      const int64_t full = w.cols / kLanes<T> * kLanes<T>;
      arranged.resize(static_cast<size_t>(full));
      arrange_activations(x.data(), full, arranged.data());
      steps_a = arranged.data();
    }
  }

  // An exception must not leave an OpenMP region: the one of the lowest block is kept (the same whatever the
  // thread count) and rethrown after it.
  std::exception_ptr error;
  int64_t error_block = col_blocks;
#pragma omp parallel
  {
    Mat<T> converted;  // per-thread buffer: weight rows as T
    // y[:, j0 : j0 + nj] = x · W[j0 : j0 + nj]ᵀ from NJ rows of T at WDATA, kRowBlock activation rows at a time.
    auto product = [&](const T* wdata, int64_t j0, int64_t nj) {
      const Eigen::Map<const Mat<T>> wb(wdata, nj, w.cols);
      for (int64_t i0 = 0; i0 < n; i0 += kRowBlock) {
        const int64_t ni = std::min(kRowBlock, n - i0);
        y.block(i0, j0, ni, nj).noalias() = x.middleRows(i0, ni) * wb.transpose();
        if (bias) y.block(i0, j0, ni, nj).rowwise() += bias->segment(j0, nj).transpose();
      }
    };
#pragma omp for schedule(dynamic, 1)
    for (int64_t cb = 0; cb < col_blocks; ++cb) {
      const int64_t j0 = cb * kColBlock;
      const int64_t nj = std::min(kColBlock, m - j0);
      try {
        if (!native && n <= kFewRows) {
          // A decode step: each weight row converted once and used by every activation row (kRowsAtOnce rows side
          // by side for a single activation row). Conversion and products interleave here, so no conversion time is
          // split out.
          if (w.dtype == DType::BF16 && !w.quantized()) {
            if (n == 1) {
              int64_t j = 0;
              for (; j + kRowsAtOnce<T> <= nj; j += kRowsAtOnce<T>) {
                one_row_bf16<T, kRowsAtOnce<T>>(x, steps_a, w, j0 + j, y);
              }
              // A block's remainder (256 = 42 · 6 + 4 in float64) four at a time, then one by one.
              for (; j + 4 <= nj; j += 4) one_row_bf16<T, 4>(x, steps_a, w, j0 + j, y);
              for (; j < nj; ++j) one_row_bf16<T, 1>(x, steps_a, w, j0 + j, y);
            } else {
              for (int64_t j = 0; j < nj; ++j) few_rows_bf16(x, w, j0 + j, y);
            }
          } else {
            for (int64_t j = 0; j < nj; ++j) {
              convert_rows(w, j0 + j, 1, converted);
              for (int64_t i = 0; i < n; ++i) y(i, j0 + j) = dot_fixed_order(x.row(i).data(), converted.data(), w.cols);
            }
          }
          if (bias) y.block(0, j0, n, nj).rowwise() += bias->segment(j0, nj).transpose();
          continue;
        }
        if (native) {
          product(reinterpret_cast<const T*>(w.data) + j0 * w.cols, j0, nj);
          continue;
        }
        // Stored weights are converted kConvertRows rows at a time, so the converted rows are still in the cache
        // when Eigen packs them (a whole 256-row block of float64 at the 12B's width is 7.8 MB).
        for (int64_t s0 = 0; s0 < nj; s0 += kConvertRows) {
          const int64_t ns = std::min(kConvertRows, nj - s0);
          const auto c0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
          convert_rows(w, j0 + s0, ns, converted);
          if (profile) {
            profile->conversion_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now() - c0)
                                          .count();
          }
          product(converted.data(), j0 + s0, ns);
        }
      } catch (...) {
#pragma omp critical(g4ref_matmul_error)
        if (cb < error_block) {
          error = std::current_exception();
          error_block = cb;
        }
        continue;
      }
    }
  }
  if (error) std::rethrow_exception(error);
  return y;
}

template <class T>
Mat<T> matmul_nt(const Mat<T>& x, const Mat<T>& w) {
  return matmul_nt<T>(x, view_of<T>(w), nullptr);
}

template void convert_rows<double>(const MatrixView&, int64_t, int64_t, Mat<double>&);
template void convert_rows<float>(const MatrixView&, int64_t, int64_t, Mat<float>&);
template Vec<double> convert_vector<double>(const MatrixView&);
template Vec<float> convert_vector<float>(const MatrixView&);
template MatrixView view_of<double>(const Mat<double>&, const std::string&);
template MatrixView view_of<float>(const Mat<float>&, const std::string&);
template Mat<double> matmul_nt<double>(const Mat<double>&, const MatrixView&, const Vec<double>*);
template Mat<float> matmul_nt<float>(const Mat<float>&, const MatrixView&, const Vec<float>*);
template Mat<double> matmul_nt<double>(const Mat<double>&, const Mat<double>&);
template Mat<float> matmul_nt<float>(const Mat<float>&, const Mat<float>&);

}  // namespace g4ref
