"""Prints benches/bench_scaling.sh's table: per model and setting (threads, sessions), the
embedding stage's tokens/s in each run (tokens embedded over the seconds of the model's
embedding requests, from the manifest), their mean, the ratio to one thread, and max RSS."""
import sys

from embed_runs import embed_runs


def main(out: str) -> None:
    runs = {}
    for (model, threads, sessions, _), tokens, seconds, rss in embed_runs(
            out, r"(.+)-t(\d+)-s(\d+)-r(\d+)", model_group=1):
        runs.setdefault((model, int(threads), int(sessions)), []).append((tokens, seconds, rss))
    for model in sorted({k[0] for k in runs}):
        print(f"\n### {model}\n")
        print("| threads | sessions | tokens | seconds (each run) | tokens/s (mean) | × 1 thread | max RSS |")
        print("|---:|---:|---:|---|---:|---:|---:|")
        base = None
        for (mo, t, s), rs in sorted(runs.items()):
            if mo != model:
                continue
            rate = sum(tok / sec for tok, sec, _ in rs) / len(rs)
            base = base or (rate if t == 1 else None)
            ratio = f"{rate / base:.2f}" if base else "-"
            secs = ", ".join(f"{sec:.1f}" for _, sec, _ in rs)
            rss = max(r for _, _, r in rs)
            print(f"| {t} | {s} | {rs[0][0]} | {secs} | {rate:,.0f} | {ratio} | {rss:,.0f} MiB |")


if __name__ == "__main__":
    main(*sys.argv[1:])
