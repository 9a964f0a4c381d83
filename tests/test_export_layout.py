"""Boards that fit the design: centred on the fewest boards, warnings for slivers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from craftpix.export import export_pattern
from craftpix.export.layout import board_notes, board_origin, section_plan
from craftpix.export.merge import merge_plates
from craftpix.pattern import Color, Pattern

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=40)


def test_30x30_beads_centred_on_four_boards_without_slivers() -> None:
    pages = section_plan(30, 30, 29)
    assert len(pages) == 4
    assert {(p.rows, p.cols) for p in pages} == {(15, 15)}
    assert (pages[0].peg_row0, pages[0].peg_col0) == (14, 14)
    assert (pages[3].peg_row0, pages[3].peg_col0) == (0, 0)
    notes = board_notes(30, 30, 29, "pegboard", "bead")
    assert any("1 more than 1 pegboard" in n and "--size 29x29 it would fit 1" in n for n in notes)
    assert board_notes(29, 29, 29) == [] and board_notes(50, 40, 29) == []


def test_sliver_board_is_named() -> None:
    notes = board_notes(60, 10, 29, "pegboard", "bead")  # 3 boards across: 16 + 29 + 15
    assert any("--size 58x10" in n for n in notes)
    pages = section_plan(60, 10, 29)
    assert [p.cols for p in pages] == [16, 29, 15]


@HYP
@given(st.integers(1, 120), st.integers(1, 120), st.sampled_from([16, 29, 32, 48]))
def test_boards_cover_the_design_once(w: int, h: int, s: int) -> None:
    pages = section_plan(w, h, s)
    cover = np.zeros((h, w), dtype=int)
    for p in pages:
        assert 0 <= p.peg_row0 and p.peg_row0 + p.rows <= s
        assert 0 <= p.peg_col0 and p.peg_col0 + p.cols <= s
        cover[p.row0:p.row1, p.col0:p.col1] += 1
    assert (cover == 1).all()
    assert len(pages) == -(-w // s) * -(-h // s)  # the fewest boards
    r0, c0 = board_origin(w, h, s)
    assert abs((-(-w // s) * s - w - c0) - c0) <= 1  # centred


def test_merged_plates_respect_centred_baseplates(tmp_path: Path) -> None:
    cells = np.zeros((20, 20), dtype=np.int64)
    origin = board_origin(20, 20, 16)  # 32 studs for 20 cells: 6 empty studs before
    assert origin == (6, 6)
    m = merge_plates(cells, 16, origin=origin)
    for pl in m.placements:
        r, c = pl.row + 6, pl.col + 6
        assert r // 16 == (r + pl.rows - 1) // 16 and c // 16 == (c + pl.cols - 1) // 16
    pal = [Color("1", "White", "#FFFFFF")]
    res = export_pattern(Pattern(cells, pal, "bricks", "lego"), tmp_path, merge=True,
                         section=16, pdf=False, preview=False, orders=False)
    assert res.merged is not None and res.merged.pieces_after == m.pieces_after
