#!/usr/bin/env bash
# Own documents on real data (issue: "Your own documents and questions"): builds text,
# HTML and PDF versions of SQuAD v1.1 dev's 48 articles and a PDF version of Chroma's
# five corpora (scripts/make_documents.py; PDFs printed by headless Chromium with header
# and footer on), labels them with answer texts only, then
#   1. checks that SQuAD's official offset is among the located places (plain text),
#   2. sweeps one grid (two chunkers, two sizes, BM25, vector, hybrid) on each format,
#   3. locates Chroma's reference excerpts in its PDFs (and in its markdown, as a base),
# and writes docs/documents.md with scripts/documents_table.py. About 15 minutes on
# 2 cores with a cold store.
#   scripts/documents_proof.sh [OUT]      # OUT defaults to runs/documents
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check polars==2.1.0 pyarrow==26.0.1 \
  python-docx==1.2.0 markdown==3.11.3 pypdfium2==5.15.2 pypdf==7.1.0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
ragtune="$CARGO_TARGET_DIR/release/ragtune"
out="$(realpath -m "${1:-runs/documents}")"
# The runs are made afresh; the documents and the stage store are kept from an earlier
# run into the same folder (documents are remade by removing $out/docs).
rm -rf "$out"/run-* "$out"/labels-*.json
mkdir -p "$out"
if [ ! -f "$out/make_seconds" ]; then
  start=$(date +%s)
  .venv/bin/python scripts/make_documents.py "$out/docs"
  echo "$(( $(date +%s) - start ))" > "$out/make_seconds"
fi

grid() { # name, corpus folder, questions file, [extra corpus lines]
  cat > "$out/$1.toml" <<TOML
name = "$1"
[corpus]
format = "dir"
path = "$2"
questions = "$3"
${4:-}
[grid]
chunker = ["chars", "markdown"]
chunk_size = [400, 800]
chunk_overlap = [0]
retriever = ["bm25", "vector", "hybrid"]
model = ["all-minilm-l6-v2"]
fusion = ["rrf"]
top_k = [1, 3, 5, 10]
[select]
objective = "span_recall@5"
TOML
}
squad="$out/docs/squad"
for format in txt html pdf; do
  # An answer the PDF lost (Chinese characters, where the machine printing it has no CJK
  # font) is dropped and listed in the manifest, not fatal.
  grid "squad-$format" "$squad/$format" "$squad/questions.csv" 'unresolved = "drop"'
  "$ragtune" labels check "$out/squad-$format.toml" --json > "$out/labels-squad-$format.json" || true
  start=$(date +%s)
  "$ragtune" sweep "$out/squad-$format.toml" --out "$out/run-squad-$format" --cache-dir "$out/cache"
  echo "$(( $(date +%s) - start ))" > "$out/run-squad-$format/wall_seconds"
done
# Chroma's references: in the PDFs (sources name the PDF), and in the markdown originals.
grid chroma-pdf "$out/docs/chroma/pdf" "$out/docs/chroma/questions.csv"
"$ragtune" labels check "$out/chroma-pdf.toml" --json > "$out/labels-chroma-pdf.json" || true
mkdir -p "$out/docs/chroma/md"
cp ../shared/datasets/chroma-chunking/corpora/*.md "$out/docs/chroma/md/"
.venv/bin/python - "$out/docs/chroma" <<'PY'
import csv, pathlib, sys
d = pathlib.Path(sys.argv[1])
with open(d / "questions.csv", newline="") as f, open(d / "questions-md.csv", "w", newline="") as g:
    rows = csv.DictReader(f)
    w = csv.DictWriter(g, fieldnames=rows.fieldnames)
    w.writeheader()
    for r in rows:
        r["source"] = r["source"].removesuffix(".pdf") + ".md"
        w.writerow(r)
PY
grid chroma-md "$out/docs/chroma/md" "$out/docs/chroma/questions-md.csv"
"$ragtune" labels check "$out/chroma-md.toml" --json > "$out/labels-chroma-md.json" || true
.venv/bin/python scripts/documents_table.py "$out" > docs/documents.md
echo "wrote docs/documents.md" >&2
