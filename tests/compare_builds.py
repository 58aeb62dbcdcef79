#!/usr/bin/env python3
"""Exact mode of two builds of g4ref (e.g. the native Release build and the portable sanitizer build) on the same
synthetic checkpoints and prompts: their logits may differ only by float64 rounding (FMA or not, SIMD width,
compiler), which the project bounds at 1e-13 relative: max |a - b| / max |a| over every logit.

  tests/compare_builds.py BUILD_A/eval/g4ref BUILD_B/eval/g4ref [--bound 1e-13]

Exits 1 when a case exceeds the bound or the logits are not finite; prints one line per case."""
import argparse
import array
import json
import math
import struct
import subprocess
import sys
import tempfile
from pathlib import Path


def read_tensor(path, name):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    e = header[name]
    if e["dtype"] != "F64":
        sys.exit(f"{path}: tensor {name} is {e['dtype']}, expected F64 (an exact trace)")
    begin, end = e["data_offsets"]
    values = array.array("d", data[8 + n + begin:8 + n + end])  # the standard library only: any python3 runs this
    if sys.byteorder != "little":
        values.byteswap()
    return e["shape"], values


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="first g4ref binary")
    ap.add_argument("b", help="second g4ref binary")
    ap.add_argument("--bound", type=float, default=1e-13, help="largest allowed max|a-b|/max|a| (default 1e-13)")
    args = ap.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # tiny: every feature, a window of 8 shorter than the prompt; small: 12 layers, hidden 512, 8192 ids.
        # Ids from 64 up are ordinary text in the synthetic tokenizer (control and media tokens lie below).
        cases = [("tiny", [2] + [64 + (37 * i) % 900 for i in range(25)]),
                 ("small", [2] + [100 + (37 * i) % 8000 for i in range(95)])]
        failed = False
        for preset, ids in cases:
            model = tmp / preset
            run([args.a, "synth", "--preset", preset, "--out", str(model)])
            tokens = ",".join(map(str, ids))
            logits = []
            for k, binary in enumerate((args.a, args.b)):
                out = tmp / f"{preset}.{k}.safetensors"
                run([binary, "trace", "--model", str(model), "--tokens", tokens, "--precision", "exact",
                     "--filter", "^logits$", "--out", str(out)])
                logits.append(read_tensor(out, "logits"))
            (shape_a, a), (shape_b, b) = logits
            if shape_a != shape_b or not all(map(math.isfinite, a)) or not all(map(math.isfinite, b)):
                print(f"{preset}: logits differ in shape or are not finite")
                failed = True
                continue
            rel = max(abs(x - y) for x, y in zip(a, b)) / max(abs(x) for x in a)
            identical = a == b
            worst = max(worst, rel)
            verdict = "ok" if rel <= args.bound else "FAIL"
            print(f"{preset}: {len(ids)} tokens, {len(a)} logits, max|a-b|/max|a| = {rel:.3e}"
                  f"{' (bit-identical)' if identical else ''} (bound {args.bound:.0e}) {verdict}")
            failed |= rel > args.bound
    print(f"worst {worst:.3e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
