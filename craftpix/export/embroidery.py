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

import math
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyembroidery as emb

from craftpix.errors import InputError
from craftpix.fileio import atomic_path
from craftpix.media import MM_PER_INCH
from craftpix.pattern import Pattern, usage_order

UNITS_PER_MM = 10

# format -> (pyembroidery writer, maximum stitch length in units, carries thread colors)
FORMATS: dict[str, tuple[Callable[..., None], int, bool]] = {
    "dst": (emb.write_dst, 121, False),
    "pes": (emb.write_pes, 2047, True),
    "jef": (emb.write_jef, 127, True),
    "exp": (emb.write_exp, 127, False),
    "vp3": (emb.write_vp3, 255, True),
}
DEFAULT_FORMATS = ("pes", "dst")
DEFAULT_HOOP = (100.0, 100.0)
WRITER_SETTINGS: dict[str, dict[str, object]] = {"pes": {"version": 6}}  # v6 stores thread names
BRAND_NAMES = {"dmc": "DMC", "anchor": "Anchor", "madeira": "Madeira"}


HOOP_MAX_MM = 1000.0
_HOOP_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:mm)?\s*[x×X*]\s*(\d+(?:\.\d+)?)\s*(?:mm)?\s*$")


def parse_hoop(value: str | Sequence[float] | None) -> tuple[float, float]:
    """``"130x180"`` (millimetres) or ``(130, 180)`` → ``(130.0, 180.0)``; InputError if bad."""
    if value is None:
        return DEFAULT_HOOP
    if isinstance(value, str):
        m = _HOOP_RE.match(value)
        if not m:
            raise InputError(f"hoop {value!r} is not WxH in millimetres, e.g. 100x100 or 130x180")
        w, h = float(m.group(1)), float(m.group(2))
    else:
        try:
            w, h = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputError(f"hoop {value!r} is not (width, height) in millimetres") from None
    for side in (w, h):
        if not 0 < side <= HOOP_MAX_MM:
            raise InputError(
                f"hoop {value!r}: each side must be more than 0 and at most {HOOP_MAX_MM:g} mm"
            )
    return (w, h)


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
    """All 4-connected same-color regions, each with its runs; reading order of first cell."""
    h, w = cells.shape
    runs: list[tuple[int, int, int, int]] = []  # (row, c0, c1, color)
    row_start: list[int] = []
    for r in range(h):
        row = cells[r]
        cuts = np.flatnonzero(row[1:] != row[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [w])) - 1
        row_start.append(len(runs))
        runs.extend((r, int(a), int(b), int(row[a])) for a, b in zip(starts, ends, strict=True))
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


def plan_cross_stitch(pattern: Pattern, fabric_count: int = 14) -> StitchPlan:
    """Route every cell of ``pattern`` as a full cross; see the module docstring."""
    if fabric_count <= 0:
        raise InputError(f"fabric count must be positive, got {fabric_count}")
    cells = pattern.cells
    h, w = cells.shape
    cu = MM_PER_INCH / fabric_count * UNITS_PER_MM  # cell size in units
    xs = [int(round(k * cu - w * cu / 2)) for k in range(w + 1)]
    ys = [int(round(k * cu - h * cu / 2)) for k in range(h + 1)]
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

    for ci, color in enumerate(order):
        if ci > 0:
            here(emb.TRIM)
            here(emb.COLOR_CHANGE)
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
    here(emb.TRIM)
    here(emb.END)
    kinds = Counter(c[0] for c in cmds)
    bx = [c[1] for c in cmds]
    by = [c[2] for c in cmds]
    return StitchPlan(
        commands=cmds,
        color_order=order,
        width_mm=w * cu / UNITS_PER_MM,
        height_mm=h * cu / UNITS_PER_MM,
        bounds=(min(bx), min(by), max(bx), max(by)),
        stitches=kinds[emb.STITCH],
        regions=len(regions),
        trims=kinds[emb.TRIM],
        color_changes=kinds[emb.COLOR_CHANGE],
        max_stitch_units=longest,
        fabric_count=fabric_count,
        per_color_regions={c: len(v) for c, v in by_color.items()},
    )


def check_hoop(
    width: int, height: int, fabric_count: int, hoop: Sequence[float] = DEFAULT_HOOP
) -> tuple[float, float]:
    """Raise :class:`InputError` unless ``width``×``height`` crosses fit the hoop.

    Returns the design size in mm. The design is not turned or cut to make it fit.
    """
    hw, hh = float(hoop[0]), float(hoop[1])
    cell = MM_PER_INCH / fabric_count
    dw, dh = width * cell, height * cell
    if dw > hw + 1e-6 or dh > hh + 1e-6:
        hint = ""
        if dh <= hw + 1e-6 and dw <= hh + 1e-6:
            hint = f"; it would fit a {_fmt_mm(hh)}x{_fmt_mm(hw)} hoop (turned)"
        raise InputError(
            f"the design is {dw:.1f} x {dh:.1f} mm ({width}x{height} stitches at "
            f"{fabric_count} ct) and does not fit the {_fmt_mm(hw)}x{_fmt_mm(hh)} mm hoop"
            f"{hint}; choose a bigger --hoop, a finer --fabric-count or a smaller design"
        )
    return dw, dh


def _fmt_mm(v: float) -> str:
    return f"{v:g}"


def _thread(pattern: Pattern, index: int) -> emb.EmbThread:
    c = pattern.palette[index]
    t = emb.EmbThread()
    r, g, b = c.rgb8
    t.set_color(r, g, b)
    t.catalog_number = c.code
    t.description = c.name
    t.brand = BRAND_NAMES.get(pattern.brand.lower(), pattern.brand)
    t.chart = t.brand
    return t


def build_emb_pattern(pattern: Pattern, plan: StitchPlan) -> emb.EmbPattern:
    """A fresh pyembroidery pattern of ``plan`` with one thread per color, in stitching order."""
    ep = emb.EmbPattern()
    for idx in plan.color_order:
        ep.add_thread(_thread(pattern, idx))
    for cmd, x, y in plan.commands:
        ep.add_stitch_absolute(cmd, x, y)
    name = "".join(ch for ch in str(pattern.meta.get("prompt") or "craftpix") if 32 <= ord(ch) < 127)
    ep.metadata("name", name[:16] or "craftpix")
    return ep


def write_embroidery(
    pattern: Pattern,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = DEFAULT_FORMATS,
    fabric_count: int = 14,
    hoop: Sequence[float] = DEFAULT_HOOP,
    basename: str = "pattern",
    plan: StitchPlan | None = None,
) -> list[Path]:
    """Write ``basename.<fmt>`` for each format atomically; check hoop and stitch limits first."""
    fmts = parse_formats(formats)
    if pattern.medium != "stitch":
        raise InputError(
            f"embroidery files are made from cross-stitch patterns, and this one is {pattern.medium}"
        )
    check_hoop(pattern.width, pattern.height, fabric_count, hoop)
    if plan is None:
        plan = plan_cross_stitch(pattern, fabric_count)
    out = Path(out_dir)
    written = []
    for fmt in fmts:
        writer, limit, _ = FORMATS[fmt]
        if plan.max_stitch_units > limit:
            raise InputError(
                f"a stitch of {plan.max_stitch_units / UNITS_PER_MM:.1f} mm is longer than "
                f"{fmt.upper()} allows ({limit / UNITS_PER_MM:.1f} mm)"
            )
        path = out / f"{basename}.{fmt}"
        ep = build_emb_pattern(pattern, plan)
        with atomic_path(path) as tmp:
            writer(ep, str(tmp), dict(WRITER_SETTINGS.get(fmt, {})))
        written.append(path)
    return written
