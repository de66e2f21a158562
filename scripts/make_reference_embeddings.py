#!/usr/bin/env python3
"""Makes tests/data/reference_embeddings.json once: sentence embeddings computed with
Python onnxruntime and Hugging Face tokenizers, independently of ragtune's Rust code, for
the bundled models. ragtune's embedding test must agree with them to cosine >= 0.9999.
It also holds one sentence's token-level output (each token's byte offsets and output row,
special tokens left out), which late chunking's token vectors must match row for row.

    pip install onnxruntime==1.32.0 tokenizers numpy
    python3 scripts/make_reference_embeddings.py
"""
import json
import pathlib
import tomllib

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "Homes built before 1920 need a surveyor's report no older than two years.",
    "Ünïcödé text, with accents: café, naïve, Zürich — and an emoji 🚢.",
    # Long enough to be truncated by both models (256 and 128 tokens).
    " ".join(["The underwriter reviews the renewal terms before the next renewal."] * 40),
]


def embed(model_dir: pathlib.Path):
    meta = tomllib.loads((model_dir / "model.toml").read_text())
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=meta["max_tokens"])
    sess = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    input_names = {i.name for i in sess.get_inputs()}
    out = []
    for s in SENTENCES:  # one at a time: no padding at all in the reference
        e = tok.encode(s)
        feed = {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
        }
        if "token_type_ids" in input_names:
            feed["token_type_ids"] = np.array([e.type_ids], dtype=np.int64)
        (hidden,) = sess.run([meta["output"]], feed)
        mask = feed["attention_mask"][0][:, None].astype(np.float32)
        v = (hidden[0] * mask).sum(0) / mask.sum()
        v = v / np.linalg.norm(v)
        out.append([float(x) for x in v])
    return out


def token_rows(model_dir: pathlib.Path, sentence: str):
    """The sentence's tokens, run alone: byte offsets and output rows, [CLS] and [SEP] left out."""
    meta = tomllib.loads((model_dir / "model.toml").read_text())
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    sess = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    e = tok.encode(sentence)
    n = len(e.ids)
    feed = {
        "input_ids": np.array([e.ids], dtype=np.int64),
        "attention_mask": np.ones((1, n), dtype=np.int64),
        "token_type_ids": np.zeros((1, n), dtype=np.int64),
    }
    (hidden,) = sess.run([meta["output"]], feed)
    # Character offsets to byte offsets (the Rust tokenizer reports bytes).
    byte = [len(sentence[:i].encode()) for i in range(len(sentence) + 1)]
    offsets = [[byte[a], byte[b]] for a, b in e.offsets[1:-1]]
    rows = [[round(float(x), 6) for x in r] for r in hidden[0][1:-1]]
    return {"sentence": sentence, "offsets": offsets, "rows": rows}


def main():
    ref = {"sentences": SENTENCES, "onnxruntime": ort.__version__, "models": {}}
    for name in ["all-minilm-l6-v2", "paraphrase-minilm-l3-v2"]:
        ref["models"][name] = embed(ROOT / "models" / name)
    ref["token_vectors"] = token_rows(ROOT / "models" / "all-minilm-l6-v2", SENTENCES[4])
    path = ROOT / "tests" / "data" / "reference_embeddings.json"
    path.write_text(json.dumps(ref) + "\n")
    m = np.array(ref["models"]["all-minilm-l6-v2"])
    print(f"wrote {path}; L6 cos(eat food, eat bread) = {m[0] @ m[1]:.3f}, cos(eat food, ride horse) = {m[0] @ m[2]:.3f}")


if __name__ == "__main__":
    main()
