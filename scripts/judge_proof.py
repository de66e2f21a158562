#!/usr/bin/env python3
"""The judging proof's three parts (scripts/judge_proof.sh runs them in order).

  make  WORK          SQuAD v1.1 dev as a JSONL corpus (each article one document, its
                      paragraphs joined by a blank line, as ragtune's `squad` format does),
                      50 questions spread over the set, with their labels (every answer as
                      a span at its official offsets, text included) and without, and the
                      four grids of the proof.
  play  URL WORK      Plays the person at `ragtune judge`'s endpoints (the ones the page
                      uses): every pooled chunk that holds part of an answer the dataset
                      had gets that part selected as relevant text; every other pooled
                      chunk is judged not relevant. Writes WORK/played.json.
  table WORK          The Markdown table of docs/judging.md: each setup's metrics with the
                      dataset's labels and with the judged ones, and judged@k before and
                      after judging.

Standard library only. The dataset is read from ../shared/datasets, never copied.
"""

import json
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared/datasets/squad-v1.1-dev/dev-v1.1.json"
N_QUESTIONS = 50
KS = (1, 5, 10)
METRICS = ("recall", "mrr", "ndcg", "span_recall", "span_precision")

GRID = """name = "judge-proof-{name}"
[corpus]
format = "jsonl"
path = "docs.jsonl"
questions = "{questions}"
{extra}
[grid]
chunker = ["chars"]
chunk_size = [250, 1000]
retriever = ["bm25", "vector", "hybrid"]
model = ["all-minilm-l6-v2"]
fusion = ["rrf"]
top_k = [1, 5, 10]

[select]
objective = "recall@5"
"""


def make(work):
    work.mkdir(parents=True, exist_ok=True)
    data = json.loads(DEV.read_text())["data"]
    questions = []
    with open(work / "docs.jsonl", "w") as docs:
        for article in data:
            offset, parts = 0, []
            for p in article["paragraphs"]:
                ctx = p["context"]
                for qa in p["qas"]:
                    spans = [
                        {"doc_id": article["title"], "start": offset + a["answer_start"],
                         "end": offset + a["answer_start"] + len(a["text"]), "text": a["text"]}
                        for a in qa["answers"]
                    ]
                    exact = all(ctx[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]
                                for a in qa["answers"])
                    questions.append((qa["id"], qa["question"], spans, exact))
                parts.append(ctx)
                offset += len(ctx) + 2
            docs.write(json.dumps({"id": article["title"], "text": "\n\n".join(parts)}) + "\n")
    step = len(questions) // N_QUESTIONS
    chosen = [q for q in questions[::step] if q[3]][:N_QUESTIONS]
    with open(work / "labelled.jsonl", "w") as lab, open(work / "blank.jsonl", "w") as blank:
        for qid, text, spans, _ in chosen:
            lab.write(json.dumps({"id": qid, "question": text, "spans": spans}) + "\n")
            blank.write(json.dumps({"id": qid, "question": text}) + "\n")
    grids = {
        "reference": ("labelled.jsonl", ""),
        "before": ("labelled.jsonl", 'labels = "pooled"'),
        "blank": ("blank.jsonl", ""),
        "after": ("blank.jsonl", 'judgements = "judged.jsonl"'),
    }
    for name, (qs, extra) in grids.items():
        (work / f"{name}.toml").write_text(GRID.format(name=name, questions=qs, extra=extra))
    print(f"judge_proof: {len(chosen)} questions, {len(data)} documents in {work}")


def call(url, body=None):
    req = urllib.request.Request(url)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def play(base, work):
    labels = {}
    for line in open(work / "labelled.jsonl"):
        q = json.loads(line)
        labels[q["id"]] = q["spans"]
    pool = call(base + "api/pool")
    posted, unfound = 0, []
    for summary in pool["questions"]:
        q = call(f"{base}api/questions/{summary['index']}")
        found = False
        for c in q["chunks"]:
            parts = sorted({(max(s["start"], c["start"]), min(s["end"], c["end"]))
                            for s in labels[q["id"]] if s["doc_id"] == c["doc_id"]})
            parts = [(s, e) for s, e in parts if s < e]
            body = {"question": q["id"], "doc_id": c["doc_id"], "start": c["start"], "end": c["end"]}
            if parts:
                found = True
                body.update(verdict="selected",
                            selections=[{"start": s, "end": e} for s, e in parts])
            else:
                body["verdict"] = "not_relevant"
            call(base + "api/judge", body)
            posted += 1
        if not found:
            unfound.append(q["id"])
    final = call(base + "api/pool")
    out = {"posted": posted, "pooled": final["pooled"], "judged": final["judged"],
           "depth": final["depth"], "setups": final["setups"], "unfound": unfound}
    (work / "played.json").write_text(json.dumps(out, indent=1))
    print(f"judge_proof: judged {posted} pooled chunks; answers never pooled: {len(unfound)}")


def rows(run):
    """{label: {k: row}} from a run's points."""
    out = {}
    for p in sorted((run / "points").glob("*.json")):
        point = json.loads(p.read_text())
        out[point["label"]] = {r["top_k"]: r for r in point["rows"] if r["split"] == "all"}
    return out


def table(work):
    ref, before, after = (rows(work / n) for n in ("reference", "before", "after"))
    played = json.loads((work / "played.json").read_text())
    lines = [
        f"Pool: the top {played['depth']} chunks of {played['setups']} setups for each of "
        f"{N_QUESTIONS} questions, {played['pooled']} chunks, all judged by the script through "
        f"the page's endpoints ({played['posted']} judgements). Answers no setup ranked in its "
        f"top {played['depth']}: {len(played['unfound'])}.",
        "",
        "| setup | k | " + " | ".join(f"{m} ref / judged" for m in METRICS)
        + " | max abs Δ | judged@k before | after |",
        "|---|---|" + "---|" * (len(METRICS) + 3),
    ]
    worst = 0.0
    for label in sorted(ref):
        for k in KS:
            r, a, b = ref[label][k], after[label][k], before[label][k]
            cells, diff = [], 0.0
            for m in METRICS:
                cells.append(f"{r[m]:.3f} / {a[m]:.3f}")
                diff = max(diff, abs(r[m] - a[m]))
            worst = max(worst, diff)
            lines.append(f"| {label} | {k} | " + " | ".join(cells)
                         + f" | {diff:.4f} | {b['judged']:.3f} | {a['judged']:.3f} |")
    lines += ["", f"Largest difference over every setup, k and metric: **{worst:.4f}**."]
    print("\n".join(lines))
    return worst


def main():
    cmd = sys.argv[1]
    if cmd == "make":
        make(Path(sys.argv[2]))
    elif cmd == "play":
        play(sys.argv[2], Path(sys.argv[3]))
    elif cmd == "table":
        worst = table(Path(sys.argv[2]))
        if worst > 0.02:
            sys.exit(f"judge_proof: a metric moved by {worst:.4f} > 0.02")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
