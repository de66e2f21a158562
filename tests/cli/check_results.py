"""Independent checks of a run folder's tables, read with polars, pyarrow, pandas and DuckDB.

usage: check_results.py RUN_DIR [--expect-retrievers bm25,vector,hybrid]
Exits non-zero with a message on the first failed check.
"""
import json
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

METRICS = ["recall", "precision", "mrr", "ndcg", "hit_rate", "span_recall", "span_precision", "span_iou", "judged"]
RESULT_COLUMNS = [
    "config_id", "chunker", "chunk_size", "chunk_overlap", "chunk_header", "retriever", "model", "embedding", "index",
    "hnsw_ef_search", "vectors", "rescore", "fusion", "alpha", "rrf_k", "normalization", "rerank", "rerank_depth", "expand", "equivalent",
    "rung", "stage", "screened", "top_k",
    "split", "n_questions", *METRICS,
    *[f"{m}_ci_{end}" for m in METRICS for end in ["low", "high"]],
    "vs_best", "vs_best_low", "vs_best_high", "near_best",
    "context_tokens", "hnsw_recall_vs_exact", "n_chunks",
    "mean_chunk_tokens", "overlap_chars_mean", "overlap_tokens_mean", "overlap_share",
    "index_seconds", "index_bytes", "vector_bytes", "graph_bytes", "disk_bytes", "query_ms_p50", "query_ms_p95", "query_ms_p99",
    "rerank_ms_p50",
]
QUESTION_COLUMNS = [
    "config_id", "top_k", "question_id", "recall", "precision", "mrr", "ndcg", "hit_rate",
    "span_recall", "span_precision", "span_iou", "judged", "context_tokens", "first_relevant_rank",
]
UNIT = ["recall", "precision", "mrr", "ndcg", "hit_rate", "span_recall", "span_precision", "span_iou", "judged", "hnsw_recall_vs_exact", "overlap_share"]


def fail(msg):
    print(f"check_results: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    run = sys.argv[1]
    expect = None
    if "--expect-retrievers" in sys.argv:
        expect = set(sys.argv[sys.argv.index("--expect-retrievers") + 1].split(","))
    # Every reader opens both files: strings are plain UTF-8 (not string_view, which older
    # Arrow, Spark and Trino readers cannot open), and all readers agree on the contents.
    for f in ["results.parquet", "per_question.parquet"]:
        path = f"{run}/{f}"
        t = pq.read_table(path)
        for field in pq.read_schema(path):
            if pa.types.is_string_view(field.type) or pa.types.is_binary_view(field.type) \
                    or pa.types.is_large_string(field.type):
                fail(f"{f}: column {field.name} is {field.type}, not plain utf8")
        if (pd.read_parquet(path).shape[0], t.num_rows) != (t.num_rows, t.num_rows):
            fail(f"{f}: pandas reads a different number of rows")
        rows, ks = duckdb.connect().execute(f"select count(*), sum(top_k) from read_parquet('{path}')").fetchone()
        if (rows, ks) != (t.num_rows, sum(t.column("top_k").to_pylist())):
            fail(f"{f}: DuckDB reads {rows} rows, top_k sum {ks}")
    df = pl.read_parquet(f"{run}/results.parquet")
    qdf = pl.read_parquet(f"{run}/per_question.parquet")
    if df.columns != RESULT_COLUMNS:
        fail(f"results columns {df.columns}")
    if qdf.columns != QUESTION_COLUMNS:
        fail(f"per_question columns {qdf.columns}")
    if df.height == 0:
        fail("no rows")
    for c in UNIT:
        s = df[c].drop_nulls()
        if len(s) and (s.min() < 0 or s.max() > 1 + 1e-12):
            fail(f"{c} outside [0, 1]: {s.min()}..{s.max()}")
        s = qdf[c].drop_nulls() if c in qdf.columns else None
        if s is not None and len(s) and (s.min() < 0 or s.max() > 1 + 1e-12):
            fail(f"per-question {c} outside [0, 1]")
    # Every mean lies in its 95% interval, and only metrics with values have one.
    for c in METRICS:
        lo, hi = df[f"{c}_ci_low"], df[f"{c}_ci_high"]
        if (lo.is_null() != df[c].is_null()).any():
            fail(f"{c}: intervals and means disagree on which rows have values")
        bad = df.filter((pl.col(f"{c}_ci_low") > pl.col(c) + 1e-12) | (pl.col(c) > pl.col(f"{c}_ci_high") + 1e-12))
        if bad.height:
            fail(f"{c}: mean outside its interval in {bad.height} rows")
    for c in ["span_recall", "recall"]:
        if df[c].null_count() == df.height:
            fail(f"{c} is all null")
    # Costs: latencies in order and positive, an index that holds bytes, and a rerank
    # latency exactly where there is a reranker.
    bad = df.filter((pl.col("query_ms_p50") <= 0) | (pl.col("query_ms_p50") > pl.col("query_ms_p95"))
                    | (pl.col("query_ms_p95") > pl.col("query_ms_p99")) | (pl.col("index_bytes") <= 0))
    if bad.height:
        fail(f"{bad.height} rows with latencies out of order or an empty index")
    if ((df["rerank"] == "none") != df["rerank_ms_p50"].is_null()).any():
        fail("rerank_ms_p50 is set where there is no reranker, or missing where there is one")
    if ((df["rerank"] == "none") != df["rerank_depth"].is_null()).any():
        fail("rerank_depth is set where there is no reranker, or missing where there is one")
    # Exactly the setups with a model say how they embed.
    if (df["model"].is_null() != df["embedding"].is_null()).any():
        fail("embedding is set where there is no model, or missing where there is one")
    if not set(df["embedding"].drop_nulls().unique().to_list()) <= {"standalone", "late"}:
        fail(f"unknown embedding values {df['embedding'].unique().to_list()}")
    # Recall, span recall and hit rate never fall as k grows.
    for cid, g in df.sort("top_k").group_by("config_id"):
        for c in ["recall", "span_recall", "hit_rate", "context_tokens"]:
            v = [x for x in g[c].to_list() if x is not None]
            if any(b < a - 1e-12 for a, b in zip(v, v[1:])):
                fail(f"{c} falls with k for {cid}: {v}")
    # Each config has one row per k; per_question has one row per config, k and question.
    ks = df["top_k"].unique().len()
    if df.group_by("config_id").len()["len"].to_list() != [ks] * df["config_id"].unique().len():
        fail("configs do not all have one row per k")
    # (A halving search's screened rows each have their own screen's questions.)
    nq = df.filter(pl.col("split") == "all")["n_questions"].sum()
    if qdf.height != nq:
        fail(f"per_question has {qdf.height} rows, expected {nq}")
    # The means in results equal the means of per_question.
    joined = qdf.group_by(["config_id", "top_k"]).agg(pl.col("span_recall").mean().alias("m"), pl.col("recall").mean().alias("r")).join(df, on=["config_id", "top_k"])
    for a, b in [("m", "span_recall"), ("r", "recall")]:
        d = (joined[a] - joined[b]).abs().max()
        if d is not None and d > 1e-9:
            fail(f"mean of per-question {b} differs from results by {d}")
    if expect is not None and set(df["retriever"].unique().to_list()) != expect:
        fail(f"retrievers {df['retriever'].unique().to_list()} != {expect}")
    m = json.load(open(f"{run}/manifest.json"))
    if m["status"] != "complete" or len(m["corpus_fingerprint"]) != 64:
        fail(f"manifest status {m['status']}")
    # Under [search], only setups scored on all the data compete: screened rows have no
    # comparison with the best, and a halving search's other rows are its last rung.
    screened = df.filter(pl.col("screened"))
    if screened["vs_best"].null_count() != screened.height:
        fail("a screened row is compared with the best")
    if screened.height and m.get("best_config_id") in screened["config_id"].to_list():
        fail("the best setup was scored only on a screen")
    full_rungs = df.filter(~pl.col("screened"))["rung"].unique().to_list()
    if screened.height and (len(full_rungs) != 1 or full_rungs[0] <= screened["rung"].max()):
        fail(f"rows on all the data are not the last rung: {full_rungs}")
    df = df.filter(~pl.col("screened"))
    # The best setup's difference from itself is 0; near_best is exactly "the paired
    # interval reaches 0"; vs_best exists at the objective's k only.
    metric, k = m["objective"].split("@")
    if m.get("best_config_id"):
        b = df.filter((pl.col("config_id") == m["best_config_id"]) & (pl.col("top_k") == int(k)))
        if b["vs_best"].to_list() != [0.0] * b.height or not all(b["near_best"].to_list()):
            fail(f"the best setup's vs_best is {b['vs_best'].to_list()}")
        at = df.filter(pl.col("top_k") == int(k))
        if at["vs_best"].null_count() or (at["near_best"] != (at["vs_best_high"] >= 0)).any():
            fail("near_best does not match the paired interval")
        if df.filter(pl.col("top_k") != int(k))["vs_best"].null_count() != df.height - at.height:
            fail("vs_best outside the objective's k")
    print(json.dumps({"rows": df.height, "configs": df["config_id"].unique().len(), "cache_hits": m["cache_hits"], "cache_misses": m["cache_misses"]}))


main()
