"""The photo engine: graph-cut labelling, color choice, flat art, empty cells, clean-up."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from craftpix.color import pairwise_delta_e_2000, rgb_to_lab
from craftpix.engines.labeling import (
    _expansion_move,
    absorb_blobs,
    alpha_expansion,
    grid_edges,
    potts_energy,
)
from craftpix.engines.photo import PhotoSettings, clean_up, make_photo_pattern
from craftpix.errors import InputError
from craftpix.imageio import reference_grid
from craftpix.metrics import isolated_cell_rate, mean_delta_e
from craftpix.palette import load_palette


def random_problem(seed: int, h: int = 3, w: int = 3, k: int = 3):
    rng = np.random.default_rng(seed)
    unary = rng.uniform(0, 10, (h * w, k)).round(2)
    edges = grid_edges(h, w)
    weights = rng.uniform(0, 6, len(edges)).round(2)
    return unary, edges, weights


# --- labelling ---------------------------------------------------------------------------
def test_grid_edges_and_mask():
    e = grid_edges(2, 3)
    assert len(e) == 2 * 2 + 3 * 1
    assert {tuple(x) for x in e.tolist()} == {(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)}
    mask = np.array([[True, True, False], [True, True, True]])
    assert {tuple(x) for x in grid_edges(2, 3, mask).tolist()} == {(0, 1), (3, 4), (4, 5), (0, 3), (1, 4)}


@pytest.mark.parametrize("seed", range(6))
def test_expansion_move_is_the_best_move(seed):
    # Brute force over every subset of cells switching to α: the cut must find the minimum.
    unary, edges, weights = random_problem(seed)
    rng = np.random.default_rng(100 + seed)
    labels = rng.integers(0, 3, len(unary))
    incident = np.bincount(edges.ravel(), weights=np.repeat(weights, 2), minlength=len(unary))
    for alpha in range(3):
        moved = _expansion_move(labels, unary, alpha, edges, weights, incident)
        got = potts_energy(labels if moved is None else moved, unary, edges, weights)
        best = min(
            potts_energy(np.where(np.array(s, dtype=bool), alpha, labels), unary, edges, weights)
            for s in itertools.product((0, 1), repeat=len(labels)))
        assert got == pytest.approx(best, abs=0.02 * 9)  # capacities are rounded to 0.01


@pytest.mark.parametrize("seed", range(4))
def test_alpha_expansion_within_factor_two_of_optimum(seed):
    unary, edges, weights = random_problem(seed, 3, 3, 3)
    labels = alpha_expansion(unary, edges, weights)
    e = potts_energy(labels, unary, edges, weights)
    opt = min(potts_energy(np.array(f), unary, edges, weights)
              for f in itertools.product(range(3), repeat=9))
    assert opt <= e <= 2 * opt + 1e-6
    nearest = potts_energy(np.argmin(unary, 1), unary, edges, weights)
    assert e <= nearest + 1e-9


def test_alpha_expansion_input_checks():
    unary, edges, weights = random_problem(0)
    with pytest.raises(ValueError, match="non-negative"):
        alpha_expansion(unary, edges, -weights)
    with pytest.raises(ValueError, match="one weight per edge"):
        alpha_expansion(unary, edges, weights[:-1])
    assert alpha_expansion(unary[:, :1], edges, weights).tolist() == [0] * 9


def test_absorb_blobs_takes_a_lone_cell_when_it_pays():
    labels = np.zeros(25, dtype=np.int64)
    labels[12] = 1
    unary = np.zeros((25, 2))
    unary[12] = [1.0, 0.0]  # the lone cell is a little closer to label 1
    edges = grid_edges(5, 5)
    weights = np.full(len(edges), 0.5)
    # switching costs 1.0 and saves 4 × 0.5 on edges: energy -1.0 < penalty, absorbed
    assert absorb_blobs(labels, unary, edges, weights, (5, 5), penalty=0.5)[12] == 0
    unary[12] = [10.0, 0.0]  # now switching raises the energy by 8: kept
    assert absorb_blobs(labels, unary, edges, weights, (5, 5), penalty=3.0)[12] == 1
    assert absorb_blobs(labels, unary, edges, weights, (5, 5), penalty=9.0)[12] == 0
    assert absorb_blobs(labels, unary, edges, weights, (5, 5), penalty=0.0)[12] == 1


# --- the engine on images ----------------------------------------------------------------
def save(tmp_path, arr, name="img.png"):
    path = tmp_path / name
    arr = np.asarray(arr, dtype=np.uint8)
    Image.fromarray(arr, "RGBA" if arr.shape[-1] == 4 else "RGB").save(path)
    return path


def test_red_white_halves_map_to_dmc_817_and_b5200_cell_for_cell(tmp_path):
    a = np.zeros((20, 20, 3), np.uint8)
    a[:, :10] = (200, 0, 0)
    a[:, 10:] = 255
    ref = reference_grid(save(tmp_path, a), 20, 20)
    for seed in (0, 1, 2):
        res = make_photo_pattern(ref, load_palette("dmc"), PhotoSettings(medium="stitch", seed=seed))
        codes = np.array(res.palette.codes)[res.indices]
        assert (codes[:, :10] == "817").all() and (codes[:, 10:] == "B5200").all()
        assert len(res.palette) == 2 and "chose 2 colors" in res.notes[0]


SPRITE_COLORS = [(0, 0, 0), (255, 205, 170), (240, 180, 150), (40, 80, 220), (255, 255, 255),
                 (200, 30, 40)]


def sprite(seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(SPRITE_COLORS), (16, 16))
    return np.array(SPRITE_COLORS, dtype=np.uint8)[idx], idx


@pytest.mark.parametrize("smooth", [0.0, 1.0, 3.0])
def test_scaled_sprite_is_exact(tmp_path, smooth):
    img, idx = sprite()
    big = np.repeat(np.repeat(img, 8, 0), 8, 1)
    ref = reference_grid(save(tmp_path, big), 16, 16)
    assert ref.flat_colors is not None and len(ref.flat_colors) == 6
    res = make_photo_pattern(ref, load_palette("perler"), PhotoSettings(smooth=smooth))
    assert len(res.palette) == 6
    # one catalog color per source color, distinct ones for distinct source colors
    pairs = {(int(a), int(b)) for a, b in zip(idx.ravel(), res.indices.ravel(), strict=True)}
    assert len(pairs) == 6 and len({a for a, _ in pairs}) == 6 and len({b for _, b in pairs}) == 6


def test_flat_art_with_a_color_cap_merges_colors(tmp_path):
    img, _ = sprite()
    ref = reference_grid(save(tmp_path, img), 16, 16)
    res = make_photo_pattern(ref, load_palette("perler"), PhotoSettings(colors=3))
    assert len(res.palette) == 3


def test_flat_art_is_not_dithered(tmp_path):
    img, _ = sprite(1)
    ref = reference_grid(save(tmp_path, np.repeat(np.repeat(img, 4, 0), 4, 1)), 16, 16)
    res = make_photo_pattern(ref, load_palette("perler"), PhotoSettings(dither=True))
    assert len(res.palette) == 6 and any("--dither" in n for n in res.notes)


@pytest.mark.parametrize("color", [(37, 120, 200), (255, 255, 255), (3, 3, 3)])
def test_uniform_image_gives_one_color(tmp_path, color):
    ref = reference_grid(save(tmp_path, np.full((30, 40, 3), color)), 12, 9)
    res = make_photo_pattern(ref, load_palette("hama"), PhotoSettings())
    assert len(res.palette) == 1 and (res.indices == 0).all()


def noisy_photo(h=32, w=32, seed=0) -> np.ndarray:
    """Smooth shapes plus sensor noise: a stand-in for a photograph."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(5 * x + 1), 0.4 + 0.3 * np.cos(4 * y), 0.3 + 0.5 * x * y], -1)
    img[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.05] = (0.1, 0.1, 0.4)
    img += rng.normal(0, 0.1, img.shape)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def test_photo_smoothing_trades_little_fidelity_for_much_less_confetti(tmp_path):
    path = save(tmp_path, noisy_photo(32, 32))
    ref = reference_grid(path, 32, 32)
    pal = load_palette("perler")
    raw = make_photo_pattern(ref, pal, PhotoSettings(smooth=0, colors=10))
    clean = make_photo_pattern(ref, pal, PhotoSettings(smooth=1, colors=10))
    de_raw = mean_delta_e(raw.indices, raw.palette.rgb, ref.rgb)
    de_clean = mean_delta_e(clean.indices, clean.palette.rgb, ref.rgb)
    assert isolated_cell_rate(clean.indices) < 0.5 * isolated_cell_rate(raw.indices)
    assert de_clean < 1.15 * de_raw
    assert len(clean.palette) <= 10


def test_smooth_zero_is_exactly_the_nearest_chosen_color(tmp_path):
    ref = reference_grid(save(tmp_path, noisy_photo()), 16, 16)
    res = make_photo_pattern(ref, load_palette("artkal"), PhotoSettings(smooth=0, colors=8))
    d = pairwise_delta_e_2000(rgb_to_lab(ref.rgb.reshape(-1, 3)), res.palette.lab)
    assert np.array_equal(res.indices.ravel(), np.argmin(d, axis=1))


def test_default_color_count_is_per_image_and_capped(tmp_path):
    ref = reference_grid(save(tmp_path, noisy_photo(96, 96)), 48, 48)
    res = make_photo_pattern(ref, load_palette("dmc"), PhotoSettings(medium="stitch"))
    assert 4 <= len(res.palette) <= 30 and res.notes[0].startswith("chose")
    res = make_photo_pattern(ref, load_palette("dmc"), PhotoSettings(colors=5))
    assert len(res.palette) <= 5 and not any(n.startswith("chose") for n in res.notes)


def test_dither_respects_the_color_budget(tmp_path):
    ref = reference_grid(save(tmp_path, noisy_photo()), 24, 24)
    res = make_photo_pattern(ref, load_palette("perler"), PhotoSettings(dither=True, colors=6))
    assert len(res.palette) <= 6


def logo_rgba() -> np.ndarray:
    a = np.zeros((40, 40, 4), np.uint8)  # transparent
    a[10:30, 10:30] = (220, 20, 30, 255)
    a[18:22, 18:22] = (255, 255, 255, 255)
    return a


def test_transparent_background_becomes_empty_cells(tmp_path):
    ref = reference_grid(save(tmp_path, logo_rgba()), 20, 20)
    assert ref.alpha is not None
    res = make_photo_pattern(ref, load_palette("perler"), PhotoSettings())
    empty = res.indices == -1
    assert empty.sum() == 400 - 100 and (res.indices[5:15, 5:15] >= 0).all()
    assert len(res.palette) == 2  # red and white, no white beads around the logo
    assert (res.indices[9:11, 9:11] != res.indices[5, 5]).all()


def test_background_color_fills_instead(tmp_path):
    ref = reference_grid(save(tmp_path, logo_rgba()), 20, 20)
    pal = load_palette("perler")
    black = pal.codes[int(pal.nearest(np.zeros((1, 3)))[0])]
    for bg in (black, "#000000"):
        res = make_photo_pattern(ref, pal, PhotoSettings(background=bg))
        assert (res.indices >= 0).all()
        assert res.palette.codes[res.indices[0, 0]] == black
    assert (make_photo_pattern(ref, pal, PhotoSettings(background="none")).indices == -1).any()
    with pytest.raises(InputError, match="neither"):
        make_photo_pattern(ref, pal, PhotoSettings(background="no-such-color"))


def test_fully_transparent_image_is_refused(tmp_path):
    ref = reference_grid(save(tmp_path, np.zeros((8, 8, 4))), 4, 4)
    with pytest.raises(InputError, match="fully transparent"):
        make_photo_pattern(ref, load_palette("perler"), PhotoSettings())


def test_same_input_same_pattern(tmp_path):
    ref = reference_grid(save(tmp_path, noisy_photo()), 20, 20)
    a = make_photo_pattern(ref, load_palette("perler"), PhotoSettings(seed=3))
    b = make_photo_pattern(ref, load_palette("perler"), PhotoSettings(seed=3))
    assert np.array_equal(a.indices, b.indices) and a.palette.codes == b.palette.codes


# --- clean-up for other engines -------------------------------------------------------------
def test_clean_up_removes_stray_cells_and_keeps_empty_ones():
    pal = load_palette("perler").subset([0, 1, 2])
    rng = np.random.default_rng(0)
    idx = np.zeros((12, 12), dtype=np.int64)
    idx[:, 6:] = 1
    noisy = idx.copy()
    flips = rng.random(idx.shape) < 0.06
    noisy[flips] = 2
    noisy[0, 0] = -1
    ref = pal.rgb[idx]
    out = clean_up(noisy, ref, pal, smooth=1.0)
    assert out[0, 0] == -1
    assert (out[1:, :] == idx[1:, :]).mean() > 0.97
    assert isolated_cell_rate(out) < isolated_cell_rate(noisy)
    assert np.array_equal(clean_up(noisy, ref, pal, smooth=0.0), noisy)
    no_ref = clean_up(noisy, None, pal, smooth=1.0)
    assert no_ref.shape == noisy.shape and no_ref[0, 0] == -1
