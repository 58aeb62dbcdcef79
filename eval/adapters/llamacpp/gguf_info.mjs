// Reads a GGUF file's header with node-llama-cpp's own reader (readGgufFileInfo) and prints its metadata (flat
// dotted keys) and tensor list as JSON — an independent view of what a GGUF writer put into the file.
//
//   node gguf_info.mjs FILE.gguf
import {readGgufFileInfo} from "node-llama-cpp";

const [path] = process.argv.slice(2);
if (!path) {
  console.error("usage: node gguf_info.mjs FILE.gguf");
  process.exit(2);
}
const info = await readGgufFileInfo(path, {sourceType: "filesystem", logWarnings: false});
const plain = (v) => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map(plain) : v);
const metadata = {};
const flatten = (object, prefix) => {
  for (const [key, value] of Object.entries(object)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) flatten(value, name);
    else metadata[name] = plain(value);
  }
};
flatten(info.metadata, "");
const tensors = (info.tensorInfo ?? []).map((t) => ({
  name: t.name,
  dims: t.dimensions.map(plain),
  type: plain(t.ggmlType),
  offset: plain(t.offset),
}));
process.stdout.write(JSON.stringify({version: info.version, metadata, tensors}) + "\n");
