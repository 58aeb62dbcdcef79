#!/usr/bin/env python3
"""Oracle for EXIF orientation: what Hugging Face's load_image makes of a file (PIL's ImageOps.exif_transpose,
then convert("RGB")).

Usage: pil_exif.py OUT_DIR

Writes, for each EXIF orientation 1..8, a 40x24 test image (every pixel distinct, so any wrong rotation or mirror
shows) as  o{N}.png  (PNG with an eXIf chunk) and  o{N}.jpg  (JPEG with an APP1 Exif segment, quality 95, 4:4:4),
and PIL's upright result of each as  o{N}.png.rgb / o{N}.jpg.rgb : "W H\\n" then W*H*3 bytes of RGB.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageOps


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    h, w = 24, 40
    r, c = np.mgrid[0:h, 0:w]
    pixels = np.stack([r * 10 % 256, c * 6 % 256, (r * 7 + c * 3) % 256], axis=-1).astype(np.uint8)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        image = Image.fromarray(pixels, "RGB")
        for ext, kwargs in (("png", {}), ("jpg", {"quality": 95, "subsampling": 0})):
            path = os.path.join(out, f"o{orientation}.{ext}")
            image.save(path, exif=exif.tobytes(), **kwargs)
            with Image.open(path) as stored:
                upright = ImageOps.exif_transpose(stored).convert("RGB")
            with open(path + ".rgb", "wb") as f:
                f.write(f"{upright.width} {upright.height}\n".encode())
                f.write(np.asarray(upright, dtype=np.uint8).tobytes())


if __name__ == "__main__":
    main()
