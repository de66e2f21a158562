"""Prints benches/bench_batch.sh's table: per chunk set and batch setting, the embedding
stage's tokens/s in each run (tokens embedded over the seconds of all embedding requests,
from the manifest), their mean, the ratio to batches of 8 texts, and max RSS."""
import sys

from embed_runs import embed_runs


def main(out: str) -> None:
    runs = {}
    for (grid, batch, _), tokens, seconds, rss in embed_runs(out, r"(\w+)-(\w+)-r(\d+)"):
        runs.setdefault(grid, {}).setdefault(batch, []).append((tokens, seconds, rss))
    order = lambda b: (b != "8", int(b.removeprefix("tokens")))
    for grid, settings in sorted(runs.items()):
        print(f"\n### {grid}\n")
        print("| batch | tokens | seconds (each run) | tokens/s (mean) | × 8 texts | max RSS |")
        print("|---|---:|---|---:|---:|---:|")
        base = None
        for batch in sorted(settings, key=order):
            rs = settings[batch]
            rate = sum(tok / sec for tok, sec, _ in rs) / len(rs)
            base = base or rate
            label = "8 texts" if batch == "8" else batch.replace("tokens", "tokens:")
            secs = ", ".join(f"{sec:.1f}" for _, sec, _ in rs)
            rss = max(r for _, _, r in rs)
            print(f"| {label} | {rs[0][0]} | {secs} | {rate:,.0f} | {rate / base:.2f} | {rss:,.0f} MiB |")


if __name__ == "__main__":
    main(*sys.argv[1:])
