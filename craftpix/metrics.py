"""Numbers that say how good a pattern is, for tests, benchmarks and run summaries.

Index grids are (H, W) ints into a palette; -1 marks an empty cell (no piece), which is left
out of every number here.
"""

from __future__ import annotations

import numpy as np

from craftpix.color import delta_e_2000, rgb_to_lab


def _neighbour_same(g: np.ndarray) -> np.ndarray:
    """(H, W) bool: the cell has a 4-neighbour (inside the grid) of its own value."""
    h, w = g.shape
    same = np.zeros((h, w), dtype=bool)
    same[1:] |= g[1:] == g[:-1]
    same[:-1] |= g[:-1] == g[1:]
    same[:, 1:] |= g[:, 1:] == g[:, :-1]
    same[:, :-1] |= g[:, :-1] == g[:, 1:]
    return same


def isolated_cell_rate(indices: np.ndarray) -> float:
    """Share of pieces whose 4 neighbours (inside the grid) all differ from them.

    These "confetti" cells are the ones crafters hate to place. Edge cells count with the
    neighbours they have; an empty neighbour differs. Empty cells (-1) are not counted; 0.0
    when there is no piece (or only one cell).
    """
    g = np.asarray(indices)
    filled = g >= 0
    if g.size <= 1 or not filled.any():
        return 0.0
    return float((~_neighbour_same(g) & filled).sum() / filled.sum())


def blob_rate(indices: np.ndarray, max_size: int = 3) -> float:
    """Share of pieces in same-color 4-connected components of at most ``max_size`` cells.

    A wider notion of confetti than :func:`isolated_cell_rate`: pairs and triples of a color
    count too. Empty cells (-1) are not counted; 0.0 when there is no piece.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import connected_components

    g = np.asarray(indices)
    h, w = g.shape
    filled = g >= 0
    if not filled.any():
        return 0.0
    idx = np.arange(h * w).reshape(h, w)
    p = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    q = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    flat = g.ravel()
    same = (flat[p] == flat[q]) & (flat[p] >= 0)
    graph = csr_array((np.ones(int(same.sum()), dtype=np.int8), (p[same], q[same])),
                      shape=(h * w, h * w))
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    small = (sizes[comp] <= max_size) & filled.ravel()
    return float(small.sum() / filled.sum())


def mean_delta_e(indices: np.ndarray, palette_rgb: np.ndarray, reference_rgb: np.ndarray) -> float:
    """Mean CIEDE2000 between the pattern's colors and the reference over the filled cells.

    ``palette_rgb`` (n, 3) and ``reference_rgb`` (H, W, 3) are float sRGB 0..1. 0.0 when
    every cell is empty.
    """
    g = np.asarray(indices)
    filled = g >= 0
    if not filled.any():
        return 0.0
    pattern = np.asarray(palette_rgb, dtype=np.float64)[g[filled]]
    ref = np.asarray(reference_rgb, dtype=np.float64)[filled]
    return float(delta_e_2000(rgb_to_lab(pattern), rgb_to_lab(ref)).mean())


def colors_used(indices: np.ndarray) -> int:
    """Number of distinct colors among the filled cells."""
    g = np.asarray(indices)
    return int(len(np.unique(g[g >= 0])))
