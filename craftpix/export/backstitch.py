"""Backstitch outlines for cross-stitch: strong boundaries of the pattern as running stitches.

An outline runs along cell edges (from hole to hole of the Aida) where

* two neighbouring cells have colors at least :data:`STRONG_DELTA_E` apart in CIEDE2000 — a
  strong boundary that outlines shapes (the usual practice: backstitch outlines figures, not
  every color change); or
* a stitched cell meets an empty cell (the design's outline against bare fabric).

Edges are chained into polylines (each a path of cell corners) and worked after the crosses
as running stitches of one cell edge each, in one thread (default: the darkest color of the
catalog, e.g. DMC 310 Black) with :data:`BACKSTITCH_STRANDS` strand. Thread: edge length ×
strands × the same overhead factor as crosses (:data:`craftpix.export.bom.THREAD_OVERHEAD`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from craftpix.color import pairwise_delta_e_2000, rgb8_to_lab
from craftpix.errors import InputError
from craftpix.pattern import Color, Pattern

STRONG_DELTA_E = 25.0  # ΔE00: colors this far apart read as different objects, not shading
BACKSTITCH_STRANDS = 1
MODES = ("none", "auto")

Corner = tuple[int, int]  # (row line, column line), 0..H × 0..W


@dataclass(frozen=True)
class Backstitch:
    """The outline: horizontal edges ``h[r, c]`` (row line r, cells c..c+1), vertical edges
    ``v[r, c]`` (column line c, rows r..r+1), and the chained paths of corners."""

    color: int  # palette index of the thread
    h: np.ndarray  # (H+1, W) bool
    v: np.ndarray  # (H, W+1) bool
    paths: list[list[Corner]]

    @property
    def segments(self) -> int:
        """Number of cell edges stitched (one running stitch each)."""
        return int(self.h.sum() + self.v.sum())


def strong_edges(pattern: Pattern, threshold: float = STRONG_DELTA_E) -> tuple[np.ndarray, np.ndarray]:
    """``(h, v)`` edge masks of the strong boundaries (see the module docstring)."""
    cells = pattern.cells
    hgt, wid = cells.shape
    lab = rgb8_to_lab(np.array([c.rgb8 for c in pattern.palette], dtype=np.uint8))
    de = np.asarray(pairwise_delta_e_2000(lab, lab), dtype=np.float64)

    def strong(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fa, fb = a >= 0, b >= 0
        both = fa & fb
        out = fa ^ fb  # stitched against empty
        out[both] = de[a[both], b[both]] >= threshold
        return out

    h = np.zeros((hgt + 1, wid), dtype=bool)
    v = np.zeros((hgt, wid + 1), dtype=bool)
    h[1:hgt] = strong(cells[:-1], cells[1:])
    v[:, 1:wid] = strong(cells[:, :-1], cells[:, 1:])
    return h, v


def chain_paths(h: np.ndarray, v: np.ndarray) -> list[list[Corner]]:
    """Chain edges into paths of corners, each edge used once; starts at path ends first.

    Deterministic: corners are visited in reading order.
    """
    adj: dict[Corner, list[Corner]] = {}

    def add(a: Corner, b: Corner) -> None:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)

    for r, c in zip(*np.nonzero(h), strict=True):
        add((int(r), int(c)), (int(r), int(c) + 1))
    for r, c in zip(*np.nonzero(v), strict=True):
        add((int(r), int(c)), (int(r) + 1, int(c)))
    for k in adj:
        adj[k].sort()
    used: set[tuple[Corner, Corner]] = set()

    def free(a: Corner) -> list[Corner]:
        return [b for b in adj[a] if (min(a, b), max(a, b)) not in used]

    paths: list[list[Corner]] = []
    starts = sorted(adj, key=lambda k: (len(adj[k]) % 2 == 0, k))  # odd-degree corners first
    for s in starts:
        while free(s):
            path = [s]
            cur = s
            while True:
                nxt = free(cur)
                if not nxt:
                    break
                b = nxt[0]
                used.add((min(cur, b), max(cur, b)))
                path.append(b)
                cur = b
            paths.append(path)
    return paths


def resolve_color(pattern: Pattern, code: str | None) -> Color:
    """The backstitch thread: ``code`` from the pattern or its catalog, else the catalog's
    darkest color (lowest CIE L*), else the pattern's darkest. InputError for an unknown code."""
    from craftpix.palette import pattern_catalog

    cat = pattern_catalog(pattern.brand)  # a catalog name, never a path
    if code is not None:
        for c in pattern.palette:
            if c.code.lower() == code.lower():
                return Color(c.code, c.name, c.hex)
        if cat is not None:
            for i, cc in enumerate(cat.codes):
                if cc.lower() == code.lower():
                    return Color(cc, cat.names[i], cat.hexes[i])
        raise InputError(f"backstitch color {code!r} is not in the {pattern.brand} catalog")
    if cat is not None:
        i = int(np.argmin(cat.lab[:, 0]))
        return Color(cat.codes[i], cat.names[i], cat.hexes[i])
    lab = rgb8_to_lab(np.array([c.rgb8 for c in pattern.palette], dtype=np.uint8))
    c = pattern.palette[int(np.argmin(lab[:, 0]))]
    return Color(c.code, c.name, c.hex)


def plan_backstitch(pattern: Pattern, code: str | None = None,
                    threshold: float = STRONG_DELTA_E) -> tuple[Pattern, Backstitch | None]:
    """Outline ``pattern``: returns the pattern (its palette extended with the thread color
    if needed) and the backstitch, or None when there is no strong boundary."""
    if pattern.medium != "stitch":
        raise InputError(f"backstitch applies to cross-stitch, not to {pattern.medium}")
    color = resolve_color(pattern, code)
    h, v = strong_edges(pattern, threshold)
    if not h.any() and not v.any():
        return pattern, None
    codes = [c.code for c in pattern.palette]
    if color.code in codes:
        idx = codes.index(color.code)
    else:
        pattern = Pattern(pattern.cells, [*pattern.palette, color], pattern.medium,
                          pattern.brand, dict(pattern.meta), dict(pattern.settings))
        idx = len(pattern.palette) - 1
    return pattern, Backstitch(idx, h, v, chain_paths(h, v))


def backstitch_cm(bs: Backstitch, fabric_count: int) -> float:
    """Centimetres of floss (all strands, overhead included) for the outline."""
    from craftpix.export.bom import THREAD_OVERHEAD
    from craftpix.media import MM_PER_INCH

    edge_cm = MM_PER_INCH / fabric_count / 10
    return bs.segments * edge_cm * BACKSTITCH_STRANDS * THREAD_OVERHEAD


def backstitch_skeins(bs: Backstitch, fabric_count: int) -> int:
    """Skeins for the outline (8 m × 6 strands per skein)."""
    from craftpix.export.bom import SKEIN_STRAND_CM

    return max(1, math.ceil(backstitch_cm(bs, fabric_count) / SKEIN_STRAND_CM))
