"""Derive an int8 model from a fp32-computing one (models/fetch.sh runs this).

    derive_q8.py SRC.onnx DEST.onnx

1. ONNX Runtime's basic graph optimisations fold constants: the source's int8 weights,
   dequantised at load, become fp32 initialisers.
2. Dynamic quantisation, per channel, of every MatMul with a weight: int8 weights, uint8
   activations quantised at run time (MatMulInteger; VNNI where the CPU has it).

Deterministic for pinned versions (models/manifest.toml records the result's sha256).
BERT fusions (SkipLayerNormalization, BiasGelu) were 5% faster in a trial but their output
bytes differ from run to run, so they are not applied.
"""
import sys
import tempfile

import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

src, dest = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    folded = f"{tmp}/folded.onnx"
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = folded
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    quantize_dynamic(folded, dest, per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"])
