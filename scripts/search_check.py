"""Compare [search] strategies with the full grid (scripts/search_check.sh).

    search_check.py FULL_RUN STRATEGY_RUN...

For each strategy run: wall time and tokens embedded relative to the full run, and the
chosen setup's objective on all the data (read from the full run, which scored every
setup on every question) against the full run's best, with a paired bootstrap 95%
interval computed here, independently of ragtune's own statistics.
"""
import json
import os
import sys

import numpy as np
import polars as pl

RESAMPLES = 2000


def manifest(run):
    return json.load(open(os.path.join(run, "manifest.json")))


def wall(run):
    return float(open(os.path.join(run, "wall_seconds")).read())


def tokens(m):
    return sum(e.get("embedded_tokens", 0) for e in m["embeddings"])


def per_question(run, metric, k):
    df = pl.read_parquet(os.path.join(run, "per_question.parquet"))
    df = df.filter(pl.col("top_k") == k).select("config_id", "question_id", metric)
    return {
        cid: dict(zip(g["question_id"].to_list(), g[metric].to_list()))
        for (cid,), g in df.group_by("config_id")
    }


def paired(a, b, seed=0):
    ids = sorted(set(a) & set(b))
    d = np.array([a[i] - b[i] for i in ids])
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (RESAMPLES, len(d)))].mean(axis=1)
    return d.mean(), np.quantile(means, 0.025), np.quantile(means, 0.975), len(ids)


def main(full_run, *runs):
    fm = manifest(full_run)
    metric, k = fm["objective"].split("@")
    k = int(k)
    values = per_question(full_run, metric, k)
    best = fm["best_config_id"]
    best_mean = np.mean(list(values[best].values()))
    fw, ft = wall(full_run), tokens(fm)
    print(f"### {fm['grid_name']}: {fm['n_points']} setups, objective {fm['objective']}\n")
    print(f"Full grid: {fw:.0f} s, {ft} tokens embedded; best `{best}` = {best_mean:.3f}.\n")
    print("| strategy | wall | × full | tokens embedded | × full | setups on all data | chosen | its objective (all data) | chosen − best [95% CI] | verdict |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---|---|")
    for run in runs:
        if not os.path.exists(os.path.join(run, "manifest.json")):
            continue
        m = manifest(run)
        s = m.get("search") or {}
        chosen = m.get("best_config_id")
        w, t = wall(run), tokens(m)
        res = pl.read_parquet(os.path.join(run, "results.parquet"))
        full_setups = res.filter(~pl.col("screened"))["config_id"].n_unique()
        if chosen not in values:
            cell, diff, verdict = "-", "not in the full run", "?"
        else:
            mean = np.mean(list(values[chosen].values()))
            d, lo, hi, n = paired(values[chosen], values[best])
            within = (lo <= 0 <= hi) or abs(d) <= 0.01
            cell = f"{mean:.3f}"
            diff = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            verdict = "as good as the best" if within else "worse than the best"
        budget = " (budget reached)" if s.get("budget_reached") else ""
        print(f"| {s.get('strategy', '?')}{budget} | {w:.0f} s | {w / fw:.2f} | {t} | {t / max(ft, 1):.2f} "
              f"| {full_setups} | `{chosen}` | {cell} | {diff} | {verdict} |")
    print()


if __name__ == "__main__":
    main(*sys.argv[1:])
