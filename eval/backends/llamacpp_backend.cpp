#include "backends/llamacpp_backend.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>

#include "base/error.h"
#include "convert/gguf_export.h"
#include "convert/mmproj_export.h"

namespace g4ref {

namespace {

const char* kHint = "is the llama.cpp adapter installed (setup.sh: npm install in eval/adapters/llamacpp)?";

}  // namespace

LlamaCppBackend::LlamaCppBackend(const LlamaCppBackendOptions& o)
    : options_(o),
      source_(Model::load(o.model)),
      tokenizer_(load_tokenizer(o.tokenizer.empty() ? o.model : o.tokenizer)),
      gen_(load_generation_config(o.model, source_->config())),
      work_(std::make_unique<WorkDir>(o.keep, "g4ref_llamacpp_")) {
  if (o.kv != "f16" && o.kv != "f32") fail("llamacpp backend", "kv must be f16 or f32, not '" + o.kv + "'");
  if (o.flash_attn != "auto" && o.flash_attn != "on" && o.flash_attn != "off") {
    fail("llamacpp backend", "flash_attn must be auto, on or off, not '" + o.flash_attn + "'");
  }
  const GgmlType type = parse_gguf_export_type(o.type);
  gguf_ = (work_->path / "model.gguf").string();
  export_text_gguf(*source_, o.tokenizer.empty() ? o.model : o.tokenizer, type, gguf_);
  const GgmlType mm = o.mmproj_type.empty() ? default_mmproj_type(type) : parse_mmproj_type(o.mmproj_type);
  mmproj_type_ = ggml_type_name(mm);
}

const std::string& LlamaCppBackend::mmproj() {
  if (!mmproj_.empty()) return mmproj_;
  // g4ref-llamacpp always loads a projector (mtmd); a text-only checkpoint has none to give.
  if (!source_->vision() || !source_->audio()) {
    fail(options_.model, "llama.cpp's multimodal path (media, scoring, generation) needs a checkpoint with both vision "
                         "and audio weights: its adapter loads an mmproj");
  }
  const std::string path = (work_->path / "mmproj.gguf").string();
  export_mmproj_gguf(*source_, parse_mmproj_type(mmproj_type_), path, options_.mmproj_deviations);
  mmproj_ = path;
  return mmproj_;
}

std::string LlamaCppBackend::name() const { return "llama.cpp " + options_.type; }

nlohmann::json LlamaCppBackend::describe() const {
  return {{"kind", "llamacpp"},
          {"type", options_.type},
          {"mmproj_type", mmproj_type_},
          {"kv", options_.kv},
          {"flash_attn", options_.flash_attn},
          {"config_hash", source_->config().hash()},
          {"llamacpp",
           {{"text_logits", "node-llama-cpp 3.22.1 (prebuilt CPU binaries)"},
            {"media_scoring_generation", "@fugood/node-llama-linux-x64 1.7.15 (llama.cpp build 10257, CPU)"}}}};
}

BackendCapabilities LlamaCppBackend::capabilities() const {
  BackendCapabilities c;
  c.full_logits = true;
  c.images = c.video = c.audio = true;
  c.media_embeddings = true;
  c.max_top_logprobs = static_cast<int>(source_->config().text.vocab_size);
  return c;
}

std::vector<int> LlamaCppBackend::tokenize(const std::string& text) { return tokenizer_->encode(text); }

std::string LlamaCppBackend::detokenize(const std::vector<int>& ids) { return tokenizer_->decode(ids); }

std::string LlamaCppBackend::render(const Conversation& conversation) { return g4ref::render(conversation); }

Prompt LlamaCppBackend::prepare(const Conversation& conversation, const MediaOptions& media) {
  return build_prompt(conversation, *tokenizer_, source_->config(), media);
}

nlohmann::json LlamaCppBackend::run_plan(const Prompt& prompt, const std::vector<int>& extra, int64_t first_row,
                                         const std::string& final_line, std::map<int64_t, Eigen::VectorXd>* rows) {
  const std::string stem = (work_->path / ("call" + std::to_string(calls_++))).string();
  std::string plan;
  size_t item = 0;
  const int side = source_->config().vision.model_patch_size;
  for (size_t i = 0; i < prompt.ids.size();) {
    const int type = prompt.token_types.empty() ? 0 : prompt.token_types[i];
    if (type == 0) {
      plan += std::string(static_cast<int64_t>(i) >= first_row ? "t " : "s ") + std::to_string(prompt.ids[i]) + "\n";
      ++i;
      continue;
    }
    // One media item per placeholder run of its length (a video has one item per frame).
    if (item >= prompt.media.size()) fail(name(), "the prompt has more placeholders than media items");
    const MediaInput& m = prompt.media[item];
    plan += write_media_item(m, side, stem + "_m" + std::to_string(item), options_.shift_audio) + "\n";
    size_t end = i;
    while (end < prompt.ids.size() && prompt.token_types[end] == type && static_cast<int64_t>(end - i) < m.rows) ++end;
    i = end;
    ++item;
  }
  for (int id : extra) plan += "t " + std::to_string(id) + "\n";
  if (!final_line.empty()) plan += final_line + "\n";
  const std::string plan_path = stem + ".plan", out = stem + ".bin";
  std::ofstream(plan_path) << plan;
  const std::string& projector = mmproj();
  const std::string info = run_child(shell_quote(llamacpp_program()) + " " + shell_quote(llamacpp_mtmd_library()) +
                                         " logits " + shell_quote(gguf_) + " " + shell_quote(projector) + " " +
                                         shell_quote(plan_path) + " " + shell_quote(out) + " " + options_.flash_attn +
                                         " " + options_.kv,
                                     "g4ref-llamacpp logits", kHint);
  const nlohmann::json j = nlohmann::json::parse(info, nullptr, false);
  if (!j.is_object()) fail("g4ref-llamacpp", "unexpected output: " + info);
  last_run_ = j;
  // llama.cpp's mtmd prepares each image again from its pixels and may give it another number of tokens than the
  // reference's budget did: then every position after it differs, so a run never continues on such a prompt.
  // Its count goes on over the generated tokens it decoded (all but the last).
  const int64_t generated = j.contains("generated") && j["generated"].is_array() ? static_cast<int64_t>(j["generated"].size()) : 0;
  const int64_t want = static_cast<int64_t>(prompt.ids.size() + extra.size()) + std::max<int64_t>(0, generated - 1);
  if (j.contains("positions") && j["positions"].is_number_integer() && j["positions"].get<int64_t>() != want) {
    fail(name(), "llama.cpp laid the prompt out in " + std::to_string(j["positions"].get<int64_t>()) + " positions where the reference's prompt has " +
                     std::to_string(want) + " (" + std::to_string(prompt.count_tokens(1)) + " image, " + std::to_string(prompt.count_tokens(2)) +
                     " video, " + std::to_string(prompt.count_tokens(3)) + " audio tokens): its multimodal library gave the media "
                     "other token counts, i.e. another image budget; use an image budget it keeps (--image-tokens)");
  }
  if (rows) *rows = read_plan_logits(out);
  std::error_code ec;
  std::filesystem::remove(out, ec);
  return j;
}

ScoreResult LlamaCppBackend::score(const Prompt& prompt, const std::vector<int>& continuation, int top_k) {
  if (prompt.ids.empty()) fail(name(), "cannot score after an empty prompt");
  ScoreResult r;
  r.prompt_ids = prompt.ids;
  const int64_t last = static_cast<int64_t>(prompt.ids.size()) - 1;
  std::vector<int> extra(continuation.begin(), continuation.empty() ? continuation.end() : continuation.end() - 1);
  std::map<int64_t, Eigen::VectorXd> rows;
  run_plan(prompt, extra, last, "", &rows);
  for (size_t i = 0; i < continuation.size(); ++i) {
    const auto it = rows.find(last + static_cast<int64_t>(i));
    if (it == rows.end()) fail(name(), "llama.cpp gave no logits at position " + std::to_string(last + i));
    r.tokens.push_back(token_logprob(it->second, continuation[i], top_k));
  }
  return r;
}

GenerateResult LlamaCppBackend::generate(const Prompt& prompt, const GenerateOptions& o,
                                         const std::function<void(int)>& on_token) {
  GenerateResult r;
  r.prompt_ids = prompt.ids;
  auto list = [](const std::vector<int>& ids) {
    std::string out;
    for (int id : ids) out.append(out.empty() ? "" : ",").append(std::to_string(id));  // (GCC 12's false -Wrestrict)
    return out.empty() ? std::string("-") : out;
  };
  char sampling[160];
  std::snprintf(sampling, sizeof sampling, "%.17g %d %.17g %llu", o.sampling.temperature, o.sampling.top_k,
                o.sampling.top_p, static_cast<unsigned long long>(o.sampling.seed));
  const auto t0 = std::chrono::steady_clock::now();
  // The choice is the reference's sampler over llama.cpp's logits, the suppressed ids excluded as the reference
  // excludes them (g4ref-llamacpp's "g" line).
  const nlohmann::json j = run_plan(prompt, {}, std::numeric_limits<int64_t>::max(),
                                    "g " + std::to_string(o.max_new_tokens) + " " + list(gen_.stop_tokens) + " " +
                                        std::to_string(std::max(o.top_logprobs, 1)) + " " + sampling + " " +
                                        list(gen_.suppress_tokens),
                                    nullptr);
  r.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const nlohmann::json steps = j.value("generated", nlohmann::json::array());
  bool stopped = false;
  for (const auto& s : steps) {
    const int id = s.at("id").get<int>();
    r.ids.push_back(id);
    if (o.top_logprobs > 0) {
      TokenLogprob t;
      t.id = id;
      t.logprob = s.at("logprob").get<double>();
      t.rank = s.at("rank").get<int>();
      for (const auto& e : s.at("top")) {
        if (static_cast<int>(t.top.size()) < o.top_logprobs) t.top.push_back({e[0].get<int>(), e[1].get<double>()});
      }
      r.logprobs.push_back(t);
    }
    if (on_token) on_token(id);
    if (std::find(gen_.stop_tokens.begin(), gen_.stop_tokens.end(), id) != gen_.stop_tokens.end()) {
      stopped = true;
      break;
    }
  }
  std::vector<int> text_ids = r.ids;
  if (stopped && !text_ids.empty()) text_ids.pop_back();
  r.text = tokenizer_->decode(text_ids);
  // Stop strings end the text (and the ids) where the first one completes, as the reference backend's do.
  for (const std::string& s : o.stop) {
    const size_t at = s.empty() ? std::string::npos : r.text.find(s);
    if (at == std::string::npos) continue;
    stopped = true;
    size_t keep = 0;
    while (keep < r.ids.size() && tokenizer_->decode(std::vector<int>(r.ids.begin(), r.ids.begin() + keep)).size() < at + s.size()) ++keep;
    r.ids.resize(keep);
    if (r.logprobs.size() > keep) r.logprobs.resize(keep);
    r.text = r.text.substr(0, at);
  }
  r.finish_reason = stopped ? "stop" : "length";
  return r;
}

std::vector<int64_t> LlamaCppBackend::logit_positions(const Prompt& p) {
  std::vector<int64_t> positions;
  size_t item = 0;
  for (size_t i = 0; i < p.ids.size();) {
    if (p.token_types.empty() || p.token_types[i] == 0) {
      positions.push_back(static_cast<int64_t>(i++));
      continue;
    }
    const int64_t rows = item < p.media.size() ? p.media[item].rows : 0;
    size_t end = i;
    while (end < p.ids.size() && p.token_types[end] == p.token_types[i] && static_cast<int64_t>(end - i) < rows) ++end;
    if (end == i) fail("prompt", "a placeholder run at position " + std::to_string(i) + " has no media item");
    positions.push_back(static_cast<int64_t>(end) - 1);
    i = end;
    ++item;
  }
  return positions;
}

Eigen::MatrixXd LlamaCppBackend::logits(const Prompt& prompt) {
  const int64_t n = static_cast<int64_t>(prompt.ids.size());
  if (prompt.media.empty()) {
    // node-llama-cpp's build, every position's logits in one evaluation.
    std::string ids;
    for (size_t i = 0; i < prompt.ids.size(); ++i) ids += (i ? "," : "") + std::to_string(prompt.ids[i]);
    const std::string out = (work_->path / ("node" + std::to_string(calls_++) + ".bin")).string();
    const std::string info = run_child("node " + shell_quote(llamacpp_adapter_dir() + "/logits.mjs") + " " + shell_quote(gguf_) +
                                           " " + ids + " " + shell_quote(out) + " --kv " + options_.kv,
                                       "llama.cpp (node-llama-cpp) evaluation", kHint);
    last_run_ = nlohmann::json::parse(info, nullptr, false);
    Eigen::MatrixXd z = read_node_logits(out);
    std::error_code ec;
    std::filesystem::remove(out, ec);
    if (z.rows() != n) fail(out, "llama.cpp gave " + std::to_string(z.rows()) + " positions for " + std::to_string(n));
    return z;
  }
  std::map<int64_t, Eigen::VectorXd> rows;
  run_plan(prompt, {}, 0, "", &rows);
  const std::vector<int64_t> expected = logit_positions(prompt);
  if (rows.size() != expected.size()) {
    fail(name(), "llama.cpp gave " + std::to_string(rows.size()) + " logit rows where the prompt has " +
                     std::to_string(expected.size()) + " text tokens and media blocks");
  }
  const int64_t vocab = rows.begin()->second.size();
  Eigen::MatrixXd z = Eigen::MatrixXd::Constant(n, vocab, std::numeric_limits<double>::quiet_NaN());
  for (int64_t pos : expected) {
    const auto it = rows.find(pos);
    if (it == rows.end()) {
      fail(name(), "llama.cpp gave no logits at position " + std::to_string(pos) + " (it placed the media otherwise)");
    }
    z.row(pos) = it->second.transpose();
  }
  return z;
}

Eigen::MatrixXd LlamaCppBackend::embed_media(const MediaInput& m) {
  const std::string stem = (work_->path / ("embed" + std::to_string(calls_++))).string();
  const std::string line = write_media_item(m, source_->config().vision.model_patch_size, stem, options_.shift_audio);
  // "i W H FILE" / "a FILE" → the embed command's arguments.
  std::string args = m.kind == MediaInput::Kind::image ? "image " + line.substr(2) : "audio " + line.substr(2);
  const std::string out = stem + ".embd.f32";
  const std::string info = run_child(shell_quote(llamacpp_program()) + " " + shell_quote(llamacpp_mtmd_library()) +
                                         " embed " + shell_quote(gguf_) + " " + shell_quote(mmproj()) + " " + args + " " +
                                         shell_quote(out),
                                     "g4ref-llamacpp embed", kHint);
  const nlohmann::json j = nlohmann::json::parse(info, nullptr, false);
  if (!j.is_object() || !j.contains("n_tokens") || !j.contains("n_embd")) fail("g4ref-llamacpp", "unexpected output: " + info);
  last_run_ = j;
  const int64_t n = j["n_tokens"].get<int64_t>(), e = j["n_embd"].get<int64_t>();
  std::vector<float> raw(static_cast<size_t>(n * e));
  std::ifstream in(out, std::ios::binary);
  in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size() * 4));
  if (!in) fail(out, "truncated embeddings");
  Eigen::MatrixXd z(n, e);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < e; ++k) z(i, k) = raw[static_cast<size_t>(i * e + k)];
  }
  return z;
}

std::unique_ptr<Backend> make_llamacpp_backend(const nlohmann::json& s) {
  LlamaCppBackendOptions o;
  for (const auto& [key, value] : s.items()) {
    if (key == "kind") continue;
    if (!value.is_string()) fail("backend settings", "'" + key + "' must be a string");
    const std::string v = value.get<std::string>();
    if (key == "model") o.model = v;
    else if (key == "tokenizer") o.tokenizer = v;
    else if (key == "type") o.type = v;
    else if (key == "mmproj_type") o.mmproj_type = v;
    else if (key == "kv") o.kv = v;
    else if (key == "flash_attn") o.flash_attn = v;
    else if (key == "keep") o.keep = v;
    else fail("backend settings", "unknown key '" + key + "' for a llamacpp backend");
  }
  if (o.model.empty()) fail("backend settings", "a llamacpp backend needs 'model' (a checkpoint directory)");
  return std::make_unique<LlamaCppBackend>(o);
}

}  // namespace g4ref
