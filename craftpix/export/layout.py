"""How a chart is split into pages or boards (pure functions, no drawing)."""

from __future__ import annotations

from dataclasses import dataclass

from craftpix.media import plural


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
    peg_row0: int = 0  # boards: where the page's first design row sits on its board (pegs)
    peg_col0: int = 0  # boards: where the page's first design column sits on its board

    @property
    def rows(self) -> int:
        return self.row1 - self.row0

    @property
    def cols(self) -> int:
        return self.col1 - self.col0


def split_range(n: int, cap: int, overlap: int = 1) -> list[tuple[int, int]]:
    """Cut ``0..n`` into balanced half-open chunks of at most ``cap`` that share ``overlap`` cells.

    As few chunks as ``cap`` allows, all about the same size (60 columns at a cap of 51 are two
    pages of 30, not 51 + 9). Chunks start at multiples of one step, rounded up to a multiple
    of 10 where that keeps the last chunk at least half a step, so pages start on a bold ten-line when they can; the last
    chunk is the shortest.
    """
    if n < 1:
        raise ValueError("nothing to split")
    if n <= cap:
        return [(0, n)]
    if cap <= overlap or overlap < 0:
        raise ValueError("a page must hold more cells than the overlap")
    span = n - overlap  # the cells that have to be stepped over
    k = -(-span // (cap - overlap))
    step = -(-span // k)
    tens = -(-step // 10) * 10
    if tens <= cap - overlap and span - (k - 1) * tens >= tens // 2:  # still balanced
        step = tens
    out = [(i * step, min(n, i * step + step + overlap)) for i in range(k)]
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


def board_origin(width: int, height: int, section: int) -> tuple[int, int]:
    """``(rows, cols)`` of empty pegs before the design when it is centred on the fewest boards.

    ``ceil(n / section)`` boards per axis hold the design; the spare pegs are split evenly
    (the extra one, if odd, after the design), so no board holds a thin sliver at one edge.
    """
    def pad(n: int) -> int:
        return (-(-n // section) * section - n) // 2

    return pad(height), pad(width)


def _board_ranges(n: int, section: int, pad: int) -> list[tuple[int, int, int]]:
    """``(start, end, peg0)`` of the design cells on each board along one axis."""
    boards = -(-n // section)
    out = []
    for b in range(boards):
        lo = max(0, b * section - pad)
        hi = min(n, (b + 1) * section - pad)
        out.append((lo, hi, lo + pad - b * section))
    return out


def section_plan(width: int, height: int, section: int, center: bool = True) -> list[ChartPage]:
    """Boards (pegboards, baseplates) of ``section``×``section`` cells, numbered row by row.

    The design is centred on the fewest boards (:func:`board_origin`; ``center=False``
    anchors it at the top-left board corner instead). Boards do not overlap; ``peg_row0`` /
    ``peg_col0`` say where each board's part of the design starts on the board.
    """
    pr, pc = board_origin(width, height, section) if center else (0, 0)
    pages = []
    for gr, (r0, r1, pr0) in enumerate(_board_ranges(height, section, pr)):
        for gc, (c0, c1, pc0) in enumerate(_board_ranges(width, section, pc)):
            pages.append(ChartPage(len(pages) + 1, r0, r1, c0, c1, gr, gc, pr0, pc0))
    return pages


def board_notes(width: int, height: int, section: int, board: str = "board",
                piece: str = "cell") -> list[str]:
    """Warnings for a design that only just spills onto more boards, with the nearest
    whole-board size; and a note for any board that holds only a handful of cells."""
    notes: list[str] = []
    spill = []
    for n, axis in ((width, "wide"), (height, "tall")):
        extra = n % section
        if n > section and 0 < extra <= max(2, section // 10):
            spill.append(f"{plural(n, piece)} {axis}, {extra} more than {n // section} "
                         f"{board}{'s' if n // section > 1 else ''}")
    if spill:
        fit_w = width - width % section if 0 < width % section <= max(2, section // 10) else width
        fit_h = height - height % section if 0 < height % section <= max(2, section // 10) \
            else height
        boards_now = -(-width // section) * -(-height // section)
        boards_fit = -(-fit_w // section) * -(-fit_h // section)
        notes.append(
            f"the design is {' and '.join(spill)}, so it takes {boards_now} {board}s of "
            f"{section}x{section}; at --size {fit_w}x{fit_h} it would fit {boards_fit}"
        )
    for page in section_plan(width, height, section):
        cells = page.rows * page.cols
        if cells <= max(4, section * section // 20):
            notes.append(f"{board} {page.number} holds only {plural(cells, piece)} "
                         f"({page.cols}x{page.rows})")
    return notes
