// g4ref-llamacpp: the parts of llama.cpp that node-llama-cpp does not expose, through llama.cpp's C API.
//
//   embed:    llama.cpp's projected image or audio embeddings (the "gemma4uv" / "gemma4ua" graphs of its multimodal
//             library, mtmd) for one media item, written as raw float32 rows:
//             llama_model_load_from_file -> mtmd_init_from_file -> mtmd_bitmap_init(_from_audio) -> mtmd_tokenize
//             -> mtmd_encode_chunk (the image/audio chunk) -> mtmd_get_output_embd.
//   logits:   a prompt mixing text tokens, images and audio clips, decoded by llama.cpp: text tokens one at a time
//             (llama_decode), each media item as mtmd decodes it (mtmd_helper_eval_chunk_single: the embeddings at
//             their positions, images non-causally); the logits after every text token and after every media item.
//   quantize: llama.cpp's own quantizer (llama_model_quantize, what llama-quantize runs) on a GGUF, every tensor
//             to one type ("pure"), so its bytes can be compared with this project's quantizers.
//
// No prebuilt llama.cpp from Debian carries mtmd, and node-llama-cpp's binaries leave it out; the npm package
// @fugood/node-llama-linux-x64 ships llama.cpp (with mtmd) as one shared object that exports mtmd's and llama's
// C functions (LIB for embed), while node-llama-cpp's libllama exports llama_model_quantize, which that object
// does not (LIB for quantize). This program loads LIB with dlopen. Parameter structs come from the library's own
// *_default_params: returned and passed in memory, so a buffer larger than any version's struct holds them.
// Only two structs get fields written, each checked first against the defaults expected at those offsets:
// llama_model_quantize_params (nthread, ftype, pure) and llama_context_params (n_ctx, n_batch, n_ubatch, which lead
// it in every version; flash_attn_type, type_k and type_v only when asked to change them, at their offsets in
// build 10257, the one @fugood/node-llama-linux-x64 1.7.15 carries).
//
// Usage:
//   g4ref-llamacpp LIB embed TEXT.gguf MMPROJ.gguf image W H PIXELS.rgb OUT.f32   (RGB uint8, row-major, W×H×3)
//   g4ref-llamacpp LIB embed TEXT.gguf MMPROJ.gguf audio SAMPLES.f32 OUT.f32     (mono float32 at 16 kHz)
//   g4ref-llamacpp LIB logits TEXT.gguf MMPROJ.gguf PLAN.txt OUT.bin [FLASH_ATTN KV]
//       FLASH_ATTN: auto (llama.cpp's default), on or off; KV: the KV-cache type, f16 (default) or f32.
//       PLAN: one item per line, "t ID" (a text token), "i W H PIXELS.rgb" (an image), "a SAMPLES.f32" (audio),
//       "s ID" (a text token whose logits are not written), "g N STOPS K T TOPK TOPP SEED SUPPRESS" (last:
//       generation of up to N tokens, ending at any of the comma-separated STOPS ids or "-", temperature T (0:
//       greedy), top-k, top-p and seed of g4ref's sampler, SUPPRESS comma-separated ids or "-", with the top K
//       logprobs of each step in the printed JSON's "generated");
//       OUT: int32 rows, int32 vocabulary, then per row int32 position and vocabulary float32 logits.
//   g4ref-llamacpp LIB quantize IN.gguf OUT.gguf FTYPE                           (llama_ftype number, e.g. 7 = Q8_0)
// embed prints one JSON line: {"n_tokens": N, "n_embd": E, "nx": .., "ny": ..}. Exit 1 with a message on failure.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "forward/sampling.h"

namespace {

struct llama_model;
struct mtmd_context;
struct mtmd_bitmap;
struct mtmd_input_chunk;
struct mtmd_input_chunks;
struct mtmd_image_tokens;

// The layout of llama.cpp builds since text_len was added (build 10257 has it: its mtmd_tokenize reads text_len at
// byte 8 and the flags at 16 and 17). media_chunk checks that no more text was read than given.
struct mtmd_input_text {
  const char* text;
  size_t text_len;
  bool add_special;
  bool parse_special;
};

// Room for a parameter struct of any version (llama_model_params is < 128 bytes, mtmd_context_params < 160).
struct Params {
  alignas(16) unsigned char bytes[1024];
};

enum ChunkType { kText = 0, kImage = 1, kAudio = 2 };

using log_cb = void (*)(int level, const char* text, void* user);

struct Api {
  void* lib = nullptr;
  void (*llama_backend_init)();
  void (*llama_log_set)(log_cb, void*);
  Params (*llama_model_default_params)();
  llama_model* (*llama_model_load_from_file)(const char*, Params);
  void (*llama_model_free)(llama_model*);
  int32_t (*llama_model_n_embd)(const llama_model*);
  void (*mtmd_log_set)(log_cb, void*);
  const char* (*mtmd_default_marker)();
  Params (*mtmd_context_params_default)();
  mtmd_context* (*mtmd_init_from_file)(const char*, const llama_model*, Params);
  void (*mtmd_free)(mtmd_context*);
  mtmd_bitmap* (*mtmd_bitmap_init)(uint32_t, uint32_t, const unsigned char*);
  mtmd_bitmap* (*mtmd_bitmap_init_from_audio)(size_t, const float*);
  void (*mtmd_bitmap_free)(mtmd_bitmap*);
  mtmd_input_chunks* (*mtmd_input_chunks_init)();
  void (*mtmd_input_chunks_free)(mtmd_input_chunks*);
  size_t (*mtmd_input_chunks_size)(const mtmd_input_chunks*);
  const mtmd_input_chunk* (*mtmd_input_chunks_get)(const mtmd_input_chunks*, size_t);
  int32_t (*mtmd_tokenize)(mtmd_context*, mtmd_input_chunks*, const mtmd_input_text*, const mtmd_bitmap**, size_t);
  int (*mtmd_input_chunk_get_type)(const mtmd_input_chunk*);
  size_t (*mtmd_input_chunk_get_n_tokens)(const mtmd_input_chunk*);
  const mtmd_image_tokens* (*mtmd_input_chunk_get_tokens_image)(const mtmd_input_chunk*);
  size_t (*mtmd_image_tokens_get_nx)(const mtmd_image_tokens*);
  size_t (*mtmd_image_tokens_get_ny)(const mtmd_image_tokens*);
  int32_t (*mtmd_encode_chunk)(mtmd_context*, const mtmd_input_chunk*);
  float* (*mtmd_get_output_embd)(mtmd_context*);
  Params (*llama_context_default_params)();
  struct llama_context* (*llama_init_from_model)(llama_model*, Params);
  void (*llama_free)(struct llama_context*);
  Params (*llama_batch_get_one)(int32_t*, int32_t);
  int32_t (*llama_decode)(struct llama_context*, Params);
  float* (*llama_get_logits_ith)(struct llama_context*, int32_t);
  const void* (*llama_model_get_vocab)(const llama_model*);
  int32_t (*llama_vocab_n_tokens)(const void*);
  void (*mtmd_helper_log_set)(log_cb, void*);
  int32_t (*mtmd_helper_eval_chunk_single)(mtmd_context*, struct llama_context*, const mtmd_input_chunk*, int32_t,
                                           int32_t, int32_t, bool, int32_t*);
  Params (*llama_model_quantize_default_params)();
  uint32_t (*llama_model_quantize)(const char*, const char*, const Params*);
};

[[noreturn]] void die(const std::string& where, const std::string& what) {
  std::fprintf(stderr, "g4ref-llamacpp: %s: %s\n", where.c_str(), what.c_str());
  std::exit(1);
}

template <class F>
void bind(Api& api, F& fn, const char* name) {
  void* p = dlsym(api.lib, name);
  if (!p) die(name, "not exported by the library");
  fn = reinterpret_cast<F>(p);
}

Api load_api(const std::string& path, bool embed, bool logits) {
  Api a;
  a.lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!a.lib) {
    // Node addons leave the N-API functions undefined; they are never called here, so bind lazily.
    a.lib = dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL);
  }
  if (!a.lib) die(path, std::string("cannot load: ") + dlerror());
#define G4REF_BIND(name) bind(a, a.name, #name)
  G4REF_BIND(llama_backend_init);
  G4REF_BIND(llama_log_set);
  if (!embed) {
    G4REF_BIND(llama_model_quantize_default_params);
    G4REF_BIND(llama_model_quantize);
    return a;
  }
  G4REF_BIND(llama_model_default_params);
  G4REF_BIND(llama_model_load_from_file);
  G4REF_BIND(llama_model_free);
  G4REF_BIND(llama_model_n_embd);
  G4REF_BIND(mtmd_log_set);
  G4REF_BIND(mtmd_default_marker);
  G4REF_BIND(mtmd_context_params_default);
  G4REF_BIND(mtmd_init_from_file);
  G4REF_BIND(mtmd_free);
  G4REF_BIND(mtmd_bitmap_init);
  G4REF_BIND(mtmd_bitmap_init_from_audio);
  G4REF_BIND(mtmd_bitmap_free);
  G4REF_BIND(mtmd_input_chunks_init);
  G4REF_BIND(mtmd_input_chunks_free);
  G4REF_BIND(mtmd_input_chunks_size);
  G4REF_BIND(mtmd_input_chunks_get);
  G4REF_BIND(mtmd_tokenize);
  G4REF_BIND(mtmd_input_chunk_get_type);
  G4REF_BIND(mtmd_input_chunk_get_n_tokens);
  G4REF_BIND(mtmd_input_chunk_get_tokens_image);
  G4REF_BIND(mtmd_image_tokens_get_nx);
  G4REF_BIND(mtmd_image_tokens_get_ny);
  G4REF_BIND(mtmd_encode_chunk);
  G4REF_BIND(mtmd_get_output_embd);
  if (logits) {
    G4REF_BIND(llama_context_default_params);
    G4REF_BIND(llama_init_from_model);
    G4REF_BIND(llama_free);
    G4REF_BIND(llama_batch_get_one);
    G4REF_BIND(llama_decode);
    G4REF_BIND(llama_get_logits_ith);
    G4REF_BIND(llama_model_get_vocab);
    G4REF_BIND(llama_vocab_n_tokens);
    G4REF_BIND(mtmd_helper_eval_chunk_single);
    G4REF_BIND(mtmd_helper_log_set);
  }
#undef G4REF_BIND
  return a;
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die(path, "cannot read the file");
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

// llama.cpp logs to stderr; keep only errors (ggml level 4).
void quiet_log(int level, const char* text, void*) {
  if (level == 4) std::fputs(text, stderr);
}

}  // namespace

// The media chunk mtmd makes of one bitmap (its markers come as separate text chunks and are left out).
struct MediaChunk {
  mtmd_input_chunks* chunks = nullptr;
  const mtmd_input_chunk* chunk = nullptr;
};

MediaChunk media_chunk(const Api& api, mtmd_context* ctx, mtmd_bitmap* bitmap, bool is_image) {
  MediaChunk m;
  m.chunks = api.mtmd_input_chunks_init();
  const std::string prompt = api.mtmd_default_marker();
  const mtmd_input_text text{prompt.c_str(), prompt.size(), false, true};
  const mtmd_bitmap* bitmaps[] = {bitmap};
  if (int32_t rc = api.mtmd_tokenize(ctx, m.chunks, &text, bitmaps, 1); rc != 0) {
    die(is_image ? "image" : "audio", "mtmd_tokenize failed with code " + std::to_string(rc));
  }
  size_t text_tokens = 0;
  for (size_t i = 0; i < api.mtmd_input_chunks_size(m.chunks); ++i) {
    const mtmd_input_chunk* c = api.mtmd_input_chunks_get(m.chunks, i);
    if (api.mtmd_input_chunk_get_type(c) == kText) text_tokens += api.mtmd_input_chunk_get_n_tokens(c);
    if (api.mtmd_input_chunk_get_type(c) == (is_image ? kImage : kAudio)) {
      if (m.chunk) die(is_image ? "image" : "audio", "mtmd split the input into more than one chunk");
      m.chunk = c;
    }
  }
  if (!m.chunk) die(is_image ? "image" : "audio", "mtmd produced no media chunk");
  // Only the begin and end markers (one token each) may surround the media: more text means mtmd read past the
  // marker, i.e. this library's mtmd_input_text is not the layout above.
  if (text_tokens > 2) {
    die("mtmd_tokenize", "read " + std::to_string(text_tokens) + " text tokens around one marker: unknown mtmd version");
  }
  return m;
}

mtmd_bitmap* image_bitmap(const Api& api, const std::string& w_text, const std::string& h_text, const std::string& path) {
  const long w = std::strtol(w_text.c_str(), nullptr, 10), h = std::strtol(h_text.c_str(), nullptr, 10);
  const std::vector<char> pixels = read_all(path);
  if (w <= 0 || h <= 0 || pixels.size() != static_cast<size_t>(w) * static_cast<size_t>(h) * 3) {
    die(path, "does not hold W×H×3 bytes");
  }
  return api.mtmd_bitmap_init(static_cast<uint32_t>(w), static_cast<uint32_t>(h),
                              reinterpret_cast<const unsigned char*>(pixels.data()));
}

mtmd_bitmap* audio_bitmap(const Api& api, const std::string& path) {
  const std::vector<char> bytes = read_all(path);
  if (bytes.empty() || bytes.size() % sizeof(float) != 0) die(path, "is not a non-empty float32 array");
  std::vector<float> samples(bytes.size() / sizeof(float));
  std::memcpy(samples.data(), bytes.data(), bytes.size());
  return api.mtmd_bitmap_init_from_audio(samples.size(), samples.data());
}

// llama_context_params of build 10257: flash_attn_type (enum, -1 auto / 0 off / 1 on) at byte 48, type_k and
// type_v (ggml types, 1 = f16, 0 = f32) at 104 and 108; 160 bytes in all.
constexpr size_t kFlashAttnOffset = 48, kTypeKOffset = 104, kTypeVOffset = 108;

// log-softmax of one logits row at TARGET, its rank (1 + entries above it, ties to the lower id) and the top K,
// as JSON {"id", "logprob", "rank", "top": [[id, logprob], ...]}. −inf entries (suppressed tokens) carry no mass.
std::string logprob_json(const float* l, int32_t n_vocab, int32_t target, int32_t k) {
  double max = -1e300;
  for (int32_t i = 0; i < n_vocab; ++i) max = std::max(max, static_cast<double>(l[i]));
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) {
    if (std::isfinite(l[i])) sum += std::exp(static_cast<double>(l[i]) - max);
  }
  const double log_z = max + std::log(sum);
  int32_t rank = 1;
  for (int32_t i = 0; i < n_vocab; ++i) {
    if (l[i] > l[target] || (l[i] == l[target] && i < target)) ++rank;
  }
  std::vector<int32_t> order(static_cast<size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) order[static_cast<size_t>(i)] = i;
  const int32_t kk = std::min(k, n_vocab);
  std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                    [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  char buf[96];
  std::snprintf(buf, sizeof buf, "{\"id\": %d, \"logprob\": %.17g, \"rank\": %d, \"top\": [", target,
                static_cast<double>(l[target]) - log_z, rank);
  std::string out = buf;
  for (int32_t i = 0; i < kk; ++i) {
    std::snprintf(buf, sizeof buf, "%s[%d, %.17g]", i ? ", " : "", order[static_cast<size_t>(i)],
                  static_cast<double>(l[order[static_cast<size_t>(i)]]) - log_z);
    out += buf;
  }
  return out + "]}";
}

// Generation after the plan: ARGS = max new tokens, comma-separated stop ids (or "-"), top-k logprobs per step,
// temperature, top-k, top-p, seed, comma-separated suppressed ids (or "-"). The choice is g4ref's own
// (forward/sampling.h) over llama.cpp's logits with the suppressed ids at −inf: greedy takes the lowest id among
// ties as the reference does, and a seeded sample draws the same numbers as the reference's, so the two take the
// same path wherever their logits agree. The logprobs are those of the unsuppressed logits. Returns the JSON list
// of steps.
std::vector<int32_t> id_list(const std::string& arg) {
  std::vector<int32_t> ids;
  if (arg == "-") return ids;
  std::istringstream ss(arg);
  for (std::string x; std::getline(ss, x, ',');) ids.push_back(static_cast<int32_t>(std::strtol(x.c_str(), nullptr, 10)));
  return ids;
}

std::string generate(const Api& api, struct llama_context* lctx, int32_t n_vocab, int32_t& n_past,
                     const std::vector<std::string>& args) {
  const int32_t max_new = static_cast<int32_t>(std::strtol(args[0].c_str(), nullptr, 10));
  const std::vector<int32_t> stops = id_list(args[1]);
  const int32_t k = static_cast<int32_t>(std::strtol(args[2].c_str(), nullptr, 10));
  g4ref::SamplingOptions so;
  so.temperature = std::strtod(args[3].c_str(), nullptr);
  so.top_k = static_cast<int>(std::strtol(args[4].c_str(), nullptr, 10));
  so.top_p = std::strtod(args[5].c_str(), nullptr);
  so.seed = std::strtoull(args[6].c_str(), nullptr, 10);
  std::vector<bool> suppressed(static_cast<size_t>(n_vocab), false);
  for (int32_t id : id_list(args[7])) {
    if (id >= 0 && id < n_vocab) suppressed[static_cast<size_t>(id)] = true;
  }
  g4ref::Sampler sampler(so);
  std::string out = "[";
  for (int32_t step = 0; step < max_new; ++step) {
    const float* l = api.llama_get_logits_ith(lctx, -1);
    if (!l) die("llama_get_logits_ith", "no logits at position " + std::to_string(n_past - 1));
    int32_t next = static_cast<int32_t>(sampler.next(n_vocab, [&](int i) {
      return suppressed[static_cast<size_t>(i)] ? -std::numeric_limits<double>::infinity() : static_cast<double>(l[i]);
    }));
    out += (step ? ", " : "") + logprob_json(l, n_vocab, next, k);
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) break;
    if (step + 1 == max_new) break;
    if (int32_t rc = api.llama_decode(lctx, api.llama_batch_get_one(&next, 1)); rc != 0) {
      die("llama_decode", "failed with code " + std::to_string(rc) + " at position " + std::to_string(n_past));
    }
    ++n_past;
  }
  return out + "]";
}

int logits(const Api& api, llama_model* model, mtmd_context* ctx, const std::string& plan_path, const std::string& out,
           const std::string& flash_attn, const std::string& kv) {
  struct Item {
    char kind;
    std::vector<std::string> args;
  };
  std::vector<Item> plan;
  {
    std::ifstream in(plan_path);
    if (!in) die(plan_path, "cannot read the plan");
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      std::istringstream ls(line);
      Item it{};
      ls >> it.kind;
      for (std::string a; ls >> a;) it.args.push_back(a);
      const size_t want = it.kind == 't' || it.kind == 's' ? 1 : it.kind == 'i' ? 3 : it.kind == 'a' ? 1 : it.kind == 'g' ? 8 : 0;
      if (want == 0 || it.args.size() != want) die(plan_path, "bad line: " + line);
      plan.push_back(it);
    }
  }
  // Room for the whole prompt, and one ubatch holding any image whole (mtmd decodes images non-causally).
  uint32_t n_positions = 0;
  std::vector<MediaChunk> media;
  std::vector<mtmd_bitmap*> bitmaps;
  int32_t max_new = 0;
  for (const Item& it : plan) {
    if (it.kind == 't' || it.kind == 's') {
      ++n_positions;
      continue;
    }
    if (it.kind == 'g') {
      max_new = static_cast<int32_t>(std::strtol(it.args[0].c_str(), nullptr, 10));
      n_positions += static_cast<uint32_t>(std::max(max_new, 0));
      continue;
    }
    mtmd_bitmap* b = it.kind == 'i' ? image_bitmap(api, it.args[0], it.args[1], it.args[2]) : audio_bitmap(api, it.args[0]);
    if (!b) die(plan_path, "mtmd could not take a media item");
    bitmaps.push_back(b);
    media.push_back(media_chunk(api, ctx, b, it.kind == 'i'));
    n_positions += static_cast<uint32_t>(api.mtmd_input_chunk_get_n_tokens(media.back().chunk));
  }
  Params cp = api.llama_context_default_params();
  uint32_t n_ctx = 0, n_batch = 0, n_ubatch = 0;
  std::memcpy(&n_ctx, cp.bytes, 4);
  std::memcpy(&n_batch, cp.bytes + 4, 4);
  std::memcpy(&n_ubatch, cp.bytes + 8, 4);
  if (n_ctx != 512 || n_batch != 2048 || n_ubatch != 512) {
    die("llama_context_default_params", "unexpected layout: this llama.cpp is not the version this program knows");
  }
  const uint32_t room = std::max<uint32_t>(512, (n_positions + 255) / 256 * 256);
  std::memcpy(cp.bytes, &room, 4);
  std::memcpy(cp.bytes + 4, &room, 4);
  std::memcpy(cp.bytes + 8, &room, 4);
  if (flash_attn != "auto" || kv != "f16") {
    int32_t fa = 0, tk = 0, tv = 0;
    std::memcpy(&fa, cp.bytes + kFlashAttnOffset, 4);
    std::memcpy(&tk, cp.bytes + kTypeKOffset, 4);
    std::memcpy(&tv, cp.bytes + kTypeVOffset, 4);
    if (fa != -1 || tk != 1 || tv != 1) {
      die("llama_context_params", "not build 10257's layout: flash attention and KV type cannot be set here");
    }
    const int32_t want_fa = flash_attn == "on" ? 1 : flash_attn == "off" ? 0 : -1;
    const int32_t want_kv = kv == "f32" ? 0 : 1;
    std::memcpy(cp.bytes + kFlashAttnOffset, &want_fa, 4);
    std::memcpy(cp.bytes + kTypeKOffset, &want_kv, 4);
    std::memcpy(cp.bytes + kTypeVOffset, &want_kv, 4);
  }
  api.mtmd_helper_log_set(quiet_log, nullptr);
  struct llama_context* lctx = api.llama_init_from_model(model, cp);
  if (!lctx) die("llama_init_from_model", "llama.cpp could not make a context");
  const int32_t n_vocab = api.llama_vocab_n_tokens(api.llama_model_get_vocab(model));

  std::vector<std::pair<int32_t, std::vector<float>>> rows;
  int32_t n_past = 0;
  size_t next_media = 0;
  std::string generated_json;
  for (const Item& it : plan) {
    if (it.kind == 'g') {
      generated_json = generate(api, lctx, n_vocab, n_past, it.args);
      continue;
    }
    if (it.kind == 't' || it.kind == 's') {
      int32_t token = static_cast<int32_t>(std::strtol(it.args[0].c_str(), nullptr, 10));
      if (int32_t rc = api.llama_decode(lctx, api.llama_batch_get_one(&token, 1)); rc != 0) {
        die("llama_decode", "failed with code " + std::to_string(rc) + " at position " + std::to_string(n_past));
      }
      ++n_past;
    } else {
      int32_t new_n_past = 0;
      const MediaChunk& m = media[next_media++];
      if (int32_t rc = api.mtmd_helper_eval_chunk_single(ctx, lctx, m.chunk, n_past, 0, static_cast<int32_t>(room), true,
                                                         &new_n_past);
          rc != 0) {
        die("mtmd_helper_eval_chunk_single", "failed with code " + std::to_string(rc));
      }
      n_past = new_n_past;
    }
    if (it.kind == 's') continue;  // decoded, its logits not wanted
    const float* l = api.llama_get_logits_ith(lctx, -1);
    if (!l) die("llama_get_logits_ith", "no logits at position " + std::to_string(n_past - 1));
    rows.emplace_back(n_past - 1, std::vector<float>(l, l + n_vocab));
  }

  const std::string partial = out + ".partial";
  {
    std::ofstream o(partial, std::ios::binary | std::ios::trunc);
    const int32_t n_rows = static_cast<int32_t>(rows.size());
    o.write(reinterpret_cast<const char*>(&n_rows), 4).write(reinterpret_cast<const char*>(&n_vocab), 4);
    for (const auto& [pos, values] : rows) {
      o.write(reinterpret_cast<const char*>(&pos), 4);
      o.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
    }
    if (!o) die(out, "cannot write");
  }
  if (std::rename(partial.c_str(), out.c_str()) != 0) die(out, "cannot rename the finished file");
  std::printf("{\"rows\": %zu, \"n_vocab\": %d, \"positions\": %d, \"n_ctx\": %u%s}\n", rows.size(), n_vocab, n_past,
              room, generated_json.empty() ? "" : (", \"generated\": " + generated_json).c_str());
  for (const MediaChunk& m : media) api.mtmd_input_chunks_free(m.chunks);
  for (mtmd_bitmap* b : bitmaps) api.mtmd_bitmap_free(b);
  api.llama_free(lctx);
  return 0;
}

int quantize(const Api& api, const std::string& in, const std::string& out, long ftype) {
  Params p = api.llama_model_quantize_default_params();
  int32_t nthread = 0, default_ftype = 0;
  std::memcpy(&nthread, p.bytes, 4);
  std::memcpy(&default_ftype, p.bytes + 4, 4);
  // Defaults of llama_model_quantize_params: nthread 0, ftype Q8_0 (7; Q5_1 = 9 in older versions), then two ggml
  // types, then the bools
  // allow_requantize false, quantize_output_tensor true, only_copy false, pure false.
  if (nthread != 0 || (default_ftype != 7 && default_ftype != 9) || p.bytes[16] != 0 || p.bytes[17] != 1 || p.bytes[18] != 0 || p.bytes[19] != 0) {
    die("llama_model_quantize_default_params", "unexpected layout: this llama.cpp is not the version this program knows");
  }
  const int32_t ft = static_cast<int32_t>(ftype);
  std::memcpy(p.bytes + 4, &ft, 4);
  p.bytes[19] = 1;  // pure: every tensor in FTYPE's type (llama.cpp still falls back where a row is not whole blocks)
  const std::string partial = out + ".partial";
  if (api.llama_model_quantize(in.c_str(), partial.c_str(), &p) != 0) {
    std::remove(partial.c_str());
    die(in, "llama_model_quantize failed");
  }
  if (std::rename(partial.c_str(), out.c_str()) != 0) die(out, "cannot rename the finished file");
  return 0;
}

int main(int argc, char** argv) {
  const bool is_quantize = argc == 6 && std::string(argv[2]) == "quantize";
  const bool is_embed = argc >= 8 && std::string(argv[2]) == "embed";
  const bool is_logits = (argc == 7 || argc == 9) && std::string(argv[2]) == "logits";
  if (!is_quantize && !is_embed && !is_logits) {
    std::fprintf(stderr,
                 "usage: %s LIB embed TEXT.gguf MMPROJ.gguf image W H PIXELS.rgb OUT.f32\n"
                 "       %s LIB embed TEXT.gguf MMPROJ.gguf audio SAMPLES.f32 OUT.f32\n"
                 "       %s LIB logits TEXT.gguf MMPROJ.gguf PLAN.txt OUT.bin [auto|on|off f16|f32]\n"
                 "       %s LIB quantize IN.gguf OUT.gguf FTYPE\n",
                 argv[0], argv[0], argv[0], argv[0]);
    return 2;
  }
  Api api = load_api(argv[1], !is_quantize, is_logits);
  api.llama_log_set(quiet_log, nullptr);
  api.llama_backend_init();
  if (is_quantize) return quantize(api, argv[3], argv[4], std::strtol(argv[5], nullptr, 10));
  api.mtmd_log_set(quiet_log, nullptr);

  // embed and logits: the text model and the projector
  const std::string text_model = argv[3], mmproj = argv[4];
  llama_model* model = api.llama_model_load_from_file(text_model.c_str(), api.llama_model_default_params());
  if (!model) die(text_model, "llama.cpp could not load the model");
  mtmd_context* ctx = api.mtmd_init_from_file(mmproj.c_str(), model, api.mtmd_context_params_default());
  if (!ctx) die(mmproj, "llama.cpp's mtmd could not load the projector");
  if (is_logits) {
    const std::string fa = argc == 9 ? argv[7] : "auto", kv = argc == 9 ? argv[8] : "f16";
    if ((fa != "auto" && fa != "on" && fa != "off") || (kv != "f16" && kv != "f32")) {
      die("logits", "expected FLASH_ATTN auto|on|off and KV f16|f32");
    }
    const int rc = logits(api, model, ctx, argv[5], argv[6], fa, kv);
    api.mtmd_free(ctx);
    api.llama_model_free(model);
    return rc;
  }

  const std::string kind = argv[5];
  const bool is_image = kind == "image";
  if (!is_image && kind != "audio") die(kind, "expected 'image' or 'audio'");
  if ((is_image && argc != 10) || (!is_image && argc != 8)) die(kind, "wrong number of arguments");
  const std::string out_path = argv[argc - 1];
  mtmd_bitmap* bitmap = is_image ? image_bitmap(api, argv[6], argv[7], argv[8]) : audio_bitmap(api, argv[6]);
  if (!bitmap) die(kind, "mtmd could not take the input");
  MediaChunk mc = media_chunk(api, ctx, bitmap, is_image);
  const mtmd_input_chunk* media = mc.chunk;
  if (int32_t rc = api.mtmd_encode_chunk(ctx, media); rc != 0) die(kind, "mtmd_encode_chunk failed with code " + std::to_string(rc));
  const size_t n_tokens = api.mtmd_input_chunk_get_n_tokens(media);
  const int32_t n_embd = api.llama_model_n_embd(model);
  const float* embd = api.mtmd_get_output_embd(ctx);
  size_t nx = 0, ny = 0;
  if (is_image) {
    const mtmd_image_tokens* it = api.mtmd_input_chunk_get_tokens_image(media);
    nx = api.mtmd_image_tokens_get_nx(it);
    ny = api.mtmd_image_tokens_get_ny(it);
  }

  const std::string partial = out_path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(embd), static_cast<std::streamsize>(n_tokens * n_embd * sizeof(float)));
    if (!out) die(out_path, "cannot write");
  }
  if (std::rename(partial.c_str(), out_path.c_str()) != 0) die(out_path, "cannot rename the finished file");
  std::printf("{\"n_tokens\": %zu, \"n_embd\": %d, \"nx\": %zu, \"ny\": %zu}\n", n_tokens, n_embd, nx, ny);

  api.mtmd_input_chunks_free(mc.chunks);
  api.mtmd_bitmap_free(bitmap);
  api.mtmd_free(ctx);
  api.llama_model_free(model);
  return 0;
}
