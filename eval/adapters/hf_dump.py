#!/usr/bin/env python3
"""Dump a Hugging Face transformers forward pass of Gemma 4 12B Unified as a g4ref trace.

Loads a checkpoint directory with transformers (>= 5.10, which has `gemma4_unified`), registers forward hooks
on the decoder's modules, runs one forward pass over the prompt, and writes every captured tensor under its
g4ref trace name (DESIGN "Trace names") into a safetensors file that `g4ref compare` reads directly:

    python3 eval/adapters/hf_dump.py --model DIR --tokens 2,105,10,20 --dtype bfloat16 --out hf.safetensors
    g4ref trace --model DIR --tokens 2,105,10,20 --out golden.safetensors
    g4ref compare golden.safetensors hf.safetensors --envelope bf16_envelope.json

Needs torch and transformers; it runs nowhere in this project's CI (transformers is not packaged for Debian 12).
`--self-test` writes a small trace of random tensors with the same writer, without transformers, so that the
file format can be checked by g4ref's tests.

What cannot be hooked is not written: RoPE and the residual adds are functions, not modules, so
layers.L.q_rope, k_rope, resid_attn and resid_ffn are absent; compare reports them as "only in golden".
With image or audio input, `embed.out` is the merged input of layer 0 (features at the placeholders).
"""
import argparse
import json
import os
import struct
import sys

G4REF_FORMAT = "g4ref-trace"


def write_trace(path, tensors, meta):
    """tensors: list of (name, numpy array float32/float64), in data-flow order. Atomic: PATH.partial, rename."""
    import numpy as np

    header = {}
    offset = 0
    blobs = []
    for name, array in tensors:
        array = np.ascontiguousarray(array)
        if array.dtype == np.float64:
            dtype = "F64"
        else:
            array = array.astype(np.float32)
            dtype = "F32"
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    metadata = {
        "format": G4REF_FORMAT,
        "precision": meta.get("precision", ""),
        "model": meta.get("model", ""),
        "tokens": json.dumps(meta.get("tokens", [])),
        "order": json.dumps([name for name, _ in tensors]),
        "producer": "eval/adapters/hf_dump.py",
    }
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)  # data section 8-byte aligned
    partial = path + ".partial"
    with open(partial, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(partial, path)


class Recorder:
    """Forward hooks that keep the first output of each module under a g4ref name."""

    def __init__(self):
        self.tensors = []
        self.seen = set()
        self.handles = []

    def keep(self, name, tensor, shape=None):
        if name in self.seen or tensor is None:
            return
        self.seen.add(name)
        t = tensor.detach()
        if t.dim() >= 3 and t.shape[0] == 1:  # drop the batch dimension
            t = t[0]
        if shape is not None:
            t = t.reshape(shape(t))
        self.tensors.append((name, t.float().cpu().numpy() if t.dtype != _torch().float64 else t.cpu().numpy()))

    def output(self, module, name, shape=None):
        def hook(_module, _inputs, out):
            self.keep(name, out[0] if isinstance(out, tuple) else out, shape)
        self.handles.append(module.register_forward_hook(hook))

    def input(self, module, name, shape=None):
        def hook(_module, args, kwargs):
            x = args[0] if args else kwargs.get("hidden_states")
            self.keep(name, x, shape)
        self.handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))


def _torch():
    import torch
    return torch


def register(model, rec, config):
    lm = model.model.language_model
    text = config.text_config
    rec.input(lm.layers[0], "embed.out")
    for i, layer in enumerate(lm.layers):
        p = f"layers.{i}."
        full = text.layer_types[i] == "full_attention"
        d = text.global_head_dim if full else text.head_dim
        heads = lambda t, d=d: (t.shape[0], -1, d)  # [T, heads·D] -> [T, heads, D]
        attn = layer.self_attn
        rec.output(layer.input_layernorm, p + "attn_norm")
        rec.output(attn.q_proj, p + "q", heads)
        rec.output(attn.k_proj, p + "k", heads)
        if getattr(attn, "v_proj", None) is not None:
            rec.output(attn.v_proj, p + "v", heads)
        else:
            rec.output(attn.k_proj, p + "v", heads)  # k_eq_v: V is the raw K projection (spec §2.5)
        rec.output(attn.q_norm, p + "q_norm", heads)
        rec.output(attn.k_norm, p + "k_norm", heads)
        if getattr(attn, "v_norm", None) is not None:
            rec.output(attn.v_norm, p + "v_norm", heads)
        rec.input(attn.o_proj, p + "attn", heads)
        rec.output(attn.o_proj, p + "attn_out")
        rec.output(layer.post_attention_layernorm, p + "post_attn_norm")
        rec.output(layer.pre_feedforward_layernorm, p + "ffn_norm")
        rec.output(layer.mlp.gate_proj, p + "gate")
        rec.output(layer.mlp.up_proj, p + "up")
        rec.input(layer.mlp.down_proj, p + "act")
        rec.output(layer.mlp.down_proj, p + "ffn_out")
        rec.output(layer.post_feedforward_layernorm, p + "post_ffn_norm")
        rec.output(layer, p + "out")
    rec.output(lm.norm, "final_norm")
    if getattr(model, "lm_head", None) is not None:
        rec.output(model.lm_head, "logits.raw")


def self_test(out):
    import numpy as np
    rng = np.random.default_rng(0)
    tensors = [("embed.out", rng.standard_normal((3, 8))), ("layers.0.q", rng.standard_normal((3, 2, 4)).astype(np.float32)),
               ("logits", rng.standard_normal((3, 16)))]
    write_trace(out, tensors, {"precision": "self-test", "model": "none", "tokens": [2, 105, 10]})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="checkpoint directory")
    ap.add_argument("--tokens", help="prompt token ids, comma-separated")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float64"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--attn-implementation", default="eager", help="eager reproduces the rounding points of spec §2.1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--self-test", action="store_true", help="write a small random trace without transformers")
    args = ap.parse_args()
    if args.self_test:
        self_test(args.out)
        return
    if not args.model or not args.tokens:
        ap.error("--model and --tokens are required")
    torch = _torch()
    import transformers

    dtype = getattr(torch, args.dtype)
    config = transformers.AutoConfig.from_pretrained(args.model)
    model = transformers.AutoModelForImageTextToText.from_pretrained(
        args.model, dtype=dtype, attn_implementation=args.attn_implementation).to(args.device).eval()
    tokens = [int(t) for t in args.tokens.split(",")]
    rec = Recorder()
    register(model, rec, config)
    ids = torch.tensor([tokens], device=args.device)
    with torch.no_grad():
        out = model(input_ids=ids)
    rec.keep("logits", out.logits)
    write_trace(args.out, rec.tensors, {"precision": f"hf-{args.dtype}", "model": args.model, "tokens": tokens})
    print(f"wrote {len(rec.tensors)} tensors to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
