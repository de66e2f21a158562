"""Late chunking against standalone embedding in one sweep (benches/bench_late.sh).

    late_compare.py RUN_DIR MAX_RSS_KB

Per chunk set, each metric at k = 10 for standalone and late, and the paired difference
(late − standalone) with a 95% bootstrap interval over questions; then what each kind of
embedding cost in the same sweep.
"""
import json
import os
import sys

import polars as pl

from q8_compare import paired  # the same paired bootstrap (benches/ is on the path)


def quality(run, metrics):
    res = pl.read_parquet(os.path.join(run, "results.parquet")).filter(pl.col("top_k") == 10)
    pq = pl.read_parquet(os.path.join(run, "per_question.parquet")).filter(pl.col("top_k") == 10)
    head = " | ".join(f"{m}@10 standalone | {m}@10 late | late − standalone [95% CI]" for m in metrics)
    print(f"| chunk set | {head} |")
    print("|---|" + "---:|---:|---|" * len(metrics))
    keys = ["chunker", "chunk_size", "chunk_overlap", "model"]
    for (chunker, size, overlap, _), g in res.group_by(keys, maintain_order=True):
        ids = {r["embedding"]: r["config_id"] for r in g.iter_rows(named=True)}
        if "late" not in ids or "standalone" not in ids:
            continue
        late = pq.filter(pl.col("config_id") == ids["late"]).sort("question_id")
        alone = pq.filter(pl.col("config_id") == ids["standalone"]).sort("question_id")
        cells = []
        for m in metrics:
            d, lo, hi = paired(late[m].to_numpy(), alone[m].to_numpy())
            cells.append(f"{alone[m].mean():.4f} | {late[m].mean():.4f} | {d:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        label = f"{chunker}/{size if size is not None else '-'}/{overlap if overlap is not None else '-'}"
        print(f"| {label} | {' | '.join(cells)} |")


def cost(m):
    print("\n| embedding | chunk sets | texts or documents run | tokens run | seconds |")
    print("|---|---:|---:|---:|---:|")
    for kind in ["standalone", "late"]:
        es = [e for e in m["embeddings"] if e["what"] != "questions" and e["what"].endswith(" late") == (kind == "late")]
        print(f"| {kind} | {len(es)} | {sum(e['cache_misses'] for e in es)} | "
              f"{sum(e.get('embedded_tokens', 0) for e in es)} | {sum(e['seconds'] for e in es):.1f} |")


def main(run, rss_kb):
    m = json.load(open(os.path.join(run, "manifest.json")))
    print(f"### {m['grid_name']}: {m['n_documents']} documents, {m['n_questions']} questions; "
          f"max RSS {int(rss_kb) // 1024} MiB\n")
    spans = "span_recall" in pl.read_parquet(os.path.join(run, "results.parquet")).columns and \
        pl.read_parquet(os.path.join(run, "results.parquet"))["span_recall"].null_count() == 0
    quality(run, ["ndcg", "recall"] + (["span_recall"] if spans else []))
    cost(m)
    print()


if __name__ == "__main__":
    main(*sys.argv[1:])
