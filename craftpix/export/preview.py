"""PNG previews that look like the finished craft: fused beads, brick plates, cross-stitch.

One sprite per palette color is rendered once (anti-aliased by supersampling) and the image is
tiled from the sprites with a single numpy gather, so the cost is independent of per-cell
drawing calls: a 200×200 design renders in a few tens of milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from craftpix.errors import InputError
from craftpix.fileio import atomic_path
from craftpix.media import MM_PER_INCH, get_medium
from craftpix.pattern import Pattern

if TYPE_CHECKING:
    from craftpix.export.backstitch import Backstitch

STYLES = ("craft", "pixels")
TARGET_PX = 1200  # default long side of a preview


def default_cell_px(pattern: Pattern) -> int:
    """Pixels per cell so that the long side is about ``TARGET_PX`` (4 to 32 px per cell)."""
    return int(np.clip(TARGET_PX // max(pattern.width, pattern.height), 4, 32))


def _grid(p: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Supersampled sample coordinates ``u`` (x, right) and ``v`` (y, down) in ``[0, 1)``."""
    s = max(1, min(4, 64 // p))
    n = p * s
    t = (np.arange(n) + 0.5) / n
    v, u = np.meshgrid(t, t, indexing="ij")
    return u, v, s


def _pool(a: np.ndarray, s: int) -> np.ndarray:
    """Average ``s``×``s`` blocks of the leading two axes."""
    if s == 1:
        return a
    n = a.shape[0] // s
    return a.reshape(n, s, n, s, *a.shape[2:]).mean(axis=(1, 3))


def _smooth_step(x: np.ndarray, edge: float) -> np.ndarray:
    return np.clip(x / edge + 0.5, 0.0, 1.0)


def _layers(style: str, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``alpha``, ``shade``, ``highlight`` (p×p) and background (p×p×3), floats in 0..1."""
    u, v, s = _grid(p)
    n = u.shape[0]
    aa = 1.0 / n  # about one sample of soft edge
    dx, dy = u - 0.5, v - 0.5
    r = np.hypot(dx, dy)
    light = -(dx + dy) / 0.7071  # +1 toward the top-left light, -1 bottom-right
    if style == "beads":
        outer, inner = 0.49, 0.19
        alpha = _smooth_step(outer - r, 2 * aa) * _smooth_step(r - inner, 2 * aa)
        mid, half = (outer + inner) / 2, (outer - inner) / 2
        prof = 1.0 - 0.35 * ((r - mid) / half) ** 2  # rounded ring section
        shade = prof * (1.0 + 0.12 * light)
        spot = np.exp(-(((dx + 0.2) ** 2 + (dy + 0.2) ** 2) / 0.006))
        highlight = 0.35 * spot
        bg = np.empty((n, n, 3))
        bg[...] = (0.93, 0.93, 0.91)  # paper showing through the hole and between beads
    elif style in ("bricks", "round", "tile"):
        gap = 0.03
        if style == "round":
            body = _smooth_step(0.48 - r, 2 * aa)
        else:
            body = (_smooth_step(np.minimum(u, 1 - u) - gap, 2 * aa)
                    * _smooth_step(np.minimum(v, 1 - v) - gap, 2 * aa))
        alpha = body
        bevel = 0.08
        edge_tl = np.clip(1 - np.minimum(u, v) / bevel, 0, 1)  # near top/left edges
        edge_br = np.clip(1 - np.minimum(1 - u, 1 - v) / bevel, 0, 1)
        shade = 1.0 + 0.18 * edge_tl - 0.30 * edge_br
        highlight = np.zeros_like(u)
        if style == "tile":
            highlight = 0.10 * np.clip(light, 0, 1) ** 2  # glossy flat top
        else:
            rs = 0.30  # stud radius (4.8 mm stud on an 8 mm pitch)
            stud = _smooth_step(rs - r, 2 * aa)
            shadow = _smooth_step(rs - np.hypot(dx - 0.06, dy - 0.06), 3 * aa) * (1 - stud)
            shade = shade * (1 - 0.28 * shadow)
            rim = np.clip((r - 0.6 * rs) / (0.4 * rs), 0, 1) * stud
            shade = shade * (1 + stud * (0.10 * light * (0.5 + rim)))
            highlight = highlight + 0.22 * stud * np.clip(light, 0, 1) * rim
        bg = np.empty((n, n, 3))
        bg[...] = (0.16, 0.16, 0.16)  # dark seams between plates
    elif style == "stitch":
        half = 0.15  # half-width of a leg, in cells
        d1 = np.abs(u + v - 1) / np.sqrt(2)  # first leg "/"
        d2 = np.abs(u - v) / np.sqrt(2)  # second leg "\" lies on top
        inside = (np.minimum(u, 1 - u) > 0.04) & (np.minimum(v, 1 - v) > 0.04)
        a1 = _smooth_step(half - d1, 2 * aa) * inside
        a2 = _smooth_step(half - d2, 2 * aa) * inside
        alpha = np.maximum(a1, a2)
        on_top = a2 >= 0.5
        prof1 = np.sqrt(np.clip(1 - (d1 / half) ** 2, 0, 1))
        prof2 = np.sqrt(np.clip(1 - (d2 / half) ** 2, 0, 1))
        # twisted strands: fine ridges running along each leg
        tw1 = 0.92 + 0.08 * np.cos(2 * np.pi * (7 * (u - v) + 3 * (u + v)))
        tw2 = 0.92 + 0.08 * np.cos(2 * np.pi * (7 * (u + v) + 3 * (u - v)))
        shade = np.where(on_top, (0.62 + 0.45 * prof2) * tw2, (0.52 + 0.40 * prof1) * tw1)
        highlight = np.where(on_top, 0.10 * prof2 ** 4, 0.04 * prof1 ** 4)
        # Aida: an off-white block weave with holes at the cell corners
        weave = 0.97 + 0.03 * np.cos(2 * np.pi * 4 * u) * np.cos(2 * np.pi * 4 * v)
        hole = np.minimum(np.hypot(u, v), np.hypot(1 - u, v))
        hole = np.minimum(hole, np.minimum(np.hypot(u, 1 - v), np.hypot(1 - u, 1 - v)))
        holes = 1 - 0.35 * _smooth_step(0.09 - hole, 2 * aa)
        fabric = weave * holes
        bg = np.stack([0.96 * fabric, 0.945 * fabric, 0.90 * fabric], axis=-1)
    elif style in ("diamond", "diamond-round"):
        # a resin drill (square, or round with ``diamond-round``): facets sloping to a flat
        # table, lit from the top left
        gap = 0.04
        if style == "diamond-round":
            alpha = _smooth_step(0.47 - r, 2 * aa)
        else:
            alpha = (_smooth_step(np.minimum(u, 1 - u) - gap, 2 * aa)
                     * _smooth_step(np.minimum(v, 1 - v) - gap, 2 * aa))
        table = (np.abs(dx) < 0.18) & (np.abs(dy) < 0.18)
        facet = np.where(np.abs(dx) > np.abs(dy), np.where(dx < 0, 1.18, 0.78),
                         np.where(dy < 0, 1.28, 0.70))
        shade = np.where(table, 1.0, facet)
        highlight = 0.30 * np.exp(-(((dx + 0.22) ** 2 + (dy + 0.22) ** 2) / 0.004))
        bg = np.empty((n, n, 3))
        bg[...] = (0.95, 0.95, 0.93)  # the canvas between drills
    else:  # pragma: no cover - internal
        raise ValueError(style)
    return _pool(alpha, s), _pool(shade, s), _pool(highlight, s), _pool(bg, s)


def cell_sprites(rgb: np.ndarray, style: str, p: int) -> np.ndarray:
    """``(n, p, p, 3)`` uint8 sprites, one per color of ``rgb`` (``(n, 3)`` uint8)."""
    colors = rgb.astype(np.float64) / 255.0
    if style == "pixels":
        out = np.broadcast_to(colors[:, None, None, :], (len(colors), p, p, 3))
        return np.round(out * 255).astype(np.uint8)
    alpha, shade, highlight, bg = _layers(style, p)
    piece = colors[:, None, None, :] * shade[None, :, :, None] + highlight[None, :, :, None]
    a = alpha[None, :, :, None]
    out = bg[None] * (1 - a) + np.clip(piece, 0, 1) * a
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


BASEPLATE_RGB = (160, 165, 169)  # LEGO Light Bluish Gray, the usual baseplate color
PEG_RGB = (214, 214, 208)  # an empty pegboard peg


def empty_sprite(kind: str, p: int) -> np.ndarray | None:
    """``(p, p, 3)`` uint8 sprite of an empty cell in the craft look, or None for ``pixels``.

    Stitch: bare Aida; beads: the pegboard with its peg; bricks: the baseplate's own stud.
    """
    if kind == "pixels":
        return None
    if kind in ("bricks", "round", "tile"):
        return cell_sprites(np.array([BASEPLATE_RGB], dtype=np.uint8), "bricks", p)[0]
    _, _, _, bg = _layers(kind, p)
    if kind == "beads":
        u, v, s = _grid(p)
        peg = _pool(_smooth_step(0.14 - np.hypot(u - 0.5, v - 0.5), 2.0 / u.shape[0]), s)
        bg = bg * (1 - peg[..., None]) + np.array(PEG_RGB) / 255.0 * peg[..., None]
    return np.round(np.clip(bg, 0, 1) * 255).astype(np.uint8)


def draw_backstitch(img: np.ndarray, bs: Backstitch, rgb8: tuple[int, int, int], p: int) -> None:
    """Paint the outline ``bs`` onto ``img`` ((H·p, W·p, C) uint8, cells of ``p`` px) in place:
    a line of ``max(1, p // 6)`` px centred on each stitched cell edge."""
    t = max(1, p // 6)
    half = t // 2
    color = np.array([*rgb8, 255][: img.shape[-1]], dtype=np.uint8)
    hh, ww = img.shape[:2]
    for r, c in zip(*np.nonzero(bs.h), strict=True):  # row line r, cells c..c+1
        y0 = min(max(0, r * p - half), hh - t)
        img[y0:y0 + t, c * p: (c + 1) * p + half] = color
    for r, c in zip(*np.nonzero(bs.v), strict=True):  # column line c, rows r..r+1
        x0 = min(max(0, c * p - half), ww - t)
        img[r * p: (r + 1) * p + half, x0:x0 + t] = color


def render_preview(
    pattern: Pattern,
    style: str = "craft",
    cell_px: int | None = None,
    fabric_count: int | None = None,
    part: str = "plate",
    backstitch: Backstitch | None = None,
    drill: str | None = None,
) -> Image.Image:
    """Render the pattern as an RGB image (RGBA for ``pixels`` with empty cells).

    With ``backstitch`` its outline is drawn over the cells in its thread color, along the cell
    edges it stitches, about a sixth of a cell wide (at least 1 px), as on the PDF charts.
    ``drill`` (diamond painting: ``square``/``round``; default the pattern's setting) sets the
    drills' look and the print resolution.

    ``style="craft"`` looks like the made object (fused bead rings with holes, brick plates
    with studs — or round plates / tiles with ``part`` — and cross stitches on Aida);
    ``style="pixels"`` is one flat square per cell. Empty cells show the bare fabric, pegboard
    or baseplate in the craft look; with ``pixels`` the image is RGBA and they are transparent.
    ``cell_px`` defaults to
    :func:`default_cell_px`. ``fabric_count`` only sets the image's print resolution
    (``info["dpi"]``) so that it prints at the finished size.
    """
    if style not in STYLES:
        raise InputError(f"unknown preview style {style!r}; choose one of: {', '.join(STYLES)}")
    p = default_cell_px(pattern) if cell_px is None else int(cell_px)
    if p < 1 or p > 256:
        raise InputError(f"preview cell size {p} px is out of range (1 to 256)")
    if style == "craft" and p >= 3:
        kind = {"beads": "beads", "stitch": "stitch", "diamond": "diamond"}.get(pattern.medium)
        if kind == "diamond" and (drill or pattern.settings.get("drill")) == "round":
            kind = "diamond-round"
        if kind is None:
            kind = {"plate": "bricks", "round": "round", "tile": "tile"}.get(part, "bricks")
    else:
        kind = "pixels"
    rgb = np.array([c.rgb8 for c in pattern.palette], dtype=np.uint8)
    sprites = cell_sprites(rgb, kind, p)
    mode = "RGB"
    if pattern.has_empty:
        blank = empty_sprite(kind, p)
        if blank is None:  # pixels: transparent empty cells
            mode = "RGBA"
            opaque = np.full((*sprites.shape[:3], 1), 255, dtype=np.uint8)
            sprites = np.concatenate([sprites, opaque], axis=-1)
            blank = np.zeros((p, p, 4), dtype=np.uint8)
        sprites = np.concatenate([sprites, blank[None]], axis=0)  # index -1: the empty cell
    h, w = pattern.cells.shape
    tiles = sprites[pattern.cells]  # (H, W, p, p, C)
    ch = tiles.shape[-1]
    img = np.ascontiguousarray(tiles.transpose(0, 2, 1, 3, 4)).reshape(h * p, w * p, ch)
    if backstitch is not None:
        draw_backstitch(img, backstitch, pattern.palette[backstitch.color].rgb8, p)
    image = Image.fromarray(img, mode)
    medium = get_medium(pattern.medium, pattern.brand)
    drill = (drill or pattern.settings.get("drill")) if pattern.medium == "diamond" else None
    cell_in = medium.cell_mm(fabric_count if pattern.medium == "stitch" else None,
                             drill) / MM_PER_INCH
    dpi = p / cell_in
    image.info["dpi"] = (dpi, dpi)
    return image


def save_preview(
    pattern: Pattern,
    path: str | os.PathLike[str],
    style: str = "craft",
    cell_px: int | None = None,
    fabric_count: int | None = None,
    part: str = "plate",
) -> Path:
    """Render and write a PNG atomically; it prints at the finished size (DPI is set)."""
    return write_png(render_preview(pattern, style, cell_px, fabric_count, part), path)


def write_png(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write a rendered preview atomically, keeping its print resolution."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", dpi=image.info.get("dpi", (72, 72)))
    return Path(path)
