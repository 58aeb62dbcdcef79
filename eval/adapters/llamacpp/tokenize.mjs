// Tokenizes each line of a text file with llama.cpp's own tokenizer (the vocabulary and merges stored in a GGUF),
// printing one JSON array of ids per line. Special tokens written in the text are parsed as special tokens.
//
//   node tokenize.mjs MODEL.gguf LINES.txt
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const [modelPath, linesPath] = process.argv.slice(2);
if (!modelPath || !linesPath) {
  console.error("usage: node tokenize.mjs MODEL.gguf LINES.txt");
  process.exit(2);
}
const llama = await getLlama({build: "never", gpu: false, logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0, vocabOnly: true});
const text = readFileSync(linesPath, "utf8");
const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
const out = lines.map((line) => JSON.stringify(Array.from(model.tokenize(line, true))));
process.stdout.write(out.join("\n") + "\n");
await model.dispose();
