#!/usr/bin/env python3
"""docs/documents.md from scripts/documents_proof.sh's folder: answers located in SQuAD's
text, HTML and PDF versions (and at SQuAD's official offsets), span recall of one grid on
each format, and Chroma's reference excerpts located in its PDFs.

    scripts/documents_table.py runs/documents > docs/documents.md
"""
import json
import pathlib
import sys

FORMATS = ["txt", "html", "pdf"]
NAMES = {"txt": "plain text", "html": "HTML", "pdf": "PDF"}


def load(path):
    return json.loads(path.read_text())


def at_official_offsets(report, offsets):
    places = {(l["question"], p["document"], p["start"], p["end"])
              for l in report["labels"] for p in l["places"]}
    hit = total = 0
    for line in offsets.read_text().splitlines():
        q = json.loads(line)
        total += 1
        hit += any((q["id"], q["doc"], a["start"], a["end"]) in places for a in q["answers"])
    return hit, total


def recalls(run, k=5):
    out = {}
    for p in sorted((run / "points").glob("*.json")):
        rec = load(p)
        row = next(r for r in rec["rows"] if r["top_k"] == k and r["split"] == "all")
        out[rec["label"]] = row["span_recall"]
    return out


def summary_row(name, s):
    n = s["labels"] - s["documents"] - s["spans"]
    share = lambda x: f"{x} ({100 * x / n:.1f}%)"
    low = s.get("lowest_fuzzy_similarity")
    return (f"| {name} | {n} | {share(s['exact'])} | {share(s['normalised'])} | "
            f"{share(s['fuzzy'])}{f', lowest {low:.2f}' if low is not None else ''} | "
            f"{share(s['not_found'])} | {share(s['ambiguous'])} |")


def main():
    root = pathlib.Path(sys.argv[1])
    out = []
    w = out.append
    w("# Own documents on real data\n")
    w("Produced by `scripts/documents_proof.sh` (it runs `scripts/make_documents.py` and this "
      "script). SQuAD v1.1 dev's 48 articles as plain text, as saved web pages (HTML with "
      "header, navigation, aside and footer around the article) and as PDFs printed from those "
      "pages by headless Chromium **with its running header and footer on**; the labels are "
      "SQuAD's answer texts only, with no offsets, located by ragtune (`ragtune labels check`). "
      f"Making the documents took {(root / 'make_seconds').read_text().strip()} s.\n")
    hit, total = at_official_offsets(load(root / "labels-squad-txt.json"),
                                     root / "docs/squad/offsets.jsonl")
    w(f"**SQuAD's official offset among the located places (plain text): {hit} of {total} "
      f"questions, {100 * hit / total:.2f}%** (target ≥ 98%).\n")
    w("## Answers located, per format (SQuAD, one label per distinct answer)\n")
    w("| format | answers | exact | normalised | fuzzy | not found | ambiguous |")
    w("|---|---|---|---|---|---|---|")
    for f in FORMATS:
        w(summary_row(NAMES[f], load(root / f"labels-squad-{f}.json")["summary"]))
    w("\nAmbiguous answers occur at several places; each place is an alternative and the label "
      "counts as found when any one is covered. Answers not found are dropped by the grids' "
      "`unresolved = \"drop\"` and listed in each run's manifest: "
      + "; ".join(f"{NAMES[f]}: " + (", ".join(repr(u["answer"]) for u in load(root / f"run-squad-{f}/manifest.json").get("unresolved_labels", [])) or "none") for f in FORMATS)
      + " (a PDF printed on a machine without CJK fonts loses Chinese characters).\n")
    by = {f: recalls(root / f"run-squad-{f}") for f in FORMATS}
    warnings = load(root / "run-squad-txt/manifest.json").get("warnings", [])
    if warnings:
        w("What the sweep warns of these labels (plain text; answers only, no sources):\n")
        for x in warnings:
            w(f"- {x}")
        w("")
    w("## span_recall@5 per setup (all-minilm-l6-v2, RRF for hybrid)\n")
    w("| setup | plain text | HTML | Δ HTML | PDF | Δ PDF |")
    w("|---|---|---|---|---|---|")
    worst = 0.0
    for label, base in sorted(by["txt"].items()):
        h, p = by["html"][label], by["pdf"][label]
        worst = max(worst, abs(h - base), abs(p - base))
        w(f"| {label} | {base:.4f} | {h:.4f} | {h - base:+.4f} | {p:.4f} | {p - base:+.4f} |")
    w(f"\nLargest difference from plain text: **{worst:.4f}** (target ≤ 0.02). Sweep wall "
      "times (2 cores; a stage the store already held is read, not recomputed): " + ", ".join(
          f"{NAMES[f]} {(root / f'run-squad-{f}/wall_seconds').read_text().strip()} s"
          for f in FORMATS) + ".\n")
    w("## Chroma's reference excerpts located in PDF versions of its five corpora\n")
    w("Each excerpt is an `answer` with its corpus as `source`. The markdown originals are "
      "the base: there every excerpt is the corpus's own text. In the PDFs, markdown syntax "
      "is rendered away and lines are re-flowed, so normalisation and fuzzy matching do the "
      "work.\n")
    w("| corpus files | excerpts | exact | normalised | fuzzy | not found | ambiguous |")
    w("|---|---|---|---|---|---|---|")
    for name, f in [("markdown (original)", "md"), ("PDF", "pdf")]:
        w(summary_row(name, load(root / f"labels-chroma-{f}.json")["summary"]))
    print("\n".join(out))


if __name__ == "__main__":
    main()
