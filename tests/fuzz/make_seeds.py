#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/README.md): small valid inputs of every format each
loader reads, so that the fuzzer starts from inside the formats rather than from random bytes.

Usage: make_seeds.py OUT_DIR G4REF_PROGRAM

OUT_DIR/<target>/ receives the seeds of each target. G4REF_PROGRAM (a built `g4ref`) synthesizes the tiny
checkpoint and exports it to GGUF and traces; everything else is written here with Python's standard library,
numpy and Pillow (Debian's python3-numpy, python3-pil) and sox.
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image


def put(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset, body = {}, 0, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        body += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + body


# --- GGUF: a minimal reader and writer (spec: ggml's docs/gguf.md) --------------------------------------------
GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_read(data):
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n]
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return (et, [value(et) for _ in range(n)])
        return take(GGUF_SCALARS[t])

    assert data[:4] == b"GGUF"
    pos = 4
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    kv = []
    for _ in range(n_kv):
        k = string()
        t = take("<I")
        kv.append((k, t, value(t)))
    return version, kv


def gguf_write(kv, tensors=(), alignment=32):
    """kv: list of (key bytes, type, value); tensors: list of (name, ggml type, ne list, raw bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))

    def string(s):
        out.extend(struct.pack("<Q", len(s)) + s)

    def value(t, v):
        if t == 8:
            string(v)
        elif t == 9:
            et, items = v
            out.extend(struct.pack("<IQ", et, len(items)))
            for item in items:
                value(et, item)
        else:
            out.extend(struct.pack(GGUF_SCALARS[t], v))

    for k, t, v in kv:
        string(k)
        out.extend(struct.pack("<I", t))
        value(t, v)
    offset = 0
    for name, gtype, ne, raw in tensors:
        string(name.encode())
        out.extend(struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne))
        out.extend(struct.pack("<IQ", gtype, offset))
        offset += (len(raw) + alignment - 1) // alignment * alignment
    out.extend(b"\0" * ((alignment - len(out) % alignment) % alignment))
    for _, _, _, raw in tensors:
        out.extend(raw + b"\0" * ((alignment - len(raw) % alignment) % alignment))
    return bytes(out)


def wav_float(samples, rate=16000, channels=1):
    data = np.asarray(samples, dtype="<f4").tobytes()
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 3, channels, rate, rate * 4 * channels, 4 * channels, 32) +
            b"data" + struct.pack("<I", len(data)) + data)


def image_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def main():
    out, g4ref = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    work = tempfile.mkdtemp(prefix="g4ref-seeds-")
    tiny = os.path.join(work, "tiny")
    subprocess.run([g4ref, "synth", "--preset", "tiny", "--out", tiny], check=True, stdout=subprocess.DEVNULL)

    # safetensors: dtypes, metadata, empty tensors, scalars, padding or not.
    f32 = np.arange(6, dtype="<f4").tobytes()
    put(out, "fuzz_safetensors", "f32.safetensors", safetensors([("a", "F32", [2, 3], f32)], {"format": "pt"}))
    put(out, "fuzz_safetensors", "mixed.safetensors", safetensors([
        ("b.bf16", "BF16", [4], bytes([0, 0x3F, 0x80, 0x3F, 0, 0xC0, 0x49, 0x40])),
        ("c.f16", "F16", [2], np.array([1.5, -2], dtype="<f2").tobytes()),
        ("d.scalar", "F64", [], np.array([3.25], dtype="<f8").tobytes()),
        ("e.empty", "F32", [0, 4], b""),
        ("f.i64", "I64", [2], np.array([7, -1], dtype="<i8").tobytes())], pad=False))
    # safetensors index: shards that exist, and a tensor a shard lacks.
    put(out, "fuzz_safetensors_index", "ok.json", json.dumps({
        "metadata": {"total_size": 24},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    put(out, "fuzz_safetensors_index", "missing.json", json.dumps({
        "weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}))

    # config.json: the tiny checkpoint's and the 12B's (spec §1).
    cfg = json.load(open(os.path.join(tiny, "config.json")))
    put(out, "fuzz_config", "tiny.json", json.dumps(cfg))
    big = json.loads(json.dumps(cfg))
    t = big["text_config"]
    t.update({"vocab_size": 262144, "hidden_size": 3840, "intermediate_size": 15360, "num_hidden_layers": 48,
              "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 256, "global_head_dim": 512,
              "num_global_key_value_heads": 1, "sliding_window": 1024})
    t["layer_types"] = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(48)]
    big.update({"boi_token_id": 255999, "eoi_token_id": 258882, "image_token_id": 258880, "video_token_id": 258884,
                "boa_token_id": 256000, "eoa_token_index": 258883, "audio_token_id": 258881})
    put(out, "fuzz_config", "12b.json", json.dumps(big))
    text_only = {k: v for k, v in cfg.items() if k not in ("vision_config", "audio_config")}
    put(out, "fuzz_config", "text_only.json", json.dumps(text_only))

    # tokenizers: the tiny checkpoint's trained files.
    put(out, "fuzz_tokenizer_json", "tiny.json", open(os.path.join(tiny, "tokenizer.json"), "rb").read())
    put(out, "fuzz_tokenizer_model", "tiny.model", open(os.path.join(tiny, "tokenizer.model"), "rb").read())

    # GGUF (first byte: 0 container, 1 text model, 2 tokenizer, 3 mmproj).
    gg = os.path.join(work, "tiny.gguf")
    mm = os.path.join(work, "mm.gguf")
    subprocess.run([g4ref, "export-gguf", "--model", tiny, "--out", gg, "--type", "q4_0", "--mmproj", mm,
                    "--mmproj-type", "q8_0"], check=True, stdout=subprocess.DEVNULL)
    put(out, "fuzz_gguf", "text_model.gguf", b"\x01" + open(gg, "rb").read())
    put(out, "fuzz_gguf", "mmproj.gguf", b"\x03" + open(mm, "rb").read())
    _, kv = gguf_read(open(gg, "rb").read())
    tok_kv = [e for e in kv if e[0].startswith(b"tokenizer.") or e[0] == b"general.architecture"]
    put(out, "fuzz_gguf", "tokenizer.gguf", b"\x02" + gguf_write(tok_kv))
    small = gguf_write([(b"general.architecture", 8, b"gemma4"), (b"general.alignment", 4, 32),
                        (b"x.list", 9, (5, [1, -2, 3]))],
                       [("t.f32", 0, [3, 2], np.arange(6, dtype="<f4").tobytes()),
                        ("t.f16", 1, [4], np.ones(4, dtype="<f2").tobytes()),
                        ("t.q8_0", 8, [32], np.array([1.0], dtype="<f2").tobytes() + bytes(range(32)))])
    put(out, "fuzz_gguf", "container.gguf", b"\x00" + small)

    # images (first byte: mode bits — alpha, orientation, budget).
    grad = Image.fromarray((rng.random((50, 70, 3)) * 255).astype(np.uint8))
    rgba = Image.fromarray((rng.random((30, 20, 4)) * 255).astype(np.uint8), "RGBA")
    put(out, "fuzz_image", "a.png", b"\x00" + image_bytes(grad, "PNG"))
    put(out, "fuzz_image", "rgba.png", b"\x01" + image_bytes(rgba, "PNG"))
    put(out, "fuzz_image", "a.jpg", b"\x04" + image_bytes(grad, "JPEG", quality=80))
    put(out, "fuzz_image", "p.jpg", b"\x00" + image_bytes(grad, "JPEG", progressive=True))
    exif = Image.Exif()
    exif[0x0112] = 6
    put(out, "fuzz_image", "rot.jpg", b"\x00" + image_bytes(grad, "JPEG", exif=exif.tobytes()))
    put(out, "fuzz_image", "a.bmp", b"\x00" + image_bytes(grad, "BMP"))
    put(out, "fuzz_image", "a.gif", b"\x00" + image_bytes(grad.convert("P"), "GIF"))
    put(out, "fuzz_image", "a.ppm", b"\x00" + image_bytes(grad, "PPM"))
    put(out, "fuzz_image", "g.pgm", b"\x00" + image_bytes(grad.convert("L"), "PPM"))
    put(out, "fuzz_image", "a.tga", b"\x00" + image_bytes(grad, "TGA"))
    put(out, "fuzz_image", "g16.png", b"\x00" + image_bytes(Image.fromarray(
        (rng.random((9, 11)) * 65535).astype(np.uint16)), "PNG"))

    # audio: WAV (PCM 16, float), FLAC, OGG, stereo, 8 kHz and 44.1 kHz, through sox where it is available.
    tone = 0.3 * np.sin(np.arange(1600) * 0.05)
    put(out, "fuzz_audio", "float.wav", wav_float(tone))
    put(out, "fuzz_audio", "stereo.wav", wav_float(np.repeat(tone[:800], 2), rate=8000, channels=2))
    pcm = (tone * 32767).astype("<i2").tobytes()
    put(out, "fuzz_audio", "pcm16.wav", b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " +
        struct.pack("<IHHIIHH", 16, 1, 1, 44100, 88200, 2, 16) + b"data" + struct.pack("<I", len(pcm)) + pcm)
    src = os.path.join(out, "fuzz_audio", "float.wav")
    for ext, extra in (("flac", []), ("ogg", []), ("mp3", [])):
        dst = os.path.join(work, "a." + ext)
        r = subprocess.run(["sox", src] + extra + [dst], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0 and os.path.exists(dst):
            put(out, "fuzz_audio", "a." + ext, open(dst, "rb").read())

    # video frame directories: count byte, kinds byte (2 bits per frame: png, jpg, bmp, ppm), equal parts.
    small_img = Image.fromarray((rng.random((12, 16, 3)) * 255).astype(np.uint8))
    frames = [image_bytes(small_img, "PNG")] * 4
    size = max(len(f) for f in frames)
    put(out, "fuzz_video_frames", "four_png", bytes([3, 0]) + b"".join(f.ljust(size, b"\0") for f in frames))
    jpgs = [image_bytes(small_img, "JPEG")] * 4
    size = max(len(f) for f in jpgs)
    put(out, "fuzz_video_frames", "four_jpg", bytes([3, 0x55]) + b"".join(f.ljust(size, b"\0") for f in jpgs))

    # traces (first byte: 0-3 auto by extension .safetensors .npy .npz .bin; 4-7 named formats).
    tr = os.path.join(work, "t.safetensors")
    subprocess.run([g4ref, "trace", "--model", tiny, "--tokens", "2,3", "--out", tr, "--filter",
                    "^(input\\..*|embed\\.out|logits)$"], check=True, stdout=subprocess.DEVNULL)
    put(out, "fuzz_trace", "trace.safetensors", b"\x00" + open(tr, "rb").read())
    npy = io.BytesIO()
    np.save(npy, np.arange(12, dtype="<f4").reshape(3, 4))
    put(out, "fuzz_trace", "a.npy", b"\x01" + npy.getvalue())
    npy64 = io.BytesIO()
    np.save(npy64, np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3)))
    put(out, "fuzz_trace", "fortran.npy", b"\x05" + npy64.getvalue())
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in (("logits", np.ones((2, 5), "<f4")), ("hidden_states.0", np.zeros((1, 2, 4), "<f2"))):
            b = io.BytesIO()
            np.save(b, arr)
            zf.writestr(name + ".npy", b.getvalue())
    put(out, "fuzz_trace", "a.npz", b"\x02" + z.getvalue())
    put(out, "fuzz_trace", "logits.bin", b"\x03\x04" + np.arange(8, dtype="<f4").tobytes())
    put(out, "fuzz_trace", "mtmd.bin", b"\x07" + struct.pack("<ii", 2, 3) + np.ones(6, "<f4").tobytes())

    # chat-template requests.
    put(out, "fuzz_chat_template", "basic.json", json.dumps({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "image"}]},
        {"role": "assistant", "content": "<|channel>thought\nhm<channel|>A cat."},
        {"role": "user", "content": [{"type": "audio"}, {"type": "video"}, {"type": "text", "text": "and this?"}]}],
        "add_generation_prompt": True, "thinking": True}))
    put(out, "fuzz_chat_template", "tools.json", json.dumps({
        "messages": [{"role": "user", "content": "weather?"},
                     {"role": "assistant", "tool_calls": [{"function": {"name": "get", "arguments": {
                         "city": "Paris", "days": [1, 2], "deep": {"x": None, "y": 1.5, "z": True}}}}]},
                     {"role": "tool", "name": "get", "content": "{\"t\": 20}"}],
        "tools": [{"type": "function", "function": {"name": "get", "description": "weather",
                                                     "parameters": {"type": "object", "properties": {
                                                         "city": {"type": "string"}}}}}]}))

    # OpenAI request bodies, as clients send them to g4ref serve.
    put(out, "fuzz_openai_request", "chat.json", json.dumps({
        "model": "gemma-4-12b-unified", "temperature": 0.7, "top_p": 0.9, "top_k": 40, "seed": -3,
        "max_completion_tokens": 8, "stop": ["\n\n", "END"], "logprobs": True, "top_logprobs": 3,
        "stream": True, "stream_options": {"include_usage": True},
        "chat_template_kwargs": {"enable_thinking": True},
        "messages": [{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                     {"role": "user", "content": [{"type": "text", "text": "Hi"},
                                                  {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                                                  {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]},
                     {"role": "assistant", "content": None, "reasoning_content": "hm",
                      "tool_calls": [{"id": "c1", "type": "function",
                                      "function": {"name": "get", "arguments": "{\"city\": \"Paris\"}"}}]},
                     {"role": "tool", "tool_call_id": "c1", "content": "20 C"}],
        "tools": [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}]}))
    put(out, "fuzz_openai_request", "completion.json", json.dumps({
        "model": "gemma-4-12b-unified", "prompt": [2, 105, 9, 17], "max_tokens": 0, "echo": True, "logprobs": 5,
        "prompt_logprobs": 5, "temperature": 0, "n": 1}))
    put(out, "fuzz_openai_request", "completion_text.json", json.dumps({
        "prompt": ["<bos>Hello"], "max_tokens": 4, "stop": "x", "presence_penalty": 0, "logit_bias": {}}))


if __name__ == "__main__":
    main()
