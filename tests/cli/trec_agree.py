"""Agreement of ragtune's document metrics with pytrec_eval (trec_eval's measures).

usage: trec_agree.py RUN_DIR EXPORT_ROOT
EXPORT_ROOT/<config_id>/k<k>/{run,qrels}.trec were written by `ragtune export-trec`.
For every grid point and k in results.parquet, P_k, recall_k, ndcg_cut_k and recip_rank
must equal ragtune's precision, recall, ndcg and mrr at k to 1e-9, per question and on
average. Prints the number of comparisons made.
"""
import collections
import json
import sys

import polars as pl
import pytrec_eval

TOL = 1e-9


def read(path, run):
    out = collections.defaultdict(dict)
    for line in open(path):
        f = line.split()
        if run:
            out[f[0]][f[2]] = float(f[4])
        else:
            out[f[0]][f[2]] = int(f[3])
    return out


def main():
    run_dir, root = sys.argv[1], sys.argv[2]
    res = pl.read_parquet(f"{run_dir}/results.parquet")
    perq = pl.read_parquet(f"{run_dir}/per_question.parquet")
    n = 0
    retrievers = set()
    for row in res.iter_rows(named=True):
        cid, k = row["config_id"], row["top_k"]
        retrievers.add(row["retriever"])
        d = f"{root}/{cid}/k{k}"
        qrels, run = read(f"{d}/qrels.trec", False), read(f"{d}/run.trec", True)
        ev = pytrec_eval.RelevanceEvaluator(qrels, {f"P.{k}", f"recall.{k}", f"ndcg_cut.{k}", "recip_rank"})
        got = ev.evaluate(run)
        mine = perq.filter((pl.col("config_id") == cid) & (pl.col("top_k") == k))
        pairs = [("precision", f"P_{k}"), ("recall", f"recall_{k}"), ("ndcg", f"ndcg_cut_{k}"), ("mrr", "recip_rank")]
        sums = collections.Counter()
        for r in mine.iter_rows(named=True):
            # A question with nothing retrieved is absent from the run; trec_eval scores it 0.
            theirs = got.get(r["question_id"], {})
            for ours, name in pairs:
                t = theirs.get(name, 0.0)
                sums[ours] += t
                if abs(r[ours] - t) > TOL:
                    sys.exit(f"{cid} k={k} question {r['question_id']}: {ours} {r[ours]!r} != trec_eval {name} {t!r}")
                n += 1
        nq = mine.height
        if nq != len(qrels):
            sys.exit(f"{cid}: {nq} questions in ragtune, {len(qrels)} in qrels")
        for ours, _ in pairs:
            if abs(row[ours] - sums[ours] / nq) > TOL:
                sys.exit(f"{cid} k={k}: mean {ours} {row[ours]!r} != trec_eval mean {sums[ours] / nq!r}")
            n += 1
    print(json.dumps({"comparisons": n, "retrievers": sorted(retrievers), "rows": res.height}))


main()
