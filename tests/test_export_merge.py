"""Brick merging: every cell covered exactly once by a plate of its own color."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from craftpix.export.merge import MERGE_SIZES, PLATE_IDS, merge_plates, plate_id


def check_cover(cells: np.ndarray, section: int) -> None:
    res = merge_plates(cells, section)
    seen = np.zeros(cells.shape, dtype=np.int64)
    for p in res.placements:
        block = cells[p.row : p.row + p.rows, p.col : p.col + p.cols]
        assert block.shape == (p.rows, p.cols), "part sticks out of the design"
        assert (block == p.color).all(), "part covers a cell of another color"
        # never across a baseplate border
        assert p.row // section == (p.row + p.rows - 1) // section
        assert p.col // section == (p.col + p.cols - 1) // section
        assert (p.rows, p.cols) == (1, 1) or (p.rows, p.cols) in MERGE_SIZES
        seen[p.row : p.row + p.rows, p.col : p.col + p.cols] += 1
    assert (seen == 1).all(), "every cell exactly once"
    assert res.pieces_before == cells.size
    assert res.pieces_after == len(res.placements) <= cells.size


@settings(max_examples=60, deadline=None)
@given(
    cells=arrays(np.int64, st.tuples(st.integers(1, 19), st.integers(1, 19)),
                 elements=st.integers(0, 2)),
    section=st.sampled_from([1, 2, 3, 4, 5, 16]),
)
def test_merge_covers_every_cell_once_random(cells: np.ndarray, section: int) -> None:
    check_cover(cells, section)


@settings(max_examples=25, deadline=None)
@given(
    blocks=arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                  elements=st.integers(0, 3)),
    scale=st.integers(1, 5),
    section=st.sampled_from([4, 16]),
)
def test_merge_covers_blobby_grids(blocks: np.ndarray, scale: int, section: int) -> None:
    # blobs (upscaled blocks) exercise the large plates, unlike pure noise
    cells = np.kron(blocks, np.ones((scale, scale), dtype=np.int64))
    check_cover(cells, section)


def test_flat_area_uses_2x4_plates() -> None:
    cells = np.zeros((16, 16), dtype=np.int64)
    res = merge_plates(cells, 16)
    assert res.pieces_before == 256
    assert res.pieces_after == 32  # 256 / 8
    assert res.part_counts() == {(2, 4): 32}
    assert res.reduction == pytest.approx(1 - 32 / 256)


def test_merge_respects_section_borders() -> None:
    cells = np.zeros((6, 6), dtype=np.int64)
    res = merge_plates(cells, 3)  # 3×3 sections: 2×3 + 1×3 in each
    check_cover(cells, 3)
    assert res.part_counts() == {(1, 3): 4, (2, 3): 4}


def test_part_ids() -> None:
    assert plate_id(1, 1) == "3024"
    assert plate_id(4, 2) == plate_id(2, 4) == "3020"
    assert PLATE_IDS == {(2, 4): "3020", (2, 3): "3021", (2, 2): "3022",
                         (1, 4): "3710", (1, 3): "3623", (1, 2): "3023"}


def test_part_counts_per_section() -> None:
    cells = np.zeros((4, 8), dtype=np.int64)
    cells[:, 4:] = 1
    res = merge_plates(cells, 4)
    left = res.part_counts_in(0, 4, 0, 4)
    right = res.part_counts_in(0, 4, 4, 8)
    assert left == {0: {(2, 4): 2}}
    assert right == {1: {(2, 4): 2}}
    grid = res.label_grid(cells.shape)
    assert (grid >= 0).all()
