"""Prints benches/bench_lengths.sh's tables: per model, tokens/s of the chunk embedding
(the tokens the model ran on, `model_tokens`: after truncation to its maximum, [CLS] and
[SEP] included, padding not; over the seconds of the chunk set's embedding requests, from
the manifest; the questions are left out) at each text length and batch budget, the mean
of the runs, and the best budget per length against the default; then, from `perf` sample
counts, the share of a sweep's CPU samples in each part of the work at 32 and 256 tokens."""
import pathlib
import re
import sys

from embed_runs import embed_records

DEFAULT = 256


def rates(out: pathlib.Path) -> tuple[dict, dict]:
    """(model, window, budget) -> [tokens/s of each run]; (model, window) -> model
    tokens per text."""
    got: dict = {}
    per_text: dict = {}
    for (model, size, budget, _), es, _ in embed_records(out, r"(.+)-(\d+)-tokens(\d+)-r(\d+)"):
        size, budget = int(size), int(budget)
        chunks = [e for e in es if e["what"] != "questions"]
        if any(e.get("model_tokens") is None for e in chunks):
            sys.exit(f"{out}: a {model} run has no model_tokens (a manifest older than the field)")
        tokens = sum(e["model_tokens"] for e in chunks)
        seconds = sum(e["seconds"] for e in chunks)
        texts = sum(e["cache_misses"] for e in chunks)
        if not (tokens and seconds and texts):
            sys.exit(f"{out}: a {model} run embedded nothing (a warm store?)")
        got.setdefault((model, size, budget), []).append(tokens / seconds)
        per_text[(model, size)] = tokens / texts
    return got, per_text


def rate_table(got: dict, per_text: dict) -> None:
    models = sorted({k[0] for k in got})
    budgets = sorted({k[2] for k in got})
    if DEFAULT not in budgets:
        sys.exit(f"no runs at the default budget tokens:{DEFAULT}")
    for model in models:
        print(f"\n### {model}: tokens/s of the chunk embedding (mean of the runs)\n")
        print("| window | model tokens per text | " + " | ".join(f"tokens:{b}" for b in budgets)
              + " | best | best × default | × 32 tokens (default) |")
        print("|---:|---:|" + "---:|" * (len(budgets) + 3))
        short = None
        for length in sorted({k[1] for k in got if k[0] == model}):
            mean = {b: sum(v) / len(v) for b in budgets
                    if (v := got.get((model, length, b)))}
            best = max(mean, key=mean.get)
            short = short or mean[DEFAULT]
            cells = [f"**{mean[b]:,.0f}**" if b == best else f"{mean[b]:,.0f}" for b in budgets]
            print(f"| {length} | {per_text[(model, length)]:.1f} | " + " | ".join(cells)
                  + f" | tokens:{best} | {mean[best] / mean[DEFAULT]:.3f}"
                  + f" | {mean[DEFAULT] / short:.2f} |")


# (part, test on (dso, symbol)), first match wins. perf ran without call graphs, so libc's
# copies and allocations and the kernel's work are shown apart: their callers are unknown.
PARTS = [
    ("ONNX Runtime (the model)", lambda d, s: "onnxruntime" in d),
    ("tokenisation", lambda d, s: re.search(r"tokenizers|unicode_categories|unicode_normalization|wordpiece|onig", s, re.I)),
    ("chunking", lambda d, s: re.search(r"ragtune_chunk|text_splitter", s)),
    ("sha256 (store keys and checksums)", lambda d, s: "sha2" in s),
    ("search and scoring", lambda d, s: re.search(r"ragtune_vector|ragtune_eval|ragtune_sweep::score|ndarray|lanes", s)),
    ("libc: copies and allocation", lambda d, s: d.startswith("libc")),
    ("kernel (files, memory, scheduling)", lambda d, s: "kernel" in d),
    ("other", lambda d, s: True),
]


def samples(path: pathlib.Path) -> dict:
    """Part -> share of the samples in `perf report -n` output."""
    parts = {p: 0 for p, _ in PARTS}
    for line in path.read_text().splitlines():
        row = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[.\]\s+(.*)", line)
        if row:
            count, dso, sym = int(row.group(1)), row.group(2), row.group(3)
            parts[next(p for p, test in PARTS if test(dso, sym))] += count
    total = sum(parts.values())
    return {p: 100 * n / total for p, n in parts.items()} if total else {}


def breakdown(out: pathlib.Path) -> None:
    shares = {}
    for size in (32, 256):
        path = out / f"perf-{size}.txt"
        shares[size] = samples(path) if path.is_file() else {}
        if not shares[size]:
            print(f"\n(no perf breakdown at {size} tokens: perf did not run)")
            return
    print("\n### Where a sweep's CPU goes (all-minilm-l6-v2, tokens:256; perf samples)\n")
    print("| part | windows of 32 tokens | of 256 tokens |")
    print("|---|---:|---:|")
    for p, _ in PARTS:
        print(f"| {p} | {shares[32][p]:.1f}% | {shares[256][p]:.1f}% |")


def main(out: str) -> None:
    path = pathlib.Path(out)
    rate_table(*rates(path))
    breakdown(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
