"""An exported index (`ragtune export index`) loaded into LanceDB (the `lancedb` package,
pinned in scripts/test.sh):
- the vector column is a fixed-size list of float32;
- for an exact vector setup, a flat search (no vector index) with ragtune's own query
  vectors returns the top k the sweep ranked, for every question (ties of equal inner
  product may come in either order);
- for HNSW, hybrid and BM25 setups, overlap@k between LanceDB's answer (flat vector search;
  LanceDB's full-text search for BM25) and ragtune's ranking is measured, not required.
Prints a JSON summary.

usage: lancedb_check.py RUN K EXACT_DIR HNSW_DIR HYBRID_DIR BM25_DIR
"""

import json
import sys
import tempfile

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def rankings(run, out):
    cid = json.load(open(f"{out}/setup.json"))["config_id"]
    rec = json.load(open(f"{run}/rankings/{cid}.json"))
    return {q["id"]: q["chunks"] for q in rec["questions"]}


def table(db, out, name):
    chunks = pq.read_table(f"{out}/chunks.parquet")
    return db.create_table(name, data=chunks), chunks


def queries(out):
    q = pq.read_table(f"{out}/questions.parquet").to_pylist()
    return {r["id"]: (r["question"], np.array(r["vector"], dtype=np.float32)) for r in q}


def flat(tbl, vec, k):
    res = tbl.search(vec, vector_column_name="vector").metric("dot").bypass_vector_index()
    return [r["id"] for r in res.limit(k).to_list()]


def exact(db, run, out, k):
    tbl, chunks = table(db, out, "exact")
    vtype = chunks.schema.field("vector").type
    if not pa.types.is_fixed_size_list(vtype) or vtype.value_type != pa.float32():
        sys.exit(f"vector column is {vtype}, not a fixed-size list of float32")
    matrix = np.array(chunks.column("vector").to_pylist(), dtype=np.float32)
    ranked, qs = rankings(run, out), queries(out)
    equal = ties = 0
    for qid, (_, vec) in qs.items():
        got, want = flat(tbl, vec, k), ranked[qid][:k]
        if got == want:
            equal += 1
            continue
        dots = matrix @ vec
        if len(got) == len(want) and all(abs(dots[a] - dots[b]) <= 1e-6 for a, b in zip(got, want)):
            ties += 1
            continue
        sys.exit(f"{qid}: LanceDB {got} != ragtune {want}")
    return {"questions": len(qs), "equal": equal, "equal_up_to_ties": ties, "dim": vtype.list_size}


def overlap(got, want, k):
    return len(set(got) & set(want[:k])) / k


def vector_overlap(db, run, out, k, name):
    tbl, _ = table(db, out, name)
    ranked, qs = rankings(run, out), queries(out)
    return sum(overlap(flat(tbl, v, k), ranked[q], k) for q, (_, v) in qs.items()) / len(qs)


def bm25_overlap(db, run, out, k, questions):
    tbl, _ = table(db, out, "bm25")
    try:
        tbl.create_fts_index("text")
    except Exception as e:  # recorded, not required
        return f"not measured: {e}"
    ranked = rankings(run, out)
    total = 0.0
    for qid, text in questions.items():
        hits = tbl.search(text, query_type="fts").limit(k).to_list()
        total += overlap([h["id"] for h in hits], ranked[qid], k)
    return total / len(questions)


def main():
    run, k = sys.argv[1], int(sys.argv[2])
    exact_dir, hnsw_dir, hybrid_dir, bm25_dir = sys.argv[3:7]
    questions = {qid: text for qid, (text, _) in queries(exact_dir).items()}
    with tempfile.TemporaryDirectory() as d:
        db = lancedb.connect(d)
        out = {
            "exact": exact(db, run, exact_dir, k),
            "overlap_at_k": {
                "hnsw (LanceDB flat)": vector_overlap(db, run, hnsw_dir, k, "hnsw"),
                "hybrid (LanceDB flat)": vector_overlap(db, run, hybrid_dir, k, "hybrid"),
                "bm25 (LanceDB full-text)": bm25_overlap(db, run, bm25_dir, k, questions),
            },
            "k": k,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
