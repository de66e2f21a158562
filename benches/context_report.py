"""Chunk-context figures from bench_context.sh's runs: per setup, nDCG@10, recall@5 and
(where spans are labelled) span_recall@5 and span_precision@5 with the run's 95%
intervals, each with the paired difference from its baseline (the setup of the same
retriever with header none, no neighbours and the model without prefixes; bootstrap over
questions, 10,000 resamples, seed 0), and mean context tokens at 5.

    context_report.py RUN [RUN ...]
"""
import sys

import polars as pl

from paired import paired  # benches/ is on the path

METRICS = [("ndcg", 10), ("recall", 5), ("span_recall", 5), ("span_precision", 5)]


def report(run):
    df = pl.read_parquet(f"{run}/results.parquet").filter(pl.col("split") == "all")
    pq = pl.read_parquet(f"{run}/per_question.parquet")
    metrics = [(m, k) for m, k in METRICS if df[m].drop_nulls().len() > 0]
    df = df.with_columns(pl.col("model").fill_null("-"))
    print(f"\n### {run} ({df['n_questions'][0]} questions)\n")
    head = " | ".join(f"{m}@{k} [95% CI] | Δ" for m, k in metrics)
    print(f"| retriever | model | header | expand | {head} | context tokens @5 |")
    print("|---" * (4 + 2 * len(metrics) + 1) + "|")
    setups = df.filter(pl.col("top_k") == 5).sort(["retriever", "model", "chunk_header", "expand"])
    for s in setups.iter_rows(named=True):
        base = setups.filter((pl.col("retriever") == s["retriever"]) & (pl.col("chunk_header") == "none")
                             & (pl.col("expand") == 0) & (~pl.col("model").str.contains("prefixes")))
        base_id = base["config_id"][0]
        cells = []
        for m, k in metrics:
            r = df.filter((pl.col("config_id") == s["config_id"]) & (pl.col("top_k") == k)).row(0, named=True)
            cells.append(f"{r[m]:.3f} [{r[m + '_ci_low']:.3f}, {r[m + '_ci_high']:.3f}]")
            if s["config_id"] == base_id:
                cells.append("baseline")
            else:
                d, lo, hi = paired(pq, base_id, s["config_id"], m, k)
                cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        model = s["model"].rsplit("/", 1)[-1]
        print(f"| {s['retriever']} | {model} | {s['chunk_header']} | {s['expand']} | {' | '.join(cells)} | {s['context_tokens']:.0f} |")


for run in sys.argv[1:]:
    report(run)
