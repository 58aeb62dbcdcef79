#!/usr/bin/env bash
# Regenerates reports/benchmarks/media-memory.md: a DocVQA-layout task of N generated document images (2,000 by
# default; datasets/make_bundled_media.py --documents) run through the reference (f32, tiny synthetic checkpoint,
# images at the task's 1120-token budget), once stopped at 100 samples and once over all N. Peak resident memory
# (GNU time) and the resident memory sampled every second show whether decoded media pile up: they must not, as
# each sample's image is decoded, embedded and dropped before the next.
#   reports/benchmarks/make_media_memory.sh [WORK_DIR]     (N=2000 by default; G4REF=path overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
g4ref=${G4REF:-build/eval/g4ref}
work=${1:-$(mktemp -d)}
n=${N:-2000}
mkdir -p "$work"
"$g4ref" synth --preset tiny --out "$work/tiny" --force >/dev/null
/usr/bin/python3 datasets/make_bundled_media.py --documents "$n" --out "$work/docs" >/dev/null
rows="$work/rows.jsonl"
: > "$rows"
for limit in 100 "$n"; do
  rm -rf "$work/run-$limit"
  /usr/bin/time -f %M -o "$work/peak" "$g4ref" eval run --task docvqa --data "$work/docs/val_v1.0.json" --model "$work/tiny" \
    --precision f32 --max-new-tokens 2 --limit "$limit" --quiet --json --out "$work/run-$limit" > "$work/out.json" &
  pid=$!
  : > "$work/trace"
  while kill -0 "$pid" 2>/dev/null; do
    child=$(pgrep -P "$pid" | head -1 || true)
    [ -n "$child" ] && awk -v t="$SECONDS" '/^VmRSS:/ {print t, $2}' "/proc/$child/status" 2>/dev/null >> "$work/trace" || true
    sleep 1
  done
  wait "$pid"
  /usr/bin/python3 - "$work/out.json" "$work/peak" "$work/trace" "$work/run-$limit/samples.jsonl" "$limit" >> "$rows" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
peak = int(open(sys.argv[2]).read().split()[-1])
trace = [tuple(map(int, l.split())) for l in open(sys.argv[3]) if l.strip()]
recs = [json.loads(l) for l in open(sys.argv[4])]
rss = [r for _, r in trace]
q = len(rss) // 4
print(json.dumps({"samples": len(recs), "seconds": run["seconds"], "peak_rss_kib": peak,
                  "rss_first_quarter_max_kib": max(rss[:max(1, q)]) if rss else None,
                  "rss_last_quarter_max_kib": max(rss[-max(1, q):]) if rss else None,
                  "image_tokens_per_sample": sum(r["media_tokens"]["image"] for r in recs) / len(recs),
                  "distinct_images": len({r["media"][0]["sha256"] for r in recs}),
                  "records_bytes": sum(len(json.dumps(r)) + 1 for r in recs)}))
PY
done
/usr/bin/python3 - "$rows" reports/benchmarks/media-memory.md "$n" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
md = ["# Memory of a many-image task: bounded, not growing with the number of images", "",
      "Regenerate: `reports/benchmarks/make_media_memory.sh` (N=%s)." % sys.argv[3], "",
      "A DocVQA-layout task of generated document images (`datasets/make_bundled_media.py --documents N`, one distinct "
      "image per question) through the reference in f32 on the tiny synthetic checkpoint, images at the task's "
      "1120-token budget, 2 new tokens per sample. Peak: GNU time's maximum resident set; the quarters: the largest "
      "resident set sampled (every second) in the first and the last quarter of the run. The checkpoint is tiny, so "
      "what is measured is the harness and the media path, not a model's weights.", "",
      "| samples | distinct images | image tokens per sample | wall s | peak RSS MiB | RSS max, first quarter MiB | RSS max, last quarter MiB |",
      "|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    f = lambda k: "–" if r[k] is None else f"{r[k] / 1024:.1f}"
    md.append(f"| {r['samples']} | {r['distinct_images']} | {r['image_tokens_per_sample']:.0f} | {r['seconds']:.0f} | "
              f"{r['peak_rss_kib'] / 1024:.1f} | {f('rss_first_quarter_max_kib')} | {f('rss_last_quarter_max_kib')} |")
a, b = rows[0], rows[-1]
md += ["", f"From {a['samples']} to {b['samples']} samples ({b['samples'] / a['samples']:.0f}× the images) the peak "
       f"changes by {(b['peak_rss_kib'] - a['peak_rss_kib']) / 1024:+.1f} MiB. One image at this budget is "
       f"{a['image_tokens_per_sample']:.0f} patches of 6,912 values, {a['image_tokens_per_sample'] * 6912 * 4 / 2**20:.0f} MiB in f32, so "
       f"images kept in memory would grow the peak by that much per sample. The growth seen is consistent with the "
       f"runner's list of finished records, which it keeps in memory as parsed JSON to write results.json "
       f"({b['records_bytes'] / 2**20:.1f} MB of JSON text for {b['samples']} samples, {a['records_bytes'] / 2**20:.2f} MB "
       f"for {a['samples']}); that list was not measured on its own."]
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(md) + "\n")
print("\n".join(md))
PY
