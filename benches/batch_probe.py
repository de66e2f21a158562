"""Tokens per second of one ONNX Runtime session (1 thread, the SkipLayerNormalization
fusion off, as ragtune's CPU sessions run) at each batch size and text length, on made-up
token ids with a full attention mask. Printed as a table with each row's best marked, and
the padded tokens per call (texts × length) beside every cell.

    batch_probe.py MODEL.onnx [SECONDS_PER_CELL]
"""
import sys
import time

import numpy as np
import onnxruntime as ort

LENGTHS = [16, 32, 64, 128, 256]
BATCHES = [1, 2, 4, 8, 16, 32]


def session(path: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"],
                                disabled_optimizers=["SkipLayerNormFusion"])


def rate(s: ort.InferenceSession, batch: int, length: int, seconds: float) -> float:
    names = {i.name for i in s.get_inputs()}
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, size=(batch, length)).astype(np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    if "token_type_ids" in names:
        feed["token_type_ids"] = np.zeros_like(ids)
    s.run(None, feed)  # warm up
    tokens, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        s.run(None, feed)
        tokens += batch * length
    return tokens / (time.perf_counter() - start)


def main(path: str, seconds: str = "1.5") -> None:
    s = session(path)
    print("| tokens per text | " + " | ".join(f"{b} texts" for b in BATCHES) + " |")
    print("|---:|" + "---:|" * len(BATCHES))
    for length in LENGTHS:
        rates = [rate(s, b, length, float(seconds)) for b in BATCHES]
        best = max(rates)
        cells = [f"{'**' if r == best else ''}{r:,.0f}{'**' if r == best else ''} ({b * length})"
                 for b, r in zip(BATCHES, rates)]
        print(f"| {length} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
