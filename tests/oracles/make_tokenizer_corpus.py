#!/usr/bin/env python3
"""Writes tests/oracles/tokenizer_corpus.txt: text lines that stress a Gemma tokenizer.

One test input per line; lines are separated by "\\n" only, so tabs, carriage returns and other
control characters stay inside their line. Runs of empty lines are there on purpose: encoding the
whole file at once covers runs of newlines. The output is a pure function of SEED.

    python3 tests/oracles/make_tokenizer_corpus.py [--out FILE]
"""
import argparse
import os
import random

SEED = 20260604

WORDS = {
    "english": "the quick brown fox jumps over lazy dog tokenizer merges bytes model weights "
               "attention layer window image audio video frame patch prompt answer question "
               "don't it's we're they'll I'd you've o'clock state-of-the-art e-mail".split(),
    "german": "Straße Größe Übermäßig Fußgängerübergang Donaudampfschifffahrt schön über "
              "Äpfel Öl müssen Bäckerei Zürich".split(),
    "french": "garçon où déjà être naïve cœur français élève Noël hôpital œuvre "
              "aujourd'hui s'il vous plaît".split(),
    "spanish": "niño año mañana corazón ¿qué? ¡hola! pingüino canción".split(),
    "polish_czech_turkish": "zażółć gęślą jaźń příliš žluťoučký kůň úpěl ğüşiöç İstanbul ıspanak".split(),
    "vietnamese": "Tiếng Việt người được những chữ quốc ngữ đẹp lắm".split(),
    "russian": "Съешь же ещё этих мягких французских булок да выпей чаю привет мир токенизатор".split(),
    "ukrainian": "Гей ґанок їжак європейський щастя".split(),
    "greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία καλημέρα κόσμε Αθήνα ελληνικά".split(),
    "chinese": list("我们的模型在这里处理文本图像和音频数据它是一个非常大的语言模型中文测试") +
               ["北京", "上海", "人工智能", "机器学习", "分词器", "繁體中文", "臺灣"],
    "japanese": ["こんにちは", "世界", "ひらがな", "カタカナ", "トークナイザー", "日本語", "東京",
                 "ありがとう", "ございます", "ｶﾀｶﾅ", "漢字", "です", "ます", "ゃゅょっ", "ヴァイオリン"],
    "korean": ["안녕하세요", "세계", "한국어", "토크나이저", "서울", "감사합니다", "읽다", "값", "닭"],
    "arabic": "مرحبا بالعالم اللغة العربية النموذج الكبير كتاب مدرسة سلام عليكم".split(),
    "hebrew": "שלום עולם עברית מודל שפה גדול ספר".split(),
    "hindi": "नमस्ते दुनिया हिन्दी भाषा मॉडल क्षत्रिय ज्ञान श्री".split(),
    "bengali_tamil": "বাংলা ভাষা தமிழ் மொழி".split(),
    "thai": ["สวัสดี", "ชาวโลก", "ภาษาไทย", "โมเดล", "ภาษา", "ขนาดใหญ่", "กรุงเทพมหานคร"],
    "georgian_armenian_ethiopic": "ქართული ენა Հայերեն լեզու ኢትዮጵያ አማርኛ".split(),
}

EMOJI = [
    "😀", "😂", "🥲", "🤖", "🧠", "🚀", "🔥", "✨", "❤️", "❤", "👍", "👍🏻", "👍🏽", "👍🏿", "👋🏼",
    "👩‍💻", "👨‍👩‍👧‍👦", "🧑🏾‍🚀", "🏳️‍🌈", "🏴‍☠️", "❤️‍🔥", "👁️‍🗨️", "🤷🏽‍♀️", "🧔🏻‍♂️",
    "🇯🇵", "🇺🇸", "🇩🇪", "🇫🇷", "🇧🇷", "🇮🇳", "🇪🇺", "🇺🇳", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "1️⃣", "#️⃣", "*️⃣", "©️", "™️", "☺︎", "☺️", "🫠", "🪿", "🫶🏽",
]

COMBINING = [
    "e\u0301", "a\u0300\u0316", "n\u0303", "o\u0308\u0304", "A\u030a", "i\u0307\u0301",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034d",
    "\u1100\u1161\u11a8", "\u0915\u094d\u0937", "\u0e01\u0e34\u0e4a", "\u05e9\u05c1\u05b8", "\u0627\u064e\u0644\u0652",
    "\u0301", "\u20dd", "a\u20d7", "q\u0307\u0323",
]

ODD_UNICODE = [
    "\ufffd", "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\U0010ffff", "\ufffe", "\uffff", "\ufeff",
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\u00a0",
    "\u2007", "\u202f", "\u3000", "\u00ad", "\u2028", "\u2029", "\u0085", "\u2581", "\u2581\u2581",
    "\U0001d518\U0001d52b\U0001d526", "\U00010330\U00010331", "\U00012000", "\U0001d11e", "\U0001f600",
    "\U000e0061\U000e007f", "\ufe0f", "\U000e0100", "\u2062", "\u2063", "\u00b5\u03bc", "\u212b\u00c5",
    "\ufb01", "\u2126", "\u00bd", "\u2153", "\u2460", "\u24b6", "\uff21\uff22\uff23", "\u3131", "\u1e9e",
]

CONTROL = ["\t", "\r", "\x01", "\x02", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80",
           "\x9f", "\x1b[31m", "\r\r", "\t\t\t"]

SPECIAL_LOOKALIKES = [
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>", "<end_of_turn>",
    "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<unused0>", "<unused17>", "<unused6241>",
    "<unused6242>", "<|turn>", "<turn|>", "<|image>", "<image|>", "<|image|>", "<|audio>", "<audio|>",
    "<|audio|>", "<|video|>", "<|think|>", "<|channel>", "<channel|>", "<|tool>", "<tool|>", "<|tool_call>",
    "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>", "<bo", "<bos", "bos>", "<<bos>>",
    "< bos>", "<BOS>", "</s>", "<s>", "<0x41>", "<0x0A>", "<0xZZ>", "<table>", "</td>", "<h1>", "<b>", "</b>",
    "<start_of_turn>user", "<end_of_turn>\u2581", "<bos><bos>", "<|endoftext|>", "<|im_start|>",
]

CODE = [
    "#include <vector>", "#include <string_view>", "int main(int argc, char** argv) {",
    "    std::vector<int> ids = tokenizer.encode(\"Hello\\n\");", "    for (auto& x : v) { sum += x * 2; }",
    "\treturn a->b.c[i] << 3 | (d & 0xff);", "template <typename T> constexpr T clamp(T x) noexcept;",
    "  if (n != 0 && (n & (n - 1)) == 0) return true;  // power of two", "};",
    "def encode(self, text: str) -> list[int]:", "    return [self.vocab.get(c, 3) for c in text]",
    "        print(f\"{name!r:>10} = {value:.3f}\")", "if __name__ == \"__main__\":", "lambda x: x ** 2 // 3",
    "    raise ValueError(\"bad input: %s\" % repr(s))", "import numpy as np; a = np.zeros((3, 4), dtype=np.float32)",
    '{"model": {"type": "BPE", "vocab": {"<pad>": 0, "\\u2581": 236743}, "merges": [["a", "b"]]}}',
    '  "added_tokens": [{"id": 2, "content": "<bos>", "special": true}],', "[1, 2.5e-3, -0.0, null, true, false]",
    "$ ls -la /usr/lib | grep -E '^d' | wc -l && echo done", "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "<div class=\"a\"><span>x &amp; y</span></div>", "fn main() { println!(\"{:?}\", vec![1, 2, 3]); }",
    "x := make(map[string]int); x[\"k\"]++", "const f = async (a, b) => { await g(a ?? b); };",
    "\\begin{equation} E = mc^2 \\end{equation}", "// TODO(someone): handle the edge case", "/* block */ /** doc */",
    "a==b!=c<=d>=e&&f||g->h::i", "0x7fffffff 0b1010 1e10 3.14159 -42 1_000_000",
]

URLS = [
    "https://huggingface.co/google/gemma-3-12b-it/blob/main/tokenizer.json",
    "http://example.com:8080/path/to/page.html?query=a+b&x=%20%E2%96%81#frag",
    "ftp://ftp.example.org/pub/file.tar.gz", "mailto:someone@example.com", "www.example.co.uk/index.php",
    "https://ja.wikipedia.org/wiki/日本語", "https://example.com/?q=😀", "file:///tmp/a%20b/c.txt",
    "git@github.com:org/repo.git", "192.168.0.1:443", "[2001:db8::1]:80", "user.name+tag@sub.domain.io",
]


def sentence(rng, lang, n_min=3, n_max=14):
    words = WORDS[lang]
    sep = "" if lang in ("chinese", "japanese", "thai") and rng.random() < 0.7 else " "
    text = sep.join(rng.choice(words) for _ in range(rng.randint(n_min, n_max)))
    punct = {"chinese": "。", "japanese": "。", "arabic": "؟", "hindi": "।", "greek": ";", "thai": ""}.get(lang, ".")
    return text + (punct if rng.random() < 0.7 else rng.choice(["!", "?", "…", ",", ":", ""]))


def random_code_point(rng):
    ranges = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff), (0x900, 0x97f),
              (0xe00, 0xe7f), (0x1100, 0x11ff), (0x2000, 0x2bff), (0x3000, 0x30ff), (0x4e00, 0x9fff),
              (0xac00, 0xd7a3), (0xe000, 0xf8ff), (0xf900, 0xfffd), (0x10000, 0x1ffff), (0x20000, 0x2fa1f),
              (0xe0000, 0xe01ef), (0xf0000, 0x10ffff)]
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def whitespace_line(rng):
    parts = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if kind < 0.4:
            parts.append(" " * rng.randint(1, 40))
        elif kind < 0.6:
            parts.append("\t" * rng.randint(1, 35))
        elif kind < 0.7:
            parts.append(rng.choice([" \t", "\t ", " \r", "\r ", "\u3000", "\u00a0", " \u2581 "]) * rng.randint(1, 5))
        else:
            parts.append(rng.choice(WORDS["english"]))
    return "".join(parts)


def mixed_line(rng):
    pools = [
        lambda: sentence(rng, rng.choice(list(WORDS)), 1, 5),
        lambda: rng.choice(EMOJI),
        lambda: rng.choice(COMBINING),
        lambda: rng.choice(ODD_UNICODE),
        lambda: rng.choice(CONTROL),
        lambda: rng.choice(SPECIAL_LOOKALIKES),
        lambda: rng.choice(URLS),
        lambda: rng.choice(CODE),
        lambda: str(rng.randint(0, 10 ** rng.randint(1, 30))),
        lambda: "".join(random_code_point(rng) for _ in range(rng.randint(1, 8))),
        lambda: " " * rng.randint(1, 12),
    ]
    joiner = rng.choice(["", " ", "  ", "\t"])
    return joiner.join(rng.choice(pools)() for _ in range(rng.randint(2, 9)))


def repetition_line(rng):
    unit = rng.choice(["a", "ab", "aba", "=", "-", ".", "!", "_", "*", "#", "0", "01", "ha", "\u2581", "é", "中",
                       "😀", "👍🏽", " a", "a ", "\t", "la ", "ðŸ", "<", "<>", "</", "\\", "/", "~"])
    return unit * rng.randint(2, 80)


def build(rng):
    lines = []
    add = lines.append

    # Fixed edge cases first, so that a change of generator keeps them at the top.
    add("")
    for s in ["a", " ", "  ", " a", "a ", "  a  ", "\t", "\r", "\x01", "\x7f", "\u2581", "\u2581\u2581", "\u2581 ",
              "Hello, world!", "Hello world", "hello  world", "HELLO WORLD", "user", "model", "system",
              "<bos>", "<start_of_turn>user", "<start_of_turn>user Hi<end_of_turn>", "<|turn>user Hi<turn|>",
              "<|channel>thought <channel|>", "<|\"|>quoted<|\"|>", "<unused99>x<unused100>", "<0x41><0x42>",
              "\ufffd\ufffd", "\U0010ffff", "\ue000\ue001", "e\u0301 vs \u00e9", "\u212b vs \u00c5 vs A\u030a",
              "👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "🇯🇵🇺🇸🇩🇪", "1234567890", "3.14159265358979323846", "ｆｕｌｌｗｉｄｔｈ",
              "mixed\tTABS\tand spaces  here", "trailing cr\r", "\rleading cr", "x\x1b[0my"]:
        add(s)
    for lang in WORDS:
        for _ in range(45):
            add(sentence(rng, lang))
    for _ in range(120):
        add(" ".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 8))))
    for _ in range(60):
        add(" ".join(rng.choice(WORDS["english"]) + rng.choice(COMBINING) for _ in range(rng.randint(1, 6))))
    for _ in range(3):
        for c in CODE:
            add(rng.choice(["", " " * rng.randint(1, 16), "\t" * rng.randint(1, 4)]) + c)
    for u in URLS:
        add(u)
        add("See " + u + " for details.")
    for t in SPECIAL_LOOKALIKES:
        add(t)
        add("text " + t + " more" + rng.choice(["", " ", "\t", "  "]) + t + t)
    for o in ODD_UNICODE:
        add("x" + o + "y " + o + o)
    for c in CONTROL:
        add("ctrl" + c + "char " + c + c + " end")
    for _ in range(150):
        add(whitespace_line(rng))
    for _ in range(150):
        add(repetition_line(rng))
    for _ in range(150):
        add("".join(random_code_point(rng) for _ in range(rng.randint(1, 40))))
    for _ in range(400):
        add(mixed_line(rng))
    for _ in range(4):  # long lines: a long BPE span with no added token inside
        add(" ".join(sentence(rng, rng.choice(list(WORDS)), 20, 60) for _ in range(rng.randint(20, 60))))

    # Blocks of empty lines: newline runs shorter and longer than the longest newline token (31).
    blocks = [1, 2, 3, 5, 30, 31, 32, 40]
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 150 == 75 and blocks:
            out.extend([""] * blocks.pop(0))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "tokenizer_corpus.txt"))
    args = parser.parse_args()
    lines = build(random.Random(SEED))
    for line in lines:
        assert "\n" not in line and "\x00" not in line
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {args.out}")


if __name__ == "__main__":
    main()
