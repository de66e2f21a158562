"""Check that two run folders hold the same results, bit for bit, in every metric column.

Usage: same_tables.py RUN_A RUN_B. Rows of HNSW setups are left out (hnsw_rs does not seed
its graph, so a graph rebuilt after an interruption may differ), as are the timing columns.
"""
import sys

import polars as pl

METRICS = ["recall", "precision", "mrr", "ndcg", "hit_rate", "span_recall", "span_precision",
           "span_iou", "context_tokens"]


def table(run: str, name: str, keys: list[str]) -> pl.DataFrame:
    df = pl.read_parquet(f"{run}/{name}")
    if "index" in df.columns:
        hnsw = df.filter(pl.col("index") == "hnsw")["config_id"].unique()
    else:
        results = pl.read_parquet(f"{run}/results.parquet")
        hnsw = results.filter(pl.col("index") == "hnsw")["config_id"].unique()
    return df.filter(~pl.col("config_id").is_in(hnsw.implode())).sort(keys)


def main(a: str, b: str) -> None:
    for name, keys, cols in [
        ("results.parquet", ["config_id", "top_k"], METRICS + ["n_chunks", "overlap_chars_mean"]),
        ("per_question.parquet", ["config_id", "top_k", "question_id"], METRICS + ["first_relevant_rank"]),
    ]:
        ta, tb = table(a, name, keys), table(b, name, keys)
        if ta.select(keys).to_dicts() != tb.select(keys).to_dicts():
            sys.exit(f"{name}: the two runs scored different rows")
        for c in cols:
            if not ta[c].equals(tb[c]):
                diff = (ta[c] != tb[c]).sum()
                sys.exit(f"{name}: column {c} differs in {diff} rows")
    print("same")


if __name__ == "__main__":
    main(*sys.argv[1:])
