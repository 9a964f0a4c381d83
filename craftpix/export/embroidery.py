"""Machine-embroidery files of true cross stitches (DST, PES, JEF, EXP, VP3) via pyembroidery.

Geometry: one cell is ``25.4 / fabric_count`` mm (14 ct → 1.814 mm), in pyembroidery's units
of 0.1 mm with y growing downwards. The design is centred on the origin — the machine's
hoop centre — and every point is a cell corner rounded to whole units.

Routing, per thread color (most-used first, the order of the bill of materials):

* the color's connected areas (4-connected regions) in reading order; between areas the
  thread is trimmed and the needle jumps;
* inside an area, its rows top to bottom, runs of a row alternately left→right and
  right→left; each run is stitched there and back: the first legs (``/``) going one way,
  the second legs (``\\``) — which lie on top in every cell — coming back, with one-cell
  travel stitches along the shared cell edges. A run ends where it began, and the needle
  travels to the next run along edges of the area's own cells (shortest path);
* a short lock (there and back along the first stitch) where an area starts and ends;
* trim and one color change between threads.

Every command is added with ``add_stitch_absolute``. Long jumps are split by pyembroidery's
encoder to the writer's limits (DST 121 units, JEF/EXP 127, VP3 255, PES 2047); stitches
are at most a cell diagonal and are checked against the format's limit.
"""

from __future__ import annotations

import io
import math
import os
import struct
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyembroidery as emb
from pyembroidery import (
    DstReader,
    DstWriter,
    ExpReader,
    ExpWriter,
    JefReader,
    JefWriter,
    PesReader,
    PesWriter,
    Vp3Reader,
    Vp3Writer,
)

from craftpix.errors import CraftpixError, InputError
from craftpix.export import dst
from craftpix.export.hoops import DEFAULT_HOOP, Hoop, needs_turn, smallest_fitting_hoop
from craftpix.fileio import write_bytes
from craftpix.media import MM_PER_INCH
from craftpix.pattern import Pattern, usage_order

if TYPE_CHECKING:
    from craftpix.export.backstitch import Backstitch

UNITS_PER_MM = 10


@dataclass(frozen=True)
class FormatSpec:
    """One machine format as a contract: its writer, reader, settings and limits.

    ``writer_settings`` are passed to pyembroidery explicitly (never left to its defaults);
    ``reader_settings`` are what reading the file back needs to see the same commands.
    ``threads``: ``"full"`` (code, name, brand and RGB stored: PES v6, VP3), ``"chart"`` (an
    index into the maker's own thread chart: JEF) or ``"none"`` (DST, EXP carry only color
    changes). ``max_colors`` is the most thread blocks a file can hold (None: no practical
    limit). Sources: pyembroidery 1.5 writers (stitch limits, PEC's one-byte color count),
    the Tajima DST header (3-digit ``CO`` field).
    """

    name: str
    writer: Any
    reader: Any
    max_stitch_units: int
    max_colors: int | None
    threads: str
    writer_settings: dict[str, Any] = field(default_factory=dict)
    reader_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.name.upper()


FORMATS: dict[str, FormatSpec] = {
    "dst": FormatSpec("dst", DstWriter, DstReader, 121, 999, "none",
                      {"trim_at": 3, "version": "default"}, {"trim_at": 3}),
    "pes": FormatSpec("pes", PesWriter, PesReader, 2047, 255, "full",
                      {"version": 6, "truncated": False}),  # v6 stores thread names
    "jef": FormatSpec("jef", JefWriter, JefReader, 127, None, "chart",
                      {"trims": True, "trim_at": 3}, {"trims": True, "trim_at": 3}),
    "exp": FormatSpec("exp", ExpWriter, ExpReader, 127, None, "none"),
    "vp3": FormatSpec("vp3", Vp3Writer, Vp3Reader, 255, None, "full"),
}
DEFAULT_FORMATS = ("pes", "dst")
BRAND_NAMES = {"dmc": "DMC", "anchor": "Anchor", "madeira": "Madeira"}

# JEF hoop codes and sewing fields in mm, as pyembroidery's JEF writer numbers them
# (JefWriter.HOOP_*); the header names the hoop the machine must ask for.
JEF_HOOPS: dict[int, tuple[float, float]] = {
    1: (50.0, 50.0),
    0: (110.0, 110.0),
    3: (126.0, 110.0),
    2: (140.0, 200.0),
    4: (200.0, 200.0),
}
_JEF_HOOP_OFFSET = 0x20  # int32: hoop code; then 4 × int32 extents, 4 × 4 hoop-edge distances


def parse_formats(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"pes,dst"`` or an iterable of names → validated lowercase tuple (duplicates dropped)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        name = str(raw).strip().lower().lstrip(".")
        if name in ("", "none"):
            continue
        if name not in FORMATS:
            raise InputError(
                f"unknown embroidery format {raw!r}; choose from: {', '.join(FORMATS)}"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def color_order(pattern: Pattern) -> list[int]:
    """Palette indices in stitching order: most-used first (ties: palette order); unused dropped."""
    return usage_order(pattern.counts())


@dataclass
class Region:
    """A 4-connected area of one color: its runs ``(row, c0, c1)`` (inclusive), sorted."""

    color: int
    runs: list[tuple[int, int, int]]


def find_regions(cells: np.ndarray) -> list[Region]:
    """All 4-connected same-color regions, each with its runs; reading order of first cell.

    Cells below 0 (empty) belong to no region.
    """
    h, w = cells.shape
    runs: list[tuple[int, int, int, int]] = []  # (row, c0, c1, color)
    row_start: list[int] = []
    for r in range(h):
        row = cells[r]
        cuts = np.flatnonzero(row[1:] != row[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [w])) - 1
        row_start.append(len(runs))
        runs.extend((r, int(a), int(b), int(row[a])) for a, b in zip(starts, ends, strict=True)
                    if row[a] >= 0)
    row_start.append(len(runs))
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(1, h):
        i, j = row_start[r - 1], row_start[r]
        i_end, j_end = row_start[r], row_start[r + 1]
        while i < i_end and j < j_end:
            _, a0, a1, ac = runs[i]
            _, b0, b1, bc = runs[j]
            if ac == bc and a0 <= b1 and b0 <= a1:
                ra, rb = find(i), find(j)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            if a1 < b1:
                i += 1
            else:
                j += 1
    groups: dict[int, list[int]] = {}
    for k in range(len(runs)):
        groups.setdefault(find(k), []).append(k)
    regions = []
    for root in sorted(groups):  # the root is the region's first run in reading order
        members = groups[root]
        regions.append(Region(runs[root][3], [runs[k][:3] for k in members]))
    return regions


def _run_points(r: int, c0: int, c1: int, right_entry: bool) -> list[tuple[int, int]]:
    """Corner points ``(row_line, col_line)`` of one run, stitched there and back.

    Every cell gets its ``/`` leg on the way out and its ``\\`` leg on the way back, with
    one-cell travel stitches along vertical cell edges. Ends where it starts (4n+1 points).
    """
    if not right_entry:  # enter bottom-left of c0, "/" legs going right, "\" legs coming back
        pts = [(r + 1, c0)]
        for c in range(c0, c1 + 1):
            pts.append((r, c + 1))
            if c < c1:
                pts.append((r + 1, c + 1))
        pts.append((r + 1, c1 + 1))
        for c in range(c1, c0 - 1, -1):
            pts.append((r, c))
            if c > c0:
                pts.append((r + 1, c))
        pts.append((r + 1, c0))
    else:  # enter bottom-right of c1, "/" legs going left, "\" legs coming back
        pts = [(r + 1, c1 + 1), (r, c1 + 1)]
        for c in range(c1, c0 - 1, -1):
            pts.append((r + 1, c))
            if c > c0:
                pts.append((r, c))
        pts.append((r, c0))
        for c in range(c0, c1 + 1):
            pts.append((r + 1, c + 1))
            if c < c1:
                pts.append((r, c + 1))
    return pts


def _edge_path(
    start: tuple[int, int], goal: tuple[int, int], inside: Callable[[int, int], bool],
    rows: int, cols: int,
) -> list[tuple[int, int]] | None:
    """Shortest corner path from ``start`` to ``goal`` along edges of cells where ``inside``."""
    if start == goal:
        return []
    prev: dict[tuple[int, int], tuple[int, int]] = {start: start}
    queue = deque([start])
    while queue:
        i, j = cur = queue.popleft()
        # (neighbour, the two cells that the edge borders)
        for nxt, ca, cb in (
            ((i, j + 1), (i - 1, j), (i, j)),
            ((i, j - 1), (i - 1, j - 1), (i, j - 1)),
            ((i + 1, j), (i, j - 1), (i, j)),
            ((i - 1, j), (i - 1, j - 1), (i - 1, j)),
        ):
            if nxt in prev or not (0 <= nxt[0] <= rows and 0 <= nxt[1] <= cols):
                continue
            if not (inside(*ca) or inside(*cb)):
                continue
            prev[nxt] = cur
            if nxt == goal:
                path = [nxt]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                path.pop()
                return path[::-1]
            queue.append(nxt)
    return None


@dataclass(frozen=True)
class ThreadBlock:
    """One thread block as the machine sews it, in order: between two color changes."""

    color: int  # palette index
    kind: str  # "crosses" or "backstitch"
    crosses: int  # cells crossed in this block (0 for backstitch)
    edges: int  # backstitch cell edges (0 for crosses)
    parts: int  # separate areas (crosses) or lines (backstitch), each started after a trim
    stitches: int  # needle-down commands in this block


@dataclass
class StitchPlan:
    """The routed design: commands plus what a read-back must find."""

    commands: list[tuple[int, int, int]]  # (pyembroidery command, x, y) in 0.1 mm
    color_order: list[int]  # palette indices, in stitching order
    width_mm: float
    height_mm: float
    bounds: tuple[int, int, int, int]  # min_x, min_y, max_x, max_y of every command
    stitches: int  # STITCH commands
    regions: int
    trims: int
    color_changes: int
    max_stitch_units: float  # longest needle-down stitch
    fabric_count: int
    per_color_regions: dict[int, int] = field(default_factory=dict)
    blocks: list[ThreadBlock] = field(default_factory=list)  # as sewn, one per color change + 1
    extent: tuple[int, int] = (0, 0)  # stitched columns × rows (empty margins left out)
    turned: bool = False  # the design is turned a quarter turn to fit the hoop


def stitched_box(pattern: Pattern) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top row, left column), (rows, columns))`` of the smallest box holding every
    non-empty cell: what a machine sews and a hoop must hold (empty margins sew nothing)."""
    filled = pattern.cells >= 0
    rows = np.flatnonzero(filled.any(axis=1))
    cols = np.flatnonzero(filled.any(axis=0))
    return (int(rows[0]), int(cols[0])), (int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))


def stitched_size(pattern: Pattern) -> tuple[int, int]:
    """``(columns, rows)`` of :func:`stitched_box`: the extent the hoop check measures."""
    _, (rows, cols) = stitched_box(pattern)
    return cols, rows


def plan_cross_stitch(pattern: Pattern, fabric_count: int = 14,
                      backstitch: Backstitch | None = None, turn: bool = False) -> StitchPlan:
    """Route every cell of ``pattern`` as a full cross; see the module docstring.

    With ``backstitch``, its outline follows the crosses in its own thread block: each path a
    run of one-cell-edge stitches, a trim between paths. With ``turn`` the design is turned a
    quarter turn clockwise in the machine's frame (``(x, y) → (-y, x)``, y down), for a hoop
    that holds it only that way round (:func:`craftpix.export.hoops.needs_turn`).
    """
    if fabric_count <= 0:
        raise InputError(f"fabric count must be positive, got {fabric_count}")
    cells = pattern.cells
    h, w = cells.shape
    cu = MM_PER_INCH / fabric_count * UNITS_PER_MM  # cell size in units
    # the stitched extent (empty margins sew nothing) is centred on the hoop centre
    (r0, c0), (eh, ew) = stitched_box(pattern)
    xs = [int(round((k - c0) * cu - ew * cu / 2)) for k in range(w + 1)]
    ys = [int(round((k - r0) * cu - eh * cu / 2)) for k in range(h + 1)]
    order = color_order(pattern)
    regions = find_regions(cells)
    by_color: dict[int, list[int]] = {}
    for idx, reg in enumerate(regions):
        by_color.setdefault(reg.color, []).append(idx)
    label = np.full((h, w), -1, dtype=np.int64)
    for idx, reg in enumerate(regions):
        for r, c0, c1 in reg.runs:
            label[r, c0 : c1 + 1] = idx

    cmds: list[tuple[int, int, int]] = []
    cur = (0, 0)  # last corner visited (row_line, col_line)
    longest = 0.0

    def xy(pt: tuple[int, int]) -> tuple[int, int]:
        return xs[pt[1]], ys[pt[0]]

    def stitch_to(pt: tuple[int, int]) -> None:
        nonlocal longest, cur
        x, y = xy(pt)
        if cmds:
            px, py = cmds[-1][1], cmds[-1][2]
            longest = max(longest, math.hypot(x - px, y - py))
        cmds.append((emb.STITCH, x, y))
        cur = pt

    def jump_to(pt: tuple[int, int]) -> None:
        """Jump to corner ``pt`` and put the needle down there."""
        nonlocal cur
        x, y = xy(pt)
        cmds.append((emb.JUMP, x, y))
        cmds.append((emb.STITCH, x, y))
        cur = pt

    def lock(a: tuple[int, int], b: tuple[int, int]) -> None:
        """A there-and-back stitch a third of the way from point ``a`` toward ``b`` (units)."""
        (ax, ay), (bx, by) = a, b
        mx, my = int(round(ax + (bx - ax) / 3)), int(round(ay + (by - ay) / 3))
        cmds.append((emb.STITCH, mx, my))
        cmds.append((emb.STITCH, ax, ay))

    def here(command: int) -> None:
        """``command`` (trim, color change, end) at the needle's position."""
        cmds.append((command, cmds[-1][1], cmds[-1][2]))

    blocks: list[ThreadBlock] = []
    for ci, color in enumerate(order):
        if ci > 0:
            here(emb.TRIM)
            here(emb.COLOR_CHANGE)
        start = len(cmds)
        for ri, reg_idx in enumerate(by_color[color]):
            reg = regions[reg_idx]
            if ri > 0:
                here(emb.TRIM)

            def inside(r: int, c: int, reg_idx: int = reg_idx) -> bool:
                return 0 <= r < h and 0 <= c < w and label[r, c] == reg_idx

            # serpentine run order: rows top to bottom, alternating direction
            rows_of: dict[int, list[tuple[int, int, int]]] = {}
            for run in reg.runs:
                rows_of.setdefault(run[0], []).append(run)
            ordered: list[tuple[int, int, int]] = []
            for k, r in enumerate(sorted(rows_of)):
                ordered.extend(sorted(rows_of[r], key=lambda t: t[1], reverse=bool(k % 2)))
            for k, (r, c0, c1) in enumerate(ordered):
                left, right = (r + 1, c0), (r + 1, c1 + 1)
                if k == 0:
                    use_right = False
                    jump_to(left)
                    pts = _run_points(r, c0, c1, use_right)
                    lock(xy(left), xy(pts[1]))
                else:
                    dl = abs(cur[0] - left[0]) + abs(cur[1] - left[1])
                    dr = abs(cur[0] - right[0]) + abs(cur[1] - right[1])
                    use_right = dr < dl
                    entry = right if use_right else left
                    path = _edge_path(cur, entry, inside, h, w)
                    if path is None:  # cannot happen for a connected region; stay safe
                        here(emb.TRIM)
                        jump_to(entry)
                    else:
                        for pt in path:
                            stitch_to(pt)
                    pts = _run_points(r, c0, c1, use_right)
                for pt in pts[1:]:
                    stitch_to(pt)
            # lock at the end: back along the last stitch and forward again
            lock(xy(cur), (cmds[-2][1], cmds[-2][2]))
        crosses = sum(c1 - c0 + 1 for ri in by_color[color] for _, c0, c1 in regions[ri].runs)
        blocks.append(ThreadBlock(color, "crosses", crosses, 0, len(by_color[color]),
                                  sum(1 for c in cmds[start:] if c[0] == emb.STITCH)))
    if backstitch is not None and backstitch.paths:
        order = [*order, backstitch.color]
        if cmds:
            here(emb.TRIM)
            here(emb.COLOR_CHANGE)
        start = len(cmds)
        for k, path in enumerate(backstitch.paths):
            if k > 0:
                here(emb.TRIM)
            jump_to(path[0])
            lock(xy(path[0]), xy(path[1]))
            for pt in path[1:]:
                stitch_to(pt)
            lock(xy(cur), (cmds[-2][1], cmds[-2][2]))
        blocks.append(ThreadBlock(backstitch.color, "backstitch", 0,
                                  sum(len(path) - 1 for path in backstitch.paths),
                                  len(backstitch.paths),
                                  sum(1 for c in cmds[start:] if c[0] == emb.STITCH)))
    here(emb.TRIM)
    here(emb.END)
    if turn:
        cmds = [(k, -y, x) for k, x, y in cmds]
        ew, eh = eh, ew
    kinds = Counter(c[0] for c in cmds)
    bx = [c[1] for c in cmds]
    by = [c[2] for c in cmds]
    return StitchPlan(
        commands=cmds,
        color_order=order,
        width_mm=ew * cu / UNITS_PER_MM,
        height_mm=eh * cu / UNITS_PER_MM,
        bounds=(min(bx), min(by), max(bx), max(by)),
        stitches=kinds[emb.STITCH],
        regions=len(regions),
        trims=kinds[emb.TRIM],
        color_changes=kinds[emb.COLOR_CHANGE],
        max_stitch_units=longest,
        fabric_count=fabric_count,
        per_color_regions={c: len(v) for c, v in by_color.items()},
        blocks=blocks,
        extent=(ew, eh),
        turned=turn,
    )


def _hoop_size(hoop: Hoop | Sequence[float] | None) -> tuple[float, float]:
    if hoop is None:
        return DEFAULT_HOOP.size
    if isinstance(hoop, Hoop):
        return hoop.size
    return float(hoop[0]), float(hoop[1])


def design_size_mm(width: int, height: int, fabric_count: int) -> tuple[float, float]:
    """Size of ``width``×``height`` crosses at ``fabric_count`` stitches per inch, in mm."""
    cell = MM_PER_INCH / fabric_count
    return width * cell, height * cell


def check_hoop(
    width: int, height: int, fabric_count: int, hoop: Hoop | Sequence[float] = DEFAULT_HOOP
) -> tuple[float, float]:
    """Raise :class:`InputError` unless ``width``×``height`` crosses fit the hoop.

    Returns the design size in mm. A design that fits only turned a quarter turn is accepted
    (the machine files then hold it turned: ``plan_cross_stitch(..., turn=True)``); it is never
    cut. The message names the smallest preset hoop that would hold it.
    """
    hw, hh = _hoop_size(hoop)
    dw, dh = design_size_mm(width, height, fabric_count)
    if not Hoop(hw, hh).holds(dw, dh):
        fit = smallest_fitting_hoop(dw, dh)
        hint = ""
        if fit is not None:
            hint = f"; it fits the {fit.label} hoop (--hoop {fit.name})"
        else:
            hint = "; no preset hoop is that large"
        raise InputError(
            f"the design is {dw:.1f} x {dh:.1f} mm ({width}x{height} stitches at "
            f"{fabric_count} ct) and does not fit the {_fmt_mm(hw)}x{_fmt_mm(hh)} mm hoop"
            f"{hint}; choose a bigger --hoop, a finer --fabric-count or a smaller design"
        )
    return dw, dh


def _fmt_mm(v: float) -> str:
    return f"{v:g}"


def jef_hoop_code(width_mm: float, height_mm: float,
                  hoop: Hoop | Sequence[float] | None = None) -> int | None:
    """JEF hoop code for a design: the JEF hoop matching ``hoop`` if it holds the design, else
    the smallest JEF hoop that does; None when no JEF hoop is large enough (see
    :data:`JEF_HOOPS`; sizes in mm, design unturned)."""
    if hoop is not None:
        hw, hh = _hoop_size(hoop)
        for code, (jw, jh) in JEF_HOOPS.items():
            if (jw, jh) == (hw, hh) and width_mm <= jw + 1e-6 and height_mm <= jh + 1e-6:
                return code
    for code, (jw, jh) in sorted(JEF_HOOPS.items(), key=lambda kv: kv[1][0] * kv[1][1]):
        if width_mm <= jw + 1e-6 and height_mm <= jh + 1e-6:
            return code
    return None


# --- names the formats can hold ---------------------------------------------------------------
_ASCII_FOLD = {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
               "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "ð": "d",
               "\u2013": "-", "\u2014": "-", "\u2019": "'", "\u2018": "'", "\u00d7": "x"}


def ascii_name(text: str) -> str:
    """``text`` as printable ASCII: accents removed (é → e, ß → ss), other characters dropped.

    Machine formats store thread and design names as length-prefixed byte strings that
    machines read as ASCII (PES, VP3, DST's ``LA:`` field); pyembroidery writes UTF-8 there with a
    character count, which corrupts the file for any non-ASCII name.
    """
    folded = "".join(_ASCII_FOLD.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", folded)
    kept = "".join(ch for ch in decomposed if 32 <= ord(ch) < 127)
    return " ".join(kept.split())


def thread_names(pattern: Pattern, order: Sequence[int]) -> tuple[list[tuple[str, str]], list[str]]:
    """ASCII ``(code, name)`` per thread in ``order``, and notes on every name changed."""
    out: list[tuple[str, str]] = []
    notes: list[str] = []
    for idx in order:
        c = pattern.palette[idx]
        code, name = ascii_name(c.code), ascii_name(c.name)
        if not code:
            code = f"C{idx + 1}"
        if name != c.name:
            if name:
                notes.append(f"thread {c.code} is named '{name}' in the machine files "
                             f"('{c.name}' has letters the formats cannot hold)")
            else:
                name = code  # VP3 would store the RGB hex in its place
                notes.append(f"thread {c.code}: name '{c.name}' left out of the machine files, "
                             "which name it by its code (its letters cannot be stored there)")
        if code != c.code:
            notes.append(f"thread code '{c.code}' is written as '{code}' in the machine files")
        out.append((code, name))
    return out, notes


def design_name(pattern: Pattern) -> str:
    """The design label for machine files: ASCII, at most 16 characters (DST ``LA:`` field)."""
    raw = str(pattern.meta.get("prompt") or pattern.meta.get("image") or "craftpix")
    return ascii_name(raw)[:16].strip() or "craftpix"


def build_emb_pattern(pattern: Pattern, plan: StitchPlan) -> emb.EmbPattern:
    """A fresh pyembroidery pattern of ``plan`` with one thread per color, in stitching order.

    Thread codes and names are ASCII (see :func:`ascii_name`).
    """
    ep = emb.EmbPattern()
    names, _ = thread_names(pattern, plan.color_order)
    brand = BRAND_NAMES.get(pattern.brand.lower(), ascii_name(pattern.brand) or "craftpix")
    for idx, (code, name) in zip(plan.color_order, names, strict=True):
        t = emb.EmbThread()
        r, g, b = pattern.palette[idx].rgb8
        t.set_color(r, g, b)
        t.catalog_number = code
        t.description = name or None
        t.brand = brand
        t.chart = brand
        ep.add_thread(t)
    for cmd, x, y in plan.commands:
        ep.add_stitch_absolute(cmd, x, y)
    ep.metadata("name", design_name(pattern))
    return ep


# --- the contract: limits before writing, read-back after --------------------------------------
class EmbroideryError(CraftpixError):
    """A machine file cannot be written as planned (limits, or a read-back mismatch)."""


@dataclass(frozen=True)
class FileSummary:
    """What a machine file holds, in the terms the plan promises."""

    stitches: int
    trims: int  # trims between two stitches of one thread (cuts the machine must make)
    color_changes: int
    bounds: tuple[float, float, float, float]
    threads: tuple[tuple[str | None, str | None, str], ...] = ()  # (code, name, #rrggbb)
    thread_count: int = 0
    hoop_code: int | None = None


def summarize_commands(commands: Iterable[tuple[int, float, float]]) -> tuple[int, int, int, tuple[float, float, float, float]]:
    """``(stitches, trims within a thread, color changes, bounds of needle-down points)``.

    A trim counts when a stitch comes before it and after it with no color change or end in
    between: the cuts a machine really makes inside one thread block. Trims just before a
    color change or the end are implied by it (PES stores none there).
    """
    stitches = trims = changes = 0
    pending = False  # a trim seen since the last stitch of this block
    sewn = False
    xs: list[float] = []
    ys: list[float] = []
    for cmd, x, y in commands:
        cmd &= emb.COMMAND_MASK
        if cmd == emb.STITCH:
            if pending:
                trims += 1
                pending = False
            stitches += 1
            sewn = True
            xs.append(x)
            ys.append(y)
        elif cmd == emb.TRIM:
            pending = sewn
        elif cmd == emb.COLOR_CHANGE:
            changes += 1
            pending = sewn = False
        elif cmd == emb.END:
            break
    bounds = (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 0.0, 0.0)
    return stitches, trims, changes, bounds


def expected_summary(pattern: Pattern, plan: StitchPlan, fmt: str,
                     hoop: Hoop | Sequence[float] | None = None) -> FileSummary:
    """What a file of ``fmt`` written from ``plan`` must read back as."""
    spec = FORMATS[fmt]
    st, tr, cc, bounds = summarize_commands(plan.commands)
    threads: tuple[tuple[str | None, str | None, str], ...] = ()
    if spec.threads == "full":
        names, _ = thread_names(pattern, plan.color_order)
        threads = tuple((code, name or None, pattern.palette[i].hex.lower())
                        for i, (code, name) in zip(plan.color_order, names, strict=True))
    n_threads = len(plan.color_order) if spec.threads != "none" else 0
    code = None
    if fmt == "jef":
        code = jef_hoop_code(plan.width_mm, plan.height_mm, hoop)
    return FileSummary(st, tr, cc, bounds, threads, n_threads, code)


def read_summary(data: bytes, fmt: str) -> FileSummary:
    """Read a machine file's bytes and summarize them (see :class:`FileSummary`).

    DST is decoded by :mod:`craftpix.export.dst` (linear time; pyembroidery's reader is
    quadratic in the trims), which also checks that the header's stitch count is the number of
    records; every other format is read with pyembroidery.
    """
    spec = FORMATS[fmt]
    if fmt == "dst":
        return _read_dst_summary(data, int(spec.reader_settings.get("trim_at", 3)))
    try:
        back = emb.EmbPattern.read_embroidery(spec.reader, io.BytesIO(data),
                                              dict(spec.reader_settings))
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable file
        raise EmbroideryError(f"the {spec.title} file cannot be read back ({exc})") from None
    st, tr, cc, bounds = summarize_commands((s[2], s[0], s[1]) for s in back.stitches)
    threads: tuple[tuple[str | None, str | None, str], ...] = ()
    if spec.threads == "full":
        threads = tuple((t.catalog_number, t.description, t.hex_color().lower())
                        for t in back.threadlist)
    n_threads = len(back.threadlist) if spec.threads != "none" else 0
    code = struct.unpack_from("<i", data, _JEF_HOOP_OFFSET)[0] if fmt == "jef" else None
    return FileSummary(st, tr, cc, bounds, threads, n_threads, code)


def _read_dst_summary(data: bytes, trim_at: int) -> FileSummary:
    try:
        records = dst.decode(data)
        st, tr, cc, bounds = dst.summarize(records, trim_at)
    except ValueError as exc:
        raise EmbroideryError(f"the DST file cannot be read back ({exc})") from None
    if records.header_stitches != records.records:
        raise EmbroideryError(
            f"the DST header counts {records.header_stitches} stitches but the file holds "
            f"{records.records} records; nothing was written"
        )
    return FileSummary(st, tr, cc, bounds, (), 0, None)


def compare_summaries(fmt: str, plan: FileSummary, got: FileSummary) -> None:
    """Raise :class:`EmbroideryError` naming the first way ``got`` differs from ``plan``."""
    title = FORMATS[fmt].title
    checks = [
        ("stitches", plan.stitches, got.stitches),
        ("trims", plan.trims, got.trims),
        ("color changes", plan.color_changes, got.color_changes),
        ("threads", plan.thread_count, got.thread_count),
        ("hoop code", plan.hoop_code, got.hoop_code),
    ]
    for what, want, have in checks:
        if want != have:
            raise EmbroideryError(
                f"the {title} file reads back with {have} {what} but the plan has {want}; "
                "nothing was written"
            )
    if any(abs(a - b) > 1.0 for a, b in zip(plan.bounds, got.bounds, strict=True)):
        raise EmbroideryError(
            f"the {title} file's extents {tuple(round(v) for v in got.bounds)} differ from the "
            f"plan's {tuple(round(v) for v in plan.bounds)} (0.1 mm); nothing was written"
        )
    if plan.threads != got.threads:
        n = min(len(plan.threads), len(got.threads))
        k = next((i for i in range(n) if plan.threads[i] != got.threads[i]), n)
        want = plan.threads[k] if k < len(plan.threads) else None
        have = got.threads[k] if k < len(got.threads) else None
        raise EmbroideryError(
            f"the {title} file's thread {k + 1} reads back as {have} but the plan has {want}; "
            "nothing was written"
        )


def format_color_limit(fmts: Sequence[str]) -> int | None:
    """The most thread colors every format of ``fmts`` can hold (None: no limit), so that a
    caller can refuse ``--colors N`` before any work (PES: 255)."""
    limits = [FORMATS[f].max_colors for f in parse_formats(fmts)]
    known = [n for n in limits if n is not None]
    return min(known) if known else None


def check_jef_hoop(w_mm: float, h_mm: float, hoop: Any) -> None:
    """Raise :class:`InputError` (one line) unless a JEF hoop code holds a ``w_mm × h_mm``
    design in ``hoop``: JEF files name one of Janome's hoops (:data:`JEF_HOOPS`)."""
    if jef_hoop_code(w_mm, h_mm, hoop) is None:
        biggest = max(JEF_HOOPS.values(), key=lambda s: s[0] * s[1])
        raise InputError(
            f"JEF files name one of Janome's hoops, the largest {biggest[0]:g}x"
            f"{biggest[1]:g} mm, and the design is {w_mm:.1f} x {h_mm:.1f} mm; "
            "use another format (pes, dst, vp3, exp) or a smaller design"
        )


def check_format_limits(
    pattern: Pattern, fmts: Sequence[str], plan: StitchPlan | None = None,
    hoop: Hoop | Sequence[float] | None = None, fabric_count: int | None = None,
) -> None:
    """Refuse, before anything is written, what a format cannot hold.

    Checks thread colors against :attr:`FormatSpec.max_colors`, the longest stitch of
    ``plan`` (0.1 mm units) against the format's limit, and, for JEF, that a JEF hoop holds the
    design. Raises :class:`InputError` with the limit in a one-line message.
    """
    n_colors = len(plan.color_order) if plan is not None else int((pattern.counts() > 0).sum())
    for fmt in fmts:
        spec = FORMATS[fmt]
        if spec.max_colors is not None and n_colors > spec.max_colors:
            raise InputError(
                f"{spec.title} files hold at most {spec.max_colors} thread colors and this design "
                f"has {n_colors}; use --colors {spec.max_colors} or fewer, or another format"
            )
        if plan is not None and plan.max_stitch_units > spec.max_stitch_units:
            raise InputError(
                f"a stitch of {plan.max_stitch_units / UNITS_PER_MM:.1f} mm is longer than "
                f"{spec.title} allows ({spec.max_stitch_units / UNITS_PER_MM:.1f} mm)"
            )
        if fmt == "jef":
            if plan is not None:
                w_mm, h_mm = plan.width_mm, plan.height_mm
            else:
                w_mm, h_mm = design_size_mm(*stitched_size(pattern), fabric_count or 14)
            check_jef_hoop(w_mm, h_mm, hoop)


def _patch_jef_hoop(data: bytes, code: int) -> bytes:
    """Set the JEF header's hoop code and hoop-edge distances for hoop ``code``.

    Layout (pyembroidery's JefWriter): at 0x20 the hoop code, then the design's half width and
    height twice, then for the 110×110, 50×50 and 140×200 hoops and the chosen hoop the
    distances left, top, right, bottom from the design to the hoop edge in 0.1 mm (-1 when
    the design does not fit that hoop).
    """
    buf = bytearray(data)
    half_w, half_h = struct.unpack_from("<ii", buf, _JEF_HOOP_OFFSET + 4)
    struct.pack_into("<i", buf, _JEF_HOOP_OFFSET, code)
    hoops = [JEF_HOOPS[0], JEF_HOOPS[1], JEF_HOOPS[2], JEF_HOOPS[code]]
    off = _JEF_HOOP_OFFSET + 4 + 16
    for hw, hh in hoops:
        ex = int(round(hw * UNITS_PER_MM / 2)) - half_w
        ey = int(round(hh * UNITS_PER_MM / 2)) - half_h
        vals = (ex, ey, ex, ey) if min(ex, ey) >= 0 else (-1, -1, -1, -1)
        struct.pack_into("<iiii", buf, off, *vals)
        off += 16
    return bytes(buf)


def render_format(pattern: Pattern, plan: StitchPlan, fmt: str,
                  hoop: Hoop | Sequence[float] | None = None) -> bytes:
    """The bytes of one machine file of ``plan``, read back and checked against the plan.

    Raises :class:`EmbroideryError` (one line) if the file does not read back as planned.
    """
    spec = FORMATS[fmt]
    settings: dict[str, Any] = dict(spec.writer_settings)
    if fmt == "jef":
        settings["date"] = "20000101000000"  # fixed: the same design gives the same bytes
    stream = io.BytesIO()
    try:
        emb.EmbPattern.write_embroidery(spec.writer, build_emb_pattern(pattern, plan), stream,
                                        settings)
    except Exception as exc:  # noqa: BLE001 - a writer failure is a file we cannot make
        raise EmbroideryError(f"the {spec.title} writer failed: {exc}") from None
    data = stream.getvalue()
    if fmt == "dst":
        data = dst.with_true_stitch_count(data)
    want = expected_summary(pattern, plan, fmt, hoop)
    if fmt == "jef":
        assert want.hoop_code is not None  # check_format_limits ran first
        data = _patch_jef_hoop(data, want.hoop_code)
    compare_summaries(fmt, want, read_summary(data, fmt))
    return data


def write_embroidery(
    pattern: Pattern,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = DEFAULT_FORMATS,
    fabric_count: int = 14,
    hoop: Hoop | Sequence[float] | None = DEFAULT_HOOP,
    basename: str = "pattern",
    plan: StitchPlan | None = None,
) -> list[Path]:
    """Write ``basename.<fmt>`` for each format; nothing is written unless all are right.

    Checks the hoop (``Hoop`` or ``(w, h)`` mm) and each format's limits first
    (:func:`check_format_limits`), renders every file in memory and reads it back against the
    plan (:func:`render_format`), then writes each file atomically.
    """
    fmts = parse_formats(formats)
    if pattern.medium != "stitch":
        raise InputError(
            f"embroidery files are made from cross-stitch patterns, and this one is {pattern.medium}"
        )
    dw, dh = check_hoop(*stitched_size(pattern), fabric_count, hoop or DEFAULT_HOOP)
    if plan is None:
        hw, hh = _hoop_size(hoop or DEFAULT_HOOP)
        plan = plan_cross_stitch(pattern, fabric_count, turn=needs_turn(Hoop(hw, hh), dw, dh))
    check_format_limits(pattern, fmts, plan, hoop)
    files = render_embroidery(pattern, plan, fmts, hoop)
    out = Path(out_dir)
    return [write_bytes(out / f"{basename}.{fmt}", data) for fmt, data in files.items()]


def render_embroidery(pattern: Pattern, plan: StitchPlan, fmts: Sequence[str],
                      hoop: Hoop | Sequence[float] | None = None) -> dict[str, bytes]:
    """Every format's bytes, each read back and checked (see :func:`render_format`)."""
    return {fmt: render_format(pattern, plan, fmt, hoop) for fmt in fmts}
