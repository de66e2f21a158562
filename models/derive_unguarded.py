"""Derive a float32 model without the softmax NaN guards (models/fetch.sh runs this).

    derive_unguarded.py SRC.onnx DEST.onnx

torch's export of scaled_dot_product_attention writes `Where(IsNaN(p), 0, p)` after each
attention softmax, for rows whose every key is masked. The mask here adds float32's lowest
finite value, not -inf, so no row is ever all masked and the guard returns its input
unchanged (derive_q8.py explains it; that script drops them too). Each guard reads and
writes a [texts, heads, tokens, tokens] tensor: at 256 tokens they take 7% of
all-minilm-l6-v2's time on one core, and more in larger calls (docs/performance.md).

Nothing else changes, so the result must compute the very same bits: this script embeds
made-up texts with both graphs (one text and padded batches, up to 256 tokens) and refuses
to write a model whose output differs in any bit.
"""
import sys

import numpy as np
import onnxruntime as ort

from derive_q8 import drop_softmax_nan_guards


def session(path: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"],
                                disabled_optimizers=["SkipLayerNormFusion"])


def same_bits(a: str, b: str) -> None:
    sa, sb = session(a), session(b)
    names = {i.name for i in sa.get_inputs()}
    rng = np.random.default_rng(0)
    for batch, length in [(1, 7), (1, 256), (4, 64), (3, 200), (16, 16)]:
        ids = rng.integers(1000, 20000, size=(batch, length)).astype(np.int64)
        mask = np.ones_like(ids)
        for row in mask[1:]:
            row[rng.integers(1, length + 1):] = 0
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        x, y = sa.run(None, feed)[0], sb.run(None, feed)[0]
        if x.tobytes() != y.tobytes():
            sys.exit(f"derive_unguarded.py: outputs differ at {batch} x {length} tokens "
                     f"(largest difference {np.abs(x - y).max()}); not writing the model")


def main(src: str, dest: str) -> None:
    if drop_softmax_nan_guards(src, dest) == 0:
        sys.exit("derive_unguarded.py: found no softmax NaN guard; is this the expected model?")
    same_bits(src, dest)


if __name__ == "__main__":
    main(*sys.argv[1:])
