"""Synthetic test photos: flat blocks of color on a background, with Gaussian noise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def run_cli(main: Any, *args: str) -> tuple[int, str]:
    """``main`` (a click command) run as a user types ``args``: (exit code, output)."""
    from click.testing import CliRunner

    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


def asymmetric_perler(path: Path, wide: int = 41, tall: int = 10) -> Path:
    """A ``wide`` × ``tall`` design in flat perler colors, one pixel per bead: red on the left
    (columns 0–11), white, light blue from column 30 with a black block (rows 2–4, columns
    34–38): no two halves alike, so a mirrored or split chart shows which half it holds."""
    from craftpix.palette import load_palette

    perler = load_palette("perler")

    def rgb(code: str) -> tuple[int, int, int]:
        return perler.rgb8[perler.codes.index(code)]

    img = np.empty((tall, wide, 3), np.uint8)
    img[:] = rgb("80-19001")
    img[:, :12] = rgb("80-19005")
    img[:, 30:] = rgb("80-19009")
    img[2:5, 34:39] = rgb("80-19018")
    Image.fromarray(img).save(path)
    return path
