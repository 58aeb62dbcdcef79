// The converter on a Parquet file written by hyparquet-writer with known rows in MMLU-Pro's schema (int64 id,
// strings, a list of strings, a binary image cell): the JSON Lines must hold exactly those rows.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { parquetWriteBuffer } from 'hyparquet-writer'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'g4ref_convert_'))
const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
const rows = [
  { question_id: 70n, question: 'What is 1 + 1? — «ünïcode»', options: ['1', '2', '3'], answer: 'B', answer_index: 1, image: png },
  { question_id: 9007199254740993n, question: 'line one\nline "two"', options: ['x'], answer: 'A', answer_index: 0, image: png },
]
const buf = parquetWriteBuffer({
  columnData: [
    { name: 'question_id', data: rows.map(r => r.question_id), type: 'INT64' },
    { name: 'question', data: rows.map(r => r.question), type: 'STRING' },
    { name: 'options', data: rows.map(r => r.options) },
    { name: 'answer', data: rows.map(r => r.answer), type: 'STRING' },
    { name: 'answer_index', data: rows.map(r => r.answer_index), type: 'INT32' },
    { name: 'image', data: rows.map(r => r.image), type: 'BYTE_ARRAY' },
  ],
})
const pq = path.join(dir, 'test.parquet')
fs.writeFileSync(pq, Buffer.from(buf))
const out = path.join(dir, 'test.jsonl')
execFileSync(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'convert.mjs'), pq, out])
const got = fs.readFileSync(out, 'utf8').trim().split('\n').map(l => JSON.parse(l))
const fail = m => { console.error('FAIL: ' + m); process.exit(1) }
if (got.length !== 2) fail(`rows ${got.length}`)
if (got[0].question_id !== 70) fail('int64 as number')
if (got[1].question_id !== '9007199254740993') fail('int64 beyond 2^53 as string: ' + got[1].question_id)
for (let i = 0; i < 2; i++) {
  for (const k of ['question', 'answer', 'answer_index']) if (got[i][k] !== rows[i][k]) fail(`${k} of row ${i}: ${got[i][k]}`)
  if (JSON.stringify(got[i].options) !== JSON.stringify(rows[i].options)) fail(`options of row ${i}`)
  const media = fs.readFileSync(path.join(dir, got[i].image))
  if (!got[i].image.endsWith('.png') || Buffer.compare(media, Buffer.from(png)) !== 0) fail(`image of row ${i}: ${got[i].image}`)
}
fs.rmSync(dir, { recursive: true })
console.log('convert round trip: 2 rows equal (int64, unicode, newline, list, binary → .png file)')
