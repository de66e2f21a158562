#!/usr/bin/env python3
"""Import circles between the module files of each crate under crates/.

A module file's edges are the modules its `crate::`, `super::` and `self::` paths name,
in `use` lines (groups included: `crate::{a, b::c}`) and inline in the code. Unit-test
modules (`#[cfg(test)] mod tests { ... }` at the end of a file) are left out; a parent
and its own child modules are not a circle. Circles between crates cannot exist: cargo
refuses them.

    scripts/circles.py [ROOT]     one line per circle; exit 1 if any, else 0
    scripts/circles.py --self-test
                                  plants a circle in a small tree and checks that it is
                                  found, and that the same tree without it is clean

Started from ../shared/tools/circles.py.
"""
import pathlib
import re
import sys
import tempfile

PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
GROUP = re.compile(r"\b(crate|super|self)((?:::\w+)*)::\{([^}]*)\}")
TESTS = re.compile(r"(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*")


def module_of(src, f):
    """a/b.rs -> (a, b); a/mod.rs -> (a,); lib.rs -> (); bin/* -> None."""
    parts = list(f.relative_to(src).with_suffix("").parts)
    if parts and parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    if parts and parts[0] == "bin":
        return None
    return tuple(parts)


def edges_of(src):
    mods = {}
    for f in sorted(src.rglob("*.rs")):
        m = module_of(src, f)
        if m is not None:
            mods[m] = f

    def resolve(path):  # the longest known module prefix of a path
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in mods:
                return tuple(path[:n])
        return None

    def related(a, b):  # the same module, the root, or one inside the other
        return a == b or b == () or a[: len(b)] == b or b[: len(a)] == a

    edges = {m: set() for m in mods}
    for m, f in mods.items():
        text = TESTS.sub("", f.read_text(errors="replace"))
        parent = list(m[:-1])

        def base(kind):
            return [] if kind == "crate" else (parent if kind == "super" else list(m))

        def walk(start, segs):  # `super::super::x` climbs once per `super`
            path = list(start)
            for s in segs:
                if s == "super":
                    path = path[:-1]
                elif s != "self":
                    path.append(s)
            return path

        targets = [walk(base(a.group(1)), a.group(2).split("::")[1:]) for a in PATH.finditer(text)]
        for a in GROUP.finditer(text):
            prefix = walk(base(a.group(1)), a.group(2).split("::")[1:])
            for item in a.group(3).split(","):
                segs = [s for s in item.strip().split("::") if s and s != "self"]
                if segs and re.match(r"^\w+$", segs[0]):
                    targets.append(prefix + segs)
        for path in targets:
            t = resolve(path)
            if t is not None and not related(m, t):
                edges[m].add(t)
    return edges


def strongly_connected(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def circles(root):
    found = []
    for src in sorted(pathlib.Path(root).glob("crates/*/src")):
        for comp in strongly_connected(edges_of(src)):
            names = sorted("/".join(c) or "lib" for c in comp)
            found.append(f"{src.parent.name}: " + " <-> ".join(names))
    return found


def self_test():
    with tempfile.TemporaryDirectory() as d:
        src = pathlib.Path(d, "crates", "demo", "src")
        (src / "store").mkdir(parents=True)
        (src / "lib.rs").write_text("mod a;\nmod b;\nmod store;\npub use a::A;\n")
        (src / "a.rs").write_text("use crate::b::B;\npub struct A(B);\n")
        (src / "store" / "mod.rs").write_text("mod entry;\n")
        (src / "store" / "entry.rs").write_text("use super::super::b;\n")
        clean = "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n"
        (src / "b.rs").write_text(clean)
        assert circles(d) == [], circles(d)
        # An inline path, a use group and a super:: path each close a circle.
        for planted in ("pub struct B(crate::a::A);\n",
                        "use crate::{a::A, store};\npub struct B(A);\n",
                        "pub fn f() { crate::store::entry::g() }\n"):
            (src / "b.rs").write_text(planted)
            found = circles(d)
            assert len(found) == 1 and found[0].startswith("demo: "), (planted, found)
    print("circles.py self-test: a planted circle is found three ways; a clean tree passes")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        sys.exit(0)
    found = circles(sys.argv[1] if len(sys.argv) > 1 else ".")
    for c in found:
        print(c)
    print(f"{len(found)} import circles between module files")
    sys.exit(1 if found else 0)
