"""Brick mosaics with fewer pieces: cover same-color areas with larger LEGO plates.

Greedy, largest plate first: for each plate size (both orientations) the grid is scanned in
row-major order and a plate is placed wherever all the cells under it are uncovered, share one
color and lie inside one baseplate section. Whatever is left gets 1×1 plates, so every cell is
covered exactly once by a part of its own color. Empty cells (index -1: no brick) are never
covered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

# (rows, cols) -> LEGO part id. 1×1 is the part the user chose (plate, round plate or tile).
PLATE_IDS: dict[tuple[int, int], str] = {
    (2, 4): "3020",
    (2, 3): "3021",
    (2, 2): "3022",
    (1, 4): "3710",
    (1, 3): "3623",
    (1, 2): "3023",
}

# Largest area first; at equal area the squarer plate first (it is sturdier and fills blobs).
MERGE_SIZES: tuple[tuple[int, int], ...] = (
    (2, 4), (4, 2),
    (2, 3), (3, 2),
    (2, 2),
    (1, 4), (4, 1),
    (1, 3), (3, 1),
    (1, 2), (2, 1),
)


def plate_id(rows: int, cols: int) -> str:
    """LEGO part id of a ``rows``×``cols`` plate (either orientation); 1×1 gives ``3024``."""
    if (rows, cols) == (1, 1):
        return "3024"
    key = (min(rows, cols), max(rows, cols))
    return PLATE_IDS[key]


def plate_name(rows: int, cols: int) -> str:
    """Human name such as ``Plate 2×4``."""
    a, b = sorted((rows, cols))
    return f"Plate {a}×{b}"


@dataclass(frozen=True)
class Placement:
    """One part: top-left cell ``(row, col)``, size ``rows``×``cols``, palette index ``color``."""

    row: int
    col: int
    rows: int
    cols: int
    color: int

    @property
    def part(self) -> str:
        return plate_id(self.rows, self.cols)

    @property
    def size(self) -> tuple[int, int]:
        """Size with the short side first (orientation dropped), e.g. ``(2, 4)``."""
        a, b = sorted((self.rows, self.cols))
        return a, b


@dataclass
class MergeResult:
    """The plates covering a brick mosaic, and how many pieces that saves."""

    placements: list[Placement]
    section: int
    pieces_before: int

    @property
    def pieces_after(self) -> int:
        return len(self.placements)

    @property
    def reduction(self) -> float:
        """Fraction of pieces saved, 0..1."""
        return 1.0 - self.pieces_after / self.pieces_before if self.pieces_before else 0.0

    def part_counts(self, color: int | None = None) -> dict[tuple[int, int], int]:
        """Number of parts per size (short side first), for one palette index or for all."""
        c = Counter(p.size for p in self.placements if color is None or p.color == color)
        return dict(sorted(c.items()))

    def part_counts_in(self, row0: int, row1: int, col0: int, col1: int) -> dict[int, dict[tuple[int, int], int]]:
        """Per color, parts whose top-left cell lies in rows ``row0:row1`` and cols ``col0:col1``.

        With ``section``-aligned bounds this is exactly the parts of one baseplate, because no
        part crosses a section border.
        """
        out: dict[int, Counter[tuple[int, int]]] = {}
        for p in self.placements:
            if row0 <= p.row < row1 and col0 <= p.col < col1:
                out.setdefault(p.color, Counter())[p.size] += 1
        return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}

    def label_grid(self, shape: tuple[int, int]) -> np.ndarray:
        """``(H, W)`` array: index into ``placements`` of the part covering each cell (-1: none)."""
        grid = np.full(shape, -1, dtype=np.int64)
        for i, p in enumerate(self.placements):
            grid[p.row : p.row + p.rows, p.col : p.col + p.cols] = i
        return grid


def _uniform_window(cells: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``ok[r, c]`` is True where the ``rows``×``cols`` window at (r, c) fits and is one color."""
    h, w = cells.shape
    ok = np.zeros((h, w), dtype=bool)
    if rows > h or cols > w:
        return ok
    hh, ww = h - rows + 1, w - cols + 1
    base = cells[:hh, :ww]
    good = np.ones((hh, ww), dtype=bool)
    for i in range(rows):
        for j in range(cols):
            if i or j:
                good &= cells[i : i + hh, j : j + ww] == base
    ok[:hh, :ww] = good
    return ok


def merge_plates(
    cells: np.ndarray,
    section: int,
    sizes: tuple[tuple[int, int], ...] = MERGE_SIZES,
    origin: tuple[int, int] = (0, 0),
) -> MergeResult:
    """Cover ``cells`` (an ``(H, W)`` grid of palette indices, -1 empty) with plates, largest first.

    No plate crosses a border of the ``section``×``section`` baseplate grid; ``origin`` is the
    ``(rows, cols)`` of baseplate studs before the design's first cell (see
    :func:`craftpix.export.layout.board_origin`). Returns every placement, 1×1 plates included,
    in a deterministic order.
    """
    cells = np.asarray(cells)
    if cells.ndim != 2:
        raise ValueError("cells must be a 2-D grid")
    if section < 1:
        raise ValueError("section must be at least 1")
    h, w = cells.shape
    covered = cells < 0  # empty cells: no part may cover them
    placements: list[Placement] = []
    rr = (np.arange(h)[:, None] + origin[0]) % section
    cc = (np.arange(w)[None, :] + origin[1]) % section
    for rows, cols in sizes:
        if rows > section or cols > section:
            continue
        cand = _uniform_window(cells, rows, cols)
        cand &= (rr + rows <= section) & (cc + cols <= section)
        # the whole window must be uncovered when this pass starts
        cand &= ~_any_window(covered, rows, cols)
        if not cand.any():
            continue
        for r, c in zip(*np.nonzero(cand), strict=True):
            r, c = int(r), int(c)
            if covered[r : r + rows, c : c + cols].any():
                continue
            covered[r : r + rows, c : c + cols] = True
            placements.append(Placement(r, c, rows, cols, int(cells[r, c])))
    for r, c in zip(*np.nonzero(~covered), strict=True):
        placements.append(Placement(int(r), int(c), 1, 1, int(cells[r, c])))
    placements.sort(key=lambda p: (p.row, p.col))
    return MergeResult(placements, section, int((cells >= 0).sum()))


def _any_window(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``out[r, c]`` is True where any cell of the window at (r, c) is set (or it overflows)."""
    h, w = mask.shape
    out = np.ones((h, w), dtype=bool)
    if rows > h or cols > w:
        return out
    hh, ww = h - rows + 1, w - cols + 1
    acc = np.zeros((hh, ww), dtype=bool)
    for i in range(rows):
        for j in range(cols):
            acc |= mask[i : i + hh, j : j + ww]
    out[:hh, :ww] = acc
    return out
