#!/usr/bin/env python3
"""Writes the small bundled multimodal benchmark sets under datasets/bundled/, deterministically.

Every item is SYNTHETIC: documents, charts, diagrams, speech and videos rendered here (Pillow with the DejaVu fonts,
espeak-ng, sox, ffmpeg), laid out in the exact published form of each benchmark (file names, folders, field names,
field order, types), so that the harness's readers, media decoders, prompt templates, extraction and scoring run end to
end without the real data (gated, large or unreachable offline). The content is not the benchmark's and no score on it
means anything about a model. Each text record carries the marker "[synthetic g4ref item, not from the benchmark]" in a
field no scorer compares (named per set below), and every image and video frame carries a small "synthetic g4ref"
footer.

  /usr/bin/python3 datasets/make_bundled_media.py          rewrites the sets below; reruns are byte-identical (with
                                                           the same Debian packages: Pillow, zlib, FreeType, espeak-ng,
                                                           sox, ffmpeg with libx264 and libmp3lame)
  /usr/bin/python3 datasets/make_bundled_media.py --documents N --out DIR
                                                           writes only DIR/val_v1.0.json and DIR/documents/*.png: a
                                                           DocVQA-layout set of N questions over N distinct rendered
                                                           documents (a memory test; not bundled; 2,000 in seconds)

Sets (path under datasets/bundled/, the published form it follows, count; where the marker is):

  docvqa/val_v1.0.json, docvqa/documents/*.png
      DocVQA's annotation JSON (dataset_name, dataset_version, dataset_split, data[questionId, question,
      question_types, image, docId, ucsf_document_id, ucsf_document_page_no, answers, data_split]);
      8 questions over 4 grayscale documents; marker: last entry of question_types.
  infographicvqa/infographicsVQA_val_v1.0_withQT.json, infographicvqa/infographicsvqa_images/*.jpeg
      InfographicVQA's annotation JSON (data[questionId, question, image_local_name, image_url, ocr_output_file,
      answers, data_split, answer_type, evidence, operation/reasoning]); 6 questions over 3 JPEG infographics
      (quality 90); marker: last entry of evidence.
  mmmu_pro/standard_10.jsonl + standard_10_media/*.png, mmmu_pro/vision.jsonl + vision_media/*.png
      MMMU/MMMU_Pro "standard (10 options)" and "vision" as datasets/convert/convert.mjs writes the Parquet files
      (one compact JSON object per row in column order; image cells become files named ROW_COLUMN_COUNT.png and the
      cell their path relative to the .jsonl; options a string holding a Python list literal); 6 + 6 items, the
      vision rows being screenshots of the standard rows (same id, options, answer); marker: standard explanation,
      vision screenshots only (that config has no free-text field).
  math_vision/test.jsonl, math_vision/images/*.png
      MATH-Vision's GitHub release (id, question, options, image, answer, solution, level, subject); 6 items, 3 with
      five options (answer a letter), 3 free-form (answer an integer as a string); marker: solution.
  fleurs/{en_us,de_de,fr_fr,es_419,ja_jp}/test.tsv, fleurs/<lang>/audio/test/<file_name>
      FLEURS's original release: a TSV without header whose columns are the ones google/fleurs' loading script
      splits each line into: id, file_name, raw_transcription, transcription, (a column the loader discards),
      num_samples, gender (MALE/FEMALE); 16 kHz mono 16-bit PCM WAV. 3 parallel sentences per language spoken by
      espeak-ng (ja_jp in kana, which its Japanese voice reads; scored by characters); marker: the discarded column.
  covost2/covost_v2.{de,fr,es}_en.test.tsv, covost2/clips/common_voice_<src>_<n>.mp3
      CoVoST 2 split TSVs as facebookresearch/covost get_covost_splits.py writes them (header path, sentence,
      translation, client_id; tab-separated, no quoting); 48 kHz mono MP3 clips; 3 sentences per language spoken by
      espeak-ng, with a reference English translation; marker: client_id.
  video_qa/video_qa.jsonl, video_qa/videos/<videoID>.mp4
      lmms-lab/Video-MME's rows as convert.mjs writes them (video_id, duration, domain, sub_category, url, videoID,
      question_id, task_type, question, options, answer); 4 questions over 2 eight-second H.264 videos (192x144,
      4 fps, content changing each second, no audio); marker: url.
  mrcr/8needle.jsonl
      openai/mrcr as convert.mjs writes it (prompt: a JSON string of chat messages, a user preamble then user/assistant
      pairs then the final user question; answer; random_string_to_prepend; n_needles; desired_msg_index, the index of
      the needle's user request, its reply following it; total_messages; n_chars, taken here as the characters of all
      message contents; date_added); 3 conversations with 8 needles, one about three times longer than the others;
      marker: the preamble message.
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import unicodedata
import wave

from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled")
LETTERS = "ABCDEFGHIJ"
NOTE = "[synthetic g4ref item, not from the benchmark]"
FOOTER = "synthetic g4ref image"
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
BITEXACT = ["-fflags", "+bitexact", "-flags", "+bitexact", "-map_metadata", "-1"]
_fonts = {}


# ---- files ------------------------------------------------------------------------------------------------------

def out(root, rel):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def write(root, rel, text):
    with open(out(root, rel), "w", encoding="utf-8", newline="") as f:
        f.write(text)


def jsonl(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def converter_jsonl(rows):
    # convert.mjs writes JSON.stringify(row): no spaces, non-ASCII as is; for these values Python's compact dump
    # gives the same bytes.
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)


def save_png(img, path):
    img.info = {}  # no text, time or dpi chunks
    img.save(path, format="PNG", optimize=False, compress_level=9)


def save_jpeg(img, path):
    img.info = {}
    img.save(path, format="JPEG", quality=90, optimize=False, progressive=False)


def run(cmd, stdin=None):
    subprocess.run(cmd, input=stdin, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# ---- drawing ----------------------------------------------------------------------------------------------------

def font(size, style="sans"):
    files = {"sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "serif": "DejaVuSerif.ttf",
             "serif-bold": "DejaVuSerif-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
    key = (size, style)
    if key not in _fonts:
        _fonts[key] = ImageFont.truetype(os.path.join(FONT_DIR, files[style]), size)
    return _fonts[key]


def wrap(text, f, width):
    lines, line = [], ""
    for word in text.split():
        trial = (line + " " + word).strip()
        if line and f.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def footer(draw, size, text=FOOTER, fill=128):
    w, h = size
    f = font(9)
    draw.text((w - 4 - f.getlength(text), h - 13), text, fill=fill, font=f)


def centered(draw, xy, text, f, fill):
    x, y = xy
    draw.text((x - f.getlength(text) / 2, y), text, fill=fill, font=f)


# ---- DocVQA -----------------------------------------------------------------------------------------------------
# Each document: (ucsf_document_id, page, docId, title, key/value lines, table rows, questions); a question is
# (text, question type, accepted answers), every answer drawn in the image.
DOCUMENTS = [
    ("fkxb0412", "3", 1401, "INVOICE",
     [("Vendor", "Northwind Supply Co."), ("Invoice No.", "INV-20417"), ("Date", "March 14, 1994"),
      ("Bill To", "Harbor Clinic"), ("Amount Due", "$1,250.00")],
     [],
     [("What is the invoice number?", "form", ["INV-20417", "INV 20417"]),
      ("What is the amount due?", "form", ["$1,250.00", "1,250.00", "$1250.00"])]),
    ("qlmn0737", "1", 2288, "MEMORANDUM",
     [("To", "All Research Staff"), ("From", "Dr. L. Okafor"), ("Date", "June 2, 1995"),
      ("Subject", "Laboratory safety review")],
     [],
     [("Who is the memo from?", "layout", ["Dr. L. Okafor", "L. Okafor"]),
      ("What is the subject of the memo?", "layout", ["Laboratory safety review"])]),
    ("zgrw0158", "2", 3075, "REGISTRATION FORM",
     [("Name", "Maria Jensen"), ("Employee ID", "58-3321"), ("Department", "Quality Control"),
      ("Phone", "(555) 014-2290"), ("Start Date", "09/01/1996")],
     [],
     [("What is the employee ID?", "form", ["58-3321"]),
      ("Which department is listed on the form?", "form", ["Quality Control"])]),
    ("hvtd0903", "5", 4112, "SHIPPING NOTICE",
     [("Carrier", "Blue Line Freight"), ("Tracking No.", "BL-7720-Q")],
     [("Item", "Qty"), ("Filter paper", "12"), ("Glass vials", "40"), ("Labels", "300")],
     [("How many glass vials were shipped?", "table/list", ["40", "forty"]),
      ("What is the tracking number?", "form", ["BL-7720-Q"])]),
]
MEMO_BODY = ("Please review the attached checklist before Friday and return it to the front office. "
             "Rooms that have not been checked will be closed until the review is complete.")


def render_document(title, fields, table, body, size=(360, 480)):
    img = Image.new("L", size, 255)
    d = ImageDraw.Draw(img)
    w, _ = size
    centered(d, (w / 2, 22), title, font(20, "serif-bold"), 0)
    d.line((24, 56, w - 24, 56), fill=0, width=2)
    y = 72
    for key, value in fields:
        d.text((28, y), key + ":", fill=0, font=font(13, "bold"))
        d.text((140, y), value, fill=0, font=font(13))
        y += 26
    if table:
        y += 8
        for i, (a, b) in enumerate(table):
            f = font(13, "bold" if i == 0 else "sans")
            d.text((40, y), a, fill=0, font=f)
            d.text((240, y), b, fill=0, font=f)
            y += 22
            if i == 0:
                d.line((36, y - 3, w - 36, y - 3), fill=0, width=1)
        d.rectangle((32, y - 22 * len(table) - 6, w - 32, y + 2), outline=0)
    if body:
        y += 12
        for line in wrap(body, font(12, "serif"), w - 56):
            d.text((28, y), line, fill=0, font=font(12, "serif"))
            y += 18
    footer(d, size, "synthetic g4ref document, not from the benchmark", fill=96)
    return img


def docvqa(root):
    data, qid = [], 57341
    for ucsf, page, doc_id, title, fields, table, questions in DOCUMENTS:
        name = f"documents/{ucsf}_{page}.png"
        body = MEMO_BODY if title == "MEMORANDUM" else ""
        save_png(render_document(title, fields, table, body), out(root, "docvqa/" + name))
        for question, qtype, answers in questions:
            data.append({"questionId": qid, "question": question, "question_types": [qtype, NOTE], "image": name,
                         "docId": doc_id, "ucsf_document_id": ucsf, "ucsf_document_page_no": page,
                         "answers": answers, "data_split": "val"})
            qid += 7
    doc = {"dataset_name": "docvqa", "dataset_version": "1.0", "dataset_split": "val", "data": data}
    write(root, "docvqa/val_v1.0.json", json.dumps(doc, ensure_ascii=False) + "\n")
    return len(data)


def docvqa_stress(n, root):
    """N questions over N distinct small documents, for a memory test of many images."""
    rng = random.Random(20260604)
    data = []
    for i in range(n):
        invoice = f"INV-{rng.randint(10000, 99999)}"
        amount = f"${rng.randint(10, 9999)}.{rng.randint(0, 99):02d}"
        img = Image.new("L", (224, 160), 255)
        d = ImageDraw.Draw(img)
        d.text((12, 10), "INVOICE", fill=0, font=font(16, "serif-bold"))
        d.text((12, 44), "Invoice No.: " + invoice, fill=0, font=font(12))
        d.text((12, 66), f"Item count: {rng.randint(1, 40)}", fill=0, font=font(12))
        d.text((12, 88), "Amount Due: " + amount, fill=0, font=font(12))
        footer(d, (224, 160), "synthetic g4ref document", fill=96)
        name = f"documents/strs{i:05d}_1.png"
        img.info = {}
        img.save(out(root, name), format="PNG", compress_level=1)
        data.append({"questionId": 100000 + i, "question": "What is the invoice number?",
                     "question_types": ["form", NOTE], "image": name, "docId": 90000 + i,
                     "ucsf_document_id": f"strs{i:05d}", "ucsf_document_page_no": "1", "answers": [invoice],
                     "data_split": "val"})
    doc = {"dataset_name": "docvqa", "dataset_version": "1.0", "dataset_split": "val", "data": data}
    write(root, "val_v1.0.json", json.dumps(doc, ensure_ascii=False) + "\n")
    return n


# ---- InfographicVQA ---------------------------------------------------------------------------------------------

def bar_chart(d, box, labels, values, color, f):
    x0, y0, x1, y1 = box
    top = max(values)
    slot = (x1 - x0) / len(values)
    d.line((x0, y1, x1, y1), fill=(60, 60, 60), width=2)
    for i, (label, value) in enumerate(zip(labels, values)):
        bx = x0 + i * slot + slot * 0.18
        bh = (y1 - y0 - 18) * value / top
        d.rectangle((bx, y1 - bh, bx + slot * 0.64, y1 - 1), fill=color)
        centered(d, (bx + slot * 0.32, y1 - bh - 15), str(value), f, (40, 40, 40))
        centered(d, (bx + slot * 0.32, y1 + 4), label, f, (40, 40, 40))


def render_infographic(kind, size=(320, 560)):
    img = Image.new("RGB", size, (250, 247, 240))
    d = ImageDraw.Draw(img)
    w, h = size
    if kind == 0:
        d.rectangle((0, 0, w, 70), fill=(30, 90, 150))
        centered(d, (w / 2, 20), "CITY CYCLING 2025", font(22, "bold"), (255, 255, 255))
        d.rectangle((16, 86, w / 2 - 8, 206), fill=(240, 150, 40))
        centered(d, (w / 4 + 4, 100), "42%", font(40, "bold"), (255, 255, 255))
        for i, line in enumerate(["of commuters", "cycle to work"]):
            centered(d, (w / 4 + 4, 152 + 20 * i), line, font(13), (255, 255, 255))
        d.rectangle((w / 2 + 8, 86, w - 16, 206), fill=(60, 160, 110))
        centered(d, (3 * w / 4 - 4, 100), "18 km", font(34, "bold"), (255, 255, 255))
        for i, line in enumerate(["average daily", "round trip"]):
            centered(d, (3 * w / 4 - 4, 152 + 20 * i), line, font(13), (255, 255, 255))
        centered(d, (w / 2, 232), "Bike trips per weekday (thousands)", font(13, "bold"), (30, 30, 30))
        bar_chart(d, (24, 262, w - 24, 480), ["Mon", "Tue", "Wed", "Thu", "Fri"], [31, 35, 33, 41, 27],
                  (30, 90, 150), font(11))
    elif kind == 1:
        d.rectangle((0, 0, w, 70), fill=(150, 40, 60))
        centered(d, (w / 2, 20), "HOME ENERGY USE", font(22, "bold"), (255, 255, 255))
        blocks = [("Heating", "45%", (220, 90, 60)), ("Appliances", "25%", (90, 120, 200)),
                  ("Water", "20%", (60, 170, 190)), ("Lighting", "10%", (230, 190, 50))]
        for i, (label, share, color) in enumerate(blocks):
            y = 90 + i * 100
            d.rectangle((16, y, w - 16, y + 84), fill=color)
            d.text((32, y + 18), share, fill=(255, 255, 255), font=font(36, "bold"))
            d.text((150, y + 30), label, fill=(255, 255, 255), font=font(18, "bold"))
        centered(d, (w / 2, 500), "Share of a typical household's energy", font(12), (40, 40, 40))
    else:
        d.rectangle((0, 0, w, 70), fill=(70, 60, 130))
        centered(d, (w / 2, 20), "LIBRARY VISITS", font(22, "bold"), (255, 255, 255))
        centered(d, (w / 2, 96), "1.2 million", font(38, "bold"), (70, 60, 130))
        centered(d, (w / 2, 146), "visits to the central library in 2024", font(12), (40, 40, 40))
        d.rectangle((16, 180, w - 16, 240), fill=(230, 225, 245))
        centered(d, (w / 2, 188), "Busiest day", font(12), (40, 40, 40))
        centered(d, (w / 2, 206), "Saturday", font(18, "bold"), (70, 60, 130))
        centered(d, (w / 2, 262), "Visits per year (thousands)", font(13, "bold"), (30, 30, 30))
        bar_chart(d, (24, 292, w - 24, 490), ["2021", "2022", "2023", "2024"], [640, 910, 1050, 1200],
                  (120, 100, 190), font(11))
    footer(d, size, fill=(120, 120, 120))
    return img


# (image number, question, answers, answer_type, evidence, operation/reasoning)
INFOGRAPHIC_QUESTIONS = [
    (0, "What percentage of commuters cycle to work?", ["42%", "42 %"], "single span", "text", []),
    (0, "Which weekday has the most bike trips?", ["Thu", "Thursday"], "single span", "figure", []),
    (1, "What share of home energy goes to heating?", ["45%"], "single span", "text", []),
    (1, "How many categories of energy use are shown?", ["4", "four"], "non-extractive", "text", ["counting"]),
    (2, "How many visits did the central library have in 2024?", ["1.2 million"], "single span", "text", []),
    (2, "In which year were library visits the lowest?", ["2021"], "single span", "figure", []),
]


def infographicvqa(root):
    names = ["37021.jpeg", "37105.jpeg", "37288.jpeg"]
    for i, name in enumerate(names):
        save_jpeg(render_infographic(i), out(root, "infographicvqa/infographicsvqa_images/" + name))
    data = []
    for n, (img, question, answers, atype, evidence, ops) in enumerate(INFOGRAPHIC_QUESTIONS):
        data.append({"questionId": 98201 + n, "question": question, "image_local_name": names[img], "image_url": "",
                     "ocr_output_file": "", "answers": answers, "data_split": "val", "answer_type": [atype],
                     "evidence": [evidence, NOTE], "operation/reasoning": ops})
    doc = {"dataset_name": "infographicVQA", "dataset_version": "1.0", "dataset_split": "val", "data": data}
    write(root, "infographicvqa/infographicsVQA_val_v1.0_withQT.json", json.dumps(doc, ensure_ascii=False) + "\n")
    return len(data)


# ---- figures shared by MMMU-Pro and MATH-Vision -----------------------------------------------------------------

def figure(kind, arg, size=(240, 180)):
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    w, h = size
    ink, f = (20, 20, 20), font(14)
    if kind == "rectangle":
        a, b = arg
        d.rectangle((50, 40, 190, 120), outline=ink, width=3)
        centered(d, (120, 20), f"{a} cm", f, ink)
        d.text((196, 72), f"{b} cm", fill=ink, font=f)
    elif kind == "square":
        d.rectangle((75, 35, 165, 125), outline=ink, width=3)
        centered(d, (120, 14), f"{arg} m", f, ink)
    elif kind == "dots":
        rng = random.Random(arg * 31)
        spots = []
        while len(spots) < arg:
            x, y = rng.randint(24, w - 24), rng.randint(20, h - 36)
            if all((x - a) ** 2 + (y - b) ** 2 > 30 ** 2 for a, b in spots):
                spots.append((x, y))
        for x, y in spots:
            d.ellipse((x - 10, y - 10, x + 10, y + 10), fill=(200, 50, 50))
    elif kind == "triangle":
        a, b = arg
        pts = [(30, 140), (210, 140), (90, 30)]
        d.polygon(pts, outline=ink, width=3)
        d.text((54, 116), f"{a}°", fill=ink, font=f)
        d.text((150, 116), f"{b}°", fill=ink, font=f)
        d.text((86, 44), "x", fill=ink, font=font(15, "bold"))
    elif kind == "polygon":
        pts = [(120 + 60 * math.cos(2 * math.pi * i / arg - math.pi / 2),
                85 + 60 * math.sin(2 * math.pi * i / arg - math.pi / 2)) for i in range(arg)]
        d.polygon(pts, outline=ink, fill=(210, 230, 250), width=3)
    elif kind == "bars":
        labels, values = arg
        bar_chart(d, (20, 24, w - 20, h - 34), labels, values, (60, 130, 200), font(11))
    elif kind == "grid":
        rows, cols, shaded = arg
        for r in range(rows):
            for c in range(cols):
                x, y = 50 + c * 36, 20 + r * 36
                d.rectangle((x, y, x + 36, y + 36), outline=ink, width=2,
                            fill=(90, 90, 90) if (r * cols + c) in shaded else None)
    elif kind == "right-triangle":
        a, b = arg
        d.polygon([(50, 140), (190, 140), (50, 35)], outline=ink, width=3)
        d.rectangle((50, 126, 64, 140), outline=ink)
        centered(d, (120, 144), str(a), f, ink)
        d.text((30, 80), str(b), fill=ink, font=f)
        d.text((126, 74), "x", fill=ink, font=font(15, "bold"))
    elif kind == "shapes":
        for i, sides in enumerate(arg):
            cx, cy = 26 + i * 47, 80
            pts = [(cx + 19 * math.cos(2 * math.pi * k / sides - math.pi / 2),
                    cy + 19 * math.sin(2 * math.pi * k / sides - math.pi / 2)) for k in range(sides)]
            d.polygon(pts, outline=ink, width=2)
            centered(d, (cx, 112), "ABCDE"[i], f, ink)
    elif kind == "circles":
        for i, value in enumerate(arg):
            cx = 50 + i * 70
            d.ellipse((cx - 26, 60, cx + 26, 112), outline=ink, width=3)
            centered(d, (cx, 76), str(value), font(16, "bold"), ink)
    elif kind == "two-squares":
        s = arg
        d.rectangle((40, 50, 120, 130), outline=ink, width=3)
        d.rectangle((120, 50, 200, 130), outline=ink, width=3)
        centered(d, (80, 28), str(s), f, ink)
        centered(d, (160, 28), str(s), f, ink)
    elif kind == "cube":
        front, off = (70, 70, 150, 150), 36
        x0, y0, x1, y1 = front
        d.rectangle(front, outline=ink, width=3)
        d.rectangle((x0 + off, y0 - off, x1 + off, y1 - off), outline=ink, width=2)
        for x, y in [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]:
            d.line((x, y, x + off, y - off), fill=ink, width=2)
    footer(d, size, fill=(150, 150, 150))
    return img


# ---- MMMU-Pro ---------------------------------------------------------------------------------------------------
# (question, figures, option texts, answer index, img_type, explanation)
MMMU_ITEMS = [
    ("What is the area of the rectangle shown in <image 1>, in square centimetres?",
     [("rectangle", (9, 4))], ["13", "18", "26", "32", "36", "40", "45", "54", "63", "81"], 4, "Diagrams",
     "The area is 9 × 4 = 36 square centimetres."),
    ("<image 1> and <image 2> each show a group of dots. How many dots are there in the two groups together?",
     [("dots", 5), ("dots", 7)], ["2", "9", "10", "11", "12", "13", "14", "15", "35", "57"], 4, "Diagrams",
     "There are 5 dots in the first group and 7 in the second, so 12 in all."),
    ("In the triangle shown in <image 1>, what is the angle x in degrees?",
     [("triangle", (48, 67))], ["19", "48", "55", "60", "65", "67", "70", "75", "113", "115"], 4, "Diagrams",
     "The angles of a triangle add up to 180°, so x = 180 − 48 − 67 = 65."),
    ("Which statement describes the shape in <image 1>?",
     [("polygon", 6)], ["it's a triangle", "it's a square", "it's a pentagon", "it's a hexagon", "it's a heptagon",
                        "it's an octagon", "it's a circle", "it's a trapezoid", "it's a kite", "none of these"],
     3, "Diagrams", "The shape has six straight sides of equal length, so it is a hexagon."),
    ("What is the value of bar R in <image 1>?",
     [("bars", (["P", "Q", "R", "S", "T"], [12, 30, 24, 18, 9]))],
     ["9", "12", "18", "20", "22", "24", "26", "28", "30", "36"], 5, "Plots and Charts",
     "Bar R is labelled 24."),
    ("What is the perimeter of the square shown in <image 1>, in metres?",
     [("square", 7)], ["7", "14", "21", "24", "28", "30", "35", "42", "49", "56"], 4, "Diagrams",
     "A square has four equal sides, so the perimeter is 4 × 7 = 28 metres."),
]


def render_screenshot(question, figures, options, size=(420, 600)):
    """An MMMU-Pro vision item: the question, its figures and the ten options drawn into one image."""
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    w, _ = size
    y = 14
    text = question
    for i in range(len(figures)):
        text = text.replace(f"<image {i + 1}>", f"Image {i + 1}")
    for line in wrap(text, font(14), w - 32):
        d.text((16, y), line, fill=(10, 10, 10), font=font(14))
        y += 20
    y += 6
    fw = (w - 32 - 10 * (len(figures) - 1)) // len(figures)
    for i, (kind, arg) in enumerate(figures):
        fig = figure(kind, arg).resize((fw, fw * 3 // 4), Image.LANCZOS)
        img.paste(fig, (16 + i * (fw + 10), y))
        d.rectangle((16 + i * (fw + 10), y, 16 + i * (fw + 10) + fw - 1, y + fw * 3 // 4 - 1), outline=(180, 180, 180))
    y += fw * 3 // 4 + 12
    col = (w - 32) // 2
    for i, opt in enumerate(options):
        x = 16 + (i % 2) * col
        d.text((x, y + (i // 2) * 22), f"{LETTERS[i]}. {opt}", fill=(10, 10, 10), font=font(13))
    img = img.crop((0, 0, w, y + 5 * 22 + 24))
    footer(ImageDraw.Draw(img), img.size, fill=(150, 150, 150))
    return img


def mmmu_pro(root):
    standard, vision, media = [], [], 0
    for row, (question, figures, options, answer, img_type, expl) in enumerate(MMMU_ITEMS):
        item_id = f"test_Math_{row + 1}"
        images = {}
        for col in range(1, 8):
            if col <= len(figures):
                name = f"standard_10_media/{row}_image_{col}_{media}.png"
                media += 1
                save_png(figure(*figures[col - 1]), out(root, "mmmu_pro/" + name))
                images[f"image_{col}"] = name
            else:
                images[f"image_{col}"] = None
        standard.append({"id": item_id, "question": question, "options": repr(options),
                         "explanation": NOTE + " " + expl, **images, "img_type": repr([img_type]),
                         "answer": LETTERS[answer], "topic_difficulty": "Easy", "subject": "Math"})
    media = 0
    for row, (question, figures, options, answer, _, _) in enumerate(MMMU_ITEMS):
        name = f"vision_media/{row}_image_{media}.png"
        media += 1
        save_png(render_screenshot(question, figures, options), out(root, "mmmu_pro/" + name))
        vision.append({"id": f"test_Math_{row + 1}", "image": name, "options": repr(options),
                       "answer": LETTERS[answer], "subject": "Math"})
    write(root, "mmmu_pro/standard_10.jsonl", converter_jsonl(standard))
    write(root, "mmmu_pro/vision.jsonl", converter_jsonl(vision))
    return len(standard), len(vision)


# ---- MATH-Vision ------------------------------------------------------------------------------------------------
# (question, figure, options, answer, level, subject, solution)
MATH_VISION_ITEMS = [
    ("<image1> How many of the small squares are shaded?", ("grid", (3, 4, {0, 3, 5, 6, 10})),
     ["3", "4", "5", "6", "7"], "C", 1, "counting", "Counting the shaded squares row by row gives 2 + 2 + 1 = 5."),
    ("<image1> What is the length of the side marked x?", ("right-triangle", (8, 6)),
     ["7", "9", "10", "12", "14"], "C", 2, "metric geometry - length",
     "By Pythagoras, x = √(8² + 6²) = √100 = 10."),
    ("<image1> Which of the shapes A to E has the most sides?", ("shapes", (3, 5, 4, 8, 6)),
     ["A", "B", "C", "D", "E"], "D", 1, "combinatorial geometry",
     "The shapes have 3, 5, 4, 8 and 6 sides; D has the most."),
    ("What is the sum of the numbers in the three circles?", ("circles", (4, 9, 12)),
     [], "25", 1, "arithmetic", "4 + 9 + 12 = 25."),
    ("<image1> The rectangle is made of two squares of side 5. What is the perimeter of the rectangle?",
     ("two-squares", 5), [], "30", 2, "metric geometry - length",
     "The rectangle is 10 by 5, so its perimeter is 2 × (10 + 5) = 30."),
    ("How many edges does the cube in <image1> have?", ("cube", None), [], "12", 1, "solid geometry",
     "A cube has 4 edges on the top face, 4 on the bottom face and 4 joining them: 12."),
]


def math_vision(root):
    rows = []
    for i, (question, (kind, arg), options, answer, level, subject, solution) in enumerate(MATH_VISION_ITEMS):
        name = f"images/{i + 1}.png"
        save_png(figure(kind, arg), out(root, "math_vision/" + name))
        rows.append({"id": str(i + 1), "question": question, "options": options, "image": name, "answer": answer,
                     "solution": NOTE + " " + solution, "level": level, "subject": subject})
    write(root, "math_vision/test.jsonl", jsonl(rows))
    return len(rows)


# ---- speech -----------------------------------------------------------------------------------------------------

def speak(text, voice, wav_path, tmp):
    """espeak-ng at 22,050 Hz, resampled by sox to 16 kHz mono 16-bit without dither (so reruns are identical)."""
    raw = os.path.join(tmp, "espeak.wav")
    run(["espeak-ng", "-v", voice, "-w", raw, text])
    run(["sox", "-D", "-V1", raw, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", wav_path])
    with wave.open(wav_path, "rb") as w:
        return w.getnframes()


def punctuation_free(text):
    """FLEURS's `transcription`: lower case, punctuation removed, spaces collapsed."""
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.lower())
    return " ".join(kept.split())


# The same three sentences in each language, as FLEURS's sentences are (FLORES is n-way parallel); ids shared.
FLEURS_IDS = [1623, 1650, 1712]
FLEURS = {
    "en_us": ("en-us", ["In Berlin, the small museum opens at nine.",
                        "Rain is expected in the north on Sunday.",
                        "Many visitors travel to the island by boat."]),
    "de_de": ("de", ["In Berlin öffnet das kleine Museum um neun.",
                     "Am Sonntag wird im Norden Regen erwartet.",
                     "Viele Besucher reisen mit dem Boot zur Insel."]),
    "fr_fr": ("fr-fr", ["À Berlin, le petit musée ouvre à neuf heures.",
                        "De la pluie est attendue dans le nord dimanche.",
                        "De nombreux visiteurs rejoignent cette île en bateau."]),
    "es_419": ("es-419", ["En Berlín, el pequeño museo abre a las nueve.",
                          "Se espera lluvia en el norte el domingo.",
                          "Muchos visitantes viajan a la isla en barco."]),
    # Kana only: espeak-ng's Japanese voice does not read kanji.
    "ja_jp": ("ja", ["ベルリンで、ちいさなはくぶつかんがくじにひらきます。",
                     "にちようびに、きたのほうであめがふるでしょう。",
                     "おおくのりょこうしゃが、ふねでしまにいきます。"]),
}


def fleurs(root, rng, tmp):
    counts = {}
    for lang, (voice, sentences) in FLEURS.items():
        lines = []
        for k, (sid, raw) in enumerate(zip(FLEURS_IDS, sentences)):
            gender = ["MALE", "FEMALE"][(k + len(counts)) % 2]
            file_name = f"{rng.randrange(10 ** 18, 10 ** 19)}.wav"
            n = speak(raw, voice + ("+f3" if gender == "FEMALE" else ""),
                      out(root, f"fleurs/{lang}/audio/test/{file_name}"), tmp)
            lines.append("\t".join([str(sid), file_name, raw, punctuation_free(raw), NOTE, str(n), gender]))
        write(root, f"fleurs/{lang}/test.tsv", "".join(line + "\n" for line in lines))
        counts[lang] = len(lines)
    return counts


COVOST = {
    "de": ("de", [("Wie spät ist es jetzt?", "What time is it now?"),
                  ("Ich trinke morgens gern einen Kaffee.", "I like to drink a coffee in the morning."),
                  ("Der Zug nach Hamburg hat heute Verspätung.", "The train to Hamburg is delayed today.")]),
    "fr": ("fr-fr", [("Où se trouve la gare la plus proche ?", "Where is the nearest train station?"),
                     ("C'est une belle journée pour marcher.", "It's a beautiful day for a walk."),
                     ("Nous allons au marché samedi matin.", "We are going to the market on Saturday morning.")]),
    "es": ("es", [("¿Dónde está la biblioteca municipal?", "Where is the municipal library?"),
                  ("Mi hermana vive cerca del mar.", "My sister lives near the sea."),
                  ("El concierto empieza a las ocho.", "The concert starts at eight.")]),
}


def covost2(root, rng, tmp):
    counts = {}
    for src, (voice, pairs) in COVOST.items():
        lines = ["path\tsentence\ttranslation\tclient_id"]
        for k, (sentence, translation) in enumerate(pairs):
            name = f"common_voice_{src}_{rng.randint(17000000, 23999999)}.mp3"
            raw = os.path.join(tmp, "covost.wav")
            run(["espeak-ng", "-v", voice + ("+f3" if k % 2 else ""), "-w", raw, sentence])
            # Common Voice clips are 48 kHz mono MP3.
            run(["ffmpeg", "-v", "error", "-y", "-i", raw, "-ar", "48000", "-ac", "1", "-c:a", "libmp3lame",
                 "-b:a", "48k", *BITEXACT, out(root, "covost2/clips/" + name)])
            # get_covost_splits.py writes with QUOTE_NONE and a backslash escape; these fields need neither.
            assert not any(c in sentence + translation for c in '\t\n"\\')
            lines.append("\t".join([name, sentence, translation, NOTE]))
        write(root, f"covost2/covost_v2.{src}_en.test.tsv", "".join(line + "\n" for line in lines))
        counts[src] = len(pairs)
    return counts


# ---- video ------------------------------------------------------------------------------------------------------
FPS, SECONDS, VIDEO_SIZE = 4, 8, (192, 144)
DIGITS = [3, 7, 1, 9, 4, 8, 2, 6]
COLORS = {"red": (220, 40, 40), "blue": (40, 80, 220), "green": (40, 170, 70), "yellow": (235, 200, 30),
          "purple": (140, 60, 180), "orange": (240, 130, 30)}
SHAPES = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "circle"),
          ("purple", "triangle"), ("orange", "square"), ("blue", "triangle"), ("red", "square")]


def video_frame(video, second):
    w = VIDEO_SIZE[0]
    img = Image.new("RGB", VIDEO_SIZE, (245, 245, 245))
    d = ImageDraw.Draw(img)
    if video == 0:
        centered(d, (w / 2, 18), str(DIGITS[second]), font(84, "bold"), (20, 20, 120))
    else:
        color, shape = SHAPES[second]
        c, box = COLORS[color], (56, 32, 136, 112)
        if shape == "circle":
            d.ellipse(box, fill=c)
        elif shape == "square":
            d.rectangle(box, fill=c)
        else:
            d.polygon([(96, 30), (138, 112), (54, 112)], fill=c)
    footer(d, VIDEO_SIZE, "synthetic g4ref video", fill=(140, 140, 140))
    return img


def encode_video(video, path):
    frames = b"".join(video_frame(video, t // FPS).tobytes() for t in range(FPS * SECONDS))
    run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "%dx%d" % VIDEO_SIZE,
         "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", "28", "-pix_fmt", "yuv420p",
         "-threads", "1", *BITEXACT, path], stdin=frames)


def options4(rng, answer, pool):
    wrong = rng.sample([p for p in pool if p != answer], 3)
    opts = wrong[:]
    idx = rng.randrange(4)
    opts.insert(idx, answer)
    return [f"{LETTERS[i]}. {o}" for i, o in enumerate(opts)], LETTERS[idx]


def video_qa(root, rng):
    ids = ["".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(11))
           for _ in range(2)]
    for v, vid in enumerate(ids):
        encode_video(v, out(root, f"video_qa/videos/{vid}.mp4"))
    digits = [str(x) for x in range(10)]
    questions = [
        (0, "Temporal Perception", "Which number is shown at 00:05 in the video?", str(DIGITS[5]), digits),
        (0, "Temporal Reasoning", "Which number is shown right after the 9?", str(DIGITS[DIGITS.index(9) + 1]),
         digits),
        (1, "Attribute Perception", "What color is the shape shown at 00:03 in the video?", SHAPES[3][0].capitalize(),
         [c.capitalize() for c in COLORS]),
        (1, "Counting Problem", "How many triangles appear in the video?",
         str(sum(s == "triangle" for _, s in SHAPES)), [str(x) for x in range(1, 7)]),
    ]
    rows, per_video = [], [0, 0]
    for v, task, question, answer, pool in questions:
        per_video[v] += 1
        opts, letter = options4(rng, answer, pool)
        rows.append({"video_id": f"{v + 1:03d}", "duration": "short", "domain": "Knowledge",
                     "sub_category": "Technology", "url": NOTE, "videoID": ids[v],
                     "question_id": f"{v + 1:03d}-{per_video[v]}", "task_type": task, "question": question,
                     "options": opts, "answer": letter})
    write(root, "video_qa/video_qa.jsonl", converter_jsonl(rows))
    return len(rows)


# ---- MRCR -------------------------------------------------------------------------------------------------------
ADJ = ["quiet", "amber", "patient", "silver", "gentle", "muddy", "hidden", "slow", "bright", "ancient", "restless",
       "velvet", "humble", "distant", "curious", "sleepy"]
NOUN = ["forest", "river", "moon", "path", "meadow", "stone", "lantern", "harbor", "orchard", "valley", "cloud",
        "garden", "bridge", "shadow", "morning", "candle"]
VERB = ["wanders", "listens", "waits", "drifts", "hums", "rests", "glows", "turns", "sleeps", "wakes", "dreams",
        "lingers"]
PREP = ["beneath", "beside", "beyond", "across", "along", "within", "toward", "under"]


def poem(rng, topic):
    lines = [f"The {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} {rng.choice(PREP)} the {topic},"]
    for _ in range(2):
        lines.append(f"{rng.choice(ADJ).capitalize()} as a {rng.choice(NOUN)} {rng.choice(PREP)} "
                     f"a {rng.choice(ADJ)} {rng.choice(NOUN)},")
    lines.append(f"and the {rng.choice(NOUN)} {rng.choice(VERB)} {rng.choice(PREP)} the {rng.choice(ADJ)} sky.")
    return "\n".join(lines)


def prose(rng, topic, sentences):
    text = []
    for _ in range(sentences):
        adj = rng.choice(ADJ)
        text.append(f"{article(adj).capitalize()} {adj} {rng.choice(NOUN)} {rng.choice(VERB)} "
                    f"{rng.choice(PREP)} the {topic}, and every {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)}.")
    return " ".join(text)


def piece(rng, kind, topic):
    if kind == "poem":
        return poem(rng, topic)
    return prose(rng, topic, 2 if kind == "short essay" else 3)


DISTRACTORS = [("poem", "frogs"), ("short story", "tapirs"), ("short essay", "rivers"), ("poem", "lighthouses"),
               ("short story", "clocks"), ("poem", "rivers"), ("short essay", "tapirs"), ("blog post", "bicycles"),
               ("poem", "clocks"), ("short story", "lanterns")]


def article(kind):
    return "an" if kind[0] in "aeiou" else "a"


def ordinal(n):
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


PREAMBLE = (NOTE + " Below is an example of a conversation, then a question about it, and the correct reply.\n\n"
            "User: write a haiku about salt\nAssistant: White grains on the tongue,\nthe sea kept in a small jar,\n"
            "waves without water.\nUser: write a haiku about salt\nAssistant: Roads in winter white,\n"
            "a shaker on the table,\nquiet, bright, and sharp.\nUser: Prepend Qx7Tm2Lp9a to the 2nd (1 indexed) haiku "
            "about salt. Do not include any other text in your response.\nAssistant: Qx7Tm2Lp9aRoads in winter "
            "white,\na shaker on the table,\nquiet, bright, and sharp.")


def mrcr_row(rng, needle, n_distractors, wanted):
    kind, topic = needle
    request = f"write {article(kind)} {kind} about {topic}"
    others = [d for d in DISTRACTORS if d != needle]
    pairs = [needle] * 8 + [others[i % len(others)] for i in range(n_distractors)]
    rng.shuffle(pairs)
    messages = [{"role": "user", "content": PREAMBLE}]
    needles_seen, desired, answer_text = 0, None, None
    for k, t in pairs:
        text = piece(rng, k, t)
        messages.append({"role": "user", "content": f"write {article(k)} {k} about {t}"})
        messages.append({"role": "assistant", "content": text})
        if (k, t) == needle:
            needles_seen += 1
            if needles_seen == wanted:
                desired, answer_text = len(messages) - 2, text
    marker = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    messages.append({"role": "user", "content": f"Prepend {marker} to the {ordinal(wanted)} (1 indexed) "
                                                f"{kind} about {topic}. "
                                                "Do not include any other text in your response."})
    assert messages[desired]["content"] == request and messages[desired + 1]["content"] == answer_text
    return {"prompt": json.dumps(messages), "answer": marker + answer_text, "random_string_to_prepend": marker,
            "n_needles": 8, "desired_msg_index": desired, "total_messages": len(messages),
            "n_chars": sum(len(m["content"]) for m in messages), "date_added": "06-03-2026"}


def mrcr(root, rng):
    rows = [mrcr_row(rng, ("poem", "tapirs"), 3, 3),
            mrcr_row(rng, ("short essay", "clocks"), 3, 6),
            mrcr_row(rng, ("poem", "rivers"), 29, 5)]
    write(root, "mrcr/8needle.jsonl", converter_jsonl(rows))
    return [r["n_chars"] for r in rows]


# ---- main -------------------------------------------------------------------------------------------------------
SETS = ["docvqa", "infographicvqa", "mmmu_pro", "math_vision", "fleurs", "covost2", "video_qa", "mrcr"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=0, help="write only a DocVQA-layout set of N documents")
    parser.add_argument("--out", help="folder for --documents")
    args = parser.parse_args()
    if args.documents:
        if not args.out:
            parser.error("--documents needs --out DIR")
        print(f"wrote {docvqa_stress(args.documents, args.out)} questions to {args.out}")
        return
    for name in SETS:  # every file in these folders is written here; stale ones must not survive a rerun
        shutil.rmtree(os.path.join(ROOT, name), ignore_errors=True)
    rng = random.Random(20260603)
    with tempfile.TemporaryDirectory() as tmp:
        report = {
            "docvqa": docvqa(ROOT),
            "infographicvqa": infographicvqa(ROOT),
            "mmmu_pro": mmmu_pro(ROOT),
            "math_vision": math_vision(ROOT),
            "fleurs": fleurs(ROOT, rng, tmp),
            "covost2": covost2(ROOT, rng, tmp),
            "video_qa": video_qa(ROOT, rng),
            "mrcr n_chars": mrcr(ROOT, rng),
        }
    for k, v in report.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
