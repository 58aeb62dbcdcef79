#!/usr/bin/env bash
# Regenerates reports/benchmarks/tiny-synthetic/: every text task on its bundled synthetic set with the tiny
# synthetic checkpoint, through the reference (exact) and llama.cpp (f32 GGUF), the llama.cpp runs audited by the
# reference, then the report. The checkpoint's weights are random and the data synthetic: the scores are real
# measurements of this pipeline and mean nothing about any model.
#   reports/benchmarks/make_tiny_synthetic.sh [WORK_DIR]      (after building; G4REF=path overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
g4ref=${G4REF:-build/eval/g4ref}
work=${1:-$(mktemp -d)}
tokens=${MAX_NEW_TOKENS:-16}
limit=${LIMIT:-12}   # records per task (each llama.cpp call is a child process that loads the GGUF)
mkdir -p "$work"
"$g4ref" synth --preset tiny --out "$work/tiny" --force >/dev/null
summary="$work/summary.jsonl"
: > "$summary"
for task in mmlu_pro mmlu_pro_ll gpqa_diamond mmmlu aime; do
  for backend in reference llamacpp; do
    extra=()
    n=$limit
    [ "$task" = mmmlu ] && n=$((3 * limit))   # all three bundled locales
    [ "$backend" = llamacpp ] && extra=(--precision f32 --logprobs 5)
    "$g4ref" eval run --task "$task" --backend "$backend" --model "$work/tiny" --out "$work/$backend-$task" \
      --max-new-tokens "$tokens" --limit "$n" --quiet --json "${extra[@]}" |
      python3 -c "import json,sys; j=json.load(sys.stdin); t=list(j['results']['tasks'].values())[0]; print(json.dumps({'task': '$task', 'backend': '$backend', 'n': t['n'], 'mean': t['mean'], 'unparsed': t['unparsed'], 'seconds': j['seconds']}))" >> "$summary"
  done
  "$g4ref" eval audit "$work/llamacpp-$task" --model "$work/tiny" --samples 0 --json |
    python3 -c "import json,sys; a=json.load(sys.stdin); print(json.dumps({'task': '$task', 'audit_agreement': a['agreement_rate'], 'audited': a['audited'], 'same_prompt_ids': a['same_prompt_ids'], 'kl_mean': a.get('kl_mean')}))" >> "$summary"
done
"$g4ref" eval report "$work"/reference-* "$work"/llamacpp-* --out reports/benchmarks/tiny-synthetic \
  --title "Text tasks on the tiny synthetic checkpoint (pipeline test, not a model score)" \
  --note "Random weights (g4ref synth --preset tiny) and synthetic bundled data: these numbers are real measurements of the harness, and say nothing about Gemma 4. Generation capped at $tokens new tokens, the first $limit records of each bundled set. AIME samples (temperature 1, top-k 64, top-p 0.95, a seed per sample); on llama.cpp the tokens are drawn by g4ref's sampler from llama.cpp's logits, and the audit replays the reference's sampler with the same seed on the reference's logits. Run 1: reference in exact mode; run 2: llama.cpp on an f32 GGUF export of the same weights."
cp "$summary" reports/benchmarks/tiny-synthetic/summary.jsonl
# Wall time of each run (this machine, shared CPUs) and the reference's audit of each llama.cpp run.
python3 - "$summary" reports/benchmarks/tiny-synthetic/README.md <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
md = ["", "## Wall time and audit", "",
      "| task | reference: n, score, wall s | llama.cpp: n, score, wall s | audit of the llama.cpp run: agreement (samples), same prompt ids, mean KL (bucketed lower bound) |",
      "|---|---|---|---|"]
for t in dict.fromkeys(r["task"] for r in rows):
    cell = {}
    for r in rows:
        if r["task"] != t: continue
        if "backend" in r: cell[r["backend"]] = f"{r['n']}, {r['mean']:.3f}, {r['seconds']:.1f}"
        else:
            kl = "–" if r["kl_mean"] is None else f"{r['kl_mean']:.2g}"
            cell["audit"] = f"{100 * r['audit_agreement']:.0f} % ({r['audited']}), {r['same_prompt_ids']}/{r['audited']}, {kl}"
    md.append(f"| {t} | {cell.get('reference', '–')} | {cell.get('llamacpp', '–')} | {cell.get('audit', '–')} |")
md += ["", "## Regenerate", "", "`reports/benchmarks/make_tiny_synthetic.sh` (after building; it writes this folder)."]
open(sys.argv[2], "a", encoding="utf-8").write("\n".join(md) + "\n")
PY
cat "$summary"
