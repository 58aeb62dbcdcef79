#!/usr/bin/env python3
"""Fails when a project #include points upward in the library's data-flow order (DESIGN "Layout").

The order, lowest first; a folder may include only itself and the folders it lists:

  base        errors, per-stage timing (profile)
  numerics    precision policies, dtypes, the one matrix product
  io          mapped files, safetensors, GGUF, the shared output writer
  model       config, token types, tensor names (Hugging Face and GGUF), weight binding, options, tracer
  layers      one file per layer
  preprocess  image, audio and video decoding (needs no layers)
  prompt      tokenizer, chat template, media placeholders, the request (needs no layers)
  forward     session, KV cache, generation
  convert     GGUF export, synthetic checkpoints
  eval        everything that judges; may include any reference folder, never the reverse

Usage: tests/check_include_order.py [ROOT]   (ROOT: the repository, default: this file's parent's parent)
Prints each violation as FILE:LINE and exits 1 if there is any.
"""
import pathlib
import re
import sys

REFERENCE = ["base", "numerics", "io", "model", "layers", "preprocess", "prompt", "forward", "convert"]
ALLOWED = {
    "base": set(),
    "numerics": {"base"},
    "io": {"base", "numerics"},
    "model": {"base", "numerics", "io"},
    "layers": {"base", "numerics", "io", "model"},
    "preprocess": {"base", "numerics", "io"},
    "prompt": {"base", "numerics", "io", "model", "preprocess"},
    "forward": {"base", "numerics", "io", "model", "layers", "preprocess", "prompt"},
    "convert": {"base", "numerics", "io", "model", "layers", "preprocess", "prompt", "forward"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of_include(path):
    first = path.split("/", 1)[0]
    if first in ALLOWED:
        return "reference", first
    if first in {"cli", "compare", "trace", "memory", "backends", "crosscheck", "server", "harness", "bench"}:
        return "eval", first
    return None, None


def main():
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    violations = []
    checked = 0
    for top in ("reference", "eval"):
        for f in sorted((root / top).rglob("*")):
            if f.suffix not in {".h", ".cpp", ".in"} or "node_modules" in f.parts:
                continue
            rel = f.relative_to(root / top)
            if len(rel.parts) < 2:
                continue
            here = rel.parts[0]
            for lineno, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                checked += 1
                side, target = folder_of_include(m.group(1))
                if side is None:
                    continue
                if top == "reference":
                    if side == "eval":
                        violations.append(f"{f.relative_to(root)}:{lineno}: reference/{here} includes eval/{m.group(1)}")
                    elif target != here and target not in ALLOWED[here]:
                        violations.append(
                            f"{f.relative_to(root)}:{lineno}: {here} includes {m.group(1)}, "
                            f"which lies above it ({here} may include {', '.join(sorted(ALLOWED[here])) or 'nothing'})")
    for v in violations:
        print(v)
    print(f"include order: {checked} includes checked, {len(violations)} pointing upward")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
