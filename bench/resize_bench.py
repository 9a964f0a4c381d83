"""Size-change benchmark: does ``craftpix resize`` keep a design across sizes?

For each photograph of scikit-image's data module and each pair of sizes (small, large), make
the photo engine's pattern at one size and derive the other with :func:`craftpix.api.resize`:

* ``independent`` — two separate photo-engine runs, one per size (what craftpix did before);
* ``resize λ=…``  — re-solved at the other size over the same colors, with the photo and the
  consistency term of weight λ (λ = 0: the photo alone, over the same colors);
* ``grid``        — the same without the photo (resampled grid, consistency term alone).

Consistency: the larger pattern reduced to the smaller grid by majority per block, then cell
agreement (same color) and mean ΔE00 between the two. Fidelity: mean ΔE00 of the derived
pattern to the photo at its own size. Time: seconds per derived pattern (2-core machine).

    python bench/resize_bench.py               # up 32→48, 32→64 and down 64→32
    python bench/resize_bench.py --quick       # one photo, 32→64
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from craftpix import api
from craftpix.api import PatternRequest, make_pattern
from craftpix.resize import size_consistency

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
PAIRS = ((32, 48), (32, 64), (64, 32))  # (made at, derived at)
LAMBDAS = (0.0, 0.5, 1.0, 2.0)


def photos(names: tuple[str, ...], folder: Path) -> dict[str, str]:
    from skimage import data

    out = {}
    for name in names:
        path = folder / f"{name}.png"
        Image.fromarray(getattr(data, name)()).save(path)
        out[name] = str(path)
    return out


def case(photo: str, made: int, derived: int) -> dict[str, tuple[float, float, float, float]]:
    """method → (agreement, ΔE00 between sizes, ΔE00 to the photo, seconds)."""
    base = make_pattern(PatternRequest(medium="beads", image=photo, size=(made, made))).pattern
    t0 = time.perf_counter()
    indep = make_pattern(PatternRequest(medium="beads", image=photo, size=(derived, derived))).pattern
    rows = {"independent": (indep, time.perf_counter() - t0)}
    for lam in LAMBDAS:
        t0 = time.perf_counter()
        from craftpix.resize import resize_pattern

        p = resize_pattern(base, derived, photo, consistency=lam)
        rows[f"resize λ={lam:g}"] = (p, time.perf_counter() - t0)
    t0 = time.perf_counter()
    rows["grid"] = (api.resize(base, derived), time.perf_counter() - t0)
    out = {}
    for name, (p, sec) in rows.items():
        small, large = (base, p) if made < derived else (p, base)
        agree, de = size_consistency(small, large)
        fid = p.meta.get("delta_e00_mean")
        if fid is None:  # the grid method has no photo: measure against it here
            from craftpix.imageio import reference_grid
            from craftpix.metrics import mean_delta_e

            ref = reference_grid(photo, derived, derived)
            rgb = np.array([c.rgb8 for c in p.palette], dtype=np.float64) / 255
            fid = mean_delta_e(p.cells, rgb, ref.rgb)
        out[name] = (agree, de, float(fid), sec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    names = IMAGES[:1] if args.quick else IMAGES
    pairs = ((32, 64),) if args.quick else PAIRS
    with tempfile.TemporaryDirectory() as tmp:
        files = photos(names, Path(tmp))
        for made, derived in pairs:
            acc: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
            for name in names:
                for method, vals in case(files[name], made, derived).items():
                    acc[method].append(vals)
            print(f"\n{made}×{made} → {derived}×{derived} (mean over {len(names)} photos)\n")
            print("| method | cell agreement | ΔE00 between sizes | ΔE00 to photo | s |")
            print("|---|---|---|---|---|")
            for method, vals in acc.items():
                cols = [statistics.mean(v[i] for v in vals) for i in range(4)]
                print(f"| {method} | {cols[0]:.1%} | {cols[1]:.2f} | {cols[2]:.2f} | {cols[3]:.2f} |")


if __name__ == "__main__":
    main()
