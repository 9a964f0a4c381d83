"""The SDS perspective warp: kornia's (craftpix now) against the former hand-written one.

craftpix's augmentation (``craftpix.engines.sds.augment``) used to solve the homography itself
(an 8×8 linear system) and build the ``grid_sample`` grid in float64; it now calls kornia's
``get_perspective_transform`` and ``warp_perspective``. The former code is reproduced below
(``_old_*``) so that both run on the same draws.

Usage::

    python bench/augment_compare.py                    # 50 draws, 1024×1024 and 512×2048
    python bench/augment_compare.py --draws 10 --rounds 10 --threads 1

Prints one JSON object:

* ``accuracy``: per size (H×W), over ``--draws`` perspective draws from ``sample_augment``
  (perspective forced on), the max and mean absolute difference of the warped image
  (examples/astronaut.jpg resized to the size, sRGB 0..1), and the max and mean distance in
  pixels between the two warps' sampling positions (found by warping images that hold each
  pixel's own x and y: bilinear interpolation of a linear ramp is exact; pixels within 2 px of
  the warped image's border are left out, where the zero fill enters the interpolation).
  ``kornia_pixel_centres`` is the same comparison for kornia's own ``RandomPerspective``
  convention (corners at the outer pixel *centres* (0, 0) … (W − 1, H − 1)), to show what a
  convention slip would look like.
* ``cpu_time``: seconds per apply on a ``(1, 3, 1024, 1024)`` float32 render with a fresh draw,
  forward and backward (the render's case: a new draw each step), and then on a second image
  with the same draw, no backward (a control image's case: the former code reused its cached
  grid; kornia's ``warp_perspective`` rebuilds its grid from the cached matrix). Both
  implementations run interleaved on the same draws in the same process, ``--rounds`` times;
  minimum and median per implementation and their ratios (the minimum is the figure to
  quote on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kornia  # noqa: E402
from kornia.geometry.transform import get_perspective_transform, warp_perspective  # noqa: E402

from craftpix.engines.sds.augment import (  # noqa: E402
    AugmentDraw,
    apply_augment,
    sample_augment,
)
from craftpix.engines.sds.settings import AugmentConfig  # noqa: E402

_CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


# --- the former hand-written warp (craftpix before kornia), verbatim in substance ----------

def _old_homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    src, dst = src.double(), dst.double()
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src.tolist(), dst.tolist(), strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs += [u, v]
    h = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64),
                           torch.tensor(rhs, dtype=torch.float64))
    return torch.cat([h, h.new_ones(1)]).reshape(3, 3)


def _old_grid(corners, height: int, width: int, dtype=torch.float32) -> torch.Tensor:
    m = _old_homography(torch.tensor(corners), torch.tensor(_CORNERS)).tolist()
    ys = (torch.arange(height, dtype=torch.float64) * 2 + 1) / height - 1
    xs = (torch.arange(width, dtype=torch.float64) * 2 + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    w = (m[2][0] * gx + m[2][1] * gy + m[2][2]).clamp_min(1e-12)
    grid = torch.stack([(m[0][0] * gx + m[0][1] * gy + m[0][2]) / w,
                        (m[1][0] * gx + m[1][1] * gy + m[1][2]) / w], dim=-1)
    return grid.unsqueeze(0).to(dtype=dtype)


def _old_warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode="bilinear",
                         padding_mode="zeros", align_corners=False)


# --- kornia's RandomPerspective convention: corners at the outer pixel centres ----------

def _kornia_pixel_centres(x: torch.Tensor, corners) -> torch.Tensor:
    h, w = x.shape[-2:]
    c = torch.tensor(corners, dtype=torch.float64)
    scale = torch.tensor([(w - 1) / 2.0, (h - 1) / 2.0], dtype=torch.float64)
    src = (torch.tensor(_CORNERS, dtype=torch.float64) + 1) * scale
    dst = (c + 1) * scale
    m = get_perspective_transform(src[None], dst[None]).to(x.dtype)
    return warp_perspective(x, m, (h, w), mode="bilinear", padding_mode="zeros",
                            align_corners=False)


def _draws(n: int, seed: int) -> list[AugmentDraw]:
    rng = torch.Generator().manual_seed(seed)
    cfg = AugmentConfig(p_grayscale=0.0, p_perspective=1.0, p_flip=0.0)
    return [sample_augment(rng, cfg) for _ in range(n)]


def _photo(height: int, width: int) -> torch.Tensor:
    img = Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB").resize(
        (width, height), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


def _ramps(height: int, width: int) -> torch.Tensor:
    """(1, 3, H, W): each pixel's own x, y (pixels) and 1 (to find the inside)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                            torch.arange(width, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys, torch.ones_like(xs)])[None]


def accuracy(draws: list[AugmentDraw], height: int, width: int) -> dict:
    photo, ramps = _photo(height, width), _ramps(height, width)
    img_diff, pos_diff, pos_centres = [], [], []
    img_max = pos_max = centres_max = 0.0
    for d in draws:
        grid = _old_grid(d.corners, height, width)
        a, b = _old_warp(photo, grid), apply_augment(photo, d)
        diff = (a - b).abs()
        img_max = max(img_max, float(diff.max()))
        img_diff.append(float(diff.mean()))
        ra, rb = _old_warp(ramps, grid), apply_augment(ramps, d)
        rc = _kornia_pixel_centres(ramps, d.corners)
        # Interior: the whole 5×5 neighbourhood inside in all three warps (no zero fill mixed in).
        inside = (ra[:, 2:] > 1 - 1e-4) & (rb[:, 2:] > 1 - 1e-4) & (rc[:, 2:] > 1 - 1e-4)
        inside = -F.max_pool2d(-inside.float(), 5, stride=1, padding=2) > 0.5
        m = inside[0, 0]
        dist = (ra[0, :2] - rb[0, :2]).norm(dim=0)[m]
        dist_c = (ra[0, :2] - rc[0, :2]).norm(dim=0)[m]
        pos_max, centres_max = max(pos_max, float(dist.max())), max(centres_max, float(dist_c.max()))
        pos_diff.append(float(dist.mean()))
        pos_centres.append(float(dist_c.mean()))
    return {
        "image_abs_diff_max": img_max, "image_abs_diff_mean": float(np.mean(img_diff)),
        "position_px_max": pos_max, "position_px_mean": float(np.mean(pos_diff)),
        "kornia_pixel_centres": {"position_px_max": centres_max,
                                 "position_px_mean": float(np.mean(pos_centres))},
    }


def cpu_time(rounds: int, size: int = 1024) -> dict:
    draws = _draws(rounds + 1, seed=1)
    render = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(2))
    control = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(3))

    def old(d: AugmentDraw) -> tuple[float, float]:
        x = render.clone().requires_grad_(True)
        t0 = time.perf_counter()
        grid = _old_grid(d.corners, size, size)
        _old_warp(x, grid).sum().backward()
        t1 = time.perf_counter()
        with torch.no_grad():
            _old_warp(control, grid)
        return t1 - t0, time.perf_counter() - t1

    def new(d: AugmentDraw) -> tuple[float, float]:
        x = render.clone().requires_grad_(True)
        t0 = time.perf_counter()
        apply_augment(x, d).sum().backward()
        t1 = time.perf_counter()
        with torch.no_grad():
            apply_augment(control, d)
        return t1 - t0, time.perf_counter() - t1

    old(draws[-1]), new(draws[-1])  # warm-up
    times = {"old": [], "kornia": []}
    for i, d in enumerate(draws[:-1]):  # interleaved, alternating which goes first
        order = (("old", old), ("kornia", new)) if i % 2 == 0 else (("kornia", new), ("old", old))
        for name, fn in order:
            times[name].append(fn(d))
    t = {k: np.array(v) for k, v in times.items()}

    def summary(col: int) -> dict:
        lo = {k: float(v[:, col].min()) for k, v in t.items()}
        med = {k: float(np.median(v[:, col])) for k, v in t.items()}
        return {"min_s": lo, "median_s": med, "kornia_over_old_min": lo["kornia"] / lo["old"],
                "kornia_over_old_median": med["kornia"] / med["old"]}

    return {"size": f"{size}x{size}", "rounds": rounds,
            "render_fwd_bwd": summary(0), "control_same_draw": summary(1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=50, help="draws for the accuracy comparison")
    ap.add_argument("--rounds", type=int, default=30,
                    help="timed rounds (one fresh draw each, both implementations)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    draws = _draws(args.draws, seed=0)
    out = {
        "environment": {"torch": torch.__version__, "kornia": kornia.__version__,
                        "threads": torch.get_num_threads(), "machine": platform.processor()
                        or platform.machine()},
        "accuracy": {f"{h}x{w}": accuracy(draws, h, w) for h, w in ((1024, 1024), (512, 2048))},
        "cpu_time": cpu_time(args.rounds),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
