"""A retrieval-tuning pipeline in plain Python, the kind users write today, for
benches/bench_vs_python.sh to time against ragtune on the same grid.

    pipeline.py naive|careful CHROMA_DIR MODEL_DIR OUT_JSON [CORPUS_ID ...]

The grid: LangChain's RecursiveCharacterTextSplitter (Chroma's separators) at sizes 300,
600 and 1200 characters with overlap 0 and 25% (or PIPELINE_SIZES, and overlaps in
characters PIPELINE_OVERLAP_CHARS, both comma lists: the long-chunk grid); BM25 (rank_bm25), vector
search (onnxruntime with the same model file, mean pooling, hnswlib) and hybrids of the
two (reciprocal rank fusion with k = 60, and a weighted sum of min-max-normalised scores
with alpha = 0.5), each ranking 50 deep; span recall at k = 5. That is 24 setups.

BM25 analyses text as ragtune's does (runs of letters and digits, lowercased, tokens over 40
bytes dropped, Snowball English stems) with tantivy's k1 = 1.2, b = 0.75 and IDF, so that
the two implementations can be checked against each other; rank_bm25's own defaults
(whitespace split, k1 = 1.5, Okapi IDF) score 7 to 11 points lower on this grid.

- naive: every setup chunks, embeds (its chunks and the questions), indexes and scores on
  its own, as a loop over a grid usually starts out;
- careful: each chunk set is chunked, embedded and indexed once, and the questions are
  embedded once; the setups then only rank and score.

Writes {setup label: span recall@5} and the wall seconds to OUT_JSON.
"""
import csv
import json
import math
import os
import re
import sys
import time

import hnswlib
import numpy as np
import onnxruntime as ort
from langchain_text_splitters import RecursiveCharacterTextSplitter
from rank_bm25 import BM25Okapi
from snowballstemmer import stemmer
from tokenizers import Tokenizer

SIZES = [300, 600, 1200]
OVERLAPS = [0, 25]  # percent of the size
# The long-chunk grid (bench_vs_python.sh long): sizes, and overlaps in characters.
if os.environ.get("PIPELINE_SIZES"):
    SIZES = [int(x) for x in os.environ["PIPELINE_SIZES"].split(",")]
OVERLAP_CHARS = [int(x) for x in os.environ.get("PIPELINE_OVERLAP_CHARS", "").split(",") if x]
K, DEPTH, RRF_K, ALPHA = 5, 50, 60.0, 0.5
MAX_TOKENS, BATCH = 256, 32


def load_chroma(root, include):
    docs = {}
    for name in sorted(os.listdir(os.path.join(root, "corpora"))):
        cid = name[:-3]
        if name.endswith(".md") and (not include or cid in include):
            docs[cid] = open(os.path.join(root, "corpora", name), encoding="utf-8").read()
    questions = []
    with open(os.path.join(root, "questions_df.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["corpus_id"] in docs:
                refs = json.loads(row["references"])
                spans = [(r["start_index"], r["end_index"]) for r in refs]
                questions.append((row["question"], row["corpus_id"], spans))
    return docs, questions


def chunk(docs, size, overlap):
    splitter = RecursiveCharacterTextSplitter(
        separators=["\n\n", "\n", ".", "?", "!", " ", ""], chunk_size=size,
        chunk_overlap=overlap, length_function=len, keep_separator=True,
        strip_whitespace=True, add_start_index=True)
    chunks = []
    for cid, text in docs.items():
        for d in splitter.create_documents([text]):
            s = d.metadata["start_index"]
            chunks.append((cid, s, s + len(d.page_content), d.page_content))
    return chunks


class Embedder:
    def __init__(self, model_dir):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = os.cpu_count()
        self.session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.enable_padding()
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, texts):
        out = []
        for i in range(0, len(texts), BATCH):
            enc = self.tok.encode_batch(texts[i:i + BATCH])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            m = mask[:, :, None].astype(np.float32)
            v = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        return np.vstack(out)


STEM = stemmer("english")
WORD = re.compile(r"[^\W_]+")


def analyse(text):
    words = [w.lower() for w in WORD.findall(text) if len(w.encode()) <= 40]
    return STEM.stemWords(words)


class TantivyBM25(BM25Okapi):
    """rank_bm25's Okapi BM25 with tantivy's IDF: ln(1 + (N − n + 0.5) / (n + 0.5))."""

    def _calc_idf(self, nd):
        for word, n in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - n + 0.5) / (n + 0.5))


def bm25_rank(chunks):
    bm25 = TantivyBM25([analyse(c[3]) for c in chunks], k1=1.2, b=0.75)

    def rank(q):
        scores = bm25.get_scores(analyse(q))
        top = [i for i in np.argsort(-scores, kind="stable")[:DEPTH] if scores[i] > 0]
        return top, scores[top]
    return rank


def vector_rank(vectors, qv):
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), ef_construction=200, M=16)
    index.add_items(vectors, num_threads=1)  # a multithreaded build differs run to run
    index.set_ef(max(64, DEPTH))
    labels, dist = index.knn_query(qv, k=min(DEPTH, len(vectors)))
    return [(list(l), 1.0 - d) for l, d in zip(labels, dist)]


def fuse(a, b, how):
    scores = {}
    if how == "rrf":
        for ids, _ in (a, b):
            for r, i in enumerate(ids):
                scores[i] = scores.get(i, 0.0) + 1.0 / (RRF_K + r + 1)
    else:
        for (ids, s), w in ((a, 1 - ALPHA), (b, ALPHA)):
            s = np.asarray(s, dtype=np.float64)
            lo, hi = (s.min(), s.max()) if len(s) else (0.0, 0.0)
            norm = (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
            for i, x in zip(ids, norm):
                scores[i] = scores.get(i, 0.0) + w * x
    return sorted(scores, key=lambda i: (-scores[i], i))


def span_recall(top, chunks, cid, spans):
    gold = set()
    for s, e in spans:
        gold.update(range(s, e))
    got = set()
    for i in top[:K]:
        c = chunks[i]
        if c[0] == cid:
            got.update(range(c[1], c[2]))
    return len(gold & got) / len(gold) if gold else 0.0


def score(chunks, questions, rankings):
    return float(np.mean([span_recall(r, chunks, cid, spans)
                          for r, (_, cid, spans) in zip(rankings, questions)]))


def setups():
    for size in SIZES:
        overlaps = OVERLAP_CHARS or [size * pct // 100 for pct in OVERLAPS]
        for overlap in overlaps:
            for retriever in ["bm25", "vector", "rrf", "weighted"]:
                yield size, overlap, retriever


def run_setup(docs, questions, embed, size, overlap, retriever, cache=None):
    """One setup; `cache` (careful) holds what earlier setups of the chunk set computed."""
    cache = cache if cache is not None else {}
    if "chunks" not in cache:
        cache["chunks"] = chunk(docs, size, overlap)
    chunks = cache["chunks"]
    qs = [q for q, _, _ in questions]
    if retriever != "vector" and "bm25" not in cache:
        rank = bm25_rank(chunks)
        cache["bm25"] = [rank(q) for q in qs]
    if retriever != "bm25" and "vector" not in cache:
        if "qv" not in cache.get("shared", {}):
            cache.setdefault("shared", {})["qv"] = embed(qs)
        vectors = embed([c[3] for c in chunks])
        cache["vector"] = vector_rank(vectors, cache["shared"]["qv"])
    if retriever == "bm25":
        rankings = [ids for ids, _ in cache["bm25"]]
    elif retriever == "vector":
        rankings = [ids for ids, _ in cache["vector"]]
    else:
        rankings = [fuse(a, b, retriever) for a, b in zip(cache["bm25"], cache["vector"])]
    return score(chunks, questions, rankings)


def main(mode, root, model_dir, out, *include):
    docs, questions = load_chroma(root, set(include))
    embed = Embedder(model_dir)
    start = time.time()
    results, caches, shared = {}, {}, {}
    for size, overlap, retriever in setups():
        label = f"recursive/{size}/{overlap} {retriever}"
        if mode == "careful":
            cache = caches.setdefault((size, overlap), {"shared": shared})
        else:
            cache = {}
        results[label] = run_setup(docs, questions, embed, size, overlap, retriever, cache)
        print(f"{mode}: {label}: span_recall@5 {results[label]:.4f}", file=sys.stderr)
    seconds = time.time() - start
    json.dump({"mode": mode, "seconds": seconds, "span_recall@5": results}, open(out, "w"), indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
