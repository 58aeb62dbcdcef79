// g4ref crosscheck: another implementation against the reference, through the backends (eval/backends) and the
// judges of eval/crosscheck.
//   llamacpp: export the checkpoint to GGUF (and its projector to an mmproj when the prompt has media), run the
//     prompt in llama.cpp (its own code, through the adapter), and compare llama.cpp's logits at every position with
//     the reference run on the SAME GGUF (so quantized weights are the same dequantized values and only the
//     arithmetic differs): in f32 mode with llama.cpp's embedding scale (what llama.cpp means to compute) and in
//     exact mode. With media, each item's projected embeddings from llama.cpp's gemma4uv / gemma4ua graphs are
//     compared with the reference's first, then the logits at every text position and at the last position of each
//     media block (llama.cpp gives no logits inside one).
//   quantize: llama.cpp's quantizer against export-gguf, byte for byte.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <fstream>
#include <sstream>

#include "backends/llamacpp_backend.h"
#include "backends/reference_backend.h"
#include "convert/gguf_export.h"
#include "base/error.h"
#include "cli/common.h"
#include "cli/prompt_args.h"
#include "crosscheck/endpoint_check.h"
#include "crosscheck/logits_check.h"
#include "crosscheck/media_check.h"
#include "crosscheck/quantize_check.h"
#include "crosscheck/thresholds.h"
#include "forward/session.h"
#include "model/weights.h"

namespace g4ref {

namespace {

struct CrosscheckArgs {
  std::string model;
  PromptArgs prompt;
  std::string type = "f32";
  std::string kv = "f16";
  std::string mmproj_type;  // "": default_mmproj_type of --type
  std::string window = "lower";
  std::string image_attention = "sliding";
  bool embeddings_only = false;
  std::string flash_attn = "auto";
  std::string keep;
  double max_nmse = 0;  // 0: the default for the type (default_max_nmse)
  double min_top1 = 0.95;
  bool json = false;
  std::vector<std::string> deviations;
};

bool has_deviation(const CrosscheckArgs& a, const std::string& name) {
  return std::find(a.deviations.begin(), a.deviations.end(), name) != a.deviations.end();
}

// The reference as the cross-check runs it: llama.cpp's embedding scale, the chosen mask variants and the reference
// deviations among --deviation (the media ones act on llama.cpp's files instead).
RunOptions reference_options(const CrosscheckArgs& a, Precision precision) {
  ForwardArgs f;
  for (const std::string& x : a.deviations) {
    if (x.rfind("mmproj-", 0) != 0 && x.rfind("audio-", 0) != 0) f.deviations.push_back(x);
  }
  f.window = a.window;
  f.image_attention = a.image_attention;
  RunOptions o = f.run_options();
  o.precision = precision;
  o.embed_scale = EmbedScale::llamacpp;
  return o;
}

LlamaCppBackend make_llama(const CrosscheckArgs& a) {
  LlamaCppBackendOptions o;
  o.model = a.model;
  o.tokenizer = a.prompt.tokenizer;
  o.type = a.type;
  o.mmproj_type = a.mmproj_type;
  o.kv = a.kv;
  o.flash_attn = a.flash_attn;
  o.keep = a.keep;
  o.mmproj_deviations.hwc_patches = has_deviation(a, "mmproj-hwc-patches");
  o.mmproj_deviations.swap_position_axes = has_deviation(a, "mmproj-pos-axes-swapped");
  o.shift_audio = has_deviation(a, "audio-shifted-one-sample");
  return LlamaCppBackend(o);
}

std::string sci(double x) {
  std::ostringstream s;
  s << std::scientific << std::setprecision(3) << x;
  return s.str();
}

void crosscheck_text(const CrosscheckArgs& a, LlamaCppBackend& llama, const PreparedPrompt& p) {
  const Eigen::MatrixXd theirs = llama.logits(p);
  // The reference on the same GGUF weights.
  auto model = Model::load(llama.gguf());
  auto reference = [&](Precision precision) {
    return make_session(*model, reference_options(a, precision))->forward(p, LogitRows::all);
  };
  std::vector<int64_t> positions(p.ids.size());
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int64_t>(i);
  const double max_nmse = a.max_nmse > 0 ? a.max_nmse : default_max_nmse(a.type);
  const LogitsJudgement vs_f32 = judge_logits(reference(Precision::f32), theirs, positions, max_nmse, a.min_top1);
  const LogitsJudgement vs_exact = judge_logits(reference(Precision::exact), theirs, positions, max_nmse, a.min_top1);
  if (!vs_f32.pass) exit_code() = 1;
  if (a.json) {
    std::cout << nlohmann::json{{"model", a.model}, {"type", a.type}, {"kv_cache_type", a.kv},
                                {"llamacpp", llama.last_run()},
                                {"positions", p.ids.size()}, {"tokens", p.ids},
                                {"vs_f32_llamacpp_scale", judgement_json(vs_f32, true)},
                                {"vs_exact", judgement_json(vs_exact, true)},
                                {"thresholds", {{"max_nmse", max_nmse}, {"min_top1", a.min_top1}}},
                                {"verdict", vs_f32.pass ? "PASS" : "FAIL"}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "llama.cpp (node-llama-cpp 3.22.1, CPU, KV cache " << a.kv << ") vs g4ref on " << llama.gguf() << " ("
            << a.type << "), " << p.ids.size() << " positions\n"
            << std::left << std::setw(10) << "position" << std::right << std::setw(14) << "nmse vs f32" << std::setw(14)
            << "nmse vs exact" << std::setw(12) << "KL" << std::setw(8) << "top1" << std::setw(10) << "top10" << "\n";
  for (size_t i = 0; i < vs_f32.nmse.size(); ++i) {
    std::cout << std::left << std::setw(10) << i << std::right << std::setw(14) << sci(vs_f32.nmse[i]) << std::setw(14)
              << sci(vs_exact.nmse[i]) << std::setw(12) << sci(vs_f32.logits.kl[i]) << std::setw(8)
              << int(vs_f32.logits.top1_agree[i]) << std::setw(10) << vs_f32.logits.top10_overlap[i] << "\n";
  }
  std::cout << "worst NMSE " << vs_f32.worst_nmse << " (vs exact " << vs_exact.worst_nmse << "), top-1 "
            << vs_f32.logits.top1_fraction << ", worst KL " << vs_f32.logits.max_kl << "\nverdict: "
            << (vs_f32.pass ? "PASS" : "FAIL");
  if (vs_f32.first_failing_position >= 0) std::cout << " — first failing position " << vs_f32.first_failing_position;
  std::cout << "\n";
}

void crosscheck_media(const CrosscheckArgs& a, LlamaCppBackend& llama, const Model& source, const PreparedPrompt& p) {
  // The reference reads the GGUF pair; a deliberately wrong projector goes to llama.cpp only, and the reference
  // keeps the checkpoint's own weights.
  const bool wrong_projector = has_deviation(a, "mmproj-hwc-patches") || has_deviation(a, "mmproj-pos-axes-swapped");
  std::unique_ptr<Model> loaded;
  const Model& model = wrong_projector ? source : *(loaded = Model::load(llama.gguf(), llama.mmproj()));
  const GgmlType mm_type = parse_gguf_export_type(llama.describe().at("mmproj_type").get<std::string>());
  const double max_nmse = a.max_nmse > 0 ? a.max_nmse : default_max_embedding_nmse(mm_type);

  const std::vector<int64_t> positions = LlamaCppBackend::logit_positions(p);
  std::vector<MediaJudgement> items;
  int images = 0, audio = 0;
  size_t block = 0;
  for (const MediaInput& m : p.media) {
    const bool image = m.kind == MediaInput::Kind::image;
    items.push_back(judge_media(llama, m, image ? images++ : audio++, embed_media(model, m, Precision::exact),
                                embed_media(model, m, Precision::f32), max_nmse));
    // The last position of this item's placeholder run: the block ends listed in order among the positions.
    while (block < positions.size() && (p.token_types[static_cast<size_t>(positions[block])] == 0)) ++block;
    if (block < positions.size()) items.back().last_position = positions[block++];
  }
  bool logits_pass = true;
  std::string logits_text = "logits not compared (--embeddings-only)";
  nlohmann::json logits = "not compared (--embeddings-only)";
  if (!a.embeddings_only) {
    const Eigen::MatrixXd theirs = pick_rows(llama.logits(p), positions);
    auto reference = [&](Precision precision) {
      return pick_rows(make_session(model, reference_options(a, precision))->forward(p, LogitRows::all), positions);
    };
    // The projector's kernels round activations like the text model's of that type (q8_0: to 8 bits), so the logits
    // get the looser of the two types' thresholds (projector types are all spelled in lower case).
    const double max_logits_nmse = std::max(default_max_nmse(a.type), default_max_nmse(ggml_type_name(mm_type)));
    const LogitsJudgement vs_f32 = judge_logits(reference(Precision::f32), theirs, positions, max_logits_nmse, a.min_top1);
    const LogitsJudgement vs_exact = judge_logits(reference(Precision::exact), theirs, positions, max_logits_nmse, a.min_top1);
    logits_pass = vs_f32.pass;
    std::ostringstream line;
    line << "logits (KV cache " << a.kv << ", flash attention " << a.flash_attn << ") at " << positions.size() << " of "
         << p.ids.size() << " positions (every text token, the last of each media block): worst NMSE vs f32 "
         << sci(vs_f32.worst_nmse) << " (vs exact " << sci(vs_exact.worst_nmse) << "), worst KL "
         << sci(vs_f32.logits.max_kl) << ", top-1 " << vs_f32.logits.top1_fraction << " — " << (logits_pass ? "PASS" : "FAIL");
    if (vs_f32.first_failing_position >= 0) line << ", first failing position " << vs_f32.first_failing_position;
    logits_text = line.str();
    logits = {{"positions", positions},
              {"total_positions", p.ids.size()},
              {"kv_cache_type", a.kv},
              {"flash_attention", a.flash_attn},
              {"llamacpp", llama.last_run()},
              {"vs_f32_llamacpp_scale", judgement_json(vs_f32, false)},
              {"vs_exact", {{"worst_nmse", vs_exact.worst_nmse}, {"top1_agreement", vs_exact.logits.top1_fraction}}},
              {"max_nmse", max_logits_nmse},
              {"verdict", logits_pass ? "PASS" : "FAIL"}};
  }
  bool pass = logits_pass;
  for (const MediaJudgement& r : items) pass = pass && r.pass;
  if (!pass) exit_code() = 1;

  if (a.json) {
    std::cout << nlohmann::json{{"model", a.model},
                                {"type", a.type},
                                {"mmproj_type", ggml_type_name(mm_type)},
                                {"media", media_json(items)},
                                {"logits", logits},
                                {"thresholds", {{"max_embedding_nmse", max_nmse}, {"min_top1", a.min_top1}}},
                                {"verdict", pass ? "PASS" : "FAIL"}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "llama.cpp mtmd (@fugood/node-llama-linux-x64 1.7.15, CPU) vs g4ref: projected embeddings, mmproj "
            << ggml_type_name(mm_type) << "\n"
            << std::left << std::setw(10) << "item" << std::right << std::setw(8) << "tokens" << std::setw(10)
            << "llama.cpp" << std::setw(14) << "nmse vs f32" << std::setw(14) << "nmse vs exact" << std::setw(12)
            << "max |diff|" << std::setw(8) << "verdict" << "\n";
  for (const MediaJudgement& r : items) {
    std::cout << std::left << std::setw(10) << (r.kind + " " + std::to_string(r.index)) << std::right << std::setw(8)
              << r.tokens << std::setw(10) << r.candidate_tokens << std::setw(14) << sci(r.nmse_f32) << std::setw(14)
              << sci(r.nmse_exact) << std::setw(12) << sci(r.max_abs_f32) << std::setw(8) << (r.pass ? "PASS" : "FAIL")
              << "\n";
  }
  for (const MediaJudgement& r : items) {
    if (r.tokens != r.candidate_tokens) {
      std::cout << r.kind << " " << r.index << ": llama.cpp made " << r.candidate_tokens
                << " tokens where the reference has " << r.tokens
                << (r.kind == "image" ? " (llama.cpp resizes images outside 70–1120 patches, spec §7.3)" : "") << "\n";
    }
  }
  std::cout << "embeddings threshold: NMSE vs exact <= " << max_nmse << "\n"
            << logits_text << "\nverdict: " << (pass ? "PASS" : "FAIL") << "\n";
}

void crosscheck(const CrosscheckArgs& a) {
  auto source = Model::load(a.model);
  const PreparedPrompt p = a.prompt.prepare(a.model, source->config());
  LlamaCppBackend llama = make_llama(a);
  if (p.media.empty()) crosscheck_text(a, llama, p);
  else crosscheck_media(a, llama, *source, p);
}

struct QuantizeArgs {
  std::string model;
  std::string type = "q8_0";
  std::string keep;
  bool json = false;
};

void crosscheck_quantize(const QuantizeArgs& a) {
  const nlohmann::json r = check_quantizer(a.model, a.type, a.keep);
  if (r["verdict"] != "PASS") exit_code() = 1;
  if (a.json) {
    std::cout << r.dump(2) << "\n";
    return;
  }
  for (const auto& row : r["tensors"]) {
    if (row["result"] == "identical") continue;
    std::cout << row["name"].get<std::string>() << ": " << row["result"].get<std::string>() << " (g4ref "
              << row["g4ref_type"].get<std::string>() << ", llama.cpp " << row["llamacpp_type"].get<std::string>() << ")\n";
  }
  std::cout << "llama.cpp's quantizer vs g4ref's, " << a.type << ": " << r["identical"] << " tensors byte-identical ("
            << r["identical_in_requested_type"] << " in " << a.type << "), " << r["differing"] << " differing, "
            << r["different_type"] << " stored in another type by one side (row-length fallbacks)\nverdict: "
            << r["verdict"].get<std::string>() << "\n";
}

struct EndpointArgs {
  std::string model;
  PromptArgs prompt;
  std::string prompts;  // a JSONL file: each line a prompt text (a JSON string) or a list of messages
  EndpointOptions endpoint;
  std::string embed_scale = "auto";
  bool json = false;
};

void crosscheck_endpoint(const EndpointArgs& a) {
  ReferenceBackendOptions ro;
  ro.model = a.model;
  ro.tokenizer = a.prompt.tokenizer;
  ro.run.precision = Precision::exact;  // the truth; the server's claimed precision sets the threshold
  std::string scale = a.embed_scale;
  if (scale == "auto") {
    // llama.cpp multiplies token embeddings by sqrtf(hidden) (spec §7.3): a llama-server answers GET /props.
    scale = endpoint_is_llamacpp(a.endpoint) ? "llamacpp" : "hf";
  }
  ro.run.embed_scale = scale == "llamacpp" ? EmbedScale::llamacpp : EmbedScale::hf;
  ReferenceBackend reference(ro);
  std::vector<Prompt> prompts;
  std::vector<Conversation> conversations;
  if (!a.prompts.empty()) {
    std::ifstream in(a.prompts);
    if (!in) fail(a.prompts, "cannot open");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      const nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, false);
      if (j.is_discarded()) fail(a.prompts + ":" + std::to_string(n), "is not JSON");
      const Conversation c = j.is_string() ? Conversation::single_turn(j.get<std::string>())
                                           : Conversation::from_json(j, a.prompts + ":" + std::to_string(n));
      prompts.push_back(reference.prepare(c, {}));
      conversations.push_back(c);
    }
  } else {
    prompts.push_back(a.prompt.prepare(a.model, reference.model().config()));
    if (a.prompt.tokens.empty()) conversations.push_back(a.prompt.conversation());
  }
  for (const Prompt& p : prompts) {
    if (!p.media.empty()) fail("crosscheck endpoint", "prompts with media are not compared here yet (text prompts only)");
  }
  const nlohmann::json r = check_endpoint(a.endpoint, reference, prompts, conversations);
  if (r["verdict"] != "PASS") exit_code() = 1;
  if (a.json) {
    std::cout << r.dump(2) << "\n";
    return;
  }
  std::cout << "endpoint " << a.endpoint.url << " (model " << r["served_model"].get<std::string>() << ", method "
            << r["method"].get<std::string>() << ", claimed " << a.endpoint.precision_claim << ") vs g4ref exact ("
            << scale << " embedding scale): " << r["positions"] << " positions, worst KL " << sci(r["worst_kl"].get<double>())
            << " (max " << sci(r["thresholds"]["max_kl"].get<double>()) << "), top-1 " << r["top1_agreement"] << "\n";
  for (const auto& p : r["prompts"]) std::cout << "  " << p["tokens"] << " tokens: " << p["ids"].get<std::string>() << "\n";
  std::cout << "verdict: " << r["verdict"].get<std::string>();
  if (!r["first_failure"].is_null()) {
    std::cout << " — first failing position " << r["first_failure"]["position"] << " of prompt " << r["first_failure"]["prompt"]
              << " (KL " << sci(r["first_failure"]["kl"].get<double>()) << ")";
  }
  std::cout << "\n";
}

}  // namespace

void add_crosscheck_command(CLI::App& app) {
  auto a = std::make_shared<CrosscheckArgs>();
  CLI::App* cmd = app.add_subcommand("crosscheck", "Cross-check another implementation against the reference");
  cmd->require_subcommand(1);
  CLI::App* llama = cmd->add_subcommand(
      "llamacpp",
      "Export to GGUF, evaluate in llama.cpp, compare every position's logits (text prompts) or each image's and "
      "audio clip's projected embeddings (prompts with --image/--video/--audio; images must not need llama.cpp's "
      "resize: at least 70 patches)");
  llama->add_option("--model", a->model, "checkpoint directory")->required();
  a->prompt.add_to(*llama);
  llama->add_option("--type", a->type, "GGUF weight type")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}))
      ->capture_default_str();
  llama->add_option("--kv", a->kv, "llama.cpp's KV-cache type (f16 is its default); also for prompts with media")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  llama->add_option("--mmproj-type", a->mmproj_type,
                     "with media: the projector's weight type, f32, f16, bf16 or q8_0 (default: --type, or f16 for the "
                     "4- and 6-bit types)");
  llama->add_option("--window", a->window,
                     "the reference's sliding window for image blocks longer than it: lower (HF, k > q-W) or "
                     "symmetric (JAX, |q-k| < W)")
      ->check(CLI::IsMember({"lower", "symmetric"}))
      ->capture_default_str();
  llama->add_option("--image-attention", a->image_attention,
                     "where the reference makes an image block bidirectional: sliding (HF: sliding layers only) or "
                     "all (also full layers, as llama.cpp builds before PR #28335 decode images)")
      ->check(CLI::IsMember({"sliding", "all"}))
      ->capture_default_str();
  llama->add_option("--flash-attn", a->flash_attn,
                     "with media: llama.cpp's flash attention, auto (its default: on for the CPU), on or off; its CPU "
                     "kernel accumulates in f16 and drifts with the context length")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  llama->add_flag("--embeddings-only", a->embeddings_only,
                   "with media: compare the projected embeddings only, not the logits (for models too large to run "
                   "the whole prompt in exact mode)");
  llama->add_option("--max-nmse", a->max_nmse,
                     "fail a position whose logits NMSE against the f32 reference exceeds this (default: by type, "
                     "1e-5 for f32 up to 5e-3 for quantized types); with media, the embeddings' NMSE (default: by "
                     "projector type, 1e-10 for f32 up to 1e-3 for q8_0)")
      ->check(finite_in(0));
  llama->add_option("--min-top1", a->min_top1, "fail when the top-1 agreement fraction is below this")
      ->check(finite_in(0, 1))
      ->capture_default_str();
  llama->add_option("--keep", a->keep, "keep the GGUF and llama.cpp's logits in this directory");
  llama->add_option("--deviation", a->deviations, "test only: run the reference with a known wrong variant")
      ->check(CLI::IsMember({"norm-one-plus-w", "rope-rotated-denominator", "window-off-by-one", "v-after-k-norm",
                             "mmproj-hwc-patches", "mmproj-pos-axes-swapped", "audio-shifted-one-sample"}))
      ->group("");
  llama->add_flag("--json", a->json, "machine-readable output");
  llama->callback([a, llama] {
    a->prompt.check(*llama);
    crosscheck(*a);
  });

  auto q = std::make_shared<QuantizeArgs>();
  CLI::App* quant = cmd->add_subcommand(
      "quantize", "Quantize the same f32 GGUF with llama.cpp's quantizer and with export-gguf; compare the bytes");
  quant->add_option("--model", q->model, "checkpoint directory")->required();
  quant->add_option("--type", q->type, "the type both quantize to")
      ->check(CLI::IsMember({"f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"}))
      ->capture_default_str();
  quant->add_option("--keep", q->keep, "keep the three GGUF files in this directory");
  quant->add_flag("--json", q->json, "machine-readable output, one row per tensor");
  quant->callback([q] { crosscheck_quantize(*q); });

  auto e = std::make_shared<EndpointArgs>();
  CLI::App* ep = cmd->add_subcommand(
      "endpoint",
      "Judge any OpenAI-compatible server: same prompt ids proven, then its teacher-forced top log-probabilities at "
      "every position against the reference (exact) on the same weights");
  ep->add_option("--url", e->endpoint.url, "the server, e.g. http://127.0.0.1:8080")->required();
  ep->add_option("--model", e->model, "the checkpoint directory or GGUF file the server serves")->required();
  ep->add_option("--served-model", e->endpoint.served_model, "the model id to request (default: the server's first)");
  ep->add_option("--api-key", e->endpoint.api_key, "sent as 'Authorization: Bearer KEY'");
  e->prompt.add_to(*ep);
  ep->add_option("--prompts", e->prompts, "a JSONL file: one prompt text (JSON string) or message list per line")
      ->check(CLI::ExistingFile);
  ep->add_option("--precision-claim", e->endpoint.precision_claim,
                 "the precision the server claims, which sets the threshold: exact, f32, f16, bf16, q8_0, q6_k, q4_k, q4_0")
      ->check(CLI::IsMember({"exact", "f32", "f16", "bf16", "q8_0", "q6_k", "q4_k", "q4_0"}))
      ->capture_default_str();
  ep->add_option("--top-k", e->endpoint.top_k, "log-probabilities asked per position")->check(CLI::Range(1, 20))
      ->capture_default_str();
  ep->add_option("--max-kl", e->endpoint.max_kl, "fail a position above this KL (default: by the claim)")
      ->check(finite_in(0));
  ep->add_option("--min-top1", e->endpoint.min_top1, "fail when the top-1 agreement is below this")
      ->check(finite_in(0, 1))->capture_default_str();
  ep->add_option("--method", e->endpoint.method,
                 "how to get log-probabilities: auto (the first that works), prompt_logprobs, completion_n_probs, "
                 "chat_logprobs (generated positions only)")
      ->check(CLI::IsMember({"auto", "prompt_logprobs", "completion_n_probs", "chat_logprobs"}))
      ->capture_default_str();
  ep->add_option("--chat-tokens", e->endpoint.chat_tokens, "chat_logprobs: tokens generated and scored per prompt")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  ep->add_option("--embed-scale", e->embed_scale,
                 "the reference's embedding scale: hf, llamacpp, or auto (llamacpp for a llama-server)")
      ->check(CLI::IsMember({"auto", "hf", "llamacpp"}))->capture_default_str();
  ep->add_flag("--json", e->json, "machine-readable output");
  ep->callback([e, ep] {
    if (e->prompts.empty()) e->prompt.check(*ep);
    crosscheck_endpoint(*e);
  });
}

}  // namespace g4ref
