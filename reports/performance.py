#!/usr/bin/python3
"""reports/performance.md: the reference and llama.cpp side by side on the same synthetic weights, on this machine,
with every speed also given as a ratio to the machine's ceilings measured in the same run (`g4ref bench`).

What runs (all on the same thread count, default: every core):
  1. `g4ref synth --preset small`, then `g4ref export-gguf` of it as F32, BF16, Q8_0 and Q4_0 (the same weights).
  2. `g4ref bench` on the bf16 safetensors checkpoint in exact and f32, and in f32 on each GGUF: prefill of each
     prompt length, then decode steps; ceilings (float64 / float32 GEMM, read bandwidth) measured in that run.
  3. llama.cpp's own llama-server (its Release build for this CPU, from the llama.cpp source inside node-llama-cpp)
     on each GGUF,
     llama.cpp's defaults except the thread count: /completion with the same prompt ids, cache_prompt off, greedy,
     ignore_eos, best of REPEATS; its "timings" (prompt_per_second, predicted_per_second) are llama.cpp's own.

  /usr/bin/python3 reports/performance.py --g4ref build/eval/g4ref                 # measure, then write the report
  /usr/bin/python3 reports/performance.py --from-json reports/performance.json     # the report from a measurement

Random weights: the generated tokens mean nothing; the speeds are those of the real computation at these shapes.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FORMATS = ["f32", "bf16", "q8_0", "q4_0"]


def major_faults(pid):
    """Major page faults of process PID so far (field 12 of /proc/PID/stat): pages it had to read from disk."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[9])


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"performance: failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-4000:]}")
    return r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, timeout=600):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def llama_server_runs(server, gguf, threads, prompts, new_tokens, repeats):
    port = free_port()
    log = open(gguf + ".server.log", "w")
    ctx = max(len(p) for p in prompts.values()) + new_tokens + 64
    proc = subprocess.Popen([server, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-t", str(threads),
                             "-c", str(ctx), "-np", "1", "--no-webui"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.1)
        else:
            sys.exit(f"performance: llama-server did not start on {gguf} (log {gguf}.server.log)")
        body = lambda ids, n: {"prompt": ids, "n_predict": n, "cache_prompt": False, "temperature": 0,
                               "ignore_eos": True}
        post(url + "/completion", body(prompts[min(prompts)], 2))  # warm-up
        out = []
        for n, ids in sorted(prompts.items()):
            best = None
            for _ in range(repeats):
                faults = major_faults(proc.pid)
                t = post(url + "/completion", body(ids, new_tokens))["timings"]
                t["major_page_faults"] = major_faults(proc.pid) - faults
                if t["prompt_n"] != len(ids):
                    sys.exit(f"performance: llama-server evaluated {t['prompt_n']} of {len(ids)} prompt tokens")
                if best is None or t["prompt_ms"] < best["prompt_ms"]:
                    best = dict(t, predicted_best=t["predicted_per_second"])
                best["predicted_best"] = max(best["predicted_best"], t["predicted_per_second"])
            out.append({"prompt_tokens": n, "prefill_tokens_per_second": best["prompt_per_second"],
                        "decode_tokens_per_second": best["predicted_best"], "predicted_n": best["predicted_n"],
                        "major_page_faults": best["major_page_faults"]})
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def measure(args):
    g4ref = os.path.abspath(args.g4ref)
    lengths = [int(x) for x in args.prompt_tokens.split(",")]
    data = {"threads": args.threads, "prompt_tokens": lengths, "new_tokens": args.new_tokens,
            "repeats": args.repeats, "preset": args.preset, "cpu": cpu_name(),
            "reference": [], "llamacpp": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, args.preset)
        run([g4ref, "synth", "--preset", args.preset, "--out", model])
        ggufs = {}
        scrub = lambda bench: dict(bench, model=os.path.basename(bench["model"]))  # no machine paths in the JSON
        for f in FORMATS:
            ggufs[f] = os.path.join(tmp, f"{args.preset}-{f}.gguf")
            run([g4ref, "export-gguf", "--model", model, "--type", f, "--out", ggufs[f]])
        bench = [g4ref, "bench", "--prompt-tokens", args.prompt_tokens, "--new-tokens", str(args.new_tokens),
                 "--threads", str(args.threads), "--repeats", str(args.repeats), "--json"]
        print("performance: reference on the bf16 checkpoint (exact, f32)", file=sys.stderr)
        b = json.loads(run(bench + ["--model", model, "--precision", "exact,f32"]))
        data["ceilings"] = b["ceilings"]
        data["reference"].append({"weights": "bf16 safetensors", "bench": scrub(b)})
        for f in FORMATS:
            print(f"performance: reference f32 on the {f.upper()} GGUF", file=sys.stderr)
            data["reference"].append({"weights": f"{f.upper()} GGUF",
                                      "bench": scrub(json.loads(run(bench + ["--model", ggufs[f], "--precision",
                                                                             "f32", "--no-ceilings"])))})
        prompts = {r["prompt_tokens"]: r["prompt_ids"] for r in b["runs"]}
        for e in data["reference"]:
            for r in e["bench"]["runs"]:
                r.pop("prompt_ids", None)
        server = llama_server_binary(args)
        for f in FORMATS:
            print(f"performance: llama.cpp (llama-server) on the {f.upper()} GGUF", file=sys.stderr)
            data["llamacpp"][f] = llama_server_runs(server, ggufs[f], args.threads, prompts,
                                                    args.new_tokens, args.repeats)
        data["llamacpp_build"] = llama_build_flags(server)
    return data


def llama_server_binary(args):
    if args.llama_server is None:
        # llama.cpp's own Release build (-O3, GGML_NATIVE=ON), built once; the tests' build is -O1 and portable.
        print("performance: llama-server (llama.cpp's Release build, built once)", file=sys.stderr)
        args.llama_server = run([os.path.join(REPO, "eval/adapters/llamacpp/build_llama_server.sh"),
                                 "--speed"]).strip().splitlines()[-1]
    if not os.access(args.llama_server, os.X_OK):
        sys.exit(f"performance: no llama-server at {args.llama_server}")
    return args.llama_server


def llama_build_flags(server):
    """GGML_NATIVE and the build type of the llama-server binary SERVER, from its build's CMakeCache.txt."""
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(server))), "CMakeCache.txt")
    flags = {}
    try:
        for line in open(cache):
            for key in ("GGML_NATIVE", "CMAKE_BUILD_TYPE", "CMAKE_CXX_FLAGS_RELEASE"):
                if line.startswith(key + ":"):
                    flags[key] = line.split("=", 1)[1].strip()
    except OSError:
        return "not recorded (no CMakeCache.txt next to the binary)"
    return ", ".join(f"{k}={v}" for k, v in sorted(flags.items()))


def memory_bytes():
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def measure_llamacpp_12b(args, prompts, new_tokens):
    """llama.cpp on the 12B checkpoint ARGS.llamacpp_12b: each format exported with `g4ref export-gguf` into a
    temporary folder (one at a time, removed after its run), then llama-server on the prompt ids of the reference's
    12B bench (PROMPTS: length -> ids). A format whose GGUF would exceed this machine's memory is not run, and the
    reason is recorded; llama-server's major page faults per request say whether a run read weights from disk."""
    g4ref = os.path.abspath(args.g4ref)
    server = llama_server_binary(args)
    model = os.path.abspath(args.llamacpp_12b)
    weights = sum(os.path.getsize(os.path.join(model, f)) for f in os.listdir(model) if f.endswith(".safetensors"))
    memory = memory_bytes()
    out = {"threads": args.threads, "new_tokens": new_tokens, "repeats": args.repeats,
           "checkpoint_bytes": weights, "memory_bytes": memory, "formats": {}, "not_run": {}}
    with tempfile.TemporaryDirectory(dir=args.gguf_dir) as tmp:
        # The 12b synth preset writes no tokenizer (262,144 pieces cannot be learned from the bundled text). The
        # runs feed token ids, so any tokenizer serves: the tiny preset's, padded with unused [PADn] pieces to the
        # 12B's vocabulary by export-gguf --tokenizer.
        tokenizer = []
        if not any(os.path.exists(os.path.join(model, t)) for t in ("tokenizer.json", "tokenizer.model")):
            tiny = os.path.join(tmp, "tiny")
            run([g4ref, "synth", "--preset", "tiny", "--out", tiny])
            tokenizer = ["--tokenizer", tiny]
            out["tokenizer"] = ("the checkpoint has none: the tiny synth preset's (1,024 pieces), the other ids "
                                "unused [PADn] pieces (prompts are given as ids)")
        for f in FORMATS:
            if f not in args.llamacpp_12b_formats.split(","):
                out["not_run"][f] = "not asked for (--llamacpp-12b-formats %s)" % args.llamacpp_12b_formats
                continue
            # The F32 GGUF holds every matrix at 4 bytes, twice the bf16 checkpoint.
            if f == "f32" and 2 * weights > memory:
                out["not_run"][f] = ("the F32 GGUF of the 12B would be about %.1f GB, more than this machine's "
                                     "%.1f GB of memory" % (2 * weights / 1e9, memory / 1e9))
                print(f"performance: llama.cpp on the 12B {f.upper()} GGUF not run: {out['not_run'][f]}",
                      file=sys.stderr)
                continue
            gguf = os.path.join(tmp, f"12b-{f}.gguf")
            print(f"performance: exporting the 12B as a {f.upper()} GGUF", file=sys.stderr)
            run([g4ref, "export-gguf", "--model", model, "--type", f, "--out", gguf] + tokenizer)
            size = os.path.getsize(gguf)
            print(f"performance: llama.cpp (llama-server) on the 12B {f.upper()} GGUF ({size / 1e9:.1f} GB)",
                  file=sys.stderr)
            out["formats"][f] = {"gguf_bytes": size,
                                 "runs": llama_server_runs(server, gguf, args.threads, prompts, new_tokens,
                                                           args.repeats)}
            os.remove(gguf)
    out["build"] = llama_build_flags(server)
    return out


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def runs_by_precision(bench, precision):
    return {r["prompt_tokens"]: r for r in bench["runs"] if r["precision"] == precision}


def write_report(data, out_dir):
    c = data["ceilings"]
    ref_bf16 = data["reference"][0]["bench"]
    ref_gguf = {e["weights"].split()[0].lower(): e["bench"] for e in data["reference"][1:]}
    lengths = data["prompt_tokens"]
    lines = []
    w = lines.append
    w("# Performance: the reference and llama.cpp on the same weights")
    w("")
    w("Regenerate with `/usr/bin/python3 reports/performance.py --g4ref build/eval/g4ref` (the measurement, a few "
      "minutes on 2 cores; `--from-json reports/performance.json` rewrites this page from the last one). "
      "Synthetic `%s` checkpoint (random weights: the tokens mean nothing, the arithmetic is the real one), "
      "%d threads, %s, best of %d. Ceilings measured in the same run by `g4ref bench`. The full-shape 12B "
      "sections are added to that measurement with `--add-12b`, `--add-12b-portable` and `--llamacpp-12b` (the "
      "README's Speed section gives the commands)." %
      (data["preset"], data["threads"], data["cpu"], data["repeats"]))
    w("")
    w("Both engines are built for this CPU: the reference's default build (`-march=native`) and llama.cpp's own "
      "Release build of llama-server (`build_llama_server.sh --speed`: `GGML_NATIVE=ON`, llama.cpp's default); "
      "its build cache of this measurement says: %s." % data.get("llamacpp_build", "not recorded"))
    w("")
    w("## Ceilings of this machine")
    w("")
    w("| GEMM float64 | GEMM float32 | read bandwidth | triad bandwidth |")
    w("|---|---|---|---|")
    w("| %.1f GFLOP/s | %.1f GFLOP/s | %.1f GB/s | %.1f GB/s |" %
      (c["gemm_f64_gflops"], c["gemm_f32_gflops"], c["read_gbps"], c["triad_gbps"]))
    w("")
    head = "| engine, weights | " + " | ".join(f"{n} tokens" for n in lengths) + " |"

    def speed_table(stage, llama_key, digits):
        """Rows of tokens/s per prompt length: the reference (with its ceiling share on the bf16 checkpoint),
        then llama.cpp, for STAGE ("prefill" or "decode")."""
        w(head)
        w("|" + "---|" * (len(lengths) + 1))
        for prec in ("exact", "f32"):
            r = runs_by_precision(ref_bf16, prec)
            w(f"| reference {prec}, bf16 safetensors | " +
              " | ".join("%.*f (%.0f %%)" % (digits, r[n][stage]["tokens_per_second"],
                                             100 * r[n][stage]["ratio_to_ceiling"]) for n in lengths) + " |")
        for f in FORMATS:
            r = runs_by_precision(ref_gguf[f], "f32")
            w(f"| reference f32, {f.upper()} GGUF | " +
              " | ".join("%.*f" % (digits, r[n][stage]["tokens_per_second"]) for n in lengths) + " |")
        for f in FORMATS:
            l = {x["prompt_tokens"]: x for x in data["llamacpp"][f]}
            w(f"| llama.cpp, {f.upper()} GGUF | " +
              " | ".join("%.*f" % (digits, l[n][llama_key]) for n in lengths) + " |")
        w("")

    w("## Prefill, tokens/s (and the reference's share of its GEMM ceiling)")
    w("")
    speed_table("prefill", "prefill_tokens_per_second", 0)
    w("## Decode, tokens/s (%d steps after each prompt; the reference's share of the read-bandwidth bound)" %
      (data["new_tokens"] - 1))
    w("")
    speed_table("decode", "decode_tokens_per_second", 1)
    w("## Ratios: reference f32 / llama.cpp on the same GGUF")
    w("")
    w("| weights | prefill, per prompt length | decode, per prompt length |")
    w("|---|---|---|")
    target = []
    for f in FORMATS:
        r = runs_by_precision(ref_gguf[f], "f32")
        l = {x["prompt_tokens"]: x for x in data["llamacpp"][f]}
        pre = [r[n]["prefill"]["tokens_per_second"] / l[n]["prefill_tokens_per_second"] for n in lengths]
        dec = [r[n]["decode"]["tokens_per_second"] / l[n]["decode_tokens_per_second"] for n in lengths]
        if f == "f32":
            target = pre
        w(f"| {f.upper()} | " + ", ".join("%.2f" % x for x in pre) + " | " + ", ".join("%.2f" % x for x in dec) + " |")
    w("")
    met = all(x >= 0.5 for x in target)
    w("Target of the speed issue, reference `f32` prefill at least 0.5x llama.cpp F32 on the same weights: **%s** "
      "(%s)." % ("met" if met else "not met", ", ".join("%.2fx at %d" % (x, n) for x, n in zip(target, lengths))))
    w("")
    w("## Where the reference's prefill time goes (bf16 checkpoint, longest prompt)")
    w("")
    n = lengths[-1]
    w("| stage | exact s | f32 s |")
    w("|---|---|---|")
    ex, f3 = runs_by_precision(ref_bf16, "exact")[n]["prefill"], runs_by_precision(ref_bf16, "f32")[n]["prefill"]
    for k in ex["stage_seconds"]:
        w("| %s | %.3f | %.3f |" % (k, ex["stage_seconds"][k], f3["stage_seconds"].get(k, 0)))
    w("| weight conversion (thread-seconds, inside the matmul stages) | %.3f | %.3f |" %
      (ex["weight_conversion_thread_seconds"], f3["weight_conversion_thread_seconds"]))
    w("")
    for key, title in (("bench_12b", "native build"), ("bench_12b_portable", "portable build")):
        if key not in data:
            continue
        b = data[key]
        cc = b["ceilings"]
        w("## The full-shape 12B (`g4ref synth --preset 12b`, bf16 safetensors, %s)" % title)
        w("")
        w("`%s` — ceilings of that run: GEMM float64 %.1f, float32 %.1f GFLOP/s, read %.1f GB/s%s." %
          (b.get("command", "g4ref bench"), cc["gemm_f64_gflops"], cc["gemm_f32_gflops"], cc["read_gbps"],
           " (the higher of the readings before and after the runs: read %.1f and %.1f GB/s)" % (
               b["ceilings_before"]["read_gbps"], b["ceilings_after"]["read_gbps"]) if "ceilings_after" in b else ""))
        w("")
        w("| precision | prompt | prefill s | prefill tokens/s | GFLOP/s | share of GEMM ceiling | decode s/token | "
          "decode share of read bandwidth | major page faults (prefill / decode) |")
        w("|---|---|---|---|---|---|---|---|---|")
        for r in b["runs"]:
            p, d = r["prefill"], r["decode"]
            w("| %s | %d | %.1f | %.2f | %.1f | %.0f %% | %s | %s | %d / %d |" % (
                r["precision"], r["prompt_tokens"], p["seconds"], p["tokens_per_second"], p["gflops"],
                100 * p["ratio_to_ceiling"],
                "%.2f" % d["seconds_per_token"] if d.get("steps") else "-",
                "%.0f %%" % (100 * d["ratio_to_ceiling"]) if d.get("steps") else "-",
                p["major_page_faults"], d["major_page_faults"]))
        w("")
        disk = ["%s %d %s" % (r["precision"], r["prompt_tokens"], stage) for r in b["runs"]
                for stage in ("prefill", "decode") if r[stage]["major_page_faults"] > 1000]
        w("Major page faults are pages of the checkpoint read from disk during a timed pass. The bf16 checkpoint is "
          "23.9 GB, about all this machine's page cache holds; %s" %
          ("no pass here read much from disk." if not disk else
           "these passes re-read weights from disk, so they measure the disk as well: " + ", ".join(disk) + "."))
        w("")
    if "llamacpp_12b" in data and "bench_12b" in data:
        lc, b = data["llamacpp_12b"], data["bench_12b"]
        n12 = sorted({r["prompt_tokens"] for r in b["runs"]})
        w("## llama.cpp on the full-shape 12B (the same weights, exported by `g4ref export-gguf`)")
        w("")
        w("`%s`, after the native 12B bench above: each GGUF is exported from that checkpoint, run by llama-server "
          "(%d threads, best of %d, the reference bench's prompt ids, %d tokens generated), then removed. Checkpoint "
          "%.1f GB; memory %.1f GB." % (lc.get("command", "reports/performance.py --llamacpp-12b"), lc["threads"],
                                        lc["repeats"], lc["new_tokens"], lc["checkpoint_bytes"] / 1e9,
                                        lc["memory_bytes"] / 1e9))
        w("")
        w("| engine, weights | " + " | ".join("prefill %d tokens" % n for n in n12) + " | " +
          " | ".join("decode after %d" % n for n in n12) + " | major page faults (per prompt) |")
        w("|" + "---|" * (2 * len(n12) + 2))
        for prec in ("exact", "f32"):
            r = runs_by_precision(b, prec)
            if not all(n in r for n in n12):
                continue
            w("| reference %s, bf16 safetensors | " % prec +
              " | ".join("%.2f" % r[n]["prefill"]["tokens_per_second"] for n in n12) + " | " +
              " | ".join("%.2f" % r[n]["decode"]["tokens_per_second"] for n in n12) + " | " +
              ", ".join("%d" % (r[n]["prefill"]["major_page_faults"] + r[n]["decode"]["major_page_faults"])
                        for n in n12) + " |")
        for f in FORMATS:
            if f not in lc["formats"]:
                continue
            l = {x["prompt_tokens"]: x for x in lc["formats"][f]["runs"]}
            w("| llama.cpp, %s GGUF (%.1f GB) | " % (f.upper(), lc["formats"][f]["gguf_bytes"] / 1e9) +
              " | ".join("%.2f" % l[n]["prefill_tokens_per_second"] for n in n12) + " | " +
              " | ".join("%.2f" % l[n]["decode_tokens_per_second"] for n in n12) + " | " +
              ", ".join("%d" % l[n].get("major_page_faults", 0) for n in n12) + " |")
        w("")
        if "tokenizer" in lc:
            w("- Tokenizer of the GGUFs: %s." % lc["tokenizer"])
        for f, why in lc["not_run"].items():
            w("- llama.cpp on the %s GGUF: not run, %s." % (f.upper(), why))
        if "bf16" in lc["formats"]:
            r = runs_by_precision(b, "f32")
            l = {x["prompt_tokens"]: x for x in lc["formats"]["bf16"]["runs"]}
            if all(n in r for n in n12):
                pre = [r[n]["prefill"]["tokens_per_second"] / l[n]["prefill_tokens_per_second"] for n in n12]
                dec = [r[n]["decode"]["tokens_per_second"] / l[n]["decode_tokens_per_second"] for n in n12]
                w("- Reference `f32` / llama.cpp BF16 (the same bf16 weights): prefill %s; decode %s." % (
                    ", ".join("%.2fx at %d" % (x, n) for x, n in zip(pre, n12)),
                    ", ".join("%.2fx after %d" % (x, n) for x, n in zip(dec, n12))))
        # Decode reads every weight once per token (the output head is the tied embedding table, read whole), so a
        # GGUF's size times llama.cpp's decode rate is the bandwidth it drew: a yardstick for the read ceiling,
        # which this kind of machine measures differently from run to run.
        drawn = {f: [lc["formats"][f]["gguf_bytes"] * x["decode_tokens_per_second"] / 1e9
                     for x in lc["formats"][f]["runs"]] for f in lc["formats"]}
        if drawn:
            ref = {prec: [r["decode"]["gbps"] for r in b["runs"] if r["precision"] == prec] for prec in ("exact", "f32")}
            w("- Bandwidth drawn by decode (llama.cpp: GGUF size × decode tokens/s; the reference: bytes its products "
              "read per token × tokens/s): llama.cpp %s; the reference %s; the "
              "12B bench's read ceiling %.1f GB/s. On a shared machine the ceiling moves between readings, so "
              "llama.cpp's figures, taken after the reference's, are another measure of what memory gave." % (
                  "; ".join("%s %s GB/s" % (f.upper(), ", ".join("%.1f" % g for g in v)) for f, v in drawn.items()),
                  "; ".join("%s %s GB/s" % (p, ", ".join("%.1f" % g for g in v)) for p, v in ref.items() if v),
                  b["ceilings"]["read_gbps"]))
        w("- Major page faults count pages read from disk during the timed requests (llama-server's own counter "
          "from /proc, the reference's from `g4ref bench`): a run with many of them measured the disk as well.")
        w("")
    w("Plots: performance_prefill.png, performance_decode.png (tokens/s against prompt length, log scale).")
    w("")
    w("Notes:")
    w("")
    w("- The reference computes in float64 (`exact`) or float32 with no intermediate rounding (`f32`), dense "
      "attention over the whole prompt, weights converted block by block from their stored type. llama.cpp runs "
      "its own kernels (F32 and BF16 matrices in float, Q8_0 / Q4_0 with quantized activations and repacked "
      "weights) and an f16 KV cache by default: it is not computing the same numbers (the cross-checks measure "
      "by how much), so these are speeds of two different precisions on the same weights.")
    w("- llama.cpp figures are llama-server's own `timings` of a /completion request (prompt evaluation and "
      "generation), with no HTTP time in them; the reference's are `g4ref bench`'s, inside one process.")
    open(os.path.join(out_dir, "performance.md"), "w").write("\n".join(lines) + "\n")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("performance: matplotlib is missing (python3-matplotlib); no plots", file=sys.stderr)
        return
    for what, key_ref, key_l, fname in (("prefill", "prefill", "prefill_tokens_per_second", "performance_prefill.png"),
                                         ("decode", "decode", "decode_tokens_per_second", "performance_decode.png")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for prec, style in (("exact", "k-o"), ("f32", "b-o")):
            r = runs_by_precision(ref_bf16, prec)
            ax.plot(lengths, [r[n][key_ref]["tokens_per_second"] for n in lengths], style,
                    label=f"reference {prec} (bf16 weights)")
        for f, style in zip(FORMATS, ("r--s", "m--s", "g--s", "c--s")):
            l = {x["prompt_tokens"]: x for x in data["llamacpp"][f]}
            ax.plot(lengths, [l[n][key_l] for n in lengths], style, label=f"llama.cpp {f.upper()}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("prompt tokens")
        ax.set_ylabel(f"{what} tokens/s")
        ax.set_title(f"{what}: synthetic {data['preset']}, {data['threads']} threads")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, fname), dpi=100)
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--g4ref", help="the g4ref binary (measure)")
    ap.add_argument("--from-json", help="write the report from this measurement instead")
    ap.add_argument("--llama-server", default=None,
                    help="llama-server binary (default: llama.cpp's Release build, built by "
                         "eval/adapters/llamacpp/build_llama_server.sh --speed into .cache/llama-server-speed)")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--prompt-tokens", default="16,64,256,512")
    ap.add_argument("--new-tokens", type=int, default=17)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--add-12b", help="a `g4ref bench --json` of the 12B (native build) to merge into the JSON")
    ap.add_argument("--add-12b-portable", help="the same from a portable build")
    ap.add_argument("--llamacpp-12b", metavar="MODEL",
                    help="also run llama.cpp on this 12B checkpoint (the one benched in --add-12b, whose prompt ids "
                         "it reuses; needs --g4ref for export-gguf)")
    ap.add_argument("--llamacpp-12b-formats", default=",".join(FORMATS),
                    help="the GGUF types --llamacpp-12b runs, comma-separated (default: all; F32 is skipped anyway "
                         "where it would not fit in memory)")
    ap.add_argument("--gguf-dir", default=None,
                    help="where the 12B GGUFs are written, one at a time (default: the temporary folder)")
    args = ap.parse_args()
    if args.llamacpp_12b and not (args.add_12b and args.g4ref):
        ap.error("--llamacpp-12b needs --add-12b (the 12B bench whose prompts it reuses) and --g4ref")
    os.makedirs(args.out, exist_ok=True)
    if args.from_json:
        data = json.load(open(args.from_json))
    elif args.g4ref:
        data = measure(args)
        tmp = os.path.join(args.out, "performance.json.partial")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, os.path.join(args.out, "performance.json"))
    else:
        ap.error("give --g4ref (measure) or --from-json")
    prompts_12b = {}
    for key, path in (("bench_12b", args.add_12b), ("bench_12b_portable", args.add_12b_portable)):
        if path:
            data[key] = json.load(open(path))
            if key == "bench_12b":
                prompts_12b = {r["prompt_tokens"]: r["prompt_ids"] for r in data[key]["runs"]}
            data[key]["model"] = "g4ref synth --preset 12b (bf16 safetensors)"
            data[key]["command"] = ("g4ref bench --model 12B --prompt-tokens %s --new-tokens %d --precision %s" % (
                ",".join(sorted({str(r["prompt_tokens"]) for r in data[key]["runs"]}, key=int)),
                data[key]["runs"][0]["new_tokens"],
                ",".join(dict.fromkeys(r["precision"] for r in data[key]["runs"]))))
            for r in data[key]["runs"]:
                r.pop("prompt_ids", None)
    if args.llamacpp_12b:
        data["llamacpp_12b"] = measure_llamacpp_12b(args, prompts_12b, data["bench_12b"]["runs"][0]["new_tokens"])
        data["llamacpp_12b"]["command"] = "reports/performance.py --llamacpp-12b 12B"
    if args.add_12b or args.add_12b_portable:
        tmp = os.path.join(args.out, "performance.json.partial")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, os.path.join(args.out, "performance.json"))
    write_report(data, args.out)
    print(os.path.join(args.out, "performance.md"))


if __name__ == "__main__":
    main()
