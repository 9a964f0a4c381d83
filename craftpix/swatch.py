"""A printable swatch card of a catalog: one tile per color with its code."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from craftpix.fileio import atomic_path
from craftpix.palette import Palette

TILE, LABEL, COLUMNS = 64, 18, 12


def render_swatch(palette: Palette, columns: int = COLUMNS) -> Image.Image:
    """Tiles in catalog order; the code is printed under each tile."""
    rows = -(-len(palette) // columns)
    card = Image.new("RGB", (columns * TILE, rows * (TILE + LABEL)), "white")
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default()
    light = palette.lab[:, 0] > 92  # near-white tiles get an outline
    for i, (code, rgb) in enumerate(zip(palette.codes, palette.rgb8, strict=True)):
        x, y = (i % columns) * TILE, (i // columns) * (TILE + LABEL)
        draw.rectangle([x + 2, y + 2, x + TILE - 3, y + TILE - 3], fill=tuple(int(v) for v in rgb),
                       outline=(160, 160, 160) if light[i] else None)
        draw.text((x + 3, y + TILE), code[:10], fill="black", font=font)
    return card


def write_swatch(palette: Palette, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as tmp:
        render_swatch(palette).save(tmp, format="PNG")
    return Path(path)
