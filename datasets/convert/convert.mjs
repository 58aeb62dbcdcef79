#!/usr/bin/env node
// Parquet → JSON Lines for g4ref eval: the benchmarks on the Hugging Face hub (MMLU-Pro, GPQA, MMMLU, AIME,
// MMMU-Pro, …) are published as Parquet, which no Debian package reads; hyparquet (npm, pinned in package.json)
// does. One JSON object per row, in the file's column order. Values become JSON as a reader expects them:
// 64-bit integers as numbers when exactly representable (as strings otherwise), dates as ISO strings, lists and
// structs as JSON. Binary cells — the {bytes, path} structs of Hugging Face Image and Audio features, or raw
// bytes — are written as files under --media-dir and replaced by their path relative to the output file.
//
//   node datasets/convert/convert.mjs IN.parquet OUT.jsonl [--media-dir DIR] [--limit N]
//
// The output appears whole or not at all (written to OUT.partial, then renamed).
import fs from 'node:fs'
import path from 'node:path'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

function usage(message) {
  if (message) process.stderr.write(`convert: ${message}\n`)
  process.stderr.write('usage: node convert.mjs IN.parquet OUT.jsonl [--media-dir DIR] [--limit N] [--json]\n')
  process.exit(message ? 2 : 0)
}

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) usage()
const opts = { mediaDir: '', limit: 0, json: false }
const positional = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--media-dir') opts.mediaDir = args[++i] ?? usage('--media-dir needs a folder')
  else if (args[i] === '--limit') {
    opts.limit = Number(args[++i])
    if (!Number.isInteger(opts.limit) || opts.limit < 0) usage('--limit needs a non-negative integer')
  } else if (args[i] === '--json') opts.json = true
  else if (args[i].startsWith('--')) usage(`unknown option ${args[i]}`)
  else positional.push(args[i])
}
if (positional.length !== 2) usage('give IN.parquet and OUT.jsonl')
const [input, output] = positional
const outDir = path.dirname(path.resolve(output))
const mediaDir = opts.mediaDir ? path.resolve(opts.mediaDir) : path.join(outDir, path.basename(output, '.jsonl') + '_media')
let mediaCount = 0

function sniffExtension(bytes) {
  const b = bytes
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return '.png'
  if (b[0] === 0xff && b[1] === 0xd8) return '.jpg'
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return '.gif'
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46) return b[8] === 0x57 && b[9] === 0x45 ? '.wav' : '.webp'
  if (b[0] === 0x66 && b[1] === 0x4c && b[2] === 0x61 && b[3] === 0x43) return '.flac'
  if (b[0] === 0x4f && b[1] === 0x67 && b[2] === 0x67) return '.ogg'
  if (b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) return '.mp3'
  return '.bin'
}

function writeMedia(bytes, hint, row, column) {
  fs.mkdirSync(mediaDir, { recursive: true })
  const ext = hint && path.extname(hint) ? path.extname(hint) : sniffExtension(bytes)
  const name = `${row}_${column.replace(/[^A-Za-z0-9_-]/g, '_')}_${mediaCount++}${ext}`
  fs.writeFileSync(path.join(mediaDir, name), bytes)
  return path.relative(outDir, path.join(mediaDir, name))
}

function toJson(value, row, column) {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString()
  }
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return writeMedia(value, '', row, column)
  if (Array.isArray(value)) return value.map(v => toJson(v, row, column))
  if (typeof value === 'object') {
    // A Hugging Face Image / Audio cell: {bytes, path}; the bytes go to a file, the path names it.
    if (value.bytes instanceof Uint8Array) return writeMedia(value.bytes, value.path ?? '', row, column)
    const out = {}
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v, row, `${column}.${k}`)
    return out
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null
  return value
}

try {
  if (!fs.existsSync(input)) throw new Error(`${input}: no such file`)
  const file = await asyncBufferFromFile(input)
  const metadata = await parquetMetadataAsync(file)
  const total = Number(metadata.num_rows)
  const rowEnd = opts.limit > 0 ? Math.min(opts.limit, total) : total
  const partial = output + '.partial'
  const fd = fs.openSync(partial, 'w')
  let rows = 0
  try {
    const step = 4096  // bounded memory: rows are read in slices
    for (let start = 0; start < rowEnd; start += step) {
      // utf8: false keeps unannotated binary columns (image bytes) as bytes; STRING columns are still text.
      const chunk = await parquetReadObjects({ file, metadata, compressors, utf8: false, rowStart: start, rowEnd: Math.min(start + step, rowEnd) })
      for (const r of chunk) {
        const obj = {}
        for (const [k, v] of Object.entries(r)) obj[k] = toJson(v, rows, k)
        fs.writeSync(fd, JSON.stringify(obj) + '\n')
        rows++
      }
    }
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(partial, output)
  const summary = { input, output, rows, of: total, media_files: mediaCount, media_dir: mediaCount ? mediaDir : null }
  process.stdout.write(opts.json ? JSON.stringify(summary, null, 2) + '\n'
    : `wrote ${rows} of ${total} rows to ${output}${mediaCount ? ` and ${mediaCount} media files to ${mediaDir}` : ''}\n`)
} catch (e) {
  try { fs.unlinkSync(output + '.partial') } catch {}
  process.stderr.write(`convert: error: ${input}: ${e.message}\n`)
  process.exit(1)
}
