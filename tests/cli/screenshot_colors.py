"""Check that a screenshot shows every colour asked for (each plot's accent rule).

usage: screenshot_colors.py PNG '#rrggbb,#rrggbb,...'
Exits non-zero naming the colours with too few pixels.
"""
import sys

from PIL import Image

MIN_PIXELS = 1000  # an accent rule is 6 px high and hundreds wide

img = Image.open(sys.argv[1]).convert("RGB")
counts = {}
for count, rgb in img.getcolors(maxcolors=1 << 24):
    counts[rgb] = count
missing = []
for c in sys.argv[2].split(","):
    rgb = tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))
    if counts.get(rgb, 0) < MIN_PIXELS:
        missing.append(f"{c} ({counts.get(rgb, 0)} px)")
if missing:
    print(f"screenshot_colors: not rendered: {', '.join(missing)}", file=sys.stderr)
    sys.exit(1)
print(f"all {len(sys.argv[2].split(','))} plots rendered")
