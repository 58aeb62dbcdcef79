#!/usr/bin/python3
"""Pillow oracle for image preprocessing (spec §3.1): what PIL decodes and how it resizes.

Reads a manifest, one job per line, fields separated by tabs:

    resize  IN  WIDTH  HEIGHT  OUT    Image.open(IN).convert("RGB").resize((WIDTH, HEIGHT), Image.BICUBIC)
    decode  IN  drop       OUT        Image.open(IN).convert("RGB")   (HF load_image / convert_to_rgb)
    decode  IN  composite  OUT        Image.alpha_composite(white, Image.open(IN).convert("RGBA")).convert("RGB")
    save    IN  VARIANT  OUT          re-encodes IN with PIL as VARIANT (see save_variant), for decode tests
    probe   IN  OUT                   whether PIL decodes IN: OUT holds "decoded WIDTH HEIGHT" or "refused: ERROR"

resize and decode write OUT as raw bytes: height × width × 3 uint8, row-major, channel fastest.
Prints "pillow VERSION" and then, per job, "ok WIDTH HEIGHT". Any failure: status 2 and one line on stderr.

    /usr/bin/python3 tests/oracles/pil_resize.py MANIFEST
"""
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image


def to_rgb(path, alpha):
    im = Image.open(path)
    im.load()
    if alpha == "drop":
        return im.convert("RGB")
    if alpha == "composite":
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    raise ValueError(f"unknown alpha mode {alpha!r}")


def png_rgb16(path, rgb8):
    """A 16-bit-per-channel RGB PNG (PIL cannot write one): high byte = rgb8, low byte varies."""
    h, w, _ = rgb8.shape
    v = rgb8.astype(">u2") * 256 + (np.arange(h * w * 3).reshape(h, w, 3) % 251).astype(">u2")
    raw = b"".join(b"\x00" + v[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def save_variant(src, variant, out):
    im = Image.open(src)
    im.load()
    rgb = im.convert("RGB")
    if variant == "png-rgb":
        rgb.save(out, "PNG")
    elif variant == "png-rgba":
        im.convert("RGBA").save(out, "PNG")
    elif variant == "png-l":
        im.convert("L").save(out, "PNG")
    elif variant == "png-la":
        im.convert("LA").save(out, "PNG")
    elif variant == "png-p":
        rgb.convert("P").save(out, "PNG")
    elif variant == "png-p-trns":
        rgb.convert("P").save(out, "PNG", transparency=0)
    elif variant == "png-rgb-trns":
        rgb.save(out, "PNG", transparency=rgb.getpixel((0, 0)))
    elif variant == "png-i16":  # 16-bit greyscale: values up to 65535, which PIL's convert("RGB") clips
        im.convert("L").convert("I").point(lambda v: v * 257).save(out, "PNG")
    elif variant == "png-rgb16":
        png_rgb16(out, np.asarray(rgb))
    elif variant == "bmp-rgb":
        rgb.save(out, "BMP")
    elif variant == "bmp-p":
        rgb.convert("P").save(out, "BMP")
    elif variant == "tga-rgb":
        rgb.save(out, "TGA")
    elif variant == "tga-rgba":
        im.convert("RGBA").save(out, "TGA")
    elif variant == "tga-rle":
        rgb.save(out, "TGA", compression="tga_rle")
    elif variant == "ppm":
        rgb.save(out, "PPM")
    elif variant == "pgm":
        im.convert("L").save(out, "PPM")
    elif variant == "gif":
        rgb.save(out, "GIF")
    elif variant == "jpeg-420":
        rgb.save(out, "JPEG", quality=90)
    elif variant == "jpeg-444":
        rgb.save(out, "JPEG", quality=95, subsampling=0)
    elif variant == "jpeg-gray":
        im.convert("L").save(out, "JPEG", quality=90)
    elif variant == "jpeg-progressive":
        rgb.save(out, "JPEG", quality=85, progressive=True)
    else:
        raise ValueError(f"unknown variant {variant!r}")


def run(manifest):
    print("pillow", PIL.__version__, flush=True)
    with open(manifest, encoding="utf-8") as f:
        jobs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for job in jobs:
        if job[0] == "resize" and len(job) == 5:
            _, src, w, h, out = job
            im = to_rgb(src, "drop").resize((int(w), int(h)), Image.BICUBIC)
        elif job[0] == "decode" and len(job) == 4:
            _, src, alpha, out = job
            im = to_rgb(src, alpha)
        elif job[0] == "probe" and len(job) == 3:
            try:
                im = to_rgb(job[1], "drop")
                verdict = f"decoded {im.width} {im.height}"
            except Exception as e:  # what PIL says of a file it cannot decode
                verdict = f"refused: {e}"
            with open(job[2], "w", encoding="utf-8") as g:
                g.write(verdict + "\n")
            print("ok probed", flush=True)
            continue
        elif job[0] == "save" and len(job) == 4:
            save_variant(job[1], job[2], job[3])
            print("ok saved", flush=True)
            continue
        else:
            raise ValueError(f"bad manifest line: {job!r}")
        a = np.asarray(im, dtype=np.uint8)
        assert a.ndim == 3 and a.shape[2] == 3, a.shape
        with open(out, "wb") as g:
            g.write(np.ascontiguousarray(a).tobytes())
        print("ok", im.width, im.height, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        run(sys.argv[1])
    except Exception as e:  # one line, as the other oracles do
        print(f"pil_resize.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
