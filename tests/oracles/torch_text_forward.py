#!/usr/bin/python3
"""Independent PyTorch forward pass of the Gemma 4 "Unified" text decoder (spec §2).

Written from the spec alone, as a second implementation to check g4ref against. It reads a
Hugging Face checkpoint directory (config.json + safetensors, parsed here with json and numpy)
and writes the hidden state after every layer, the final norm and the logits as JSON.

Precision modes (--dtype):
  float64   the exact function: weights upcast exactly, every op in double precision;
  float32   every op in float, no rounding between ops beyond float's own;
  bfloat16  float arithmetic rounded to bfloat16 at each rounding point of the Hugging Face bf16
            model (spec §2.1). Each op is written as "compute in float32, then round once", which
            is what current PyTorch bf16 kernels do. Spelling it out matters for GELU: the CPU bf16
            GELU kernel of PyTorch 1.13 does not compute in float32 and differs by one bf16 ulp on
            a large share of elements; every other op here (GEMMs, adds, products, tanh) gives the
            same bits as plain bf16 PyTorch ops.

Usage:
  torch_text_forward.py --model DIR --tokens 2,105,10 [--token-types 0,0,1]
      --dtype float64|float32|bfloat16 [--window-variant symmetric|lower] --out FILE.json
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

STORED_DTYPES = {
    # safetensors dtype -> (bytes per element, torch dtype of the stored weights)
    "BF16": (2, torch.bfloat16),
    "F16": (2, torch.float16),
    "F32": (4, torch.float32),
    "F64": (8, torch.float64),
}

MODES = {
    # --dtype -> (storage dtype between ops, dtype each op computes in)
    "float64": (torch.float64, torch.float64),
    "float32": (torch.float32, torch.float32),
    "bfloat16": (torch.bfloat16, torch.float32),
}


class OracleError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Checkpoint reading


class SafetensorsFile:
    """One safetensors file: 8-byte little-endian header length, JSON header, data section."""

    def __init__(self, path):
        self.path = path
        size = os.path.getsize(path)
        if size < 8:
            raise OracleError(f"{path}: file of {size} bytes is too short for a safetensors header")
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > size - 8:
                raise OracleError(f"{path}: header length {header_len} exceeds the file size {size}")
            try:
                header = json.loads(f.read(header_len).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise OracleError(f"{path}: header is not valid JSON ({e})")
        if not isinstance(header, dict):
            raise OracleError(f"{path}: header is not a JSON object")
        self.data_start = 8 + header_len
        data_len = size - self.data_start
        self.entries = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
                raise OracleError(f"{path}: tensor {name}: header entry lacks dtype, shape or data_offsets")
            dtype = info["dtype"]
            if dtype not in STORED_DTYPES:
                raise OracleError(f"{path}: tensor {name}: unsupported dtype {dtype}")
            begin, end = info["data_offsets"]
            expected = STORED_DTYPES[dtype][0] * math.prod(info["shape"])
            if not (0 <= begin <= end <= data_len) or end - begin != expected:
                raise OracleError(
                    f"{path}: tensor {name}: data_offsets {begin}..{end} do not fit shape "
                    f"{info['shape']} of {dtype} ({expected} bytes) in a data section of {data_len} bytes")
            self.entries[name] = (dtype, list(info["shape"]), begin, end)
        self.data = (np.memmap(path, dtype=np.uint8, mode="r", offset=self.data_start, shape=(data_len,))
                     if data_len > 0 else np.zeros(0, dtype=np.uint8))

    def read(self, name):
        """Returns (tensor as float32 or float64 holding the exact stored values, stored torch dtype)."""
        dtype, shape, begin, end = self.entries[name]
        raw = np.array(self.data[begin:end])  # copy, so the bytes are aligned and writable
        if dtype == "BF16":
            bits = raw.view("<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        elif dtype == "F16":
            values = raw.view("<f2").astype(np.float32)
        elif dtype == "F32":
            values = raw.view("<f4").astype(np.float32)
        else:
            values = raw.view("<f8").astype(np.float64)
        return torch.from_numpy(values.reshape(shape)), STORED_DTYPES[dtype][1]


class Checkpoint:
    """All tensors of a checkpoint directory: model.safetensors or a sharded index."""

    def __init__(self, model_dir):
        single = os.path.join(model_dir, "model.safetensors")
        index = os.path.join(model_dir, "model.safetensors.index.json")
        self.files = {}
        self.where = {}
        if os.path.exists(single):
            st = SafetensorsFile(single)
            self.files[single] = st
            for name in st.entries:
                self.where[name] = st
        elif os.path.exists(index):
            with open(index) as f:
                weight_map = json.load(f)["weight_map"]
            for name, fname in weight_map.items():
                path = os.path.join(model_dir, fname)
                if path not in self.files:
                    self.files[path] = SafetensorsFile(path)
                if name not in self.files[path].entries:
                    raise OracleError(f"{path}: index names tensor {name} but the file does not hold it")
                self.where[name] = self.files[path]
        else:
            raise OracleError(f"{model_dir}: no model.safetensors or model.safetensors.index.json")

    def has(self, name):
        return name in self.where

    def shape(self, name):
        return self.where[name].entries[name][1]

    def read(self, name, shape=None):
        if name not in self.where:
            raise OracleError(f"checkpoint has no tensor {name}")
        values, stored = self.where[name].read(name)
        if shape is not None and list(values.shape) != list(shape):
            raise OracleError(f"tensor {name}: expected shape {list(shape)}, found {list(values.shape)}")
        return values, stored


# ----------------------------------------------------------------------------------------------
# Configuration (spec §1.2)


class TextConfig:
    def __init__(self, model_dir):
        path = os.path.join(model_dir, "config.json")
        with open(path) as f:
            top = json.load(f)
        c = top.get("text_config", top)

        def need(key):
            if key not in c:
                raise OracleError(f"{path}: text_config has no key {key}")
            return c[key]

        self.vocab_size = int(need("vocab_size"))
        self.hidden_size = int(need("hidden_size"))
        self.intermediate_size = int(need("intermediate_size"))
        self.num_layers = int(need("num_hidden_layers"))
        self.num_heads = int(need("num_attention_heads"))
        self.num_kv_heads = int(need("num_key_value_heads"))
        self.head_dim = int(need("head_dim"))
        self.global_head_dim = int(c.get("global_head_dim") or self.head_dim)
        self.num_global_kv_heads = int(c.get("num_global_key_value_heads") or self.num_kv_heads)
        self.k_eq_v = bool(c.get("attention_k_eq_v", False))
        self.sliding_window = int(need("sliding_window"))
        self.layer_types = list(need("layer_types"))
        self.rope = need("rope_parameters")
        self.final_logit_softcapping = c.get("final_logit_softcapping")
        self.rms_norm_eps = float(need("rms_norm_eps"))

        if len(self.layer_types) != self.num_layers:
            raise OracleError(f"{path}: layer_types has {len(self.layer_types)} entries, "
                              f"num_hidden_layers is {self.num_layers}")
        for i, t in enumerate(self.layer_types):
            if t not in ("sliding_attention", "full_attention"):
                raise OracleError(f"{path}: layer_types[{i}] = {t!r}, expected sliding_attention or full_attention")
            if t not in self.rope:
                raise OracleError(f"{path}: rope_parameters has no entry for {t}")
        # Features of the Gemma 4 family that this decoder does not have; refuse rather than ignore.
        unsupported = {
            "hidden_activation": lambda v: v not in (None, "gelu_pytorch_tanh"),
            "attn_logit_softcapping": lambda v: v is not None,
            "num_kv_shared_layers": lambda v: v not in (None, 0),
            "hidden_size_per_layer_input": lambda v: v not in (None, 0),
            "enable_moe_block": lambda v: v not in (None, False),
            "use_double_wide_mlp": lambda v: v not in (None, False),
            "attention_bias": lambda v: v not in (None, False),
        }
        for key, bad in unsupported.items():
            if bad(c.get(key)):
                raise OracleError(f"{path}: text_config.{key} = {c.get(key)!r} is not supported by this oracle")
        for h, kv in ((self.num_heads, self.num_kv_heads), (self.num_heads, self.num_global_kv_heads)):
            if kv <= 0 or h % kv != 0:
                raise OracleError(f"{path}: {h} attention heads cannot be grouped over {kv} KV heads")

    def layer_geometry(self, layer):
        """(head_dim, kv_heads, V taken from the K projection) of one layer (spec §2.5)."""
        if self.layer_types[layer] == "full_attention":
            return self.global_head_dim, self.num_global_kv_heads, self.k_eq_v
        return self.head_dim, self.num_kv_heads, False


# ----------------------------------------------------------------------------------------------
# Numeric policy: every op computes in `compute` and stores its result in `store`.


class Numerics:
    def __init__(self, mode):
        self.mode = mode
        self.store, self.compute = MODES[mode]

    def up(self, x):
        return x.to(self.compute)

    def out(self, x):
        return x.to(self.store)

    def weight(self, values):
        """Stored weight values (held exactly in float32/float64) converted to the mode's dtype."""
        return values.to(self.store)

    def linear(self, x, w):
        # PyTorch convention: w is [out, in], y = x·wᵀ, accumulated in `compute`, one rounding.
        return self.out(self.up(x) @ self.up(w).transpose(0, 1))

    def add(self, a, b):
        return self.out(self.up(a) + self.up(b))

    def mul(self, a, b):
        return self.out(self.up(a) * self.up(b))

    def rms_norm(self, x, w, eps):
        # Spec §2.3: y = x·(mean(x²)+eps)^(-1/2)·w with no (1 + w); w is None for v_norm.
        xc = self.up(x)
        y = xc * torch.pow(xc.pow(2).mean(-1, keepdim=True) + eps, -0.5)
        if w is not None:
            y = y * self.up(w)
        return self.out(y)

    def gelu_tanh(self, x):
        return self.out(F.gelu(self.up(x), approximate="tanh"))

    def softmax(self, s):
        return self.out(torch.softmax(self.up(s), dim=-1))

    def tanh(self, x):
        return self.out(torch.tanh(self.up(x)))

    def div_scalar(self, x, c):
        return self.out(self.up(x) / c)

    def mul_scalar(self, x, c):
        return self.out(self.up(x) * c)


# ----------------------------------------------------------------------------------------------
# RoPE (spec §2.6)


def inverse_frequencies(rope, head_dim):
    """Float32 inverse frequencies, computed the way PyTorch computes them; length head_dim // 2."""
    rope_type = rope.get("rope_type", "default")
    theta = float(rope["rope_theta"])
    if rope_type == "default":
        n_pairs = head_dim // 2
    elif rope_type == "proportional":
        factor = float(rope.get("factor", 1.0))
        if factor != 1.0:
            raise OracleError(f"proportional RoPE with factor {factor} is not supported (only 1.0)")
        # The exponent keeps the full head_dim as denominator; the unrotated pairs get frequency 0.
        n_pairs = int(float(rope["partial_rotary_factor"]) * head_dim // 2)
    else:
        raise OracleError(f"rope_type {rope_type!r} is not supported")
    exponents = torch.arange(0, 2 * n_pairs, 2, dtype=torch.int64).float() / head_dim
    inv = 1.0 / (theta ** exponents)
    zeros = torch.zeros(head_dim // 2 - n_pairs, dtype=torch.float32)
    return torch.cat([inv, zeros]).to(torch.float32)


def rope_tables(num, rope, head_dim, n_tokens):
    """cos and sin tables [T, head_dim] in the storage dtype, halves duplicated (rotate-half)."""
    inv = inverse_frequencies(rope, head_dim)
    positions = torch.arange(n_tokens, dtype=torch.int64)
    if num.mode == "float64":
        # Exact mode: the float32 frequencies are model constants; everything after is float64.
        angles = positions.double()[:, None] * inv.double()[None, :]
    else:
        angles = positions.float()[:, None] * inv[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return num.out(torch.cos(angles)), num.out(torch.sin(angles))


def apply_rope(num, x, cos, sin):
    """x [T, heads, D]: y = x·cos + rotate_half(x)·sin, pairing dim j with j + D/2."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # negation is exact
    return num.add(num.mul(x, cos[:, None, :]), num.mul(rotated, sin[:, None, :]))


# ----------------------------------------------------------------------------------------------
# Masks (spec §2.7)


def block_ids(token_types):
    """Maximal runs of image (1) or video (2) tokens get ids 0, 1, ...; every other token -1."""
    ids, current, previous_vision = [], -1, False
    for t in token_types:
        vision = t in (1, 2)
        if vision and not previous_vision:
            current += 1
        ids.append(current if vision else -1)
        previous_vision = vision
    return torch.tensor(ids, dtype=torch.int64)


def allowed_pairs(layer_type, n_tokens, blocks, window, window_variant):
    """Boolean [T_query, T_key]: may query q attend to key k."""
    q = torch.arange(n_tokens)[:, None]
    k = torch.arange(n_tokens)[None, :]
    causal = k <= q
    if layer_type == "full_attention":
        return causal
    same_block = (blocks[:, None] == blocks[None, :]) & (blocks[:, None] >= 0)
    if window_variant == "lower":
        in_window = k > q - window
    else:
        in_window = (q - k).abs() < window
    return (causal | same_block) & in_window


# ----------------------------------------------------------------------------------------------
# Model


class TextDecoder:
    def __init__(self, model_dir, num):
        self.cfg = TextConfig(model_dir)
        self.ckpt = Checkpoint(model_dir)
        self.num = num

    def tensor(self, name, shape):
        values, _ = self.ckpt.read(name, shape)
        return self.num.weight(values)

    def embed(self, tokens):
        """Spec §2.2: rows × sqrt(hidden), the scale first cast to the stored weight dtype."""
        c, num = self.cfg, self.num
        table, stored = self.ckpt.read("model.language_model.embed_tokens.weight", [c.vocab_size, c.hidden_size])
        # As a float32 constant first, then the weight dtype (bf16: sqrt(3840) -> 62.0).
        scale = torch.tensor(math.sqrt(c.hidden_size), dtype=torch.float32).to(stored)
        rows = num.weight(table[torch.tensor(tokens, dtype=torch.int64)])
        return num.out(num.up(rows) * scale.to(num.compute))

    def attention(self, layer, x, mask_add, rope):
        c, num = self.cfg, self.num
        head_dim, kv_heads, v_from_k = c.layer_geometry(layer)
        heads, hidden, T = c.num_heads, c.hidden_size, x.shape[0]
        p = f"model.language_model.layers.{layer}.self_attn."

        q = num.linear(x, self.tensor(p + "q_proj.weight", [heads * head_dim, hidden])).reshape(T, heads, head_dim)
        k_raw = num.linear(x, self.tensor(p + "k_proj.weight", [kv_heads * head_dim, hidden])).reshape(T, kv_heads, head_dim)
        if v_from_k:
            # k_eq_v: V is the raw K projection, before k_norm and RoPE.
            if self.ckpt.has(p + "v_proj.weight"):
                print(f"note: layer {layer} is full with attention_k_eq_v but has a v_proj; it is ignored",
                      file=sys.stderr)
            v_raw = k_raw
        else:
            v_raw = num.linear(x, self.tensor(p + "v_proj.weight", [kv_heads * head_dim, hidden])).reshape(T, kv_heads, head_dim)

        q = num.rms_norm(q, self.tensor(p + "q_norm.weight", [head_dim]), c.rms_norm_eps)
        k = num.rms_norm(k_raw, self.tensor(p + "k_norm.weight", [head_dim]), c.rms_norm_eps)
        v = num.rms_norm(v_raw, None, c.rms_norm_eps)

        cos, sin = rope
        q = apply_rope(num, q, cos, sin)
        k = apply_rope(num, k, cos, sin)

        # GQA: query head h reads KV head h // (heads / kv_heads).
        group = heads // kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        qh, kh, vh = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads, T, D]

        # Scaling is 1.0 and there is no attention softcap (spec §2.5).
        scores = num.out(num.up(qh) @ num.up(kh).transpose(1, 2))
        scores = num.add(scores, mask_add[None, :, :])
        probs = num.softmax(scores)
        o = num.out(num.up(probs) @ num.up(vh))  # [heads, T, D]
        o = o.transpose(0, 1).reshape(T, heads * head_dim)  # head-major features
        return num.linear(o, self.tensor(p + "o_proj.weight", [hidden, heads * head_dim]))

    def mlp(self, layer, x):
        c, num = self.cfg, self.num
        p = f"model.language_model.layers.{layer}.mlp."
        gate = num.linear(x, self.tensor(p + "gate_proj.weight", [c.intermediate_size, c.hidden_size]))
        up = num.linear(x, self.tensor(p + "up_proj.weight", [c.intermediate_size, c.hidden_size]))
        act = num.mul(num.gelu_tanh(gate), up)
        return num.linear(act, self.tensor(p + "down_proj.weight", [c.hidden_size, c.intermediate_size]))

    def layer(self, layer, h, mask_add, rope):
        """Spec §2.4."""
        c, num = self.cfg, self.num
        p = f"model.language_model.layers.{layer}."
        norm = lambda x, name: num.rms_norm(x, self.tensor(p + name + ".weight", [c.hidden_size]), c.rms_norm_eps)

        a = norm(h, "input_layernorm")
        a = self.attention(layer, a, mask_add, rope)
        a = norm(a, "post_attention_layernorm")
        h = num.add(h, a)
        m = norm(h, "pre_feedforward_layernorm")
        m = self.mlp(layer, m)
        m = norm(m, "post_feedforward_layernorm")
        h = num.add(h, m)
        # layer_scalar scales the whole residual stream, after both residual adds.
        return num.mul(h, self.tensor(p + "layer_scalar", [1]))

    def forward(self, tokens, token_types, window_variant):
        c, num = self.cfg, self.num
        T = len(tokens)
        blocks = block_ids(token_types)
        min_value = torch.finfo(num.store).min

        masks, ropes = {}, {}
        for layer_type in ("sliding_attention", "full_attention"):
            allowed = allowed_pairs(layer_type, T, blocks, c.sliding_window, window_variant)
            masks[layer_type] = torch.where(allowed, torch.zeros((), dtype=num.store),
                                            torch.full((), min_value, dtype=num.store))
            if layer_type in c.rope:
                head_dim = c.global_head_dim if layer_type == "full_attention" else c.head_dim
                ropes[layer_type] = rope_tables(num, c.rope[layer_type], head_dim, T)

        h = self.embed(tokens)
        result = {"embedding": h, "layers": {}}
        for layer in range(c.num_layers):
            layer_type = c.layer_types[layer]
            h = self.layer(layer, h, masks[layer_type], ropes[layer_type])
            result["layers"][str(layer)] = h

        h = num.rms_norm(h, self.tensor("model.language_model.norm.weight", [c.hidden_size]), c.rms_norm_eps)
        result["final_norm"] = h

        # Spec §2.9: tied table, then softcap in three rounded steps.
        logits = num.linear(h, self.tensor("model.language_model.embed_tokens.weight", [c.vocab_size, c.hidden_size]))
        cap = c.final_logit_softcapping
        if cap is not None:
            logits = num.mul_scalar(num.tanh(num.div_scalar(logits, float(cap))), float(cap))
        result["logits"] = logits
        return result


# ----------------------------------------------------------------------------------------------
# Command line


def parse_int_list(text, what):
    try:
        return [int(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise OracleError(f"--{what}: expected comma-separated integers, got {text!r}")


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch oracle for the Gemma 4 Unified text decoder.")
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json + safetensors)")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--token-types", help="comma-separated token types (0 text, 1 image, 2 video, 3 audio); default all 0")
    ap.add_argument("--dtype", required=True, choices=sorted(MODES))
    ap.add_argument("--window-variant", default="symmetric", choices=["symmetric", "lower"],
                    help="sliding window bound inside image/video blocks (spec §2.7); default symmetric")
    ap.add_argument("--out", required=True, help="output JSON file, '-' for stdout")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)  # one summation order per run, whatever the machine
    tokens = parse_int_list(args.tokens, "tokens")
    if not tokens:
        raise OracleError("--tokens: no token ids given")
    token_types = parse_int_list(args.token_types, "token-types") if args.token_types else [0] * len(tokens)
    if len(token_types) != len(tokens):
        raise OracleError(f"--token-types has {len(token_types)} entries, --tokens has {len(tokens)}")
    if any(t not in (0, 1, 2, 3) for t in token_types):
        raise OracleError("--token-types: each entry must be 0, 1, 2 or 3")

    model = TextDecoder(args.model, Numerics(args.dtype))
    bad = [t for t in tokens if not 0 <= t < model.cfg.vocab_size]
    if bad:
        raise OracleError(f"--tokens: ids {bad} are outside the vocabulary of {model.cfg.vocab_size}")

    with torch.no_grad():
        r = model.forward(tokens, token_types, args.window_variant)

    rows = lambda t: t.to(torch.float64).tolist()
    doc = {
        "dtype": args.dtype,
        "tokens": tokens,
        "token_types": token_types,
        "window_variant": args.window_variant,
        "logits": rows(r["logits"]),
        "layers": {k: rows(v) for k, v in r["layers"].items()},
        "final_norm": rows(r["final_norm"]),
        "embedding": rows(r["embedding"]),
    }
    try:
        text = json.dumps(doc, allow_nan=False)
    except ValueError:
        raise OracleError("the forward pass produced NaN or infinite values")
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OracleError as e:
        print(f"torch_text_forward: error: {e}", file=sys.stderr)
        sys.exit(2)
