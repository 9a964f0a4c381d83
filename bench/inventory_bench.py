"""Inventory and price re-assignment (craftpix.inventory.constrain) on a photo-sized grid.

    .venv/bin/python bench/inventory_bench.py [--size 100] [--repeat 3]

The example photo is brought to a ``size``×``size`` grid and every cell takes its
CIEDE2000-nearest perler color (the engine's labels without smoothing: the most distinct
reference colors, the hardest case for grouping). Three cases: an inventory that holds half
of the most used color (a capacity-constrained transportation problem), ``--prefer-cheap``
with made-up prices, and a ``--budget`` of 60 % of the unconstrained cost (doubling and
bisection over the price weight). Best of ``--repeat`` runs, single process; prints Markdown
for docs/BENCHMARKS.md ("Inventory and prices").
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from craftpix.imageio import area_downsample, load_image  # noqa: E402
from craftpix.inventory import Stock, constrain  # noqa: E402
from craftpix.palette import load_palette  # noqa: E402


def best_of(repeat: int, fn) -> tuple[float, object]:  # noqa: ANN001
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.size
    image: Image.Image = load_image(ROOT / "examples" / "astronaut.jpg")
    ref = area_downsample(image, n, n)
    cat = load_palette("perler")
    labels = cat.nearest(ref)
    counts = np.bincount(labels.ravel(), minlength=len(cat))
    top = cat.codes[int(counts.argmax())]
    rng = np.random.default_rng(0)
    prices = {c: float(rng.choice([2.5, 3.5, 5.0])) for c in cat.codes}
    half = Stock({c: (int(counts.max()) // 2 if c == top else None) for c in cat.codes}, prices)
    # a price list (the palette file's price column): owned pieces would cost nothing to buy
    priced = dataclasses.replace(cat, extra=tuple({"price": str(prices[c])} for c in cat.codes))
    base = constrain(labels, ref, cat, priced, medium="beads").meta["cost"]
    # own first, buy the rest: a box of the 8 most used colors, 40 % of their cells each
    top8 = np.argsort(-counts)[:8]
    box = Stock({cat.codes[i]: int(counts[i] * 0.4) for i in top8}, prices)
    owned = cat.subset(sorted(int(i) for i in top8))
    lab_owned = owned.nearest(ref)
    cases = [
        (f"inventory (--only-owned): {top} capped at half its {int(counts.max())} cells",
         lambda: constrain(labels, ref, cat, cat, medium="beads", stock=half)),
        ("own first, buy the rest: 8 colors owned at 40 % of their cells",
         lambda: constrain(lab_owned, ref, owned, owned, medium="beads", stock=box,
                           buyable=cat)),
        ("--prefer-cheap", lambda: constrain(labels, ref, cat, priced, medium="beads",
                                             prefer_cheap=True)),
        (f"--budget {0.6 * base:.2f} (60 % of {base:.2f})",
         lambda: constrain(labels, ref, cat, priced, medium="beads", budget=0.6 * base)),
    ]
    print(f"{n}×{n} cells, {len(np.unique(labels))} perler colors used, "
          f"{platform.python_version()}, best of {args.repeat}\n")
    print("| case | cells moved | cost | time |\n|---|---|---|---|")
    for name, fn in cases:
        seconds, choice = best_of(args.repeat, fn)
        moved = choice.meta.get("inventory_moved_cells", choice.meta.get(
            "price_moved_cells", choice.meta.get("bought_cells", 0)))
        print(f"| {name} | {moved} | {choice.meta['cost']:.2f} | {seconds:.2f} s |")


if __name__ == "__main__":
    main()
