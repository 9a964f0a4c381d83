"""Numbers that say how good a pattern is, for tests, benchmarks and run summaries."""

from __future__ import annotations

import numpy as np

from craftpix.color import delta_e_2000, rgb_to_lab


def isolated_cell_rate(indices: np.ndarray) -> float:
    """Share of cells whose 4 neighbours (inside the grid) all differ from them.

    These "confetti" cells are the ones crafters hate to place. Edge cells count with the
    neighbours they have.
    """
    g = np.asarray(indices)
    h, w = g.shape
    same = np.zeros((h, w), dtype=bool)
    has = np.zeros((h, w), dtype=bool)
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ys = slice(max(dy, 0), h + min(dy, 0))
        yd = slice(max(-dy, 0), h + min(-dy, 0))
        xs = slice(max(dx, 0), w + min(dx, 0))
        xd = slice(max(-dx, 0), w + min(-dx, 0))
        same[yd, xd] |= g[ys, xs] == g[yd, xd]
        has[yd, xd] = True
    return float((has & ~same).mean())


def mean_delta_e(indices: np.ndarray, palette_rgb: np.ndarray, reference_rgb: np.ndarray) -> float:
    """Mean CIEDE2000 between the pattern's colors and the reference, cell by cell."""
    pattern = np.asarray(palette_rgb, dtype=np.float64)[np.asarray(indices)]
    return float(delta_e_2000(rgb_to_lab(pattern), rgb_to_lab(np.asarray(reference_rgb))).mean())


def colors_used(indices: np.ndarray) -> int:
    return int(len(np.unique(indices)))
