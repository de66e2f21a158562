"""A small ONNX cross-encoder whose score is a known function of the pair, and a check of
ragtune's reranked answers against that function.

    cross_encoder.py make DIR TOKENIZER_JSON
        DIR/model.onnx, model.toml (kind = "cross-encoder") and tokenizer.json. The model
        takes input_ids, attention_mask and token_type_ids ([batch, len], int64) and
        returns logits [batch, 1]: the sum over the text's tokens (token type 1, unmasked)
        of W[id] = ((id * 37) mod 101) / 101.
    cross_encoder.py check ANSWERS_JSON TOKENIZER_JSON MAX_TOKENS
        ANSWERS_JSON: [{"query": ..., "hits": [{"chunk", "text", "score"}]}]. Each hit's
        score must be the function of its (query, text) pair, encoded as a cross-encoder
        encodes it, and the hits must be in descending score, ties by ascending chunk.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer

VOCAB = 30522


def weights():
    ids = np.arange(VOCAB, dtype=np.int64)
    return ((ids * 37) % 101).astype(np.float32) / np.float32(101)


def make(out: Path, tokenizer: Path):
    out.mkdir(parents=True, exist_ok=True)
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "len"])
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])
    nodes = [
        helper.make_node("Gather", ["W", "input_ids"], ["g"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["token_type_ids"], ["t"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["g", "m"], ["gm"]),
        helper.make_node("Mul", ["gm", "t"], ["gmt"]),
        helper.make_node("ReduceSum", ["gmt", "axes"], ["logits"], keepdims=1),
    ]
    init = [
        numpy_helper.from_array(weights(), "W"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
    ]
    graph = helper.make_graph(nodes, "pair-score", inputs, [logits], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out / "model.onnx")
    shutil.copy(tokenizer, out / "tokenizer.json")
    (out / "model.toml").write_text('kind = "cross-encoder"\nmax_tokens = 512\n')


def check(answers: Path, tokenizer: Path, max_tokens: int):
    tok = Tokenizer.from_file(str(tokenizer))
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens)
    w = weights().astype(np.float64)
    checked = 0
    for a in json.loads(answers.read_text()):
        hits = a["hits"]
        assert hits, a["query"]
        for h in hits:
            e = tok.encode(a["query"], h["text"])
            want = sum(w[i] for i, t in zip(e.ids, e.type_ids) if t == 1)
            assert abs(h["score"] - want) < 1e-3, (a["query"], h["chunk"], h["score"], want)
            checked += 1
        order = sorted(hits, key=lambda h: (-h["score"], h["chunk"]))
        assert [h["chunk"] for h in order] == [h["chunk"] for h in hits], a["query"]
    print(f"{checked} pairs score as the function says, every list in its order")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        check(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
