"""This machine's matrix-multiply ceiling with ONNX Runtime's own kernels (MLAS), at the
shapes all-minilm-l6-v2 runs, for benches/bench_ceiling.sh.

    gemm_ceiling.py THREADS

Builds two one-node ONNX graphs in memory and times them in onnxruntime 1.32, the version
ragtune loads, so the kernels are the ones the model uses:
- fp32: MatMul [M, 384] x [384, 1536] (the feed-forward up-projection, the largest GEMM);
- int8: MatMulInteger of uint8 [M, 384] by int8 [384, 1536] (what the dynamically
  quantised q8 model runs; VNNI where the CPU has it).
M = 1040 rows: a batch of 8 texts of 130 tokens. Prints one JSON line with GFLOP/s (int8:
GOP/s, a multiply and an add counted as two) for each, best of 20 timed runs after 5 warm.
"""
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

M, K, N = 1040, 384, 1536


def session(graph, threads):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def best_seconds(sess, feed):
    for _ in range(5):
        sess.run(None, feed)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t)
    return min(times)


def main(threads):
    threads = int(threads)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((K, N)).astype(np.float32)
    fp32 = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["y"])], "fp32",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [M, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [M, N])],
        [onnx.numpy_helper.from_array(w, "w")])
    wq = rng.integers(-127, 128, (K, N), dtype=np.int8)
    int8 = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "int8",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [M, K])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [M, N])],
        [onnx.numpy_helper.from_array(wq, "w")])
    ops = 2.0 * M * K * N
    a = rng.standard_normal((M, K)).astype(np.float32)
    aq = rng.integers(0, 256, (M, K), dtype=np.uint8)
    t32 = best_seconds(session(fp32, threads), {"a": a})
    t8 = best_seconds(session(int8, threads), {"a": aq})
    print(json.dumps({"threads": threads, "fp32_gflops": ops / t32 / 1e9, "int8_gops": ops / t8 / 1e9}))


if __name__ == "__main__":
    main(*sys.argv[1:])
