#!/usr/bin/env bash
# Regenerates reports/benchmarks/tiny-multimodal/: every image, audio, video and long-context task on its whole
# bundled synthetic set with the tiny synthetic checkpoint, through the reference (exact) and llama.cpp (f32 GGUF,
# images and audio embedded by its mtmd library), each llama.cpp run audited by the reference; wall time and peak
# RSS of every run, media tokens per sample; then the report. The checkpoint's weights are random and the data
# synthetic: the scores are real measurements of this pipeline and mean nothing about any model.
#   reports/benchmarks/make_tiny_multimodal.sh [WORK_DIR]      (after building; G4REF=path overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
g4ref=${G4REF:-build/eval/g4ref}
work=${1:-$(mktemp -d)}
tokens=${MAX_NEW_TOKENS:-16}
out=reports/benchmarks/tiny-multimodal
mkdir -p "$work" "$out"
"$g4ref" synth --preset tiny --out "$work/tiny" --force >/dev/null
summary="$work/summary.jsonl"
: > "$summary"
for task in mmmu_pro_standard mmmu_pro_vision math_vision docvqa infographicvqa fleurs covost2 video_qa mrcr_8needle; do
  for backend in reference llamacpp; do
    precision=exact
    logprobs=()
    [ "$backend" = llamacpp ] && precision=f32 && logprobs=(--logprobs 5)
    dir="$work/$backend-$task"
    # Images at 280 tokens on both backends: this llama.cpp's mtmd gives a Gemma 4 image at most 266 tokens
    # whatever the budget (measured), and the llama.cpp backend refuses a prompt it lays out otherwise.
    budget=()
    case "$task" in mmmu_pro_*|math_vision|docvqa|infographicvqa) budget=(--image-tokens 280) ;; esac
    /usr/bin/time -f %M -o "$work/rss" "$g4ref" eval run --task "$task" --backend "$backend" --model "$work/tiny" \
      --precision "$precision" --out "$dir" --max-new-tokens "$tokens" --quiet --json "${budget[@]}" "${logprobs[@]}" > "$work/run.json"
    /usr/bin/python3 - "$work/run.json" "$dir/samples.jsonl" "$(cat "$work/rss")" "$task" "$backend" >> "$summary" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
t = list(run["results"]["tasks"].values())[0]
recs = [json.loads(l) for l in open(sys.argv[2])]
scored = [r for r in recs if "skipped" not in r]
tok = {k: sum(r.get("media_tokens", {}).get(k, 0) for r in scored) / max(1, len(scored)) for k in ("image", "video", "audio")}
print(json.dumps({"task": sys.argv[4], "backend": sys.argv[5], "n": t["n"], "mean": t["mean"], "metric": t["metric"],
                  "higher_is_better": t.get("higher_is_better", True), "unparsed": t["unparsed"],
                  "prompt_tokens": sum(r["prompt_tokens"] for r in scored) / max(1, len(scored)),
                  "media_tokens": tok, "seconds": run["seconds"], "peak_rss_kib": int(sys.argv[3]),
                  "media": run["results"]["settings"].get("media")}))
PY
  done
  # Audited twice: by the reference as Hugging Face defines the model, and by the reference told this llama.cpp
  # build's two known differences (images bidirectional on full layers too, its embedding scale; see the
  # crosscheck tests), so a new difference shows apart from the known ones. The llama.cpp runs keep top-5 logprobs.
  for mode in default llamacpp_semantics; do
    flags=()
    [ "$mode" = llamacpp_semantics ] && flags=(--image-attention all --embed-scale llamacpp)
    "$g4ref" eval audit "$work/llamacpp-$task" --model "$work/tiny" --precision exact --samples 0 --json "${flags[@]}" |
      /usr/bin/python3 -c "import json,sys; a=json.load(sys.stdin); print(json.dumps({'task': '$task', 'audit': '$mode', 'audit_agreement': a['agreement_rate'], 'audited': a['audited'], 'same_prompt_ids': a['same_prompt_ids'], 'kl_mean': a.get('kl_mean')}))" >> "$summary"
  done
done
"$g4ref" eval report "$work"/reference-* "$work"/llamacpp-* --out "$out" \
  --title "Image, audio, video and long-context tasks on the tiny synthetic checkpoint (pipeline test, not a model score)" \
  --note "Random weights (g4ref synth --preset tiny) and synthetic bundled data (datasets/make_bundled_media.py): these numbers are real measurements of the harness, and say nothing about Gemma 4. Every record of each bundled set; generation capped at $tokens new tokens; the tasks' media settings except the image budget: images at 280 tokens on both backends (the tasks' own 1120 is what Gemma's Table 6 uses, but this llama.cpp build's mtmd gives a Gemma 4 image at most 266 tokens whatever the budget, and the harness refuses to run llama.cpp on a prompt laid out with other media token counts than the reference's), audio up to 30 s, video 32 frames at 70 tokens. fleurs is an error rate (lower is better) and covost2 a BLEU score (0–100); both are pooled over the corpus. Run 1: reference in exact mode; run 2: llama.cpp on an f32 GGUF export of the same weights, media embedded by llama.cpp's mtmd from the same prepared patches and frames."
cp "$summary" "$out/summary.jsonl"
/usr/bin/python3 - "$summary" "$out/README.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
md = ["", "## Per backend: media tokens, wall time, peak memory, audit", "",
      "Wall time and peak resident memory (GNU time's maximum RSS of the g4ref process and its children) of each whole run on this machine (shared CPUs).", "",
      "| task | backend | n | score | media tokens per sample (image / video / audio) | prompt tokens per sample | wall s | peak RSS MiB |",
      "|---|---|---:|---:|---|---:|---:|---:|"]
for r in rows:
    if "backend" not in r: continue
    m = r["media_tokens"]
    md.append(f"| {r['task']} | {r['backend']} | {r['n']} | {r['mean']:.4f} | {m['image']:.0f} / {m['video']:.0f} / {m['audio']:.0f} | "
              f"{r['prompt_tokens']:.0f} | {r['seconds']:.1f} | {r['peak_rss_kib'] / 1024:.0f} |")
md += ["", "The reference's audit of each llama.cpp run, greedy tokens compared position by position: once with the reference as "
       "Hugging Face defines the model, once told this llama.cpp build's two known differences (`--image-attention all "
       "--embed-scale llamacpp`: images bidirectional on full layers too, its embedding scale). KL: the bucketed lower bound "
       "over the top-5 lists, per token.", "",
       "| task | audit (reference as HF defines it): agreement (samples), same prompt ids, mean KL | audit (with llama.cpp's known semantics) |",
       "|---|---|---|"]
cells = {}
for r in rows:
    if "audit" in r:
        kl = "–" if r["kl_mean"] is None else f"{r['kl_mean']:.2g}"
        cells.setdefault(r["task"], {})[r["audit"]] = f"{100 * r['audit_agreement']:.0f} % ({r['audited']}), {r['same_prompt_ids']}/{r['audited']}, {kl}"
for t, c in cells.items():
    md.append(f"| {t} | {c.get('default', '–')} | {c.get('llamacpp_semantics', '–')} |")
md += ["", "## Regenerate", "", "`reports/benchmarks/make_tiny_multimodal.sh` (after building; it writes this folder)."]
open(sys.argv[2], "a", encoding="utf-8").write("\n".join(md) + "\n")
PY
cat "$summary"
