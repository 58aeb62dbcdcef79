// The converter on a Parquet file in MMMU-Pro's published schema, written by hyparquet-writer: image_1 a Hugging
// Face Image struct {bytes, path} holding a real PNG, image_2 a null struct, options a Python list literal string.
// Prints the JSON Lines file's path; the C++ test (tests/test_harness_media.cpp) reads it with the task's reader.
//   node media_roundtrip_test.mjs PNG OUT_DIR
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { parquetWriteBuffer } from 'hyparquet-writer'

const [png, outDir] = process.argv.slice(2)
if (!png || !outDir) { console.error('usage: node media_roundtrip_test.mjs PNG OUT_DIR'); process.exit(2) }
const bytes = new Uint8Array(fs.readFileSync(png))
fs.mkdirSync(outDir, { recursive: true })
const rows = [
  { id: 'test_Math_9', question: 'What is shown in <image 1>?', options: "['a square', \"it's a circle\", 'a line']", answer: 'B', subject: 'Math' },
  { id: 'test_Art_3', question: 'Which colour dominates <image 1>?', options: "['red', 'green', 'blue']", answer: 'C', subject: 'Art' },
]
const str = name => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' })
const image = name => [
  { name, repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
]
const buf = parquetWriteBuffer({
  schema: [
    { name: 'root', num_children: 7 },
    str('id'), str('question'), str('options'), ...image('image_1'), ...image('image_2'), str('answer'), str('subject'),
  ],
  columnData: [
    { name: 'id', data: rows.map(r => r.id) },
    { name: 'question', data: rows.map(r => r.question) },
    { name: 'options', data: rows.map(r => r.options) },
    { name: 'image_1', data: rows.map((r, i) => ({ bytes, path: `page_${i}.png` })) },
    { name: 'image_2', data: rows.map(() => null) },
    { name: 'answer', data: rows.map(r => r.answer) },
    { name: 'subject', data: rows.map(r => r.subject) },
  ],
})
const pq = path.join(outDir, 'test.parquet')
fs.writeFileSync(pq, Buffer.from(buf))
const out = path.join(outDir, 'standard_10.jsonl')
execFileSync(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'convert.mjs'), pq, out])
console.log(out)
