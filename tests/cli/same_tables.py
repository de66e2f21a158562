"""Check that two run folders hold the same tables: per_question.parquet byte for byte,
and every column of results.parquet but the timing ones (index_seconds, query_ms_p50,
query_ms_p95, query_ms_p99, rerank_ms_p50), row for row in file order. HNSW rows are included: graphs are built
serially, so a graph rebuilt after an interruption is the same graph.

Usage: same_tables.py RUN_A RUN_B.
"""
import sys

import polars as pl

TIMING = {"index_seconds", "query_ms_p50", "query_ms_p95", "query_ms_p99", "rerank_ms_p50"}


def main(a: str, b: str) -> None:
    qa = open(f"{a}/per_question.parquet", "rb").read()
    qb = open(f"{b}/per_question.parquet", "rb").read()
    if qa != qb:
        sys.exit("per_question.parquet: the two files differ")
    ta = pl.read_parquet(f"{a}/results.parquet")
    tb = pl.read_parquet(f"{b}/results.parquet")
    if ta.columns != tb.columns or ta.height != tb.height:
        sys.exit(f"results.parquet: {ta.shape} {ta.columns} against {tb.shape} {tb.columns}")
    for c in ta.columns:
        if c not in TIMING and not ta[c].equals(tb[c]):
            diff = (ta[c] != tb[c]).sum()
            sys.exit(f"results.parquet: column {c} differs in {diff} rows")
    print("same")


if __name__ == "__main__":
    main(*sys.argv[1:])
