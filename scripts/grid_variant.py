"""Write a variant of a grid file for the benchmark and check scripts.

    grid_variant.py SRC DST [--set KEY=VALUE ...] [--search STRATEGY]

The corpus's `path` and `questions` are made absolute (DST may live anywhere), each `--set` replaces the line
`KEY = ...` with `KEY = VALUE` (VALUE as TOML text), and `--search` appends a [search]
table with that strategy (`full` appends nothing).
"""
import os
import re
import sys


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help") or len(argv) % 2:
        sys.exit(__doc__.strip())
    src, dst, rest = argv[0], argv[1], argv[2:]
    text = open(src).read()
    base = os.path.dirname(os.path.abspath(src))
    # [corpus]'s `path` and `questions` (the first of each) are relative to the grid file.
    for key in ("path", "questions"):
        text = re.sub(rf'^{key} = "([^"]*)"',
                      lambda m, key=key: f'{key} = "{os.path.normpath(os.path.join(base, m.group(1)))}"',
                      text, count=1, flags=re.M)
    search = None
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--set":
            key, val = value.split("=", 1)
            text, n = re.subn(rf'^{re.escape(key)} = .*$', lambda _: f"{key} = {val}", text, flags=re.M)
            if n == 0:
                sys.exit(f"grid_variant.py: {src} has no `{key} = ...` line")
        elif flag == "--search":
            search = value
        else:
            sys.exit(f"grid_variant.py: unknown option {flag}")
    if search and search != "full":
        text += f'\n[search]\nstrategy = "{search}"\n'
    open(dst, "w").write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
