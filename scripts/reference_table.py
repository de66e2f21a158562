#!/usr/bin/env python3
"""Write a run folder's scored metrics as a reference table (CSV, exact float repr).

Usage: reference_table.py RUN_DIR OUT.csv

One row per setup and k: config_id, label, top_k, then every metric as the run stored it
(points/*.json), with Python's round-trip repr so that a later run can be compared bit for
bit. tests/cli/reference.rs compares a fresh quickstart run against the stored table.
"""
import csv
import json
import pathlib
import sys

METRICS = ["recall", "precision", "mrr", "ndcg", "hit_rate", "span_recall", "span_precision", "span_iou", "context_tokens"]


def main(run: str, out: str) -> None:
    rows = []
    for p in sorted(pathlib.Path(run, "points").glob("*.json")):
        rec = json.loads(p.read_text())
        for r in rec["rows"]:
            rows.append([rec["config_id"], rec["label"], r["top_k"]] + [repr(r[m]) if r[m] is not None else "" for m in METRICS])
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["config_id", "label", "top_k"] + METRICS)
        w.writerows(rows)
    print(f"{out}: {len(rows)} rows")


if __name__ == "__main__":
    main(*sys.argv[1:])
