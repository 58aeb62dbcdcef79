// Evaluates a prompt in llama.cpp (the prebuilt CPU binaries of node-llama-cpp) and writes the logits of every
// position: int32 positions, int32 vocabulary, then float32 rows in token-id order — the layout g4ref's trace
// reader takes as an MTMD-style dump (name it "logits").
//
//   node logits.mjs MODEL.gguf 2,105,10,20 OUT.bin [--kv f16|f32] [--threads N]
//
// Prints one JSON line on stdout: positions, vocabulary, the KV-cache type used, llama.cpp's build info.
import {getLlama} from "node-llama-cpp";
import {writeFileSync, renameSync} from "node:fs";

const [modelPath, tokenList, outPath, ...rest] = process.argv.slice(2);
if (!modelPath || !tokenList || !outPath) {
  console.error("usage: node logits.mjs MODEL.gguf TOKENS OUT.bin [--kv f16|f32] [--threads N]");
  process.exit(2);
}
const option = (name, fallback) => {
  const i = rest.indexOf(name);
  return i >= 0 && i + 1 < rest.length ? rest[i + 1] : fallback;
};
const kv = option("--kv", "f16").toUpperCase();
const threads = Number(option("--threads", "0")) || undefined;
const tokens = tokenList.split(",").map(Number);

const llama = await getLlama({build: "never", gpu: false, logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
  contextSize: Math.max(256, tokens.length + 16),
  batchSize: Math.max(tokens.length, 1),
  threads,
  flashAttention: false,
  experimentalKvCacheKeyType: kv,
  experimentalKvCacheValueType: kv,
});
const sequence = context.getSequence();
const results = await sequence.controlledEvaluate(tokens.map((t) => [t, {generateNext: {logits: true}}]));

let vocabulary = 0;
for (const r of results) {
  for (const id of r?.next?.logits?.keys() ?? []) vocabulary = Math.max(vocabulary, id + 1);
}
const header = new Int32Array([results.length, vocabulary]);
const rows = new Float32Array(results.length * vocabulary).fill(Number.NaN);
results.forEach((r, p) => {
  for (const [id, value] of r?.next?.logits ?? []) rows[p * vocabulary + id] = value;
});
const partial = outPath + ".partial";
writeFileSync(partial, Buffer.concat([Buffer.from(header.buffer), Buffer.from(rows.buffer)]));
renameSync(partial, outPath);
console.log(JSON.stringify({positions: results.length, vocabulary, kv_cache_type: kv, threads: threads ?? "default"}));
await context.dispose();
await model.dispose();
