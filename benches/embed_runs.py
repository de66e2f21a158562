"""What the benchmark report scripts read from each run: the embedding records (from
manifest.json) and the process's max RSS (from RUN.maxrss_kb beside it)."""
import json
import pathlib
import re


def embed_records(out: str, pattern: str):
    """For each run folder under `out` whose name fully matches `pattern`: its match groups,
    its manifest's embedding records, and max RSS in MiB."""
    for m in sorted(pathlib.Path(out).glob("*/manifest.json")):
        name = re.fullmatch(pattern, m.parent.name)
        if not name:
            continue
        es = json.loads(m.read_text())["embeddings"]
        rss = int(pathlib.Path(f"{m.parent}.maxrss_kb").read_text()) / 1024
        yield name.groups(), es, rss


def embed_runs(out: str, pattern: str, model_group: int | None = None):
    """For each run folder under `out` whose name fully matches `pattern`: its match groups,
    the tokens embedded, the seconds of the embedding requests (only those of the model
    named by group `model_group`, when given), and max RSS in MiB."""
    for groups, es, rss in embed_records(out, pattern):
        if model_group is not None:
            es = [e for e in es if e["model"] == groups[model_group - 1]]
        tokens = sum(e.get("embedded_tokens", 0) for e in es)
        seconds = sum(e["seconds"] for e in es)
        yield groups, tokens, seconds, rss
