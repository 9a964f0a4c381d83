"""Quality metrics on hand-made grids."""

from __future__ import annotations

import numpy as np
import pytest

from craftpix.metrics import colors_used, isolated_cell_rate, mean_delta_e


def checkerboard(h: int, w: int) -> np.ndarray:
    return np.indices((h, w)).sum(0) % 2


@pytest.mark.parametrize("h, w", [(2, 2), (3, 3), (4, 7), (8, 8), (1, 2), (1, 9), (9, 1)])
def test_checkerboard_is_all_confetti(h, w):
    assert isolated_cell_rate(checkerboard(h, w)) == 1.0


@pytest.mark.parametrize("h, w", [(1, 1), (1, 5), (5, 1), (4, 6)])
def test_flat_has_no_confetti(h, w):
    assert isolated_cell_rate(np.zeros((h, w), dtype=int)) == 0.0


@pytest.mark.parametrize("y, x", [(0, 0), (0, 3), (2, 2), (4, 5), (4, 0)])
def test_one_odd_cell_counts_once(y, x):
    g = np.full((5, 6), 7)
    g[y, x] = 3
    assert isolated_cell_rate(g) == pytest.approx(1 / 30)


def test_one_by_one_has_no_neighbours():
    assert isolated_cell_rate(np.array([[4]])) == 0.0


def test_rows_and_columns():
    assert isolated_cell_rate(np.array([[0, 0, 1, 0, 0]])) == pytest.approx(1 / 5)
    assert isolated_cell_rate(np.array([[1, 0, 0, 0, 0]])) == pytest.approx(1 / 5)
    assert isolated_cell_rate(np.array([[0, 0, 1, 1, 0]])) == pytest.approx(1 / 5)  # the end cell
    assert isolated_cell_rate(np.array([[0, 1, 2, 3]])) == 1.0
    assert isolated_cell_rate(np.array([[0], [0], [1], [0], [0]])) == pytest.approx(1 / 5)


def test_pairs_and_diagonals():
    # a 2-cell blob is not confetti; diagonal neighbours do not count
    g = np.zeros((4, 4), dtype=int)
    g[1, 1] = g[1, 2] = 5
    assert isolated_cell_rate(g) == 0.0
    g = np.zeros((4, 4), dtype=int)
    g[1, 1] = g[2, 2] = 5
    assert isolated_cell_rate(g) == pytest.approx(2 / 16)


def test_stripes():
    stripes = np.tile(np.array([[0], [1]]), (3, 5))  # horizontal 1-cell stripes
    assert isolated_cell_rate(stripes) == 0.0


def test_mean_delta_e_zero_for_exact_match():
    rng = np.random.default_rng(0)
    palette = rng.random((6, 3))
    idx = rng.integers(0, 6, (5, 7))
    assert mean_delta_e(idx, palette, palette[idx]) == pytest.approx(0.0, abs=1e-9)


def test_mean_delta_e_positive_and_averaged():
    palette = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    idx = np.array([[0, 1]])
    ref = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])  # second cell black vs white
    d = mean_delta_e(idx, palette, ref)
    assert d == pytest.approx(100.0 / 2, rel=1e-6)  # ΔE00 black/white = 100


def test_colors_used():
    assert colors_used(np.array([[0, 3, 3], [9, 0, 0]])) == 3
    assert colors_used(np.zeros((2, 2), dtype=int)) == 1


# --- empty cells and blobs ------------------------------------------------------------------
from craftpix.metrics import blob_rate  # noqa: E402


def test_empty_cells_are_left_out():
    g = np.array([[-1, -1, -1], [-1, 2, -1], [-1, -1, -1]])
    assert isolated_cell_rate(g) == 1.0  # one piece, alone on empty pegs
    assert colors_used(g) == 1
    palette = np.array([[0.0, 0, 0], [0, 0, 0], [1.0, 1, 1]])
    ref = np.zeros((3, 3, 3))
    ref[1, 1] = 1.0
    assert mean_delta_e(g, palette, ref) == pytest.approx(0.0, abs=1e-9)
    assert isolated_cell_rate(np.full((2, 2), -1)) == 0.0 and blob_rate(np.full((2, 2), -1)) == 0.0


def test_blob_rate_counts_components_up_to_three_cells():
    g = np.zeros((6, 6), dtype=int)
    g[0, 0] = 1                  # 1 cell
    g[2, 2] = g[2, 3] = 2        # 2 cells
    g[4, 1:4] = 3                # 3 cells
    g[5, 5] = g[4, 5] = g[3, 5] = g[2, 5] = 4  # 4 cells: not a blob
    assert blob_rate(g) == pytest.approx(6 / 36)
    assert blob_rate(g, max_size=1) == pytest.approx(1 / 36)
    assert blob_rate(checkerboard(4, 4)) == 1.0
