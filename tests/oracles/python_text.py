#!/usr/bin/env python3
"""Oracle for the scorers' Unicode layer: what CPython itself does with a list of strings.

Reads {"op": NAME, "items": [...]} on standard input and writes the list of results:
  lower / upper / split / strip  str.lower(), str.upper(), str.split(), str.strip()
  nfkc / nfkd                    unicodedata.normalize
  float                          float(s) as float.hex, or null when float() raises ValueError
  tok13a                         the four regular expressions of sacreBLEU's 13a tokenizer (its published
                                 patterns, run with Python's re), after the same preprocessing, then
                                 " ".join(line.split())
  tokintl                        the three regular expressions of sacreBLEU's intl tokenizer (\p{N}, \p{P},
                                 \p{S}), run with the `regex` module (Debian's python3-regex), then
                                 " ".join(line.split())

Usage: python3 tests/oracles/python_text.py < request.json
"""
import json
import re
import sys
import unicodedata

TOK13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tok13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, repl in TOK13A:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def tokintl(line):
    import regex  # only this operation needs it

    patterns = [
        (regex.compile(r"(\P{N})(\p{P})"), r"\1 \2 "),
        (regex.compile(r"(\p{P})(\P{N})"), r" \1 \2"),
        (regex.compile(r"(\p{S})"), r" \1 "),
    ]
    for pattern, repl in patterns:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def to_float(s):
    try:
        return float(s).hex()
    except ValueError:
        return None


OPS = {
    "lower": str.lower,
    "upper": str.upper,
    "split": str.split,
    "strip": str.strip,
    "nfkc": lambda s: unicodedata.normalize("NFKC", s),
    "nfkd": lambda s: unicodedata.normalize("NFKD", s),
    "float": to_float,
    "tok13a": tok13a,
    "tokintl": tokintl,
}


def main():
    req = json.load(sys.stdin)
    json.dump([OPS[req["op"]](s) for s in req["items"]], sys.stdout)


if __name__ == "__main__":
    main()
