"""scripts/gpu-check.sh's report, with nothing but the standard library (GPU images may
lack polars): the nDCG@10 difference of every setup between the CUDA and CPU runs
(`ragtune compare --json`, saved as compare.json), each run's embedding tokens/s and
batch size (manifest.json), and the GPU's utilisation sampled during the CUDA run.
Exits 1 when any setup's nDCG@10 differs by more than 0.002."""
import json
import pathlib
import sys

TOLERANCE = 0.002


def speed(run: pathlib.Path) -> tuple:
    m = json.loads((run / "manifest.json").read_text())
    es = m["embeddings"]
    tokens = sum(e.get("embedded_tokens", 0) for e in es)
    seconds = sum(e["seconds"] for e in es)
    # A number of texts per call, or (the CPU default) a budget of padded tokens.
    batches = sorted({str(e["batch_size"]) if e.get("batch_size") else f"tokens:{e['batch_tokens']}"
                      for e in es if e.get("batch_size") or e.get("batch_tokens")})
    return m.get("execution_provider"), tokens, seconds, batches


def main(out: str) -> None:
    out = pathlib.Path(out)
    rows = json.loads((out / "compare.json").read_text())
    print("| setup | nDCG@10 cuda − cpu | 95% CI | questions |")
    print("|---|---:|---|---:|")
    for r in rows:
        print(f"| {r['setup']} | {r['diff']:+.5f} | [{r['ci_low']:+.5f}, {r['ci_high']:+.5f}] | {r['questions']} |")
    worst = max((abs(r["diff"]) for r in rows), default=float("nan"))
    print("\n| run | provider | tokens embedded | seconds | tokens/s | batch size |")
    print("|---|---|---:|---:|---:|---|")
    for name in ["cuda", "cpu"]:
        ep, tok, sec, batches = speed(out / name)
        print(f"| {name} | {ep} | {tok} | {sec:.1f} | {tok / sec:,.0f} | {batches} |")
    samples = [line.split(",") for line in (out / "gpu-util.csv").read_text().splitlines() if line.strip()]
    if samples:
        util = [float(s[0]) for s in samples]
        busy = [u for u in util if u > 0]
        print(f"\nGPU utilisation during the CUDA run: mean {sum(util) / len(util):.0f}%, "
              f"mean while busy {sum(busy) / max(len(busy), 1):.0f}%, peak {max(util):.0f}% "
              f"({len(util)} samples 200 ms apart); peak memory {max(float(s[1]) for s in samples):.0f} MiB")
    ok = len(rows) > 0 and worst <= TOLERANCE
    print(f"\nnDCG@10: largest difference {worst:.5f} over {len(rows)} setups; "
          f"{'the runs agree' if ok else 'the runs DO NOT agree'} (tolerance {TOLERANCE})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(*sys.argv[1:])
