"""Derive an int8 model from a fp32-computing one (models/fetch.sh runs this).

    derive_q8.py SRC.onnx DEST.onnx

1. ONNX Runtime's basic graph optimisations fold constants: the source's int8 weights,
   dequantised at load, become fp32 initialisers.
2. The NaN guards after each attention softmax go: torch's export of
   scaled_dot_product_attention writes `Where(IsNaN(p), 0, p)` for rows whose every key
   is masked. The mask here adds float32's lowest finite value, not -inf, so a fully
   masked row is uniform, never NaN, and the guard returns its input unchanged: the
   output is bit for bit the same, and each guard reads and writes a [batch, heads,
   tokens, tokens] tensor. On 2 cores they took 16% of the int8 model's time.
3. Dynamic quantisation, per channel, of every MatMul with a weight: int8 weights, uint8
   activations quantised at run time (MatMulInteger; VNNI where the CPU has it).

Deterministic for pinned versions (models/manifest.toml records the result's sha256).
BERT fusions (SkipLayerNormalization, BiasGelu) were 5% faster in a trial but their output
bytes differ from run to run, so they are not applied (and ragtune turns ONNX Runtime's own
SkipLayerNormalization fusion off on CPU, where it is slower: docs/performance.md).
"""
import collections
import sys
import tempfile

import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic


def drop_softmax_nan_guards(path_in: str, path_out: str) -> int:
    """Rewire the readers of each `Where(IsNaN(s), _, s)` on a Softmax output `s` to `s`,
    after checking that the mask the softmax reads holds no -inf. Returns the count."""
    model = onnx.load(path_in)
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    readers = collections.defaultdict(list)
    for n in graph.node:
        for i in n.input:
            readers[i].append(n)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:  # any -inf constant could make a row all -inf: refuse
        for a in (inits.get(i) for i in n.input):
            if a is not None and a.dtype.kind == "f" and (a == float("-inf")).any():
                sys.exit(f"softmax NaN guards: {n.name} reads -inf; the guards may be needed")
    drop = []
    for n in graph.node:
        guard = producer.get(n.input[0]) if n.op_type == "Where" else None
        if guard is None or guard.op_type != "IsNaN":
            continue
        s = guard.input[0]
        if n.input[2] != s or producer[s].op_type != "Softmax":
            sys.exit(f"softmax NaN guards: {n.name} is not a guard on a softmax")
        for r in readers[n.output[0]]:
            r.input[:] = [s if i == n.output[0] else i for i in r.input]
        drop += [n, guard]
    for n in drop:
        graph.node.remove(n)
    onnx.save(model, path_out)
    return len(drop) // 2


def main(src: str, dest: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folded, unguarded = f"{tmp}/folded.onnx", f"{tmp}/unguarded.onnx"
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.optimized_model_filepath = folded
        ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
        if drop_softmax_nan_guards(folded, unguarded) == 0:
            sys.exit("derive_q8.py: found no softmax NaN guard; is this the expected model?")
        quantize_dynamic(unguarded, dest, per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"])


if __name__ == "__main__":
    main(*sys.argv[1:])
