#!/usr/bin/env python3
"""Derives PDF, HTML and DOCX versions of the labelled datasets in shared/datasets, for
testing ragtune's document corpus readers on real text with known answers.

    python3 -m venv .venv
    .venv/bin/pip install python-docx==1.2.0 markdown==3.11.3 pypdfium2==5.15.2 pypdf==7.1.0
    .venv/bin/python scripts/make_documents.py OUT [--articles N] [--only squad|chroma] [--no-pdf]

PDFs are printed by headless Chromium (/usr/bin/chromium) with its running header (date,
page title) and footer (file URL, page x/y) on, as a person printing a page would; every
page is checked to carry them. Written under OUT:

    squad/txt/<title>.txt      article paragraphs joined by a blank line
    squad/html/<title>.html    a saved web page: header, nav, aside, breadcrumbs, footer
                               around <main><article>, an <h2> before every 5th paragraph
    squad/pdf/<title>.pdf      the HTML page printed by Chromium
    squad/docx/<title>.docx    Heading 1 title, the same Heading 2 sections, paragraphs
    squad/questions.csv        id,question,answer: one row per annotator answer
    squad/offsets.jsonl        per question, each answer's code-point span in its .txt
    chroma/html/<corpus>.html  the Chroma markdown corpus rendered by `markdown`
    chroma/pdf/<corpus>.pdf    that page printed by Chromium
    chroma/questions.csv       question,answer,source: one row per reference excerpt
    broken/                    scanned.pdf (image only, no text layer), truncated.pdf,
                               empty.pdf, encrypted.pdf (user password "user-secret",
                               owner password "owner-secret"), notzip.docx; the
                               truncated and encrypted ones are cut from and encrypt
                               the first of OUT/*/pdf/*.pdf

--articles N keeps the first N SQuAD articles; --only builds one dataset (broken/ is
always built); --no-pdf skips Chromium and every PDF but empty.pdf. The datasets are read
from ../shared/datasets beside the repository (override with --datasets).
"""
import argparse
import base64
import csv
import html
import importlib.util
import json
import os
import pathlib
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

PACKAGES = {
    "docx": "python-docx==1.2.0",
    "markdown": "markdown==3.11.3",
    "pypdfium2": "pypdfium2==5.15.2",
    "pypdf": "pypdf==7.1.0",
}
MISSING = [pkg for mod, pkg in PACKAGES.items() if importlib.util.find_spec(mod) is None]
if MISSING:
    sys.exit(f"make_documents.py: missing Python packages; install them with\n"
             f"    .venv/bin/pip install {' '.join(MISSING)}")

import docx  # noqa: E402
import markdown  # noqa: E402
import pypdf  # noqa: E402
import pypdfium2  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
CHROMIUM = "/usr/bin/chromium"
PRINT_TIMEOUT_S = 300
PRINT_TRIES = 2
SECTION_EVERY = 5
SITE = "Open Encyclopedia"

PAGE_STYLE = """
body { font-family: "DejaVu Serif", serif; font-size: 12pt; line-height: 1.5;
       max-width: 44em; margin: 0 auto; color: #222; }
header, nav, aside, footer, [role=navigation] { font-family: sans-serif; font-size: 10pt; }
header { border-bottom: 2px solid #36c; padding: 0.5em 0; font-size: 16pt; }
nav a, [role=navigation] a { margin-right: 1em; color: #36c; }
aside { float: right; width: 14em; margin: 0 0 1em 1em; padding: 0.5em;
        border: 1px solid #ccc; background: #f8f9fa; }
footer { border-top: 1px solid #ccc; margin-top: 2em; color: #666; }
pre { white-space: pre-wrap; }
p, li, pre { overflow-wrap: anywhere; }
"""

PAGE_SCRIPT = """
window.dataLayer = window.dataLayer || [];
function track(name) { window.dataLayer.push({event: name, page: document.title}); }
track("pageview");
document.addEventListener("click", function () { track("click"); });
"""


def main():
    args = parse_args()
    out = args.out
    if args.only in (None, "squad"):
        make_squad(args.datasets / "squad-v1.1-dev" / "dev-v1.1.json",
                   out / "squad", args.articles, args.pdf)
    if args.only in (None, "chroma"):
        make_chroma(args.datasets / "chroma-chunking", out / "chroma", args.pdf)
    make_broken(out, args.pdf)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=pathlib.Path, help="output folder")
    parser.add_argument("--articles", type=int, metavar="N",
                        help="keep only the first N SQuAD articles")
    parser.add_argument("--only", choices=["squad", "chroma"], help="build one dataset")
    parser.add_argument("--no-pdf", dest="pdf", action="store_false", help="skip Chromium")
    parser.add_argument("--datasets", type=pathlib.Path, default=DATASETS,
                        help=f"datasets folder (default {DATASETS})")
    return parser.parse_args()


# SQuAD

def make_squad(source, out, articles, with_pdf):
    data = json.loads(source.read_text(encoding="utf-8"))["data"][:articles]
    titles = [article["title"] for article in data]
    for kind in ["txt", "html", "docx"] + ["pdf"] * with_pdf:
        (out / kind).mkdir(parents=True, exist_ok=True)
    for article in data:
        write_article(article, titles, out, with_pdf)
    write_squad_questions(data, out)
    print(f"squad: {len(data)} articles -> {out}")


def write_article(article, titles, out, with_pdf):
    name = article["title"]
    paragraphs = [p["context"] for p in article["paragraphs"]]
    (out / "txt" / f"{name}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    page = out / "html" / f"{name}.html"
    page.write_text(article_html(name, paragraphs, titles), encoding="utf-8")
    write_docx(display_title(name), paragraphs, out / "docx" / f"{name}.docx")
    if with_pdf:
        print_pdf(page, out / "pdf" / f"{name}.pdf")


def display_title(name):
    return name.replace("_", " ")


def sections(paragraphs):
    """Yields (heading or None, paragraph): a heading before every SECTION_EVERY-th one."""
    for i, text in enumerate(paragraphs):
        heading = f"Section {i // SECTION_EVERY + 1}" if i and i % SECTION_EVERY == 0 else None
        yield heading, text


def article_html(name, paragraphs, titles):
    title = display_title(name)
    body = []
    for heading, text in sections(paragraphs):
        if heading:
            body.append(f"<h2>{heading}</h2>")
        body.append(f"<p>{esc(text)}</p>")
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(title)} - {SITE}</title>",
        f"<style>{PAGE_STYLE}</style>",
        f"<script>{PAGE_SCRIPT}</script>",
        "</head>",
        "<body>",
        f"<header>{SITE}</header>",
        '<nav><a href="/">Home</a> <a href="/random">Random article</a> '
        '<a href="/recent">Recent changes</a> <a href="/about">About</a></nav>',
        related_box(name, titles),
        '<div role="navigation"><a href="/">Home</a> &rsaquo; <a href="/articles">Articles</a>'
        f" &rsaquo; {esc(title)}</div>",
        "<main><article>",
        f"<h1>{esc(title)}</h1>",
        *body,
        "</article></main>",
        f"<footer>&copy; 2024 {SITE}. Text is available under the Creative Commons "
        "Attribution-ShareAlike License.</footer>",
        "</body>",
        "</html>",
        "",
    ])


def related_box(name, titles):
    others = [t for t in titles if t != name][:3]
    items = "".join(f'<li><a href="/wiki/{esc(t)}">{esc(display_title(t))}</a></li>'
                    for t in others)
    return f"<aside><strong>Related articles</strong><ul>{items}</ul></aside>"


def esc(text):
    return html.escape(text, quote=True)


def write_docx(title, paragraphs, path):
    document = docx.Document()
    document.add_heading(title, level=1)
    for heading, text in sections(paragraphs):
        if heading:
            document.add_heading(heading, level=2)
        document.add_paragraph(text)
    document.save(path)


def write_squad_questions(data, out):
    with open(out / "questions.csv", "w", encoding="utf-8", newline="") as table, \
            open(out / "offsets.jsonl", "w", encoding="utf-8") as offsets:
        rows = csv.writer(table)
        rows.writerow(["id", "question", "answer"])
        for article in data:
            for qa, answers in article_answers(article, out):
                rows.writerows([qa["id"], qa["question"], a["text"]] for a in answers)
                offsets.write(json.dumps({"id": qa["id"], "doc": f"{article['title']}.txt",
                                          "answers": answers}, ensure_ascii=False) + "\n")


def article_answers(article, out):
    """Yields (qa, answers) with each answer's code-point span in the article's .txt."""
    txt = (out / "txt" / f"{article['title']}.txt").read_text(encoding="utf-8")
    start = 0
    for paragraph in article["paragraphs"]:
        for qa in paragraph["qas"]:
            answers = [answer_span(start, a) for a in qa["answers"]]
            for a in answers:
                assert txt[a["start"]:a["end"]] == a["text"], (qa["id"], a)
            yield qa, answers
        start += len(paragraph["context"]) + 2


def answer_span(paragraph_start, answer):
    start = paragraph_start + answer["answer_start"]
    return {"start": start, "end": start + len(answer["text"]), "text": answer["text"]}


# Chroma

def make_chroma(source, out, with_pdf):
    corpora = sorted((source / "corpora").glob("*.md"))
    (out / "html").mkdir(parents=True, exist_ok=True)
    if with_pdf:
        (out / "pdf").mkdir(parents=True, exist_ok=True)
    for corpus in corpora:
        page = out / "html" / f"{corpus.stem}.html"
        page.write_text(corpus_html(corpus), encoding="utf-8")
        if with_pdf:
            print_pdf(page, out / "pdf" / f"{corpus.stem}.pdf")
    write_chroma_questions(source / "questions_df.csv", out / "questions.csv")
    print(f"chroma: {len(corpora)} corpora -> {out}")


def corpus_html(corpus):
    # '<' is escaped first: the corpora hold literal text such as WikiText's "<unk>",
    # which markdown would otherwise pass through as an (invisible) HTML tag.
    text = corpus.read_text(encoding="utf-8").replace("<", "&lt;")
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(corpus.stem)}</title>",
        f"<style>{PAGE_STYLE}</style></head>",
        "<body>",
        markdown.markdown(text),
        "</body>",
        "</html>",
        "",
    ])


def write_chroma_questions(source, path):
    with open(source, encoding="utf-8", newline="") as src, \
            open(path, "w", encoding="utf-8", newline="") as dst:
        rows = csv.writer(dst)
        rows.writerow(["question", "answer", "source"])
        for row in csv.DictReader(src):
            rows.writerows([row["question"], ref["content"], f"{row['corpus_id']}.pdf"]
                           for ref in json.loads(row["references"]))


# Broken files

def make_broken(out, with_pdf):
    broken = out / "broken"
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "empty.pdf").write_bytes(b"")
    (broken / "notzip.docx").write_bytes(b"This is plain text, not a zip archive.\n")
    if with_pdf:
        make_scanned(broken)
        real = sorted(out.glob("*/pdf/*.pdf"))[0]
        data = real.read_bytes()
        (broken / "truncated.pdf").write_bytes(data[:len(data) * 40 // 100])
        make_encrypted(real, broken / "encrypted.pdf")
    print(f"broken: {', '.join(sorted(p.name for p in broken.iterdir()))} -> {broken}")


def make_scanned(broken):
    """An image-only PDF: Chromium prints a page holding just a PNG, header/footer off."""
    png = base64.b64encode(fake_scan_png(600, 800)).decode("ascii")
    page = broken / "scanned.html"
    image = f'<img style="display:block; width:90%; margin:auto" src="data:image/png;base64,{png}">'
    page.write_text('<!doctype html><html><head><meta charset="utf-8"></head>'
                    f'<body style="margin:0">{image}</body></html>', encoding="utf-8")
    print_pdf(page, broken / "scanned.pdf", furniture=False)
    page.unlink()
    text = "".join(pdf_page_texts(broken / "scanned.pdf"))
    assert not text.strip(), f"scanned.pdf has a text layer: {text[:80]!r}"


def fake_scan_png(width, height, margin=60):
    """A greyscale page of dark bars standing in for lines of scanned print."""
    rows = []
    for y in range(height):
        dark = margin <= y < height - margin and 8 <= y % 24 < 16
        end = width - margin - (y // 24 * 37) % 200 if dark else margin
        rows.append(b"\0" + bytes([250]) * margin + bytes([40]) * (end - margin)
                    + bytes([250]) * (width - end))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + png_chunk(b"IEND", b""))


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def make_encrypted(source, path):
    # RC4-128: pypdf encrypts it in pure Python (AES needs the cryptography package).
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(source))
    writer.encrypt(user_password="user-secret", owner_password="owner-secret",
                   algorithm="RC4-128")
    with open(path, "wb") as file:
        writer.write(file)


# Chromium printing

def print_pdf(page, pdf, furniture=True):
    """Prints an HTML file to PDF, retrying once; checks the header and footer are there."""
    for attempt in range(1, PRINT_TRIES + 1):
        pdf.unlink(missing_ok=True)
        error = run_chromium(page, pdf, furniture)
        if error is None and pdf.exists() and pdf.stat().st_size > 0:
            break
        print(f"chromium failed on {page} (try {attempt}): {error}", file=sys.stderr)
    else:
        sys.exit(f"make_documents.py: could not print {page}")
    if furniture:
        check_furniture(pdf)


def run_chromium(page, pdf, furniture):
    """Runs one headless print in a fresh profile; returns None or an error description."""
    with tempfile.TemporaryDirectory(prefix="make-documents-chromium-") as profile:
        command = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox",
                   "--no-first-run", f"--user-data-dir={profile}",
                   "--virtual-time-budget=5000", f"--print-to-pdf={pdf}"]
        if not furniture:
            command.append("--no-pdf-header-footer")
        process = subprocess.Popen(command + [page.resolve().as_uri()], start_new_session=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = process.communicate(timeout=PRINT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return f"timed out after {PRINT_TIMEOUT_S} s"
    if process.returncode != 0:
        return f"exit {process.returncode}: {output.decode(errors='replace')[-2000:]}"
    return None


def check_furniture(pdf):
    """Every page must carry Chromium's footer: the page's file URL and "i/n"."""
    texts = pdf_page_texts(pdf)
    for i, text in enumerate(texts, 1):
        assert "file://" in text and f"{i}/{len(texts)}" in text, \
            f"{pdf} page {i} lacks Chromium's header/footer: {text[-200:]!r}"


def pdf_page_texts(path):
    document = pypdfium2.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


if __name__ == "__main__":
    main()
