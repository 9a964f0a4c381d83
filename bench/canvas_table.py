"""The model-side canvas for common and extreme pattern sizes, against the earlier sizing.

Earlier, the render was stretched to the pattern's aspect ratio at about resolution², each side
rounded to the size multiple on its own: no cap on the aspect ratio, and cells stretched
differently on the two axes. :func:`craftpix.engines.sds.conditioning.working_canvas` keeps a
whole number of pixels per cell, caps the aspect at the family's trained range and letterboxes.

Usage::

    python bench/canvas_table.py            # a Markdown table for docs/BENCHMARKS.md

Columns: the canvas (h×w pixels) and its aspect; pixels per cell on each axis (equal = no
stretch); the share of the canvas that is padding; pixels relative to the earlier canvas (the
UNet's cost grows about linearly with it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from craftpix.engines.sds.conditioning import working_canvas  # noqa: E402

FAMILIES = {"SDXL": (1024, 32, 4.0), "SD 1.5": (512, 64, 2.0)}
SIZES = [(48, 48), (64, 64), (100, 100), (29, 29), (60, 40), (40, 60), (120, 20), (20, 120),
         (200, 25), (300, 300)]


def earlier(height: int, width: int, resolution: int, multiple: int) -> tuple[int, int]:
    """The sizing this replaces, kept here as the baseline of the comparison."""
    aspect = height / width
    h, w = resolution * aspect**0.5, resolution / aspect**0.5
    return (max(multiple, round(h / multiple) * multiple),
            max(multiple, round(w / multiple) * multiple))


def main() -> None:
    print("| family | cells h×w | earlier canvas | px/cell (h, w) | canvas | aspect | "
          "px/cell | padding | pixels vs earlier |")
    print("|---|---|---|---|---|---|---|---|---|")
    for family, (res, mult, cap) in FAMILIES.items():
        for h, w in SIZES:
            oh, ow = earlier(h, w, res, mult)
            c = working_canvas(h, w, res, mult, cap)
            ch, cw = c.content
            pad = 1 - ch * cw / (c.height * c.width)
            aspect = max(c.height, c.width) / min(c.height, c.width)
            print(f"| {family} | {h}×{w} | {oh}×{ow} ({max(oh, ow) / min(oh, ow):.2f}:1) | "
                  f"{oh / h:.2f}, {ow / w:.2f} | {c.height}×{c.width} | {aspect:.2f}:1 | "
                  f"{c.cell_px} | {pad:.1%} | {c.height * c.width / (oh * ow):.2f}× |")


if __name__ == "__main__":
    main()
