#!/usr/bin/env python3
"""Writes the small bundled benchmark sets under datasets/bundled/, deterministically.

Every row is SYNTHETIC: arithmetic questions generated here, in the exact published schema (field names, types,
file format) of each benchmark, so that the harness's readers, templates, extraction and scoring run end to end
without the real data (which is gated or unreachable offline). The content is not the benchmark's and no score on
it means anything about a model. Rerun with `python3 datasets/make_bundled.py`; the output is byte-identical.
"""
import csv
import io
import json
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled")
LETTERS = "ABCDEFGHIJ"
NOTE = "[synthetic g4ref item, not from the benchmark]"


def write(path, text):
    path = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def jsonl(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def distractors(rng, answer, k):
    out = set()
    while len(out) < k:
        d = answer + rng.choice([-1, 1]) * rng.randint(1, 30)
        if d != answer and d >= 0:
            out.add(d)
    return sorted(out)


# MMLU-Pro (TIGER-Lab/MMLU-Pro): question_id, question, options (up to 10), answer (letter), answer_index,
# cot_content, category (14 subjects), src.
MMLU_PRO_CATEGORIES = ["math", "physics", "chemistry", "law", "engineering", "other", "economics", "health",
                       "psychology", "business", "biology", "philosophy", "computer science", "history"]


def mmlu_pro_rows(rng, n, first_id, with_cot):
    rows = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        answer = a + b
        n_opt = 10 if i % 7 else 9  # a few published questions have fewer than ten options
        opts = [str(x) for x in distractors(rng, answer, n_opt - 1)]
        idx = rng.randrange(n_opt)
        opts.insert(idx, str(answer))
        cat = MMLU_PRO_CATEGORIES[i % len(MMLU_PRO_CATEGORIES)]
        cot = ""
        if with_cot:
            cot = (f"A: Let's think step by step. {a} + {b} = {answer}, which is option ({LETTERS[idx]}). "
                   f"The answer is ({LETTERS[idx]}).")
        rows.append({"question_id": first_id + i, "question": f"{NOTE} What is {a} + {b}?", "options": opts,
                     "answer": LETTERS[idx], "answer_index": idx, "cot_content": cot, "category": cat,
                     "src": "synthetic-g4ref"})
    return rows


# GPQA (Idavidrein/gpqa, gpqa_diamond.csv): the columns the protocols read, in the published order.
GPQA_COLUMNS = ["Pre-Revision Question", "Pre-Revision Correct Answer", "Pre-Revision Incorrect Answer 1",
                "Pre-Revision Incorrect Answer 2", "Pre-Revision Incorrect Answer 3", "Pre-Revision Explanation",
                "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                "Explanation", "Subdomain", "Record ID", "High-level domain"]
GPQA_DOMAINS = [("Physics", "Quantum Mechanics"), ("Chemistry", "Organic Chemistry"), ("Biology", "Genetics")]


def gpqa_csv(rng, n):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(GPQA_COLUMNS)
    for i in range(n):
        a, b = rng.randint(2, 19), rng.randint(2, 19)
        answer = a * b
        wrong = distractors(rng, answer, 3)
        # Quotes, commas and a line break inside fields, as the published CSV has.
        q = f'{NOTE} A "product" question, line one,\nline two: what is {a} × {b}?'
        expl = f"{a} × {b} = {answer}, by multiplication."
        dom, sub = GPQA_DOMAINS[i % 3]
        rid = "rec" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(14))
        w.writerow([q, answer, *wrong, expl, q, answer, *wrong, expl, sub, rid, dom])
    return buf.getvalue()


# MMMLU (openai/MMMLU, test/mmlu_XX-YY.csv): an unnamed index column, Question, A, B, C, D, Answer, Subject.
MMMLU_LOCALES = {
    "DE-DE": "Was ist {a} + {b}?",
    "JA-JP": "{a} + {b} はいくつですか?",
    "SW-KE": "{a} + {b} ni ngapi?",
}


def mmmlu_csv(rng, template, n):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["", "Question", "A", "B", "C", "D", "Answer", "Subject"])
    for i in range(n):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        answer = a + b
        opts = distractors(rng, answer, 3)
        idx = rng.randrange(4)
        opts.insert(idx, answer)
        subject = ["elementary_mathematics", "high_school_mathematics"][i % 2]
        w.writerow([i, NOTE + " " + template.format(a=a, b=b), *opts, "ABCD"[idx], subject])
    return buf.getvalue()


# AIME 2026 (MathArena/aime_2026): problem_idx, problem (LaTeX), answer (integer 0–999).
def aime_rows(rng, n):
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 9), rng.randint(5, 30)
        answer = pow(a, b, 1000)
        rows.append({"problem_idx": i + 1,
                     "problem": f"{NOTE} Find the remainder when $ {a}^{{{b}}} $ is divided by $1000$.",
                     "answer": answer})
    return rows


def main():
    rng = random.Random(20260603)
    write("mmlu_pro/test.jsonl", jsonl(mmlu_pro_rows(rng, 42, 70, False)))
    write("mmlu_pro/validation.jsonl", jsonl(mmlu_pro_rows(rng, 70, 0, True)))  # 5 per subject, as published
    write("gpqa/gpqa_diamond.csv", gpqa_csv(rng, 24))
    for loc, tmpl in MMMLU_LOCALES.items():
        write(f"mmmlu/mmlu_{loc}.csv", mmmlu_csv(rng, tmpl, 12))
    write("aime/aime_2026.jsonl", jsonl(aime_rows(rng, 30)))


if __name__ == "__main__":
    main()
