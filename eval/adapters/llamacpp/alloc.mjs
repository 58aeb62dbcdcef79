// Loads a GGUF in llama.cpp (node-llama-cpp's prebuilt CPU binaries), makes a context of a given size and KV-cache
// type, evaluates a few tokens, and reports what llama.cpp says it allocated: the buffer sizes it logs at load
// ("CPU_Mapped model buffer size", "KV buffer size", "compute buffer size", ...) and the cache cell counts. The
// caller (g4ref memory measure) samples this process's resident memory from outside.
//
//   node alloc.mjs MODEL.gguf N_CTX KV_TYPE N_TOKENS [--flash-attn on|off|auto] [--batch N] [--threads N]
//
// KV_TYPE: f32, f16, bf16, q8_0, q4_0 (K and V both). N_CTX 0 loads the vocabulary and metadata only (llama.cpp's
// vocab_only): the process baseline of this model without its weights, cache or compute buffers. Prints one JSON
// line on stdout.
import {getLlama} from "node-llama-cpp";

const [modelPath, ctxText, kvText, tokensText, ...rest] = process.argv.slice(2);
if (!modelPath || !ctxText || !kvText || !tokensText) {
  console.error("usage: node alloc.mjs MODEL.gguf N_CTX KV_TYPE N_TOKENS [--flash-attn on|off|auto] [--batch N] [--threads N]");
  process.exit(2);
}
const option = (name, fallback) => {
  const i = rest.indexOf(name);
  return i >= 0 && i + 1 < rest.length ? rest[i + 1] : fallback;
};
const kvTypes = {f32: "F32", f16: "F16", bf16: "BF16", q8_0: "Q8_0", q4_0: "Q4_0"};
const kv = kvTypes[kvText.toLowerCase()];
if (!kv) {
  console.error(`alloc.mjs: KV_TYPE ${kvText}: expected one of ${Object.keys(kvTypes).join(", ")}`);
  process.exit(2);
}
const nCtx = Number(ctxText), nTokens = Number(tokensText);
// node-llama-cpp adds one to the batch size for SWA models (llama.cpp's n_batch = n_ubatch = batchSize + 1), so
// 511 gives llama.cpp's own default micro-batch of 512.
const batch = Number(option("--batch", "511"));
const fa = option("--flash-attn", "on");
const threads = Number(option("--threads", "0")) || undefined;

const logs = [];
const llama = await getLlama({
  build: "never", gpu: false, logLevel: "debug",
  logger: (level, message) => { logs.push(String(message).trimEnd()); },
});
if (nCtx === 0) {
  const vocabModel = await llama.loadModel({modelPath, gpuLayers: 0, vocabOnly: true});
  console.log(JSON.stringify({model: modelPath, n_ctx: 0, vocab_only: true, log: []}));
  await vocabModel.dispose();
  process.exit(0);
}
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
  contextSize: nCtx,
  batchSize: batch,
  threads,
  flashAttention: fa === "auto" ? "auto" : fa === "on",
  experimentalKvCacheKeyType: kv,
  experimentalKvCacheValueType: kv,
});
const sequence = context.getSequence();
const vocab = model.tokens.bos ?? 2;
const tokens = Array.from({length: nTokens}, (_, i) => i === 0 ? vocab : 1000 + i);
await sequence.evaluateWithoutGeneratingNewTokens(tokens);

// Every "... buffer size = X MiB" line and the cache's own summary lines.
const wanted = logs.filter((l) => /buffer size|KV cache, size|llama_kv_cache: size|llama_context: +(n_ctx|n_ctx_seq|n_batch|n_ubatch|flash_attn) |REPACK/.test(l));
console.log(JSON.stringify({
  model: modelPath, n_ctx: nCtx, context_size: context.contextSize, batch_size: batch, kv_type: kv, flash_attn: fa,
  evaluated_tokens: nTokens, log: wanted,
}));
await context.dispose();
await model.dispose();
