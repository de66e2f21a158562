"""Compare all-minilm-l6-v2-q8 with all-minilm-l6-v2 in one sweep (benches/bench_q8.sh).

    q8_compare.py RUN_DIR MAX_RSS_KB
"""
import json
import os
import sys

import numpy as np
import polars as pl

FP32, Q8 = "all-minilm-l6-v2", "all-minilm-l6-v2-q8"


def paired(a, b, seed=0, resamples=2000):
    d = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (resamples, len(d)))].mean(axis=1)
    return d.mean(), np.quantile(means, 0.025), np.quantile(means, 0.975)


def main(run, rss_kb):
    m = json.load(open(os.path.join(run, "manifest.json")))
    res = pl.read_parquet(os.path.join(run, "results.parquet")).filter(pl.col("top_k") == 10)
    pq = pl.read_parquet(os.path.join(run, "per_question.parquet")).filter(pl.col("top_k") == 10)
    print(f"### {m['grid_name']}: {m['n_documents']} documents, {m['n_questions']} questions; max RSS {int(rss_kb) // 1024} MiB\n")
    print("| chunk set | nDCG@10 fp32 | nDCG@10 q8 | q8 − fp32 [95% CI] | recall@10 q8 − fp32 [95% CI] |")
    print("|---|---:|---:|---|---|")
    for (chunker, size, overlap), g in res.group_by(["chunker", "chunk_size", "chunk_overlap"], maintain_order=True):
        ids = {r["model"]: r["config_id"] for r in g.iter_rows(named=True)}
        if FP32 not in ids or Q8 not in ids:
            continue
        a = pq.filter(pl.col("config_id") == ids[Q8]).sort("question_id")
        b = pq.filter(pl.col("config_id") == ids[FP32]).sort("question_id")
        cells = []
        for metric in ["ndcg", "recall"]:
            d, lo, hi = paired(a[metric].to_numpy(), b[metric].to_numpy())
            cells.append(f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        label = f"{chunker}/{size if size is not None else '-'}/{overlap if overlap is not None else '-'}"
        print(f"| {label} | {b['ndcg'].mean():.4f} | {a['ndcg'].mean():.4f} | {cells[0]} | {cells[1]} |")
    print("\n| model | texts embedded | tokens embedded | seconds | tokens/s | × fp32 |")
    print("|---|---:|---:|---:|---:|---:|")
    speed = {}
    for model in [FP32, Q8]:
        es = [e for e in m["embeddings"] if e["model"] == model]
        n = sum(e["cache_misses"] for e in es)
        t = sum(e.get("embedded_tokens", 0) for e in es)
        s = sum(e["seconds"] for e in es)
        speed[model] = t / s
        print(f"| {model} | {n} | {t} | {s:.1f} | {t / s:.0f} | {speed[model] / speed[FP32]:.2f} |")
    print()


if __name__ == "__main__":
    main(*sys.argv[1:])
