"""Image engine benchmark: craftpix fidelity against the classic mappings crafters know.

For each photograph shipped in scikit-image's data module, pattern size, catalog and color
budget, run four methods on the same area-downsampled reference:

* nearest   — CIEDE2000-nearest color of craftpix's N-color selection (Palette.select)
* kmeans    — k-means (k = N) in Lab on the image, centres snapped to catalog colors, nearest
* dither    — Floyd–Steinberg in Lab over craftpix's N-color selection
* fidelity  — craftpix's engine (Gumbel-softmax optimization) over the same selection

and report mean ΔE00 to the reference, isolated-cell rate, colors used and wall time.

    python bench/fidelity_bench.py                # full grid, prints a Markdown table
    python bench/fidelity_bench.py --quick        # 48×48, 12 colors only
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
from PIL import Image

from craftpix.color import nearest_color_indices, rgb_to_lab
from craftpix.dither import floyd_steinberg
from craftpix.guidance.fidelity import run_fidelity
from craftpix.imageio import area_downsample, fit_image
from craftpix.metrics import colors_used, isolated_cell_rate, mean_delta_e
from craftpix.palette import Palette, load_palette

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")


def kmeans_nearest(ref: np.ndarray, pal: Palette, k: int, seed: int = 0, iters: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd k-means in Lab, centres snapped to distinct catalog colors."""
    lab = rgb_to_lab(ref.reshape(-1, 3))
    rng = np.random.default_rng(seed)
    centres = lab[rng.choice(len(lab), size=k, replace=False)]
    for _ in range(iters):
        assign = np.argmin(((lab[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            if (assign == j).any():
                centres[j] = lab[assign == j].mean(0)
    snapped = list(dict.fromkeys(nearest_color_indices(centres, pal.lab).tolist()))
    sub = pal.subset(snapped)
    return nearest_color_indices(lab, sub.lab).reshape(ref.shape[:2]), sub.rgb


def run_case(image: np.ndarray, size: int, pal: Palette, n: int, steps: int) -> dict[str, dict[str, float]]:
    ref = area_downsample(fit_image(Image.fromarray(image), size, size), size, size)
    out: dict[str, dict[str, float]] = {}

    def record(name: str, fn) -> None:  # noqa: ANN001
        t0 = time.perf_counter()
        idx, rgb = fn()
        dt = time.perf_counter() - t0
        out[name] = {"de": mean_delta_e(idx, rgb, ref), "iso": isolated_cell_rate(idx),
                     "colors": colors_used(idx), "seconds": dt}

    t0 = time.perf_counter()
    sub = pal.select(ref, n)
    select_s = time.perf_counter() - t0
    record("nearest", lambda: (sub.nearest(ref), sub.rgb))
    out["nearest"]["seconds"] += select_s
    record("kmeans", lambda: kmeans_nearest(ref, pal, n))
    record("dither", lambda: (floyd_steinberg(ref, sub.rgb), sub.rgb))
    record("fidelity", lambda: (run_fidelity(ref, sub.rgb, steps=steps, seed=0, quiet=True).indices, sub.rgb))
    out["fidelity"]["seconds"] += select_s
    out["dither"]["seconds"] += select_s
    return out


def main() -> None:
    import skimage.data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sizes = (48,) if args.quick else (32, 48, 64)
    budgets = (12,) if args.quick else (8, 12, 16)
    catalogs = ("perler", "dmc")
    # Warm-up: first torch call pays one-off costs that a user pays once per process too.
    run_fidelity(np.random.default_rng(0).random((8, 8, 3)), load_palette("perler").rgb[:4], steps=2, seed=0, quiet=True)

    per_method: dict[str, list[dict[str, float]]] = defaultdict(list)
    rows = []
    for cat in catalogs:
        pal = load_palette(cat)
        for size in sizes:
            for n in budgets:
                for name in IMAGES:
                    res = run_case(getattr(skimage.data, name)(), size, pal, n, args.steps)
                    for method, r in res.items():
                        per_method[method].append(r)
                    f, b = res["fidelity"], res["nearest"]
                    rows.append((cat, size, n, name, b["de"], f["de"], b["iso"], f["iso"], f["seconds"]))

    print("| method | mean ΔE00 | isolated cells | colors used | wall time (s) |")
    print("|---|---|---|---|---|")
    for method in ("nearest", "kmeans", "dither", "fidelity"):
        rs = per_method[method]
        print(f"| {method} | {statistics.mean(r['de'] for r in rs):.2f} | "
              f"{statistics.mean(r['iso'] for r in rs):.1%} | "
              f"{statistics.mean(r['colors'] for r in rs):.1f} | "
              f"{statistics.mean(r['seconds'] for r in rs):.3f} |")
    print()
    print("| catalog | size | colors | image | ΔE00 nearest | ΔE00 fidelity | Δ | isolated nearest | isolated fidelity | fidelity s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for cat, size, n, name, de_b, de_f, iso_b, iso_f, secs in rows:
        print(f"| {cat} | {size} | {n} | {name} | {de_b:.2f} | {de_f:.2f} | {de_f / de_b - 1:+.1%} | "
              f"{iso_b:.1%} | {iso_f:.1%} | {secs:.2f} |")
    de_ratio = statistics.mean(r[5] for r in rows) / statistics.mean(r[4] for r in rows) - 1
    iso_ratio = 1 - statistics.mean(r[7] for r in rows) / statistics.mean(r[6] for r in rows)
    t48 = [r[8] for r in rows if r[1] == 48]
    print()
    print(f"fidelity vs nearest: mean ΔE00 {de_ratio:+.1%}, isolated cells {-iso_ratio:+.1%}; "
          f"48×48 wall time mean {statistics.mean(t48):.2f} s, max {max(t48):.2f} s")


if __name__ == "__main__":
    main()
