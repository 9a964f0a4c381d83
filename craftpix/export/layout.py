"""How a chart is split into pages or boards (pure functions, no drawing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPage:
    """One chart page: the cells ``rows row0:row1`` × ``cols col0:col1`` of the design.

    ``grid_row``/``grid_col`` place it in the page map (0-based); ``number`` is 1-based.
    """

    number: int
    row0: int
    row1: int
    col0: int
    col1: int
    grid_row: int
    grid_col: int

    @property
    def rows(self) -> int:
        return self.row1 - self.row0

    @property
    def cols(self) -> int:
        return self.col1 - self.col0


def split_range(n: int, cap: int, overlap: int = 1) -> list[tuple[int, int]]:
    """Cut ``0..n`` into half-open chunks of at most ``cap`` that share ``overlap`` cells.

    Chunks start at multiples of ``cap - overlap``; the last chunk is shorter. With ``cap``
    a multiple of 10 plus one and ``overlap=1``, every page starts on a bold ten-line.
    """
    if n < 1:
        raise ValueError("nothing to split")
    if n <= cap:
        return [(0, n)]
    if cap <= overlap or overlap < 0:
        raise ValueError("a page must hold more cells than the overlap")
    out: list[tuple[int, int]] = []
    start = 0
    while start + cap < n:
        out.append((start, start + cap))
        start += cap - overlap
    out.append((start, n))
    return out


def page_plan(
    width: int, height: int, cols_per_page: int, rows_per_page: int, overlap: int = 1
) -> list[ChartPage]:
    """Pages of a ``width``×``height`` chart, row by row, with ``overlap`` shared rows/cols."""
    col_ranges = split_range(width, cols_per_page, overlap)
    row_ranges = split_range(height, rows_per_page, overlap)
    pages = []
    for gr, (r0, r1) in enumerate(row_ranges):
        for gc, (c0, c1) in enumerate(col_ranges):
            pages.append(ChartPage(len(pages) + 1, r0, r1, c0, c1, gr, gc))
    return pages


def section_plan(width: int, height: int, section: int) -> list[ChartPage]:
    """Boards (pegboards, baseplates) of ``section``×``section`` cells, numbered row by row.

    Boards do not overlap; those along the right and bottom edges may be partly used.
    """
    return page_plan(width, height, section, section, overlap=0)
