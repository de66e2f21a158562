#!/usr/bin/env python3
"""Writes docs/results.md (to stdout) from reference run folders.

usage: results_tables.py RUN_DIR [RUN_DIR ...]

For each run: the setups at the objective's k with their 95% intervals and paired
differences from the best setup, so that differences are only claimed where the data
supports them. The statistics are ragtune's own (the `<metric>_ci_*`, `vs_best*` and
`near_best` columns of results.parquet, a seeded bootstrap over questions); this script
only formats them.
"""
import datetime as dt
import json
import pathlib
import sys

import polars as pl

def minutes(m):
    a = dt.datetime.fromisoformat(m["started_at"])
    b = dt.datetime.fromisoformat(m["finished_at"])
    return (b - a).total_seconds() / 60


def label(r):
    parts = [f"{r['chunker']}/{r['chunk_size'] or '-'}/{r['chunk_overlap'] if r['chunk_overlap'] is not None else '-'}", r["retriever"]]
    if r["fusion"]:
        parts.append(f"rrf(k={r['rrf_k']:g})" if r["fusion"] == "rrf" else f"weighted(a={r['alpha']:g},{r['normalization']})")
    if r["model"]:
        parts.append(r["model"].replace("all-minilm-l6-v2", "L6").replace("paraphrase-minilm-l3-v2", "L3"))
    if r["index"] == "hnsw":
        parts.append(f"hnsw(ef={r['hnsw_ef_search']})")
    return " ".join(parts)


def report(run):
    run = pathlib.Path(run)
    m = json.loads((run / "manifest.json").read_text())
    res = pl.read_parquet(run / "results.parquet")
    metric, k = m["objective"].split("@")
    k = int(k)
    out = []
    out.append(f"## {m['grid_name']}\n")
    out.append(f"- grid: `{pathlib.Path(m['grid_path']).name}`; corpus: {m['n_documents']} documents, {m['n_questions']} questions; {m['n_points']} setups")
    out.append(f"- wall time: {minutes(m):.1f} min on {m['threads']} threads ({m['execution_provider'] or 'no model'}), embedding cache: {m['cache_misses']} texts embedded, {m['cache_hits']} reused")
    trunc = [e for e in m["embeddings"] if e["truncated"]]
    if trunc:
        t = "; ".join(f"{e['what']} with {e['model']}: {e['truncated']} of {e['texts']}" for e in trunc)
        out.append(f"- texts longer than the model's maximum, truncated for embedding: {t}")
    out.append(f"- ragtune {m['ragtune_version']} at commit `{m['git_commit']}`, run started {m['started_at'][:19]}Z")
    out.append(f"- objective: `{m['objective']}`; best: `{m['best_config_id']}`")
    out.append("")
    res = res.filter(pl.col("split") == "all")
    at = res.filter(pl.col("top_k") == k)
    best = m["best_config_id"]
    rows = []
    for r in at.iter_rows(named=True):
        ci = (r[f"{metric}_ci_low"], r[f"{metric}_ci_high"])
        diff = (r["vs_best"], r["vs_best_low"], r["vs_best_high"])
        rows.append((r[metric], ci, diff, bool(r["near_best"]), r))
    rows.sort(key=lambda x: -x[0])
    out.append(f"Setups at k = {k}, best first. `[lo, hi]` is a 95% interval over questions (bootstrap); **Δ best** is the paired difference from the best setup on the same questions with its 95% interval, and ✓ marks setups whose difference from the best is not significant at that level.\n")
    extra = [c for c in ["recall", "mrr", "span_recall", "span_iou"] if c != metric][:3]
    out.append(f"| # | setup | {metric}@{k} | Δ best | ≈best | " + " | ".join(f"{c}@{k}" for c in extra) + " | context tokens | chunks |")
    out.append("|---:|---|---|---|:-:|" + "---:|" * len(extra) + "---:|---:|")
    for i, (mean, (lo, hi), (d, dlo, dhi), tied, r) in enumerate(rows, 1):
        f = lambda v: "–" if v is None else f"{v:.3f}"
        out.append(
            f"| {i} | {label(r)} | {mean:.3f} [{lo:.3f}, {hi:.3f}] | {d:+.3f} [{dlo:+.3f}, {dhi:+.3f}] | {'✓' if tied else ''} | "
            + " | ".join(f(r[c]) for c in extra)
            + f" | {r['context_tokens']:.0f} | {r['n_chunks']} |"
        )
    # A compact view: chunking down, retriever across, for the objective and for span IoU
    # (recall alone rewards ever larger chunks; IoU charges for the extra text).
    def column(r):
        c = r["retriever"]
        if r["fusion"]:
            c += " " + ("rrf" if r["fusion"] == "rrf" else f"w{r['alpha']:g}")
        if r["model"]:
            c += " " + r["model"].replace("all-minilm-l6-v2", "L6").replace("paraphrase-minilm-l3-v2", "L3")
        if r["index"] == "hnsw":
            c += " hnsw"
        return c
    for shown in dict.fromkeys([metric, "span_iou"]):
        cells = {}
        for r in at.iter_rows(named=True):
            if r[shown] is None:
                continue
            chunking = f"{r['chunker']}/{r['chunk_size'] or '-'}/{r['chunk_overlap'] if r['chunk_overlap'] is not None else '-'}"
            cells[(chunking, column(r))] = r[shown]
        if not cells:
            continue
        cols = sorted({c for _, c in cells}, key=lambda c: (c.split()[0] != "bm25", c))
        chunkings = list(dict.fromkeys(k for k, _ in cells))
        out.append(f"\n`{shown}@{k}` by chunking (down) and retriever (across):\n")
        out.append("| chunking | " + " | ".join(cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        for ch in chunkings:
            vals = [cells.get((ch, c)) for c in cols]
            top = max(v for v in vals if v is not None)
            out.append(f"| {ch} | " + " | ".join("–" if v is None else (f"**{v:.3f}**" if v == top else f"{v:.3f}") for v in vals) + " |")
    out.append("")
    n_tied = sum(1 for x in rows if x[3])
    out.append("")
    out.append(f"{n_tied} of {len(rows)} setups are statistically indistinguishable from the best on `{metric}@{k}` at the 95% level.")
    # The same best setup across k.
    b = res.filter(pl.col("config_id") == best).sort("top_k")
    out.append(f"\nThe best setup across k: " + ", ".join(f"k={r['top_k']}: {metric} {r[metric]:.3f}, context tokens {r['context_tokens']:.0f}" for r in b.iter_rows(named=True)) + ".\n")
    return "\n".join(out)


def main():
    head = [
        "# Reference results",
        "",
        "Made by `scripts/reference_runs.sh` (sweeps `grids/reference-chroma.toml` and `grids/reference-squad.toml`, then runs `scripts/results_tables.py`). Reproduce with:",
        "",
        "```sh",
        "scripts/reference_runs.sh",
        "```",
        "",
        "Metric definitions are in docs/usage.md (\"Metrics\"). Chunk sizes count BERT WordPiece tokens. `paraphrase-minilm-l3-v2` reads at most 128 tokens and `all-minilm-l6-v2` 256, so larger chunks are embedded truncated (counted below) while BM25 and the span metrics see the whole chunk.",
        "",
    ]
    body = [report(r) for r in sys.argv[1:] if (pathlib.Path(r) / "results.parquet").exists()]
    print("\n".join(head + body))


main()
