"""Photo engine benchmark: quality frontier on photographs and exactness on flat art.

Photos (scikit-image's data module; ``--set tune`` is the set the constants were tuned on,
``--set heldout`` photos never looked at while tuning). For each photo, pattern size (32, 48,
64), catalog (Perler, DMC) and color budget N (8, 12, 16), on the same area-downsampled
reference:

* nearest   — CIEDE2000-nearest color of ``Palette.select(N)``
* kmeans    — Lloyd k-means (k = N) in Lab, centres snapped to catalog colors, nearest
* dither    — Floyd–Steinberg in Lab over ``Palette.select(N)``
* potts λ   — plain α-expansion, constant Potts weight λ, over ``Palette.select(N)``
* photo s   — the photo engine, ``colors=N``, ``smooth=s``
* photo auto — the photo engine with its own color count (``colors=None``)
* photo 1 nofeatures, photo auto nofeatures — the same with ``features=False`` (no feature
  map, :mod:`craftpix.features`: what sparing faces and small details costs)

reporting mean ΔE00 to the reference, isolated-cell rate, blob rate (cells in same-color
components of ≤ 3 cells), colors used and the engine's wall time, plus ratios to nearest.
The flat-art set is generated here (a red/white split, sprites, a logo on transparency,
line art, scaled pixel art, scikit-image's transparent logo) and checked for exactness.

    python bench/photo_bench.py                      # everything, Markdown tables
    python bench/photo_bench.py --set heldout        # the held-out photos
    python bench/photo_bench.py --quick
    python bench/photo_bench.py --image examples/astronaut.jpg --no-flat  # your own photos
    python bench/photo_bench.py --plot docs/photo-frontier.png
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from craftpix.color import nearest_color_indices, pairwise_delta_e_2000, rgb_to_lab
from craftpix.dither import floyd_steinberg
from craftpix.engines.labeling import alpha_expansion, grid_edges
from craftpix.engines.photo import PhotoSettings, make_photo_pattern
from craftpix.imageio import Reference, area_downsample, fit_image, flat_colors, native_grid
from craftpix.metrics import blob_rate, colors_used, isolated_cell_rate, mean_delta_e
from craftpix.palette import Palette, load_palette

SETS = {"tune": ("astronaut", "chelsea", "coffee", "rocket"),
        "heldout": ("hubble_deep_field", "immunohistochemistry", "retina")}
STRENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0)
POTTS_LAMBDAS = (0.5, 1.0, 2.0, 4.0, 8.0)


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


def plain_potts(ref: np.ndarray, sub: Palette, lam: float) -> np.ndarray:
    """α-expansion with a constant Potts weight ``lam`` over the given colors."""
    h, w = ref.shape[:2]
    unary = pairwise_delta_e_2000(rgb_to_lab(ref.reshape(-1, 3)), sub.lab)
    edges = grid_edges(h, w)
    return alpha_expansion(unary, edges, np.full(len(edges), lam)).reshape(h, w)


def photo(ref: np.ndarray, pal: Palette, n: int | None, smooth: float, medium: str,
          fitted: Image.Image | None = None, features: bool = True) -> tuple[np.ndarray, np.ndarray]:
    res = make_photo_pattern(Reference(fitted, ref, None), pal,  # type: ignore[arg-type]
                             PhotoSettings(colors=n, smooth=smooth, medium=medium,
                                           features=features))
    return res.indices, res.palette.rgb


def run_case(image: np.ndarray, size: int, pal: Palette, n: int, medium: str,
             methods: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    fitted = fit_image(Image.fromarray(image), size, size)
    ref = area_downsample(fitted, size, size)
    out: dict[str, dict[str, float]] = {}

    def record(name: str, fn: Callable[[], tuple[np.ndarray, np.ndarray]], extra: float = 0.0) -> None:
        if methods is not None and name != "nearest" and name not in methods:
            return
        t0 = time.perf_counter()
        idx, rgb = fn()
        dt = time.perf_counter() - t0 + extra
        out[name] = {"de": mean_delta_e(idx, rgb, ref), "iso": isolated_cell_rate(idx),
                     "blob": blob_rate(idx), "colors": colors_used(idx), "seconds": dt}

    t0 = time.perf_counter()
    sub = pal.select(ref, n)
    select_s = time.perf_counter() - t0
    record("nearest", lambda: (sub.nearest(ref), sub.rgb), select_s)
    record("kmeans", lambda: kmeans_nearest(ref, pal, n))
    record("dither", lambda: (floyd_steinberg(ref, sub.rgb), sub.rgb), select_s)
    for lam in POTTS_LAMBDAS:
        record(f"potts {lam:g}", lambda lam=lam: (plain_potts(ref, sub, lam), sub.rgb), select_s)
    for s in STRENGTHS:
        record(f"photo {s:g}", lambda s=s: photo(ref, pal, n, s, medium, fitted))
    record("photo auto", lambda: photo(ref, pal, None, 1.0, medium, fitted))
    record("photo 1 nofeatures", lambda: photo(ref, pal, n, 1.0, medium, fitted, False))
    record("photo auto nofeatures", lambda: photo(ref, pal, None, 1.0, medium, fitted, False))
    return out


# --- flat art, generated ----------------------------------------------------------------------
def _sprite(seed: int, colors: list[tuple[int, int, int]], size: int = 16) -> np.ndarray:
    """A symmetric random sprite: outline, body, two eyes of one color."""
    rng = np.random.default_rng(seed)
    half = rng.integers(1, len(colors) - 1, (size, size // 2))
    grid = np.concatenate([half, half[:, ::-1]], axis=1)
    grid[0], grid[-1], grid[:, 0], grid[:, -1] = 0, 0, 0, 0  # outline color
    grid[5, 4] = grid[5, size - 5] = len(colors) - 1          # the eyes
    return np.array(colors, dtype=np.uint8)[grid]


def _logo(transparent: bool) -> np.ndarray:
    """A 3-color logo drawn at 8× and downsampled with anti-aliasing (like a real PNG)."""
    s = 512
    im = Image.new("RGBA", (s, s), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    d = ImageDraw.Draw(im)
    d.ellipse((40, 40, s - 40, s - 40), fill=(230, 40, 40, 255), outline=(0, 0, 0, 255), width=24)
    d.rectangle((150, 220, s - 150, 290), fill=(255, 210, 0, 255), outline=(0, 0, 0, 255), width=12)
    return np.asarray(im.resize((256, 256), Image.Resampling.LANCZOS))


def _line_art() -> np.ndarray:
    im = Image.new("RGB", (480, 480), (255, 255, 255))
    d = ImageDraw.Draw(im)
    for k in range(6):
        d.line((20, 40 + 70 * k, 460, 80 + 60 * k), fill=(0, 0, 0), width=14)
    d.ellipse((120, 120, 360, 360), outline=(0, 0, 160), width=16)
    return np.asarray(im)


def flat_art_cases() -> list[tuple[str, np.ndarray, int | None, str, str]]:
    """(name, image, size or None for the native grid, catalog, medium)."""
    import skimage.data

    red_white = np.zeros((20, 20, 3), np.uint8)
    red_white[:, :10] = (200, 0, 0)
    red_white[:, 10:] = 255
    sprite6 = _sprite(1, [(0, 0, 0), (255, 205, 170), (240, 170, 140), (60, 140, 60),
                          (250, 250, 250), (40, 80, 220)])
    pixel8 = _sprite(2, [(20, 20, 20), (200, 40, 40), (240, 200, 60), (60, 160, 60),
                         (80, 80, 200), (250, 250, 250), (150, 90, 40), (120, 200, 230)], 24)
    return [
        ("red/white 20×20", red_white, 20, "dmc", "stitch"),
        ("6-color sprite ×8", np.repeat(np.repeat(sprite6, 8, 0), 8, 1), None, "perler", "beads"),
        ("8-color pixel art ×5", np.repeat(np.repeat(pixel8, 5, 0), 5, 1), None, "hama", "beads"),
        ("3-color logo, transparent", _logo(True), 32, "perler", "beads"),
        ("3-color logo, white", _logo(False), 48, "dmc", "stitch"),
        ("line art", _line_art(), 48, "dmc", "stitch"),
        ("scikit-image logo (RGBA)", skimage.data.logo(), 48, "perler", "beads"),
    ]


def run_flat(name: str, image: np.ndarray, size: int | None, cat: str, medium: str) -> dict[str, object]:
    from craftpix.imageio import area_downsample_alpha, normalise_mode

    im = normalise_mode(Image.fromarray(image))
    grid = native_grid(im) if size is None else (size, size)
    assert grid is not None, name
    w, h = grid
    fitted = fit_image(im, w, h)
    if fitted.mode == "RGBA":
        rgb, alpha = area_downsample_alpha(fitted, w, h)
    else:
        rgb, alpha = area_downsample(fitted, w, h), None
    flat = flat_colors(fitted)
    ref = Reference(fitted, rgb, alpha, *(flat if flat is not None else (None, None)))
    pal = load_palette(cat)
    t0 = time.perf_counter()
    res = make_photo_pattern(ref, pal, PhotoSettings(medium=medium))
    dt = time.perf_counter() - t0
    sources = 0 if flat is None else len(flat[0])
    exact = None
    if size is None:  # pixel art: same source color ⇒ same catalog color, and vice versa
        src = np.unique(rgb.reshape(-1, 3).round(4), axis=0, return_inverse=True)[1].ravel()
        pairs = set(zip(src.tolist(), res.indices.ravel().tolist(), strict=True))
        exact = len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    return {"name": name, "grid": f"{w}×{h}", "sources": sources, "colors": len(res.palette),
            "empty": int((res.indices < 0).sum()), "iso": isolated_cell_rate(res.indices),
            "blob": blob_rate(res.indices), "de": mean_delta_e(res.indices, res.palette.rgb, rgb),
            "codes": ", ".join(res.palette.codes) if len(res.palette) <= 3 else "",
            "exact": exact, "seconds": dt}


def main() -> None:
    import skimage.data

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="tune")
    ap.add_argument("--quick", action="store_true", help="48×48, 12 colors only")
    ap.add_argument("--no-flat", action="store_true")
    ap.add_argument("--image", type=Path, action="append",
                    help="photo files to use instead of the scikit-image set (repeatable)")
    ap.add_argument("--methods", help="comma-separated method names to run (nearest always runs), "
                                      "e.g. 'photo 1,potts 2'")
    ap.add_argument("--plot", type=Path, help="write the ΔE00-vs-confetti frontier PNG here")
    args = ap.parse_args()
    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else None
    sizes = (48,) if args.quick else (32, 48, 64)
    budgets = (12,) if args.quick else (8, 12, 16)
    if args.image:
        photos = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in args.image}
        label = ", ".join(photos)
    else:
        photos = {name: getattr(skimage.data, name)()[..., :3] for name in SETS[args.set]}
        label = f"{args.set}: {', '.join(SETS[args.set])}"
    per: dict[str, list[dict[str, float]]] = defaultdict(list)
    by_photo: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    ratios: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for cat, medium in (("perler", "beads"), ("dmc", "stitch")):
        pal = load_palette(cat)
        for size in sizes:
            for n in budgets:
                for photo_name, image in photos.items():
                    res = run_case(image, size, pal, n, medium, methods)
                    base = res["nearest"]
                    for method, r in res.items():
                        per[method].append(r)
                        by_photo[(photo_name, method)].append(r)
                        ratios[method].append((r["de"] / base["de"], r["iso"] / max(base["iso"], 1e-9),
                                               r["blob"] / max(base["blob"], 1e-9)))
    print(f"Photos ({label}), {len(per['nearest'])} cases\n")
    print("| method | mean ΔE00 | × nearest | isolated | × nearest | blob rate | × nearest | colors | engine s |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for method, rs in per.items():
        de_r = statistics.mean(r[0] for r in ratios[method])
        iso_r = statistics.mean(r["iso"] for r in rs) / statistics.mean(r["iso"] for r in per["nearest"])
        blob_r = statistics.mean(r["blob"] for r in rs) / statistics.mean(r["blob"] for r in per["nearest"])
        summary[method] = (de_r, iso_r, blob_r)
        print(f"| {method} | {statistics.mean(r['de'] for r in rs):.2f} | {de_r:.3f} | "
              f"{statistics.mean(r['iso'] for r in rs):.2%} | {iso_r:.2f} | "
              f"{statistics.mean(r['blob'] for r in rs):.2%} | {blob_r:.2f} | "
              f"{statistics.mean(r['colors'] for r in rs):.1f} | "
              f"{statistics.mean(r['seconds'] for r in rs):.3f} |")
    features_table(photos, per, by_photo)
    if args.plot:
        plot(summary, args.plot, args.set if not args.image else label)
    if not args.no_flat:
        print("\nFlat art (default settings, colors chosen per image)\n")
        print("| case | grid | source colors | colors | catalog codes | empty cells | isolated | blob rate | ΔE00 | exact | engine s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for case in flat_art_cases():
            r = run_flat(*case)
            print(f"| {r['name']} | {r['grid']} | {r['sources']} | {r['colors']} | {r['codes']} | "
                  f"{r['empty']} | {r['iso']:.1%} | {r['blob']:.1%} | {r['de']:.2f} | "
                  f"{'—' if r['exact'] is None else ('yes' if r['exact'] else 'NO')} | {r['seconds']:.3f} |")


def features_table(photos: dict[str, np.ndarray], per: dict[str, list[dict[str, float]]],
                   by_photo: dict[tuple[str, str], list[dict[str, float]]]) -> None:
    """Per photo: what the feature map (craftpix.features) changes, for each method run both
    with and without it (mean isolated cells and ΔE00 over that photo's cases)."""
    pairs = [(m[: -len(" nofeatures")], m) for m in per if m.endswith(" nofeatures")
             and m[: -len(" nofeatures")] in per]
    if not pairs:
        return
    print("\nWith and without the feature map, per photo (isolated cells, mean ΔE00)\n")
    print("| photo | method | isolated on | isolated off | ΔE00 on | ΔE00 off |")
    print("|---|---|---|---|---|---|")
    for name in photos:
        for on, off in pairs:
            a, b = by_photo[(name, on)], by_photo[(name, off)]
            print(f"| {name} | {on} | {statistics.mean(r['iso'] for r in a):.2%} | "
                  f"{statistics.mean(r['iso'] for r in b):.2%} | "
                  f"{statistics.mean(r['de'] for r in a):.3f} | {statistics.mean(r['de'] for r in b):.3f} |")


def plot(summary: dict[str, tuple[float, float, float]], path: Path, label: str) -> None:
    """The ΔE00-vs-isolated-cells frontier, both as ratios to nearest mapping."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for prefix, style, title in (("photo ", "o-", "photo engine (smooth 0.25 … 4)"),
                                 ("potts ", "s--", "plain α-expansion Potts (λ 0.5 … 8)")):
        pts = sorted((v[1], v[0]) for k, v in summary.items()
                     if k.startswith(prefix) and k != "photo auto" and "nofeatures" not in k)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=title)
    for k, marker in (("nearest", "k*"), ("kmeans", "bv"), ("dither", "r^"), ("photo auto", "go")):
        if k in summary:
            ax.plot(summary[k][1], summary[k][0], marker, markersize=9, label=k)

    ax.axhline(1.06, color="grey", lw=0.6, ls=":")
    ax.axvline(0.35, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("isolated cells (× nearest mapping), log scale")
    ax.set_ylabel("mean ΔE00 (× nearest mapping)")
    ax.set_title(f"Fidelity vs confetti, scikit-image photos ({label} set)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main()
