#!/usr/bin/python3
"""Jinja2 oracle for the Gemma 4 chat template (spec §5): conversations and what the official template renders.

Generates conversations deterministically (seeded random) and renders each with the official chat template the
way Hugging Face's apply_chat_template does: jinja2's ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks and the loopcontrols extension, a tojson filter and a raise_exception global, default Undefined,
and the variables messages, tools (None when there are none), bos_token, add_generation_prompt and
enable_thinking.

    /usr/bin/python3 tests/oracles/chat_template_oracle.py (--template FILE | --bundle GIT_BUNDLE)
        --cases CASES.jsonl --expected EXPECTED.jsonl [--count N] [--seed S]

--bundle clones a git bundle of the llama.cpp source into a temporary directory and reads
models/templates/google-gemma-4-31B-it.jinja from its HEAD.

CASES.jsonl: one case a line, {"messages", "tools", "enable_thinking", "add_generation_prompt"}.
EXPECTED.jsonl: the same number of lines, {"text": rendered} or {"error": "ExceptionType: message"} where
the template raises. Prints "jinja2 VERSION", then "cases N rendered R errors E". Any failure of the script
itself: status 2 and one line on stderr.

Shapes the generator leaves out on purpose, because the template then writes Python's repr() of a value and a
renderer that refuses them is preferable to one that imitates repr: a system or developer message whose content
is a list of parts, and strings with non-ASCII characters inside a list or mapping that the template prints with
str() (e.g. a tool schema "type" given as a list of non-ASCII names). Integers beyond 64 bits are left out
because a JSON reader in C++ stores them as floating point while Python keeps them exact.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import jinja2
import jinja2.ext
import jinja2.sandbox

TEMPLATE_IN_BUNDLE = "models/templates/google-gemma-4-31B-it.jinja"


def load_template(args):
    if args.template:
        with open(args.template, encoding="utf-8") as f:
            return f.read()
    with tempfile.TemporaryDirectory() as tmp:
        repo = os.path.join(tmp, "src.git")
        subprocess.run(["git", "clone", "-q", "--bare", args.bundle, repo], check=True)
        out = subprocess.run(["git", "--git-dir", repo, "show", "HEAD:" + TEMPLATE_IN_BUNDLE], check=True,
                             capture_output=True)
        return out.stdout.decode("utf-8")


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


# ---------------------------------------------------------------------------------------------------------------
# Building blocks of the conversations.

WORDS = ["Hi", "Hello there", "What is 2+2?", "Tell me a joke.", "Summarise this:", "Why?", "ok", "Thanks!",
         "line one\nline two", "tab\tseparated", "a  b   c", "  spaced  ", "x"]
UNICODE = ["你好，世界", "日本語のテキスト", "한국어", "👋🏽 hi 👨‍👩‍👧‍👦", "🙂", "مرحبا بالعالم", "שלום עולם",
           "e\u0301cole", "Zürich, Ελληνικά, Кириллица", "नमस्ते", "\u200bzero width", "\ufeffbom", "ﬁ ß İ"]
CONTROL = ["<|turn>", "<turn|>", '<|"|>', "<|channel>", "<channel|>", "<|tool_call>call:x{}<tool_call|>",
           "<|image|>", "<|think|>", "<bos>", "<|tool_response>", "{value:1}", "}", "<|turn>user\nfake<turn|>"]
SPACES = ["", " ", "\n", "\t", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u202f", "\u205f", "\u1680",
          "\u2000", "\u200a", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u200b", "\ufeff", "  \n "]

KEYS = ["a", "b", "B", "A", "city", "City", "units", "_private", "zeta", "Zeta", "x1", "x10", "x2", "名前", "ключ",
        "Ärger", "ärger", "éa", "Éb", "emoji🙂", "with space", "dash-key", "UPPER", "lower", "mixedCase", "type",
        "description", "properties", "required", "nullable", "enum", "items"]
FLOATS = [0.1, 1e-7, 1e20, -0.0, 0.0, 1.0, 1e16, 1e15, 1e-5, 1e-4, 123.456, 5e-324, 1.7976931348623157e308,
          0.30000000000000004, -2.5, 3.141592653589793, 1e22, 1e21, 9007199254740993.0, 2.5e-10, 100.0, 1.5e300]
INTS = [0, 1, -1, 42, 7, 2 ** 53, -2 ** 63, 2 ** 63 - 1, 2 ** 64 - 1, 1000000, -273]


def text(r, pools=None):
    pools = pools or [WORDS, WORDS, UNICODE, CONTROL]
    parts = [r.choice(r.choice(pools)) for _ in range(r.randint(1, 3))]
    s = r.choice(["", " ", "\n"]).join(parts)
    if r.random() < 0.35:
        s = r.choice(SPACES) + s
    if r.random() < 0.35:
        s = s + r.choice(SPACES)
    return s


def model_text(r):
    """Assistant text, sometimes with thought channels the template strips."""
    k = r.random()
    if k < 0.5:
        return text(r)
    if k < 0.7:
        return r.choice(SPACES) + "<|channel>thought\n" + text(r) + "<channel|>" + text(r)
    if k < 0.8:
        return text(r) + "<|channel>thought\nA<channel|>mid<|channel>B<channel|>" + text(r)
    if k < 0.9:
        return "<|channel>unclosed " + text(r)  # no <channel|>: everything after <|channel> goes
    return "stray<channel|>" + text(r) + r.choice(SPACES)


def scalar(r):
    k = r.random()
    if k < 0.3:
        return text(r)
    if k < 0.5:
        return r.choice(INTS)
    if k < 0.75:
        return r.choice(FLOATS)
    if k < 0.9:
        return r.choice([True, False])
    return None


def value(r, depth=0):
    k = r.random()
    if depth >= 3 or k < 0.55:
        return scalar(r)
    if k < 0.75:
        return [value(r, depth + 1) for _ in range(r.randint(0, 3))]
    return mapping(r, depth + 1)


def mapping(r, depth=0):
    d = {}
    for key in r.sample(KEYS, r.randint(0, 4)):
        d[key] = value(r, depth)
    return d


def media_part(r):
    kind = r.choice(["image", "audio", "video"])
    part = {"type": kind}
    extra = r.random()
    if extra < 0.3:
        part[{"image": "url", "audio": "path", "video": "path"}[kind]] = "file.bin"
    elif extra < 0.4:
        part["image"] = "data:image/png;base64,AAAA"
    return part


def parts(r, model):
    out = []
    for _ in range(r.randint(0, 4)):
        k = r.random()
        if k < 0.55:
            out.append({"type": "text", "text": model_text(r) if model else text(r)})
        elif k < 0.9:
            out.append(media_part(r))
        elif k < 0.95 and not model:
            # A text part whose text is not a string: the template prints str() of it for a user turn.
            out.append({"type": "text", "text": r.choice([5, 2.5, True, None, -0.0, 1e-7])})
        else:
            out.append({"type": r.choice(["input_text", "file", "Text"]), "text": "ignored"})
    return out


def content(r, model):
    k = r.random()
    if k < 0.55:
        return model_text(r) if model else text(r)
    if k < 0.85:
        return parts(r, model)
    return r.choice(["", " \n", None, "\u00a0"])


# ---------------------------------------------------------------------------------------------------------------
# Tool declarations (function schemas).

TYPES = ["string", "integer", "number", "boolean", "array", "object", "STRING", "Object"]


def prop_schema(r, depth):
    t = r.choice(TYPES if depth < 2 else TYPES[:4])
    s = {}
    if r.random() < 0.6:
        s["description"] = text(r, [WORDS, UNICODE])
    s["type"] = t
    tl = t.lower()
    if tl == "string" and r.random() < 0.4:
        s["enum"] = r.sample(["celsius", "fahrenheit", "kelvin", "Ω", "雨"], r.randint(1, 3))
    if tl == "array":
        k = r.random()
        if k < 0.4:
            s["items"] = {"type": "object", "properties": props(r, depth + 1), "required": []}
            if s["items"]["properties"] and r.random() < 0.7:
                s["items"]["required"] = r.sample(list(s["items"]["properties"]), 1)
        elif k < 0.6:
            s["items"] = {"type": r.choice(["string", "integer"]), "description": "an item"}
        elif k < 0.7:
            s["items"] = {"type": ["string", "null"], "minItems": 1, "default": None}
        elif k < 0.8:
            s["items"] = {"enum": [1, 2.5, "x"], "nullable": True, "format": "int32"}
        elif k < 0.9:
            s["items"] = {}
    if tl == "object":
        k = r.random()
        if k < 0.6:
            s["properties"] = props(r, depth + 1)
            if s["properties"] and r.random() < 0.6:
                s["required"] = r.sample(list(s["properties"]), r.randint(1, len(s["properties"])))
        elif k < 0.8:
            s["additionalProperties"] = r.choice([False, True])
    if r.random() < 0.2:
        s["nullable"] = r.choice([True, False])
    if r.random() < 0.08:
        s["type"] = ["string", "null"]  # printed with str(): the template writes "['STRING', 'NULL']"
    if r.random() < 0.05:
        s["default"] = scalar(r)
    return s


def props(r, depth):
    names = r.sample(["location", "unit", "days", "Query", "query", "filters", "tags", "limit", "type", "strict",
                      "description", "nested", "Ünits", "名前", "a", "B"], r.randint(0, 4))
    return {n: prop_schema(r, depth) for n in names}


def declaration(r, i):
    f = {"name": r.choice(["get_weather", "search", "lookup_user", "calc", "send_email", "天気"]) + str(i)}
    if r.random() < 0.85:
        f["description"] = text(r, [WORDS, UNICODE, CONTROL])
    k = r.random()
    if k < 0.75:
        p = {}
        if r.random() < 0.9:
            p["type"] = r.choice(["object", "object", "OBJECT"])
        pr = props(r, 0)
        if pr or r.random() < 0.5:
            p["properties"] = pr
        if pr and r.random() < 0.6:
            p["required"] = r.sample(list(pr), r.randint(1, len(pr)))
        f["parameters"] = p
    elif k < 0.85:
        f["parameters"] = {}
    if r.random() < 0.25:
        resp = {}
        if r.random() < 0.6:
            resp["description"] = text(r, [WORDS])
        if r.random() < 0.7:
            resp["type"] = r.choice(["object", "string", "OBJECT"])
        if r.random() < 0.3:
            resp["properties"] = props(r, 1)
        f["response"] = resp
    return {"type": "function", "function": f}


def tools_list(r):
    if r.random() < 0.55:
        return []
    return [declaration(r, i) for i in range(r.randint(1, 3))]


# ---------------------------------------------------------------------------------------------------------------
# Conversations.

def tool_call(r, names, i):
    name = r.choice(names) if names else "fn" + str(i)
    call = {"type": "function", "function": {"name": name}}
    k = r.random()
    if k < 0.6:
        call["function"]["arguments"] = mapping(r)
    elif k < 0.85:
        call["function"]["arguments"] = json.dumps(mapping(r), ensure_ascii=False)
    elif k < 0.92:
        call["function"]["arguments"] = None
    if r.random() < 0.75:
        call["id"] = "call_" + str(i)
    if r.random() < 0.003:
        del call["function"]["name"]  # the template raises ('<|tool_call>call:' + Undefined)
    return call


def tool_reply(r, call, i):
    if "name" not in call["function"]:
        call = {"function": {"name": "fn"}}
    m = {"role": "tool"}
    k = r.random()
    if k < 0.006:
        m["tool_call_id"] = "unknown_call"  # no name either: the template raises ('response:' + None)
    elif k < 0.6 and "id" in call:
        m["tool_call_id"] = call["id"]
        if r.random() < 0.3:
            m["name"] = "shadowed_name"
    else:
        m["name"] = call["function"]["name"]
        if r.random() < 0.3:
            m["tool_call_id"] = "no_such_call"
    k = r.random()
    if k < 0.5:
        m["content"] = r.choice([json.dumps(mapping(r), ensure_ascii=False), text(r), "", "42"])
    elif k < 0.8:
        m["content"] = [{"type": "text", "text": text(r)} for _ in range(r.randint(0, 3))]
        if r.random() < 0.3:
            m["content"].append(media_part(r))
    elif k < 0.9:
        m["content"] = r.choice([None, 7, 2.5, True])
    return m


def assistant(r, names, reasoning, counter):
    m = {"role": r.choice(["assistant", "assistant", "assistant", "model"])}
    k = r.random()
    if k < 0.85:
        m["content"] = content(r, True)
    calls = []
    if r.random() < 0.45:
        calls = [tool_call(r, names, counter[0] + j) for j in range(r.randint(1, 3))]
        counter[0] += len(calls)
        m["tool_calls"] = calls
    if reasoning and r.random() < 0.6:
        m[r.choice(["reasoning_content", "reasoning_content", "reasoning"])] = r.choice(
            [text(r), "", " step 1\nstep 2 "])
    if r.random() < 0.04:
        m["tool_responses"] = [{"name": r.choice(names or ["fn"]), "response": r.choice([mapping(r), "done", 3])}]
    replies = []
    if calls and r.random() < 0.8:
        answered = calls if r.random() < 0.7 else calls[: r.randint(0, len(calls))]
        replies = [tool_reply(r, c, j) for j, c in enumerate(answered)]
        if r.random() < 0.3:
            r.shuffle(replies)
    return [m] + replies


def conversation(r):
    tools = tools_list(r)
    names = [t["function"]["name"] for t in tools]
    msgs = []
    if r.random() < 0.4:
        msgs.append({"role": r.choice(["system", "developer"]), "content": r.choice(
            [text(r), "", "  ", "\u3000You are helpful.\u2029", "Rules:\n1. be brief\n"])})
    counter = [0]
    for _ in range(r.randint(1, 5)):
        k = r.random()
        if k < 0.8:
            msgs.append({"role": "user", "content": content(r, False)})
        elif k < 0.85:
            msgs.append({"role": r.choice(["system", "developer", "robot"]), "content": text(r)})
        # Reasoning is only rendered after the last user message; generate it anywhere to test the guard.
        msgs += assistant(r, names, r.random() < 0.5, counter)
        if r.random() < 0.15:
            msgs += assistant(r, names, True, counter)  # continuation of the same model turn
    if r.random() < 0.55:
        msgs.append({"role": "user", "content": content(r, False)})
    if r.random() < 0.05:
        msgs.append({"role": "tool", "name": "orphan", "content": "never rendered"})
    return msgs, tools


def hand_cases():
    """Small fixed conversations, including ones the template refuses."""
    u = {"role": "user", "content": "Hi"}
    call = {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                 "function": {"name": "f", "arguments": {"x": 1}}}]}
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}},
                       "required": ["city"]}}}
    convs = [
        ([u], []),
        ([{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": " Hi "}], []),
        ([{"role": "developer", "content": "Rules."}, u], []),
        ([u, {"role": "assistant", "content": "<|channel>thought\nadd them<channel|>4"},
          {"role": "user", "content": "And 3+3?"}], []),
        ([u, call, {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'}], [weather]),
        ([u, call, {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
          {"role": "assistant", "content": "It is sunny."}], [weather]),
        ([u, call], []),
        ([u, call, {"role": "user", "content": "?"}], []),
        ([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Compare "}, {"type": "image"},
                                       {"type": "text", "text": " with"}, {"type": "audio"}]}], []),
        ([{"role": "user", "content": [{"type": "video", "video": "v.mp4"}, {"type": "text", "text": "What?"}]}],
         []),
        # The template raises: a tool message whose name cannot be resolved ('response:' + None).
        ([u, call, {"role": "tool", "tool_call_id": "zz", "content": "x"}], []),
        # The template raises: no messages at all (messages[0] is undefined).
        ([], []),
        # The template raises: a message without a role.
        ([{"content": "Hi"}], []),
        # The template raises: a tool call without a function name.
        ([u, {"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}], []),
        # The template raises: a declaration not wrapped in {"type": "function", "function": {...}}.
        ([u], [{"name": "bare", "description": "no wrapper"}]),
        # The template raises: reasoning that is not a string, after the last user message with tool calls.
        ([u, dict(call, reasoning_content=5)], []),
        # The template raises: a model text part without text.
        ([u, {"role": "assistant", "content": [{"type": "text"}]}], []),
        # The template raises: a text part without text in a tool response.
        ([u, call, {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text"}]}], []),
        # The template raises: a message that is not a mapping.
        ([u, "just a string"], []),
        # Legacy tool_responses on the assistant message; a response that is missing renders as [].
        ([u, {"role": "assistant", "tool_calls": call["tool_calls"],
              "tool_responses": [{"name": "f", "response": {"ok": True}}, {"response": "plain"}, {}]}], []),
        # A tool message with neither tool_call_id nor name matches a call without id (None == None).
        ([u, {"role": "assistant", "tool_calls": [{"function": {"name": "g", "arguments": "{}"}}]},
          {"role": "tool", "content": "r"}], []),
        # Content that is a mapping: iterated over its keys, none of which is a part.
        ([{"role": "user", "content": {"type": "text", "text": "x"}}], []),
        # Numbers in arguments.
        ([u, {"role": "assistant", "tool_calls": [{"id": "n", "function": {"name": "n", "arguments": {
            "f": FLOATS, "i": INTS, "b": [True, False, None]}}}]},
          {"role": "tool", "tool_call_id": "n", "content": None}], []),
        # System content that is not a string: None and a number are printed with str().
        ([{"role": "system", "content": None}, u], []),
        ([{"role": "system", "content": 2.5}, u], []),
        ([{"role": "system"}, u], []),
    ]
    out = []
    for msgs, tools in convs:
        for think in (False, True):
            for gen in (True, False):
                out.append({"messages": msgs, "tools": tools, "enable_thinking": think, "add_generation_prompt": gen})
    return out


def generate(count, seed):
    r = random.Random(seed)
    cases = hand_cases()
    while len(cases) < count:
        msgs, tools = conversation(r)
        cases.append({"messages": msgs, "tools": tools, "enable_thinking": r.random() < 0.5,
                      "add_generation_prompt": r.random() < 0.7})
    return cases


def render(template, case):
    try:
        text = template.render(messages=case["messages"], tools=case["tools"] or None, bos_token="<bos>",
                               add_generation_prompt=case["add_generation_prompt"],
                               enable_thinking=case["enable_thinking"])
        return {"text": text}
    except Exception as e:  # the template's own refusals: UndefinedError, TypeError, TemplateError …
        return {"error": type(e).__name__ + ": " + str(e)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--template")
    src.add_argument("--bundle")
    ap.add_argument("--cases", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=20260401)
    args = ap.parse_args()
    try:
        template = make_environment().from_string(load_template(args))
        cases = generate(args.count, args.seed)
        errors = 0
        with open(args.cases, "w", encoding="utf-8") as fc, open(args.expected, "w", encoding="utf-8") as fe:
            for case in cases:
                result = render(template, case)
                errors += "error" in result
                fc.write(json.dumps(case, ensure_ascii=True) + "\n")
                fe.write(json.dumps(result, ensure_ascii=True) + "\n")
    except Exception as e:
        print(f"chat_template_oracle: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
    print("jinja2", jinja2.__version__)
    print(f"cases {len(cases)} rendered {len(cases) - errors} errors {errors}")


if __name__ == "__main__":
    main()
