"""Reranking figures from bench_rerank.sh's runs: per setup, nDCG@10 and recall@5 (and
span_recall@5 where spans are labelled) with the run's 95% intervals; for a reranked setup
the paired difference from its first stage alone (bootstrap over questions, 10,000
resamples, seed 0); and the milliseconds the reranker adds per query (rerank_ms_p50)
beside the whole query's p50 and p99 (embedding included, one query at a time).

    rerank_report.py RUN [RUN ...]
"""
import sys

import polars as pl

from paired import paired  # benches/ is on the path

METRICS = [("ndcg", 10), ("recall", 5), ("span_recall", 5)]


def report(run):
    df = pl.read_parquet(f"{run}/results.parquet").filter(pl.col("split") == "all")
    pq = pl.read_parquet(f"{run}/per_question.parquet")
    metrics = [(m, k) for m, k in METRICS if df[m].drop_nulls().len() > 0]
    print(f"\n### {run} ({df['n_questions'][0]} questions, {df['n_chunks'][0]} chunks)\n")
    head = " | ".join(f"{m}@{k} [95% CI] | Δ first stage" for m, k in metrics)
    print(f"| setup | {head} | rerank_ms_p50 | query_ms_p50 | query_ms_p99 |")
    print("|---" * (1 + 2 * len(metrics) + 3) + "|")
    setups = df.filter(pl.col("top_k") == 10).sort(["model", "rerank"])
    for s in setups.iter_rows(named=True):
        first = setups.filter((pl.col("model") == s["model"]) & (pl.col("rerank") == "none"))
        first_id = first["config_id"][0]
        cells = []
        for m, k in metrics:
            r = df.filter((pl.col("config_id") == s["config_id"]) & (pl.col("top_k") == k)).row(0, named=True)
            cells.append(f"{r[m]:.3f} [{r[m + '_ci_low']:.3f}, {r[m + '_ci_high']:.3f}]")
            if s["rerank"] == "none":
                cells.append("")
            else:
                d, lo, hi = paired(pq, first_id, s["config_id"], m, k)
                cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        label = s["model"] if s["rerank"] == "none" else f"{s['model']} → {s['rerank']}@{s['rerank_depth']}"
        rr = "" if s["rerank_ms_p50"] is None else f"{s['rerank_ms_p50']:.1f}"
        print(f"| {label} | {' | '.join(cells)} | {rr} | {s['query_ms_p50']:.1f} | {s['query_ms_p99']:.1f} |")


for run in sys.argv[1:]:
    report(run)
