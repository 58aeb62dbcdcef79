#!/usr/bin/python3
"""reports/architecture.md: the data flow of Gemma 4 12B Unified for a learner, with pictures made from the tiny
synthetic checkpoint (the 12B's architecture at toy size) and the spec.

What runs:
  1. `g4ref synth --preset tiny --seed 0` into a temporary folder (or --model DIR).
  2. `g4ref explain --json --layout` on a chat prompt with a bundled document image (at 70 soft tokens) and a
     bundled spoken clip: every trace name with its shape and statistics, and the layout — the attention mask of each
     layer type over that prompt (built by the rule the layers use, reference/layers/attention_mask.h), the RoPE
     inverse frequencies of each layer type, the image's patch grid and the clip's 40 ms frames.
  3. The 12B's RoPE inverse frequencies from the spec's formula (§2.6) in float32, as PyTorch computes them; the same
     formula is checked here against g4ref's tables for the tiny checkpoint.

  /usr/bin/python3 reports/architecture.py --g4ref build/eval/g4ref

Random weights: the statistics of each stage are those of random weights; the shapes, masks, tables and grids are
the real model's rules.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
IMAGE = "datasets/bundled/docvqa/documents/fkxb0412_3.png"
AUDIO = "datasets/bundled/fleurs/en_us/audio/test/2722470999231616589.wav"
TEXT = "What does the document say, and what does the speaker say?"
TYPE_NAMES = {0: "text", 1: "image", 2: "video", 3: "audio"}
TYPE_COLORS = {0: "#9e9e9e", 1: "#1f77b4", 2: "#9467bd", 3: "#2ca02c"}


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"architecture: failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-4000:]}")
    return r.stdout


def spec_inv_freq(theta, head_dim, rope_type, partial=1.0):
    """Spec §2.6 in float32 as PyTorch computes it: inv[j] = 1 / theta^(2j / head_dim) for the rotated pairs
    (default: all head_dim/2; proportional: floor(partial · head_dim / 2), the exponent's denominator still the full
    head_dim), 0 for the rest."""
    half = head_dim // 2
    pairs = half if rope_type == "default" else int(np.floor(partial * head_dim / 2))
    exponent = (np.arange(0, 2 * pairs, 2, dtype=np.int64).astype(np.float32) / np.float32(head_dim))
    inv = np.zeros(half, dtype=np.float32)
    inv[:pairs] = (np.float32(1.0) / (np.float32(theta) ** exponent)).astype(np.float32)
    return inv


def type_strip(ax, types, horizontal=True):
    colors = [TYPE_COLORS[t] for t in types]
    for i, c in enumerate(colors):
        if horizontal:
            ax.add_patch(plt.Rectangle((i - 0.5, -0.5), 1, 1, color=c, lw=0))
        else:
            ax.add_patch(plt.Rectangle((-0.5, i - 0.5), 1, 1, color=c, lw=0))


def plot_masks(layout, path):
    types = layout["token_types"]
    n = len(types)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.4))
    for ax, kind in zip(axes, ["sliding", "full"]):
        m = layout["masks"][kind]
        grid = np.array([[c == "1" for c in row] for row in m["rows"]], dtype=float)
        ax.imshow(grid, cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
        title = f"{kind} layers" + (f" (window {m['window']})" if kind == "sliding" else " (causal)")
        ax.set_title(title)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        # The token type of each position along both axes.
        for i, t in enumerate(types):
            ax.add_patch(plt.Rectangle((i - 0.5, n + 0.5), 1, 2.5, color=TYPE_COLORS[t], lw=0, clip_on=False))
            ax.add_patch(plt.Rectangle((-3.5, i - 0.5), 2.5, 1, color=TYPE_COLORS[t], lw=0, clip_on=False))
        ax.set_xlim(-4, n)
        ax.set_ylim(n + 3.5, -0.5)
    handles = [plt.Rectangle((0, 0), 1, 1, color=TYPE_COLORS[t]) for t in sorted(set(types))]
    fig.legend(handles, [TYPE_NAMES[t] for t in sorted(set(types))], loc="lower center", ncol=4)
    fig.suptitle("Who may attend to whom (black: allowed) — the tiny checkpoint, a prompt with an image and a clip")
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_rope(tiny, big, path):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, (title, tables) in zip(axes, [("tiny checkpoint (from g4ref)", tiny), ("12B (spec §2.6 formula)", big)]):
        for kind, style in [("sliding", "-"), ("full", "--")]:
            t = tables[kind]
            inv = np.array(t["inv_freq"], dtype=np.float64)
            j = np.arange(len(inv))
            shown = np.where(inv > 0, inv, np.nan)
            ax.semilogy(j, shown, style, label=f"{kind}: head_dim {t['head_dim']}, theta {t['theta']:g}, "
                        f"{t['rotated_pairs']} of {len(inv)} pairs rotated")
            if t["rotated_pairs"] < len(inv):
                ax.axvspan(t["rotated_pairs"] - 0.5, len(inv) - 0.5, color="#fbe3d6", alpha=0.5, lw=0)
        ax.set_title(title)
        ax.set_xlabel("pair j (dim j rotates with dim j + head_dim/2)")
        ax.set_ylabel("inverse frequency (radians per position)")
        ax.legend(fontsize=8)
    fig.suptitle("RoPE inverse frequencies of both layer types (shaded: pairs a full layer passes through unrotated)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_patches(image, resized_png, path):
    """The resized image (g4ref inspect-image --resized-out) with its 48×48 patch grid and each patch's soft-token
    order; the per-patch means of `explain --layout` must be those of the image's blocks."""
    rgb = plt.imread(resized_png)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    rgb = rgb[..., :3]
    cols, rows = image["grid_columns"], image["grid_rows"]
    if rgb.shape[0] != rows * 48 or rgb.shape[1] != cols * 48:
        sys.exit(f"architecture: the resized image is {rgb.shape[1]}×{rgb.shape[0]}, the grid {cols}×{rows} patches")
    worst = 0.0
    for (x, y), mean in zip(image["xy"], image["patch_mean"]):
        block = rgb[y * 48:(y + 1) * 48, x * 48:(x + 1) * 48].astype(np.float64)
        worst = max(worst, abs(float(block.mean()) - mean))
    if worst > 1e-6:
        sys.exit(f"architecture: explain's patch means and the resized image's blocks differ by {worst:.3g}")
    fig, ax = plt.subplots(figsize=(0.8 * cols + 2, 0.8 * rows + 1.5))
    ax.imshow(rgb, interpolation="nearest")
    for x in range(cols + 1):
        ax.axvline(x * 48 - 0.5, color="#1f77b4", lw=1)
    for y in range(rows + 1):
        ax.axhline(y * 48 - 0.5, color="#1f77b4", lw=1)
    for i, (x, y) in enumerate(image["xy"]):
        ax.text(x * 48 + 4, y * 48 + 12, str(i), fontsize=7, color="#d62728")
    ax.set_xticks([x * 48 for x in range(cols + 1)])
    ax.set_yticks([y * 48 for y in range(rows + 1)])
    ax.set_xlabel("pixels (a patch is 48 × 48)")
    ax.set_title(f"{cols} × {rows} = {image['patches']} patches, each 48·48·3 = {image['patch_values']} values (HWC)\n"
                 "and one soft token; the number is its order in the prompt", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return worst


def plot_audio(clip, path):
    rms = np.array(clip["frame_rms"])
    t = np.arange(len(rms)) * clip["samples_per_frame"] / clip["sample_rate"]
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar(t, rms, width=0.9 * clip["samples_per_frame"] / clip["sample_rate"], align="edge", color=TYPE_COLORS[3])
    ax.set_xlabel("seconds (one bar: one 40 ms frame of 640 samples at 16 kHz = one soft token)")
    ax.set_ylabel("frame RMS")
    ax.set_title(f"{clip['frames']} frames of the spoken clip, each one audio soft token")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--g4ref", required=True, help="the g4ref program (build/eval/g4ref)")
    ap.add_argument("--model", help="a tiny checkpoint (default: synthesized into a temporary folder)")
    ap.add_argument("--out", default=os.path.join(HERE, "architecture.md"))
    a = ap.parse_args()
    out_dir = os.path.dirname(os.path.abspath(a.out))
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model
        if not model:
            model = os.path.join(tmp, "tiny")
            run([a.g4ref, "synth", "--preset", "tiny", "--seed", "0", "--out", model])
        explain = json.loads(run([a.g4ref, "explain", "--model", model, "--prompt", TEXT,
                                  "--image", os.path.join(REPO, IMAGE), "--image-tokens", "70",
                                  "--audio", os.path.join(REPO, AUDIO), "--json", "--layout"]))
        with open(os.path.join(model, "config.json")) as f:
            config = json.load(f)
        resized = os.path.join(tmp, "resized.png")
        inspect = json.loads(run([a.g4ref, "inspect-image", os.path.join(REPO, IMAGE), "--image-tokens", "70",
                                  "--resized-out", resized, "--json"]))
        layout_image = json.loads(json.dumps(explain["layout"]["images"][0]))
        patch_error = plot_patches(layout_image, resized, os.path.join(out_dir, "architecture_patches.png"))
    layout = explain["layout"]
    if not layout["masks"]:
        sys.exit("architecture: the prompt is too long for the masks")

    # The spec's formula against g4ref's tables on the tiny checkpoint: the same float32 values.
    worst = 0.0
    for kind, t in layout["rope"].items():
        formula = spec_inv_freq(t["theta"], t["head_dim"], t["rope_type"], t["partial_rotary_factor"])
        got = np.array(t["inv_freq"], dtype=np.float32)
        if got.shape != formula.shape:
            sys.exit(f"architecture: {kind} RoPE table has {got.shape} entries, the formula {formula.shape}")
        rel = np.max(np.abs(got.astype(np.float64) - formula) / np.maximum(formula.astype(np.float64), 1e-30))
        worst = max(worst, float(rel))
    if worst > 2.4e-7:  # two float32 ulps
        sys.exit(f"architecture: the spec's RoPE formula and g4ref's tables differ by {worst:.3g} (relative)")
    big = {}
    for kind, (d, theta, rtype, partial) in {"sliding": (256, 10000.0, "default", 1.0),
                                             "full": (512, 1000000.0, "proportional", 0.25)}.items():
        inv = spec_inv_freq(theta, d, rtype, partial)
        big[kind] = {"head_dim": d, "theta": theta, "rotated_pairs": int((inv > 0).sum()), "inv_freq": inv.tolist()}

    plot_masks(layout, os.path.join(out_dir, "architecture_masks.png"))
    plot_rope(layout["rope"], big, os.path.join(out_dir, "architecture_rope.png"))
    plot_audio(layout["audio"][0], os.path.join(out_dir, "architecture_audio.png"))

    types = layout["token_types"]
    counts = {TYPE_NAMES[k]: types.count(k) for k in sorted(set(types))}
    text_cfg = config.get("text_config", config)
    image = layout["images"][0]
    clip = layout["audio"][0]
    stages = explain["stages"]
    layer_types = text_cfg.get("layer_types", [])
    lines = []
    w = lines.append
    w("# The architecture of Gemma 4 12B Unified, step by step")
    w("")
    w("Regenerate with `/usr/bin/python3 reports/architecture.py --g4ref build/eval/g4ref` (it synthesizes the tiny "
      "checkpoint and runs `g4ref explain --json --layout`). Every picture is made from what g4ref computes on the "
      "tiny synthetic checkpoint — the 12B's architecture at toy size (6 layers, hidden 64, window 8) with random "
      "weights — except the 12B's RoPE table, which comes from the spec's formula (checked here against g4ref's "
      "tables on the tiny checkpoint: largest relative difference "
      f"{worst:.1e}). Section numbers (§) are those of the spec, `gemma4-12b-unified.md`; each step links to the "
      "file that implements it.")
    w("")
    w("The prompt: one user turn with a document image (`" + IMAGE + "`, at a budget of 70 soft tokens), a spoken "
      "clip (`" + AUDIO + "`) and the text " + json.dumps(TEXT) + f", {len(types)} tokens: " +
      ", ".join(f"{v} {k}" for k, v in counts.items()) + ".")
    w("")
    w("## 1. From a conversation to token ids (§5) — [reference/prompt/request.h](../reference/prompt/request.h)")
    w("")
    w("The official chat template renders the turn; each media marker becomes a begin token, N placeholders and an "
      "end token (§3.3, [media_placeholders.h](../reference/prompt/media_placeholders.h)); the tokenizer "
      "([tokenizer.h](../reference/prompt/tokenizer.h)) maps the text to ids. Each position gets a token type (text, "
      "image, video, audio); each maximal run of image placeholders is one block.")
    w("")
    w("## 2. An image as raw patches (§3.1-§3.2) — [reference/preprocess/image.h](../reference/preprocess/image.h), "
      "[reference/layers/vision_embedder.h](../reference/layers/vision_embedder.h)")
    w("")
    w(f"There is no vision encoder. The image ({inspect['original']['width']} × {inspect['original']['height']}) is "
      f"resized, keeping its aspect ratio, to whole 48×48 patches within the budget of {inspect['budget']}: "
      f"{inspect['target']['width']} × {inspect['target']['height']}, a grid of {image['grid_columns']} × "
      f"{image['grid_rows']} = {image['patches']} patches (the picture is `g4ref inspect-image --resized-out`; the "
      f"patch values of `explain --layout` match its blocks to {patch_error:.1e}). Each patch "
      f"is {image['patch_values']} values (48·48·3, HWC order: RGBRGB…, §8) and becomes one soft token through "
      "the vision embedder: LayerNorm, a dense projection, LayerNorm, a learned 2-D position (its column and row), "
      "LayerNorm, RMSNorm and the projection into the decoder's width.")
    w("")
    w("![patch grid](architecture_patches.png)")
    w("")
    w("## 3. Audio as raw frames (§4) — [reference/preprocess/audio.h](../reference/preprocess/audio.h), "
      "[reference/layers/audio_embedder.h](../reference/layers/audio_embedder.h)")
    w("")
    w(f"There is no audio encoder either. The clip is decoded, mixed to mono and resampled to 16 kHz, then cut into "
      f"40 ms frames of {clip['samples_per_frame']} samples: {clip['frames']} frames here, each one soft token "
      "through the audio embedder (RMSNorm and a projection).")
    w("")
    w("![audio framing](architecture_audio.png)")
    w("")
    w("## 4. One sequence of embeddings (§2.2) — [reference/layers/embedding.h](../reference/layers/embedding.h)")
    w("")
    w("Text rows are looked up in the token table and multiplied by √hidden (rounded to bf16: 62.0 for the 12B); "
      "the placeholders take the media features in order, unscaled.")
    w("")
    w("## 5. Who attends to whom (§2.7) — [reference/layers/attention_mask.h](../reference/layers/attention_mask.h)")
    w("")
    n_full = sum(1 for t in layer_types if t == "full_attention")
    w(f"Two layer types (tiny: {len(layer_types) - n_full} sliding and {n_full} full of {len(layer_types)}; the 12B: "
      "40 sliding and 8 full, every sixth full). Full layers are causal. Sliding layers see the last "
      f"{layout['masks']['sliding']['window']} positions (the 12B: 1,024), and within an image block a patch also sees the "
      "later patches of the same image. The window bounds only how far back a position looks (k > q − W, "
      "Hugging Face's and vLLM's rule), so inside an image block longer than the window a patch still sees every later "
      "patch of its image; the official JAX code's symmetric window |q − k| < W is a switch (`--window symmetric`). "
      "The image block here is longer than the window: the corner case several engines got wrong (§8). Audio is "
      "never a block: it stays causal.")
    w("")
    w("![attention masks](architecture_masks.png)")
    w("")
    w("## 6. Positions (§2.6) — [reference/layers/rope.h](../reference/layers/rope.h)")
    w("")
    w("Rotary embeddings pair dimension j with j + head_dim/2. Sliding layers rotate every pair (theta 10,000, "
      "head_dim 256 in the 12B). Full layers use proportional RoPE: head_dim 512, theta 1,000,000, only the first "
      "quarter of the pairs rotate, and their exponent's denominator is the full head_dim, not the rotated width (a "
      "§8 pitfall: it is not ordinary partial rotary); the other pairs pass through unchanged.")
    w("")
    w("![RoPE profiles](architecture_rope.png)")
    w("")
    w("## 7. The decoder layer (§2.4-§2.8) — [reference/layers/decoder_layer.h](../reference/layers/decoder_layer.h)")
    w("")
    w("Each layer: RMSNorm (x·w, not x·(1+w), §8) → attention ([attention.h](../reference/layers/attention.h): q, k, "
      "v projections, per-head RMSNorm of q and k, V of full layers = weightless RMSNorm of the raw K projection, RoPE, "
      "scale 1.0, the mask above) → RMSNorm → residual add → RMSNorm → gated GELU MLP "
      "([mlp.h](../reference/layers/mlp.h)) → RMSNorm → residual add, times the layer's scalar. Then the final "
      "RMSNorm and the tied output head with a softcap of 30 ([logits.h](../reference/layers/logits.h)).")
    w("")
    w("## 8. Every stage of this prompt's forward pass (`g4ref explain`, exact mode, random weights)")
    w("")
    w("| stage | spec | shape | rms |")
    w("|---|---|---|---|")
    for s in stages:
        name = s["name"]
        if name.startswith("layers.") and not (name.startswith("layers.0.") or name.startswith("layers.2.") or name.endswith(".out")):
            continue
        w(f"| `{name}` | {s.get('spec', '')} | {' × '.join(str(d) for d in s['shape'])} | {s['rms']:.4g} |")
    w("")
    w("Layer 0 (sliding) and layer 2 (full) are shown stage by stage, the other layers by their output; "
      "`g4ref explain --model DIR --prompt …` prints every stage of any prompt.")
    w("")
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print(f"architecture: wrote {a.out} and 4 plots")


if __name__ == "__main__":
    main()
