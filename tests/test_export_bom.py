"""Bill of materials, skein estimate, option resolution and page plans."""

from __future__ import annotations

import math

import numpy as np
import pytest

from craftpix.errors import InputError
from craftpix.export.bom import (
    build_bom,
    crosses_per_skein,
    default_strands,
    resolve_settings,
    section_counts,
    skeins_needed,
    spare,
    thread_cm_per_cross,
)
from craftpix.export.layout import page_plan, section_plan, split_range
from craftpix.export.merge import merge_plates
from craftpix.pattern import Color, Pattern

DMC = [Color("310", "Black", "#000000"), Color("321", "Red", "#C7002B"),
       Color("BLANC", "White", "#FFFFFF"), Color("3865", "Winter White", "#F9F7F1")]
PERLER = [Color("80-19001", "White", "#F1F1F1"), Color("80-19018", "Black", "#2E2F32"),
          Color("80-19005", "Red", "#BF0F23")]
LEGO = [Color("21", "Bright Red", "#C91A09"), Color("1", "White", "#FFFFFF"),
        Color("26", "Black", "#05131D")]


def grid(h: int, w: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(h, w))


@pytest.mark.parametrize("medium,palette,brand", [
    ("beads", PERLER, "perler"), ("bricks", LEGO, "lego"), ("stitch", DMC, "dmc")])
def test_bom_counts_equal_cell_counts(medium: str, palette: list[Color], brand: str) -> None:
    cells = grid(37, 41, len(palette))
    cells[cells == 0] = 1  # leave palette entry 0 unused: it must not be listed
    p = Pattern(cells, palette, medium, brand)
    bom = build_bom(p, resolve_settings(medium))
    counts = p.counts()
    assert {r.color.code: r.count for r in bom.rows} == {
        palette[i].code: int(counts[i]) for i in range(len(palette)) if counts[i]}
    assert bom.total_cells == 37 * 41 == sum(r.count for r in bom.rows)
    assert [r.count for r in bom.rows] == sorted((r.count for r in bom.rows), reverse=True)
    assert [r.symbol for r in bom.rows] == [p.symbols()[r.index] for r in bom.rows]


def test_bead_bags_include_spare() -> None:
    p = Pattern(np.zeros((30, 33), dtype=np.int64), PERLER, "beads", "perler")  # 990 beads
    bom = build_bom(p, resolve_settings("beads"))
    (row,) = bom.rows
    assert row.buy[0].quantity == 2  # 990 + 50 spare > 1000
    assert row.buy[0].text() == "2 bags of 1000"
    assert bom.totals[0].quantity == 2


def test_brick_parts_with_spare_and_merge() -> None:
    cells = np.zeros((16, 16), dtype=np.int64)
    cells[0, 0] = 1
    p = Pattern(cells, LEGO, "bricks", "lego")
    bom = build_bom(p, resolve_settings("bricks"))
    red = bom.rows[0]
    assert red.count == 255
    assert red.buy[0].item == "3024 Plate 1\u00d71"
    assert red.buy[0].quantity == 255 + spare(255) == 255 + 13
    tile = build_bom(p, resolve_settings("bricks", part="tile"))
    assert tile.rows[0].buy[0].item.startswith("3070b")
    merged = merge_plates(p.cells, 16)
    mb = build_bom(p, resolve_settings("bricks", merge=True), merged)
    parts = {b.item.split()[0]: b.quantity for b in mb.rows[0].buy}
    assert "3020" in parts
    covered = sum(q * a * b for (a, b), q in merged.part_counts(0).items())
    assert covered == 255
    assert any("fewer" in n for n in mb.notes)


def test_spare_rule() -> None:
    assert spare(0) == 0
    assert spare(1) == 2
    assert spare(40) == 2
    assert spare(100) == 5
    assert spare(101) == 6


def test_skein_formula_in_expected_range() -> None:
    # stitchers measure about 1650-1850 crosses per skein at 14 ct with 2 strands
    assert 1650 <= crosses_per_skein(14, 2) <= 1850
    assert 2050 <= crosses_per_skein(18, 2) <= 2350
    assert crosses_per_skein(11, 3) < crosses_per_skein(14, 2)
    # Danish method: 2(sqrt2+1)/count inches per strand, times the stated overhead
    base = 2 * (math.sqrt(2) + 1) / 14 * 2.54 * 2
    assert 1.3 * base < thread_cm_per_cross(14, 2) < 1.8 * base
    assert skeins_needed(0, 14, 2) == 0
    assert skeins_needed(1, 14, 2) == 1
    assert skeins_needed(1800, 14, 2) == 2
    assert default_strands(11) == 3 and default_strands(14) == default_strands(18) == 2


def test_stitch_bom_states_formula() -> None:
    p = Pattern(grid(20, 20, 4), DMC, "stitch", "dmc")
    bom = build_bom(p, resolve_settings("stitch", fabric_count=16))
    text = " ".join(bom.notes)
    assert "2(\u221a2+1)/count" in text and "4800" in text.replace(" ", "").replace(",", "")
    assert "16 ct" in text


@pytest.mark.parametrize("medium,kwargs,msg", [
    ("beads", {"merge": True}, "--merge"),
    ("bricks", {"merge": True, "part": "round"}, "--part plate"),
    ("bricks", {"section": 29}, "16, 32, 48"),
    ("beads", {"section": 16}, "29"),
    ("stitch", {"section": 16}, "--section"),
    ("stitch", {"fabric_count": 12}, "fabric count"),
    ("stitch", {"strands": 7}, "strands"),
    ("beads", {"fabric_count": 14}, "--fabric-count"),
    ("bricks", {"strands": 2}, "--strands"),
    ("bricks", {"part": "brick"}, "unknown part"),
])
def test_resolve_settings_rejects(medium: str, kwargs: dict, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        resolve_settings(medium, **kwargs)


def test_resolve_settings_defaults() -> None:
    s = resolve_settings("stitch", fabric_count=11)
    assert (s.fabric_count, s.strands) == (11, 3)
    assert s.cell_mm == pytest.approx(25.4 / 11)
    assert resolve_settings("bricks").section == 16
    assert resolve_settings("bricks", section=48).section == 48
    assert resolve_settings("beads").section == 29


# --- page plans -----------------------------------------------------------------------------
@pytest.mark.parametrize("n,cap", [(1, 11), (50, 51), (51, 51), (52, 51), (200, 51), (137, 71),
                                   (7, 3), (100, 2)])
def test_split_range_covers_with_one_overlap(n: int, cap: int) -> None:
    ranges = split_range(n, cap, 1)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    for (_a0, a1), (b0, _b1) in zip(ranges, ranges[1:], strict=False):
        assert b0 == a1 - 1  # exactly one shared row/column
    assert all(0 < b - a <= cap for a, b in ranges)


@pytest.mark.parametrize("w,h,cols,rows", [(200, 200, 51, 71), (51, 71, 51, 71), (52, 72, 51, 71),
                                           (13, 120, 11, 31)])
def test_every_chart_cell_on_a_page_exactly_once_overlap_aside(w: int, h: int, cols: int,
                                                                rows: int) -> None:
    pages = page_plan(w, h, cols, rows, overlap=1)
    cover = np.zeros((h, w), dtype=np.int64)
    for pg in pages:
        assert pg.cols <= cols and pg.rows <= rows
        # the first column/row of a page repeats its neighbour's last one: count the rest
        r0 = pg.row0 + (1 if pg.grid_row > 0 else 0)
        c0 = pg.col0 + (1 if pg.grid_col > 0 else 0)
        cover[r0:pg.row1, c0:pg.col1] += 1
    assert (cover == 1).all()
    assert [pg.number for pg in pages] == list(range(1, len(pages) + 1))


def test_section_plan_boards_do_not_overlap() -> None:
    boards = section_plan(58, 45, 29)
    assert len(boards) == 4
    cover = np.zeros((45, 58), dtype=np.int64)
    for b in boards:
        cover[b.row0:b.row1, b.col0:b.col1] += 1
    assert (cover == 1).all()
    p = Pattern(grid(45, 58, 3), PERLER, "beads", "perler")
    total = sum(section_counts(p, b.row0, b.row1, b.col0, b.col1) for b in boards)
    assert (total == p.counts()).all()
