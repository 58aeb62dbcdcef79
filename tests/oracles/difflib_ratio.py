#!/usr/bin/env python3
"""Oracle for MRCR's similarity: Python's own difflib.SequenceMatcher(None, a, b).ratio() (autojunk on).

Reads a JSON list of [a, b] pairs on standard input and writes the JSON list of their ratios, each with
repr precision (float.hex), so the C++ port is compared bit for bit with CPython's difflib.

Usage: python3 tests/oracles/difflib_ratio.py < pairs.json
"""
import difflib
import json
import sys


def main():
    pairs = json.load(sys.stdin)
    out = [difflib.SequenceMatcher(None, a, b).ratio().hex() for a, b in pairs]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
