#!/usr/bin/env python3
"""RoPE inverse frequencies exactly as PyTorch computes them in float32 (spec §2.6).

Prints one line per value: the float32 bit pattern as 8 hex digits. Used by test_rope_torch.cpp to check that
g4ref's float32 constants are bit-identical to PyTorch's.

  rope_inv_freq.py default THETA HEAD_DIM
  rope_inv_freq.py proportional THETA HEAD_DIM PARTIAL_ROTARY_FACTOR
"""
import struct
import sys

import torch


def default_inv_freq(theta, dim):
    exponent = torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim
    return 1.0 / (theta ** exponent)


def proportional_inv_freq(theta, head_dim, partial_rotary_factor):
    # Only the first rope_angles pairs rotate; the exponent's denominator stays the full head dim.
    rope_angles = int(partial_rotary_factor * head_dim // 2)
    exponent = torch.arange(0, 2 * rope_angles, 2, dtype=torch.int64).to(dtype=torch.float) / head_dim
    rotated = 1.0 / (theta ** exponent)
    unrotated = torch.zeros(head_dim // 2 - rope_angles, dtype=torch.float)
    return torch.cat([rotated, unrotated])


def main():
    kind, theta, dim = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    if kind == "default":
        inv = default_inv_freq(theta, dim)
    elif kind == "proportional":
        inv = proportional_inv_freq(theta, dim, float(sys.argv[4]))
    else:
        raise SystemExit(f"unknown rope type {kind}")
    assert inv.dtype == torch.float32
    for v in inv.tolist():
        print("%08x" % struct.unpack("<I", struct.pack("<f", v))[0])


if __name__ == "__main__":
    main()
