"""Reference-restoration benchmark: does ``--restore`` help on poor photos?

Each photograph of scikit-image's data module is degraded the way phone thumbnails are:
Gaussian blur (radius 1 px), downscaled ×4 (bicubic), saved as JPEG quality 20. Then, with and
without ``--restore on``:

* pattern fidelity — the photo engine's pattern (cross-stitch, default colors) made from the
  degraded file, mean ΔE00 of its cells to the *clean* photo on the same grid;
* edge agreement — the ControlNet canny map (the SDS engine's: bicubic to 512 px, blur 1,
  Canny 100/200) of the degraded (or restored) photo against the clean photo's: F1 score
  with a 2-pixel tolerance;
* time per output megapixel of the restoration (2 CPU threads).

    python bench/restore_bench.py            # 4 photos, patterns 48 and 96 cells
    python bench/restore_bench.py --quick    # one photo, 48 cells
    python bench/restore_bench.py --sizes 160  # patterns larger than the degraded photos
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from scipy.ndimage import binary_dilation

from craftpix.api import PatternRequest, make_pattern
from craftpix.engines.sds.conditioning import canny
from craftpix.imageio import reference_grid
from craftpix.metrics import mean_delta_e
from craftpix.restore import restore_available, restore_image

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
EDGE_SIZE = 512


def degrade(image: Image.Image) -> Image.Image:
    small = image.filter(ImageFilter.GaussianBlur(1.0)).resize(
        (image.width // 4, image.height // 4), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=20)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def edges(image: Image.Image) -> np.ndarray:
    img = image.convert("RGB").resize((EDGE_SIZE, EDGE_SIZE), Image.Resampling.BICUBIC)
    return canny(np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)).convert("L")))


def edge_f1(a: np.ndarray, b: np.ndarray, tol: int = 2) -> float:
    """F1 of edge maps ``a`` (test) against ``b`` (truth), matches within ``tol`` pixels."""
    st = np.ones((2 * tol + 1, 2 * tol + 1), dtype=bool)
    precision = (a & binary_dilation(b, st)).sum() / max(a.sum(), 1)
    recall = (b & binary_dilation(a, st)).sum() / max(b.sum(), 1)
    return float(2 * precision * recall / max(precision + recall, 1e-9))


def pattern_de(path: Path, clean_path: Path, size: int, mode: str) -> float:
    p = make_pattern(PatternRequest(medium="stitch", image=path, size=(size, size),
                                    restore=mode)).pattern
    ref = reference_grid(clean_path, size, size)
    rgb = np.array([c.rgb8 for c in p.palette], dtype=np.float64) / 255
    return mean_delta_e(p.cells, rgb, ref.rgb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", help="pattern sizes in cells, e.g. 48,96 (default)")
    ap.add_argument("--photos", type=int, default=len(IMAGES), help="use the first N photos")
    args = ap.parse_args()
    if not restore_available():
        raise SystemExit('needs the restore extra: pip install "craftpix[restore]"')
    from skimage import data

    names = IMAGES[:1] if args.quick else IMAGES[:args.photos]
    sizes = (48,) if args.quick else (48, 96)
    if args.sizes:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    rows: dict[str, list[float]] = {}
    per_mp: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            clean = Image.fromarray(getattr(data, name)()).convert("RGB")
            bad = degrade(clean)
            clean_path, bad_path = Path(tmp) / f"{name}.png", Path(tmp) / f"{name}.jpg"
            clean.save(clean_path)
            bad.save(bad_path, quality=95)  # the degraded pixels, kept as they are
            t0 = time.perf_counter()
            fixed = restore_image(bad, threads=2)
            per_mp.append((time.perf_counter() - t0) / (fixed.width * fixed.height / 1e6))
            truth = edges(clean)
            rows.setdefault("edge F1, degraded", []).append(edge_f1(edges(bad), truth))
            rows.setdefault("edge F1, restored", []).append(edge_f1(edges(fixed), truth))
            for size in sizes:
                for mode in ("off", "on"):
                    key = f"pattern {size}×{size} ΔE00 to clean, restore {mode}"
                    rows.setdefault(key, []).append(pattern_de(bad_path, clean_path, size, mode))
                key = f"pattern {size}×{size} ΔE00 to clean, from the clean photo"
                rows.setdefault(key, []).append(pattern_de(clean_path, clean_path, size, "off"))
            print(name, {k: round(v[-1], 3) for k, v in rows.items()}, f"{per_mp[-1]:.1f} s/MP",
                  flush=True)
    print(f"\n{len(names)} photos, degraded: blur 1 px, ×1/4, JPEG q20\n")
    print("| measure | mean | per photo |")
    print("|---|---|---|")
    for key, vals in rows.items():
        print(f"| {key} | {statistics.mean(vals):.3f} | {', '.join(f'{v:.3f}' for v in vals)} |")
    print(f"| restoration time, s per output megapixel (2 threads) | {statistics.mean(per_mp):.1f} | "
          f"{', '.join(f'{v:.1f}' for v in per_mp)} |")


if __name__ == "__main__":
    main()
