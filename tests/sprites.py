"""Synthetic generator-style pixel art with known ground truth (tests and bench/pixelart_bench.py).

A sprite is drawn on its native grid from a 16-color fantasy-console palette (PICO-8's colors):
a background, a filled body with a one-cell black outline, shading, one-cell highlights and
eyes, windows. It is then degraded as image generators output pixel art: scaled by a
fractional factor, the cell edges drifting smoothly by a few pixels, edges anti-aliased
(rendered 4× larger and box-downsampled), Gaussian blur, JPEG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

#: PICO-8's 16 colors (black, dark blue, dark purple, dark green, brown, dark grey, light grey,
#: white, red, orange, yellow, green, blue, lavender, pink, peach).
PALETTE = np.array([
    (0, 0, 0), (29, 43, 83), (126, 37, 83), (0, 135, 81), (171, 82, 54), (95, 87, 79),
    (194, 195, 199), (255, 241, 232), (255, 0, 77), (255, 163, 0), (255, 236, 39),
    (0, 228, 54), (41, 173, 255), (131, 118, 156), (255, 119, 168), (255, 204, 170),
], dtype=np.uint8)
BLACK, WHITE, YELLOW = 0, 7, 10


def draw_sprite(seed: int, width: int, height: int) -> np.ndarray:
    """A random sprite: (height, width) indices into :data:`PALETTE`."""
    rng = np.random.default_rng(seed)
    background = int(rng.choice([1, 6, 12, 15, 5]))
    body, shade = [(8, 2), (11, 3), (9, 4), (14, 2), (12, 1), (10, 9)][int(rng.integers(6))]
    grid = np.full((height, width), background, dtype=np.int64)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = np.zeros((height, width), dtype=bool)
    for _ in range(int(rng.integers(2, 5))):  # a body of a few ellipses and boxes
        cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
        rx, ry = rng.uniform(0.12, 0.3) * width, rng.uniform(0.12, 0.3) * height
        if rng.random() < 0.5:
            inside |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        else:
            inside |= (abs(xx - cx) <= rx) & (abs(yy - cy) <= ry)
    grid[inside] = body
    grid[inside & (xx + yy > np.percentile((xx + yy)[inside], 70))] = shade
    pad = np.pad(inside, 1)
    ring = ~inside & (pad[:-2, 1:-1] | pad[2:, 1:-1] | pad[1:-1, :-2] | pad[1:-1, 2:])
    grid[ring] = BLACK  # the outline
    core = inside & ~ring
    core_cells = np.argwhere(core)
    if len(core_cells):
        for y, x in core_cells[rng.choice(len(core_cells), size=min(3, len(core_cells)),
                                          replace=False)]:
            grid[y, x] = WHITE  # one-cell highlights
        y, x = core_cells[int(rng.integers(len(core_cells)))]
        grid[y, x] = BLACK  # an eye
        if x + 2 < width and core[y, x + 2]:
            grid[y, x + 2] = BLACK
    for _ in range(int(rng.integers(0, 3))):  # windows: 2×2 yellow, black-framed
        x, y = int(rng.integers(1, width - 3)), int(rng.integers(1, height - 3))
        grid[y - 1:y + 3, x - 1:x + 3] = BLACK
        grid[y:y + 2, x:x + 2] = YELLOW
    return grid


@dataclass(frozen=True)
class Degrade:
    """How a sprite is rendered: pixels per cell, drift amplitude (pixels), blur σ (pixels),
    JPEG quality (None: PNG)."""

    scale: float = 8.0
    drift: float = 0.0
    blur: float = 0.0
    quality: int | None = None


def edges_along(cells: int, scale: float, drift: float, rng: np.random.Generator) -> np.ndarray:
    """Cell edges (cells + 1,) in pixels: ``k · scale`` plus a smooth drift of ``drift`` pixels
    at most (0 at both ends, so the image is ``cells · scale`` wide)."""
    k = np.arange(cells + 1, dtype=np.float64)
    period = rng.uniform(0.6, 1.5) * cells
    wave = np.sin(np.pi * k / cells) * np.sin(2 * np.pi * k / period + rng.uniform(0, 2 * np.pi))
    return k * scale + drift * wave


def render(sprite: np.ndarray, how: Degrade, seed: int = 0) -> Image.Image:
    """The sprite (indices into :data:`PALETTE`) as an image generator would output it."""
    rng = np.random.default_rng(seed)
    h, w = sprite.shape
    xs = edges_along(w, how.scale, how.drift, rng)
    ys = edges_along(h, how.scale, how.drift, rng)
    ss = 4  # supersampling: fractional edges are anti-aliased
    width, height = round(xs[-1]), round(ys[-1])
    px = (np.arange(width * ss) + 0.5) / ss
    py = (np.arange(height * ss) + 0.5) / ss
    col = np.clip(np.searchsorted(xs, px, side="right") - 1, 0, w - 1)
    row = np.clip(np.searchsorted(ys, py, side="right") - 1, 0, h - 1)
    big = PALETTE[sprite[row[:, None], col[None, :]]]
    image = Image.fromarray(big).resize((width, height), Image.Resampling.BOX)
    if how.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(how.blur))
    if how.quality is not None:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=how.quality)
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    return image


def truth_image(sprite: np.ndarray) -> Image.Image:
    """The sprite at its native grid, one pixel per cell (the ground truth)."""
    return Image.fromarray(PALETTE[sprite])
