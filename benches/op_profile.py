"""Where one ONNX Runtime session's time goes, by operator: 30 runs of BATCH texts of
LENGTH made-up tokens (1 thread, the SkipLayerNormalization fusion off, as ragtune runs
its CPU sessions), from ONNX Runtime's own profiler. Prints tokens/s and the share of
kernel time per operator type.

    op_profile.py MODEL.onnx BATCH LENGTH
"""
import json, sys, glob, os, collections
import numpy as np, onnxruntime as ort
path, batch, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
so.enable_profiling = True; so.profile_file_prefix = f"p{batch}x{length}"
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"], disabled_optimizers=["SkipLayerNormFusion"])
names = {i.name for i in s.get_inputs()}
ids = np.random.default_rng(0).integers(1000, 20000, size=(batch, length)).astype(np.int64)
feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
if "token_type_ids" in names: feed["token_type_ids"] = np.zeros_like(ids)
for _ in range(30): s.run(None, feed)
f = s.end_profiling()
ev = json.load(open(f))
by = collections.Counter(); total = 0
for e in ev:
    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
        by[e["args"]["op_name"]] += e["dur"]; total += e["dur"]
runs = [e["dur"] for e in ev if e.get("cat") == "Session" and e["name"] == "model_run"]
run_total = sum(runs)
print(f"{os.path.basename(os.path.dirname(path))} {batch}x{length}: kernels {total/30/1000:.2f} ms/run of {run_total/30/1000:.2f} ms; tokens/s {batch*length*30/(run_total/1e6):,.0f}")
for op, d in by.most_common(8):
    print(f"  {op:28s} {100*d/total:5.1f}%")
os.remove(f)
