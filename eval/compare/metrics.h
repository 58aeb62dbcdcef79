// Error metrics between a golden tensor g and a candidate c of equal element count, computed in double:
//   max_abs  = max |g − c|             mean_abs = mean |g − c|
//   nmse     = Σ(g − c)² / Σg²          (0/0 = 0; x/0 = +inf)
//   cosine   = Σgc / (‖g‖·‖c‖)          (both zero: 1; one zero: 0)
//   bf16_ulps = max over elements of the number of bfloat16 steps between bf16(g) and bf16(c)
//               (meaningful away from zero: bf16 spacing shrinks toward 0, so two tiny values of opposite
//               sign are ~30000 steps apart; it informs, it does not judge)
// and, for logits [positions, vocab], per position KL(softmax(g) ‖ softmax(c)), top-1 agreement and top-10
// overlap.
#pragma once

#include <cstdint>
#include <vector>

namespace g4ref {

struct TensorMetrics {
  int64_t count = 0;    // element pairs compared
  int64_t skipped = 0;  // pairs left out because exactly one side was −inf (with skip_one_sided_neg_inf)
  int64_t nonfinite_mismatches = 0;  // pairs with a NaN, or an infinity the other side does not share
  double max_abs = 0, mean_abs = 0, nmse = 0, cosine = 1;
  int64_t bf16_ulps = 0;
};

struct MetricOptions {
  // Logits: llama.cpp and generation code set suppressed tokens to −∞ (spec §2.9), which the network itself
  // does not do; such pairs are then left out (and counted) instead of making every metric infinite.
  bool skip_one_sided_neg_inf = false;
};

// Equal infinities on both sides agree and add nothing; any other non-finite pair is a mismatch that makes
// max_abs, mean_abs and nmse +inf.
TensorMetrics tensor_metrics(const double* golden, const double* candidate, int64_t n,
                             const MetricOptions& options = {});
TensorMetrics tensor_metrics(const std::vector<double>& golden, const std::vector<double>& candidate,
                             const MetricOptions& options = {});

// bfloat16 nearest to X (ties to even), computed from the double directly: X is first cut to float with
// round-to-odd, which keeps the later rounding to bf16 correct (no double-rounding error).
uint16_t double_to_bf16_bits(double x);
// Position of a bf16 bit pattern on the number line: consecutive bf16 values differ by 1, +0 and −0 are both
// 0, ±inf lie one step beyond the largest finite values.
int32_t bf16_ordinal(uint16_t bits);
// Number of bf16 values between bf16(a) and bf16(b) (0 when they round to the same bf16).
int64_t bf16_ulp_distance(double a, double b);

struct LogitsMetrics {
  int64_t positions = 0, vocab = 0;
  std::vector<double> kl;             // per position, nats
  std::vector<uint8_t> top1_agree;    // per position
  std::vector<double> top10_overlap;  // per position, in [0, 1]
  double max_kl = 0, mean_kl = 0;
  int64_t worst_position = -1;        // argmax of kl
  int64_t top1_agreements = 0;
  double top1_fraction = 0, mean_top10_overlap = 0;
  int64_t masked = 0;                 // tokens (over all positions) −inf on exactly one side
};

// GOLDEN and CANDIDATE hold positions × vocab logits, row-major.
// −inf logits (suppressed tokens): a token −inf on both sides has probability 0 on both and is simply absent;
// a token −inf on one side only is left out of BOTH distributions (each renormalized over the tokens finite
// on both sides) and counted in `masked`, so a suppression list applied by only one implementation shows up
// as a count instead of an infinite KL. NaN or +inf in a row makes its KL +inf.
// Top-1 agrees when the candidate's argmax is one of the golden's maxima (softcapped bf16 logits tie often,
// spec §2.9). Top-k sets break ties by the lower token id.
LogitsMetrics logits_metrics(const double* golden, const double* candidate, int64_t positions, int64_t vocab,
                             int top_k = 10);

}  // namespace g4ref
