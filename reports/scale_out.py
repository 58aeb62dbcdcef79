#!/usr/bin/python3
"""reports/scale-out.md: how long each harness benchmark of reports/claims.md takes on the 12B, per backend and
precision, and how many nodes a full exact-mode audit of a llama.cpp MMLU-Pro run needs to finish in a day.

Measured: per-sample times (samples.jsonl records: prompt_tokens, prompt_seconds, generated_tokens,
decode_seconds) of `g4ref eval run --task mmlu_pro` on the synthetic `small` checkpoint, one thread, each backend and
precision, at two generation budgets. Estimated: the 12B's times, by the FLOP ratio of the 12B to `small` computed
from the two configs (formulas in the report). Nothing else is assumed about speed.

  /usr/bin/python3 reports/scale_out.py --g4ref build/eval/g4ref            # measure, then write the report
  /usr/bin/python3 reports/scale_out.py --from-json reports/scale_out.json  # the report from earlier measurements
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The 12B's text decoder (reference/model/config.h defaults = spec §1.2, google/gemma-4-12B config.json): every 6th
# layer full attention, the rest sliding.
CONFIG_12B = {
    "vocab_size": 262144, "hidden_size": 3840, "intermediate_size": 15360, "num_hidden_layers": 48,
    "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256, "global_head_dim": 512,
    "num_global_key_value_heads": 1, "attention_k_eq_v": True, "sliding_window": 1024,
    "layer_types": ["full_attention" if l % 6 == 5 else "sliding_attention" for l in range(48)],
}

# Harness benchmarks of the claims table (reports/claims.md) and their published sizes
# (research notes claims-and-evals §3): samples = questions × repeats.
BENCHMARKS = [
    ("MMLU-Pro", "mmlu_pro", 12032, 1),
    ("GPQA Diamond", "gpqa_diamond", 198, 4),
    ("MMMLU (14 locales)", "mmmlu", 14 * 14042, 1),
    ("AIME 2026", "aime", 30, 4),
]
# The harness's llama.cpp backend takes no thread option: libllama's default context runs GGML_DEFAULT_N_THREADS (4)
# threads, so on a machine of fewer cores it uses them all. Its rates are divided by the cores it could use, which
# credits it with perfect scaling over them: a per-core rate on the low side, times on the high side.
LLAMACPP_THREADS = 4
AUDIT_PROMPT = 240               # MMLU-Pro prompt tokens for the audit's memory (the bundled items' mean, rounded)
NODE = {"cores": 64, "memory_gb": 512}  # the node the audit's node count is given for
GEN_TOKENS = [1024, 8192, 32768]  # generated tokens per sample; 32,768 is the claims table's budget (the cap)
BACKENDS = [("reference", "exact"), ("reference", "f32"), ("reference", "bf16"), ("llamacpp", "f32"), ("llamacpp", "q8_0")]
BUDGETS = [8, 128]                # --max-new-tokens of the two measuring runs
LIMIT = 4


def layer_macs(c):
    """Multiply-accumulates per token of the projections and MLP, per layer."""
    h, out = c["hidden_size"], []
    for t in c["layer_types"]:
        full = t == "full_attention"
        hd = c["global_head_dim"] if full else c["head_dim"]
        kv = c["num_global_key_value_heads"] if full else c["num_key_value_heads"]
        q = h * c["num_attention_heads"] * hd
        k = h * kv * hd
        v = 0 if (full and c["attention_k_eq_v"]) else h * kv * hd
        o = c["num_attention_heads"] * hd * h
        mlp = 3 * h * c["intermediate_size"]
        out.append((q + k + v + o + mlp, full, hd))
    return out


def forward_flops(c, start, count, logits_rows):
    """FLOPs of COUNT tokens at positions START… (2 per multiply-add): projections and MLP, attention scores and
    weighted sums over the visible keys (all earlier positions on full layers, at most the window on sliding
    ones), and LOGITS_ROWS rows of the tied output table."""
    layers = layer_macs(c)
    heads, w = c["num_attention_heads"], c["sliding_window"]
    total = 0.0
    n0, n1 = start, start + count  # positions n0 … n1-1; token at position p sees p+1 keys
    for macs, full, hd in layers:
        total += 2.0 * macs * count
        if full:
            keys = (n1 * (n1 + 1) - n0 * (n0 + 1)) / 2.0
        else:
            # sum over p of min(p + 1, w)
            def cum(n):  # sum_{p<n} min(p+1, w)
                m = min(n, w)
                return m * (m + 1) / 2.0 + max(0, n - w) * w
            keys = cum(n1) - cum(n0)
        total += 2.0 * 2.0 * heads * hd * keys
    total += 2.0 * c["vocab_size"] * c["hidden_size"] * logits_rows
    return total


def text_parameters(c):
    return sum(m for m, _, _ in layer_macs(c)) + c["vocab_size"] * c["hidden_size"]


def sh(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return r.returncode, r.stdout, r.stderr


def measure(g4ref, work):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    load_before = os.getloadavg()
    ckpt = os.path.join(work, "small")
    rc, _, err = sh([g4ref, "synth", "--preset", "small", "--out", ckpt, "--force"])
    if rc:
        sys.exit("synth failed: " + err)
    with open(os.path.join(ckpt, "config.json")) as f:
        small = json.load(f)["text_config"]
    runs = []
    for backend, precision in BACKENDS:
        for budget in BUDGETS:
            out = os.path.join(work, f"{backend}-{precision}-{budget}")
            cmd = [g4ref, "eval", "run", "--task", "mmlu_pro", "--limit", str(LIMIT), "--max-new-tokens", str(budget),
                   "--backend", backend, "--model", ckpt, "--precision", precision, "--threads", "1", "--quiet",
                   "--out", out]
            rc, _, err = sh(cmd, env)
            entry = {"backend": backend, "precision": precision, "max_new_tokens": budget, "limit": LIMIT,
                     "command": " ".join(cmd[1:]).replace(work, "WORK")}
            if rc:
                entry["error"] = err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"
                print(f"{backend} {precision} {budget}: {entry['error']}", file=sys.stderr)
            else:
                recs = []
                with open(os.path.join(out, "samples.jsonl")) as f:
                    for line in f:
                        r = json.loads(line)
                        recs.append({k: r.get(k) for k in ("id", "prompt_tokens", "generated_tokens", "prompt_seconds",
                                                           "decode_seconds", "seconds")})
                entry["samples"] = recs
                print(f"{backend} {precision} {budget}: {len(recs)} samples, "
                      f"{sum(r['seconds'] for r in recs):.2f} s", file=sys.stderr)
            runs.append(entry)
    lscpu = sh(["lscpu"])[1]
    model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "unknown")
    rc, mem, _ = sh([g4ref, "memory", "--preset", "12b", "--json"])
    groups = json.loads(mem)["weights"]["groups"] if rc == 0 else {}
    audit_memory = {}
    for g in GEN_TOKENS:  # the reference's memory for an audit forward of an MMLU-Pro prompt plus G tokens
        n = AUDIT_PROMPT + g
        rc, mem, _ = sh([g4ref, "memory", "--preset", "12b", "--engine", "reference", "--context", str(n), "--json"])
        if rc == 0:
            j = json.loads(mem)
            audit_memory[str(g)] = {"context": n, "resident_anon_bytes": j["resident_anon_bytes"],
                                    "resident_file_bytes": j["resident_file_bytes"]}
    return {"checkpoint": "small", "small_config": small, "cpu": model, "cores": os.cpu_count(), "threads": 1,
            "load_average": {"before": load_before, "after": os.getloadavg()},
            "memory_model_12b_weight_groups": groups, "audit_memory_12b": audit_memory, "runs": runs}


def fit(run, c, cores=1):
    """Per backend/precision: the decode cost per generated token (slope of seconds over generated tokens, both
    budgets' samples together) and the FLOP rates it implies on CONFIG C."""
    pts = [(r["generated_tokens"], r["seconds"], r["prompt_tokens"]) for e in run for r in e.get("samples", [])]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    intercept = my - slope * mx
    prompt = sum(p[2] for p in pts) / n
    # Decode: one token at a time after the prompt, one logits row each.
    decode_flops = forward_flops(c, int(prompt), 1, 1)
    out = {"samples": n, "slope_s_per_token": slope, "intercept_s": intercept, "mean_prompt_tokens": prompt,
           "decode_flops_per_s": decode_flops / slope / cores if slope > 0 else None}
    pre = [(r["prompt_tokens"], r["prompt_seconds"]) for e in run for r in e.get("samples", []) if r.get("prompt_seconds")]
    if pre:
        flops = sum(forward_flops(c, 0, p, 1) for p, _ in pre)
        secs = sum(s for _, s in pre)
        out["prefill_flops_per_s"] = flops / secs
        out["prefill_tokens_per_s"] = sum(p for p, _ in pre) / secs
    return out


def hours(s):
    return s / 3600.0


def fmt_time(s):
    if s < 120:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def report(data, path_md):
    summary = []
    small = data["small_config"]
    if "layer_types" not in small:
        sys.exit("small_config lacks layer_types")
    fits = {}
    for backend, precision in BACKENDS:
        run = [e for e in data["runs"] if e["backend"] == backend and e["precision"] == precision]
        errors = [e["error"] for e in run if "error" in e]
        cores = min(LLAMACPP_THREADS, data.get("cores", 1)) if backend == "llamacpp" else 1
        fits[(backend, precision)] = (fit(run, small, cores), errors)
    P = {}
    for name, task, _, _ in BENCHMARKS:
        P[task] = data.get("prompt_tokens", {}).get(task)
    L = []
    L.append("# Scale-out: how long the benchmarks take on the 12B, and how many nodes an audit needs")
    L.append("")
    L.append("Regenerate (measures, then writes this page and `reports/scale_out.json`):")
    L.append("")
    L.append("```sh")
    L.append("/usr/bin/python3 reports/scale_out.py --g4ref build/eval/g4ref")
    L.append("```")
    L.append("")
    L.append("**What is measured and what is estimated.** Measured here: per-sample times of `g4ref eval run --task "
             f"mmlu_pro` on the synthetic `small` checkpoint (12 layers, hidden 512; random weights), "
             f"{LIMIT} samples at each of the budgets {BUDGETS} generated tokens, per backend and precision, on "
             f"this machine's CPU ({data['cpu']}). Estimated: everything about the 12B. No 12B was run. The estimate "
             "assumes that each backend reaches on the 12B the same FLOP rate per thread as on `small`; the real rate "
             "differs (larger matrices use the cache and vector units better; the 12B's 24 GB of weights do not fit "
             "in any cache, and a one-token decode step reads all of them, so decode on the 12B is bound by memory "
             "bandwidth and will be slower than its FLOP estimate). Read the 12B figures as orders of magnitude.")
    L.append("")
    la = data.get("load_average")
    if la:
        L.append(f"The machine ({data.get('cores')} cores) was shared with other work while measuring: load average "
                 f"{la['before'][0]:.1f} before, {la['after'][0]:.1f} after, so the measured rates are lower than an idle "
                 "machine's by an unknown factor. The reference ran one thread (`--threads 1`, `OMP_NUM_THREADS=1`); "
                 f"the llama.cpp backend takes no thread option and runs libllama's default {LLAMACPP_THREADS} threads, "
                 f"so its rates below are divided by the {min(LLAMACPP_THREADS, data.get('cores', 1))} cores it could use "
                 "(a per-core rate on the low side).")
        L.append("")
    L.append("## Method")
    L.append("")
    L.append("FLOPs of a token at position p (2 per multiply-add), from each model's config:")
    L.append("")
    L.append("- projections and MLP, per layer: 2·(H·n_h·d + H·n_kv·d + [H·n_kv·d if the layer has a V projection] + "
             "n_h·d·H + 3·H·I), with d, n_kv the layer type's head size and KV heads;")
    L.append("- attention, per layer: 2·2·n_h·d·k, with k = p+1 visible keys on full layers and min(p+1, W) on "
             "sliding ones;")
    L.append("- logits: 2·V·H per row of the tied output table (one row per generated token; one per scored token "
             "in an audit).")
    L.append("")
    c12, cs = CONFIG_12B, small
    groups = data.get("memory_model_12b_weight_groups", {})
    if groups:
        mm = (groups.get("attention", 0) + groups.get("mlp", 0) + groups.get("embedding", 0)) // 2
        check = (f"; `g4ref memory --preset 12b` counts {mm:,} in its bf16 attention, MLP and embedding groups, "
                 + ("the same" if mm == text_parameters(c12) else "DIFFERENT: the formulas above are wrong"))
    else:
        check = ""
    L.append(f"Text parameters by these formulas: 12B {text_parameters(c12):,}{check} (the checkpoint: 11,959,730,224 in "
             f"all, norms, vision and audio embedders included); `small` {text_parameters(cs):,}. Decode FLOPs per token at "
             f"position 256: 12B {forward_flops(c12, 256, 1, 1):.3e}, `small` {forward_flops(cs, 256, 1, 1):.3e}, "
             f"ratio {forward_flops(c12, 256, 1, 1) / forward_flops(cs, 256, 1, 1):.0f}.")
    L.append("")
    L.append("Per backend and precision, a line through all its samples' (generated tokens, seconds) gives the "
             "decode cost per token (the slope) and the per-sample fixed cost (the intercept: prompt, and for "
             "llama.cpp the adapter's process start and model load). The slope's FLOP rate is "
             "decode FLOPs / slope. For the 12B, one sample of P prompt tokens and G generated tokens takes "
             "FLOPs_12B(prefill P) / prefill rate + FLOPs_12B(decode G) / decode rate, where llama.cpp (whose adapter "
             "reports one time per sample) is given its decode rate for the prefill too, an overestimate of its "
             "prefill time, which is small next to G ≥ 1,024 decode steps. The fixed cost is left out: it does not "
             "scale by FLOPs.")
    L.append("")
    L.append("## Measured on `small`")
    L.append("")
    L.append("| backend | precision | samples | decode s/token (slope) | fixed s/sample (intercept) | decode GFLOP/s per core | prefill tokens/s | prefill GFLOP/s |")
    L.append("|---|---|---|---|---|---|---|---|")
    for (backend, precision), (f, errors) in fits.items():
        if f is None:
            L.append(f"| {backend} | {precision} | 0 | not measured: {'; '.join(errors) or 'no samples'} | | | | |")
            continue
        pre_t = f"{f['prefill_tokens_per_s']:.0f}" if "prefill_tokens_per_s" in f else "—"
        pre_f = f"{f['prefill_flops_per_s'] / 1e9:.2f}" if "prefill_flops_per_s" in f else "—"
        dec_f = f"{f['decode_flops_per_s'] / 1e9:.2f}" if f.get("decode_flops_per_s") else "—"
        L.append(f"| {backend} | {precision} | {f['samples']} | {f['slope_s_per_token'] * 1000:.2f} ms | "
                 f"{f['intercept_s']:.3f} s | {dec_f} | {pre_t} | {pre_f} |")
    L.append("")
    L.append("The raw records (every sample's prompt tokens, generated tokens and seconds) and the commands are in "
             "`reports/scale_out.json`. llama.cpp's fixed cost per sample is the adapter's process start and model "
             "load, paid again for every sample; on the 12B (12.7 GB of q8_0 weights to map) it adds to the "
             "estimates below, which leave it out.")
    L.append("")

    def sample_seconds(key, p, g):
        f, _ = fits[key]
        if f is None or not f.get("decode_flops_per_s"):
            return None
        dec = forward_flops(c12, p, g, g) / f["decode_flops_per_s"]
        pre_rate = f.get("prefill_flops_per_s", f["decode_flops_per_s"])
        return forward_flops(c12, 0, p, 1) / pre_rate + dec

    L.append("## Estimated for the 12B: one sample, one core")
    L.append("")
    ptxt = ", ".join(f"{t} {P[t]:.0f}" for _, t, _, _ in BENCHMARKS if P.get(t))
    L.append(f"Prompt lengths P: the mean of each task's bundled synthetic items rendered by its template "
             f"({ptxt} tokens; real items are longer, which matters little next to G). Generated tokens G: the 12B's "
             "thinking length on these benchmarks is not published; the rows give G = 1,024, 8,192 and the claims "
             "table's budget 32,768 (the most a sample can take).")
    L.append("")
    head = "| G | " + " | ".join(f"{b} {p}" for b, p in BACKENDS) + " |"
    L.append(head)
    L.append("|---|" + "---|" * len(BACKENDS))
    p_mmlu = P.get("mmlu_pro") or 256
    for g in GEN_TOKENS:
        cells = []
        for key in BACKENDS:
            s = sample_seconds(key, int(p_mmlu), g)
            cells.append(fmt_time(s) if s else "—")
        L.append(f"| {g:,} (MMLU-Pro prompt) | " + " | ".join(cells) + " |")
    L.append("")
    L.append("## Estimated for the 12B: whole benchmarks, in CPU-core-days")
    L.append("")
    L.append("Shards are independent, so the wall time is this divided by the cores running shards at once "
             "(`g4ref eval submit --slurm --shards N`).")
    L.append("")
    L.append("| benchmark | samples | G | " + " | ".join(f"{b} {p}" for b, p in BACKENDS) + " |")
    L.append("|---|---|---|" + "---|" * len(BACKENDS))
    for name, task, q, rep in BENCHMARKS:
        n = q * rep
        p = int(P.get(task) or 256)
        for g in GEN_TOKENS:
            cells = []
            for key in BACKENDS:
                s = sample_seconds(key, p, g)
                cells.append(f"{n * s / 86400:,.0f}" if s else "—")
            L.append(f"| {name} | {n:,} | {g:,} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("## A full exact-mode audit of a llama.cpp MMLU-Pro run, in a day")
    L.append("")
    L.append("`g4ref eval audit RUN --model M --samples 0 --precision exact` re-scores every sample teacher-forced: "
             "one forward pass over the prompt and the run's generated tokens, with a logits row at each generated "
             "position. Its cost per sample is FLOPs_12B(prefill of P+G tokens) + G·2·V·H at the reference's exact "
             "prefill rate measured above; the cores needed to finish 12,032 questions in 24 h are the core-seconds "
             "over 86,400.")
    L.append("")
    fe, _ = fits[("reference", "exact")]
    if fe and fe.get("prefill_flops_per_s"):
        rate = fe["prefill_flops_per_s"]
        L.append(f"Exact prefill rate on `small`: {rate / 1e9:.2f} GFLOP/s per thread.")
        L.append("")
        mems = data.get("audit_memory_12b", {})
        L.append(f"| G (llama.cpp's generated tokens) | audit per sample | cores for 24 h | anonymous memory per shard "
                 f"(`g4ref memory`) | shards per node ({NODE['cores']} cores, {NODE['memory_gb']} GB) | nodes for 24 h |")
        L.append("|---|---|---|---|---|---|")
        for g in GEN_TOKENS:
            flops = forward_flops(c12, 0, int(p_mmlu) + g, 0) + 2.0 * c12["vocab_size"] * c12["hidden_size"] * g
            s = flops / rate
            cores = 12032 * s / 86400
            m = mems.get(str(g))
            if m:
                room = NODE["memory_gb"] * 1e9 - m["resident_file_bytes"]  # the weights' pages are shared
                per_node = max(0, min(NODE["cores"], int(room // m["resident_anon_bytes"])))
                mem_txt = f"{m['resident_anon_bytes'] / 1e9:.1f} GB at {m['context']:,} tokens"
                nodes = f"{-(-cores // per_node):,.0f}" if per_node else "does not fit"
            else:
                per_node, mem_txt, nodes = NODE["cores"], "not measured", f"{-(-cores // NODE['cores']):,.0f}"
            L.append(f"| {g:,} | {fmt_time(s)} | {cores:,.0f} | {mem_txt} | {per_node} | {nodes} |")
            summary.append(f"{nodes} nodes if answers average {g:,} generated tokens")
        L.append("")
        L.append("Each shard runs one thread (exact mode is bit-identical for any thread count, so a shard per core "
                 "loses nothing). A shard's anonymous memory is the memory model's figure for the reference at that "
                 "context (float64 activations and KV cache); the 24 GB of weights are file-backed pages shared by "
                 "all shards of a node, counted once. A node runs as many shards as both its cores and its memory "
                 "allow; at long contexts the memory, not the cores, sets the node count.")
    else:
        L.append("The reference's exact prefill rate was not measured; no estimate.")
    L.append("")
    if summary:
        L.insert(8, f"**In short (estimates):** a full exact-mode audit of a llama.cpp MMLU-Pro run (12,032 questions) "
                    f"finishes in 24 h on {'; '.join(summary)} (nodes of {NODE['cores']} cores and "
                    f"{NODE['memory_gb']} GB). How the numbers are made, and how far to trust them, is below.")
        L.insert(9, "")
    with open(path_md, "w") as f:
        f.write("\n".join(L))


def prompt_lengths(g4ref, work):
    """Mean prompt tokens of each benchmark's bundled items (tiny checkpoint: same tokenizer rules, cheap)."""
    ckpt = os.path.join(work, "tiny")
    sh([g4ref, "synth", "--preset", "tiny", "--out", ckpt, "--force"])
    out = {}
    for _, task, _, _ in BENCHMARKS:
        d = os.path.join(work, "prompt-" + task)
        # MMMLU: all 36 bundled items, so each of its three locale files is measured.
        limit = [] if task == "mmmlu" else ["--limit", "8"]
        rc, _, err = sh([g4ref, "eval", "run", "--task", task] + limit + ["--max-new-tokens", "1",
                         "--backend", "reference", "--model", ckpt, "--quiet", "--out", d],
                        dict(os.environ, OMP_NUM_THREADS="1"))
        if rc:
            print(f"prompt lengths of {task}: {err.strip()}", file=sys.stderr)
            continue
        with open(os.path.join(d, "samples.jsonl")) as f:
            toks = [json.loads(l)["prompt_tokens"] for l in f if l.strip()]
        out[task] = sum(toks) / len(toks)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--g4ref", help="the g4ref program: measure first")
    ap.add_argument("--from-json", help="write the report from these measurements instead")
    ap.add_argument("--json-out", default=os.path.join(HERE, "scale_out.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "scale-out.md"))
    a = ap.parse_args()
    if a.from_json:
        with open(a.from_json) as f:
            data = json.load(f)
    elif a.g4ref:
        g4ref = os.path.abspath(a.g4ref)
        with tempfile.TemporaryDirectory() as work:
            data = measure(g4ref, work)
            data["prompt_tokens"] = prompt_lengths(g4ref, work)
        with open(a.json_out, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
    else:
        ap.error("give --g4ref PROGRAM (measure) or --from-json FILE")
    report(data, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
