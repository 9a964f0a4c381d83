"""Synthetic test photos: flat blocks of color on a background, with Gaussian noise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

Block = tuple[slice, slice, Sequence[float]]


def blocks_photo(path: Path, size: tuple[int, int], background: Sequence[float],
                 blocks: Sequence[Block], noise: float, seed: int, **save: object) -> Path:
    """Write an ``size`` = (h, w) sRGB image (0..1 colors) to ``path``: ``background``, then
    each ``(rows, cols, color)`` block, then N(0, ``noise``) noise from ``seed``, clipped.
    ``save`` goes to PIL's ``Image.save`` (e.g. ``quality=95`` for a JPEG)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((*size, 3))
    img[...] = background
    for rows, cols, color in blocks:
        img[rows, cols] = color
    img = np.clip(img + rng.normal(0, noise, img.shape), 0, 1)
    Image.fromarray((img * 255).astype(np.uint8)).save(path, **save)
    return path
