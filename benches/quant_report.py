"""Quantised-vector figures from bench_quant.sh's run: per setup, nDCG@10 with the run's
95% interval, the paired difference from float32 on the same index (bootstrap over
questions, 10,000 resamples, seed 0), the share of float32's nDCG@10 kept, the vector and
graph bytes the index holds and how many times fewer vector bytes than float32, the p50
query latency (embedding included) and recall against exact float32 search at 10. Then
the issue's targets, each PASS or FAIL.

    quant_report.py RUN
"""
import sys

import polars as pl

from paired import paired  # benches/ is on the path


def main(run):
    df = pl.read_parquet(f"{run}/results.parquet").filter((pl.col("split") == "all") & (pl.col("top_k") == 10))
    pq = pl.read_parquet(f"{run}/per_question.parquet")
    print(f"\n### {run} ({df['n_questions'][0]} questions, {df['n_chunks'][0]} paragraphs, all-MiniLM-L6)\n")
    print("| index | vectors | rescore | nDCG@10 [95% CI] | Δ f32 [95% CI] | kept | vector MB | × less | graph MB | p50 ms | recall@10 vs exact f32 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    order = {"f32": 0, "int8": 1, "binary": 2}
    found = {}
    for s in sorted(df.iter_rows(named=True), key=lambda r: (r["index"], order[r["vectors"]], r["rescore"])):
        base = df.filter((pl.col("index") == s["index"]) & (pl.col("vectors") == "f32")).row(0, named=True)
        d, lo, hi = paired(pq, base["config_id"], s["config_id"], "ndcg", 10)
        kept = s["ndcg"] / base["ndcg"]
        less = base["vector_bytes"] / s["vector_bytes"]
        found[(s["index"], s["vectors"], s["rescore"])] = (d, kept, less)
        recall = "" if s["hnsw_recall_vs_exact"] is None else f"{s['hnsw_recall_vs_exact']:.3f}"
        delta = "" if s["vectors"] == "f32" else f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        print(f"| {s['index']} | {s['vectors']} | ×{s['rescore']} | {s['ndcg']:.4f} [{s['ndcg_ci_low']:.4f}, {s['ndcg_ci_high']:.4f}] "
              f"| {delta} | {kept:.1%} | {s['vector_bytes'] / 1e6:.2f} | {less:.1f} | {s['graph_bytes'] / 1e6:.2f} "
              f"| {s['query_ms_p50']:.2f} | {recall} |")
    print("\nPublished: int8 keeps about 97–99% of float32 quality, binary with rescoring about 96%.\n")
    checks = [
        ("int8, exact, no rescore: within 0.01 nDCG@10 of f32 at >= 3.9x less vector memory",
         lambda d, kept, less: abs(d) <= 0.01 and less >= 3.9, ("exact", "int8", 0)),
        ("binary, exact, rescore x4: within 0.02 nDCG@10 of f32 at >= 16x less memory held",
         lambda d, kept, less: abs(d) <= 0.02 and less >= 16, ("exact", "binary", 4)),
    ]
    for text, ok, key in checks:
        d, kept, less = found[key]
        print(f"- {'PASS' if ok(d, kept, less) else 'FAIL'}: {text} (Δ {d:+.4f}, {less:.1f}x less, {kept:.1%} kept)")


main(sys.argv[1])
