"""Compare ragtune with the plain Python pipeline (benches/bench_vs_python.sh).

    compare.py OUT_DIR

Reads OUT_DIR/ragtune (a run folder), OUT_DIR/naive.json and OUT_DIR/careful.json, the
wall milliseconds and max RSS of each process, prints span recall@5 side by side for every
setup and the time ratios, and fails when the two implementations disagree by more than
chunker and index differences explain (mean absolute difference over setups above 0.03).
"""
import json
import sys

import polars as pl


def ragtune_label(row):
    base = f"recursive/{row['chunk_size']}/{row['chunk_overlap']}"
    kind = row["retriever"] if row["retriever"] != "hybrid" else row["fusion"]
    return f"{base} {kind}"


def main(out):
    res = pl.read_parquet(f"{out}/ragtune/results.parquet").filter(pl.col("top_k") == 5)
    ours = {ragtune_label(r): r["span_recall"] for r in res.iter_rows(named=True)}
    naive = json.load(open(f"{out}/naive.json"))
    careful = json.load(open(f"{out}/careful.json"))
    theirs = careful["span_recall@5"]
    # The two modes run the same code on the same batches. Before pipeline.py built its
    # hnswlib graphs on one thread, a multithreaded build made them differ run to run (a
    # few questions of one setup): they must agree within 0.01 per setup, and any
    # difference is printed.
    for label, v in naive["span_recall@5"].items():
        if v != theirs[label]:
            print(f"note: naive and careful differ on {label}: {v:.4f} against {theirs[label]:.4f}")
        assert abs(v - theirs[label]) <= 0.01, f"naive and careful must score alike ({label})"
    print("| setup | ragtune | Python | difference |")
    print("|---|---:|---:|---:|")
    diffs = []
    for label, v in theirs.items():
        r = ours.get(label)
        if r is None:
            sys.exit(f"ragtune has no setup {label!r} (it has {sorted(ours)})")
        diffs.append(abs(r - v))
        print(f"| {label} | {r:.4f} | {v:.4f} | {r - v:+.4f} |")
    mean = sum(diffs) / len(diffs)
    print(f"\nspan recall@5 over {len(diffs)} setups: mean |ragtune − Python| {mean:.4f}, largest {max(diffs):.4f}")
    wall = {k: int(open(f"{out}/{k}.ms").read()) / 1e3 for k in ["ragtune", "careful", "naive"]}
    rss = {k: int(open(f"{out}/{k}.maxrss_kb").read()) // 1024 for k in wall}
    print("\n| pipeline | wall (cold, whole process) | max RSS | × ragtune |")
    print("|---|---:|---:|---:|")
    for k in ["ragtune", "careful", "naive"]:
        print(f"| {k} | {wall[k]:.1f} s | {rss[k]} MiB | {wall[k] / wall['ragtune']:.2f} |")
    try:  # the careful pipeline on the wheel's model file (with its softmax NaN guards)
        ms = int(open(f"{out}/careful-wheel.ms").read()) / 1e3
        kb = int(open(f"{out}/careful-wheel.maxrss_kb").read()) // 1024
        same = json.load(open(f"{out}/careful-wheel.json"))["span_recall@5"]
        differ = [k for k in same if abs(same[k] - theirs[k]) > 0.01]
        assert not differ, f"the wheel's model file scores differently: {differ}"
        print(f"| careful, the wheel's model file | {ms:.1f} s | {kb} MiB | {ms / wall['ragtune']:.2f} |")
    except FileNotFoundError:
        pass
    print(f"\nragtune is {wall['naive'] / wall['ragtune']:.1f}x faster than the naive pipeline (target ≥ 10x) "
          f"and {wall['careful'] / wall['ragtune']:.1f}x faster than the careful one (target ≥ 3x)")
    if mean > 0.03:
        sys.exit(f"the implementations disagree: mean |difference| {mean:.4f} > 0.03")


if __name__ == "__main__":
    main(*sys.argv[1:])
