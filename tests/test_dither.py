"""Tests for craftpix.dither.floyd_steinberg."""

from __future__ import annotations

import numpy as np
import pytest

from craftpix.color import delta_e_2000, nearest_color_indices, pairwise_delta_e_2000, rgb_to_lab
from craftpix.dither import _NearestPalette, floyd_steinberg

RNG_SEED = 1234


def _palette(n: int, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, 3))


def _gradient(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    x = xx / max(w - 1, 1)
    y = yy / max(h - 1, 1)
    return np.stack([x, y, 0.5 * (1.0 - x) + 0.3 * y], axis=-1).clip(0.0, 1.0)


@pytest.mark.parametrize("serpentine", [True, False])
def test_indices_in_range(serpentine: bool) -> None:
    palette = _palette(40)
    img = _gradient(17, 23)
    out = floyd_steinberg(img, palette, serpentine=serpentine)
    assert out.shape == (17, 23)
    assert out.dtype == np.int64
    assert out.min() >= 0 and out.max() < len(palette)


@pytest.mark.parametrize("serpentine", [True, False])
def test_palette_image_reproduced_exactly(serpentine: bool) -> None:
    palette = _palette(30, seed=5)
    idx = np.random.default_rng(6).integers(0, len(palette), (19, 21))
    img = palette[idx]
    np.testing.assert_array_equal(floyd_steinberg(img, palette, serpentine=serpentine), idx)


def test_duplicate_palette_entries_resolve_to_lowest_index() -> None:
    palette = np.array([[0.9, 0.1, 0.1], [0.2, 0.3, 0.9], [0.9, 0.1, 0.1], [0.2, 0.3, 0.9]])
    img = palette[np.random.default_rng(3).integers(0, 4, (9, 11))]
    out = floyd_steinberg(img, palette)
    np.testing.assert_array_equal(out, np.where(img[..., 2] > 0.5, 1, 0))


def test_error_diffusion_tracks_flat_off_palette_color() -> None:
    palette = np.array(
        [
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [1.0, 0.0, 0.0],
            [0.0, 0.6, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 1.0, 0.0],
        ]
    )
    pal_lab = rgb_to_lab(palette)
    for color in ([0.55, 0.55, 0.55], [0.9, 0.5, 0.1], [0.3, 0.5, 0.7]):
        img = np.broadcast_to(np.array(color), (48, 48, 3))
        target = rgb_to_lab(np.array(color))
        out = floyd_steinberg(img, palette)
        mean_lab = pal_lab[out].reshape(-1, 3).mean(axis=0)
        nearest = pal_lab[int(nearest_color_indices(target, pal_lab))]
        assert len(np.unique(out)) > 1  # it actually mixes colors
        err_mix = np.linalg.norm(mean_lab - target)
        err_single = np.linalg.norm(nearest - target)
        assert err_mix < 0.5 * err_single, (color, err_mix, err_single)


def test_single_color_palette_and_degenerate_sizes() -> None:
    img = _gradient(5, 6)
    np.testing.assert_array_equal(
        floyd_steinberg(img, np.array([[0.2, 0.3, 0.4]])), np.zeros((5, 6))
    )
    assert floyd_steinberg(np.zeros((0, 4, 3)), _palette(3)).shape == (0, 4)
    assert floyd_steinberg(np.zeros((1, 1, 3)), _palette(3)).shape == (1, 1)


def test_deterministic() -> None:
    palette = _palette(64, seed=7)
    img = np.random.default_rng(8).uniform(0.0, 1.0, (24, 24, 3))
    a = floyd_steinberg(img, palette)
    b = floyd_steinberg(img.copy(), palette.copy())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, floyd_steinberg(img, palette, serpentine=False))


def test_first_pixel_is_plain_nearest() -> None:
    palette = _palette(50, seed=9)
    img = np.random.default_rng(10).uniform(0.0, 1.0, (3, 4, 3))
    out = floyd_steinberg(img, palette)
    assert out[0, 0] == nearest_color_indices(rgb_to_lab(img[0, 0]), rgb_to_lab(palette))


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        floyd_steinberg(np.zeros((4, 4)), _palette(3))
    with pytest.raises(ValueError):
        floyd_steinberg(np.zeros((4, 4, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError):
        floyd_steinberg(np.zeros((4, 4, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError):
        floyd_steinberg(np.full((2, 2, 3), np.nan), _palette(3))


# --------------------------------------------------------------------------------------
# The pruned exact nearest search used inside the scan
# --------------------------------------------------------------------------------------


def _query_points(palette_lab: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = np.column_stack(
        [rng.uniform(0, 100, n), rng.uniform(-128, 128, n), rng.uniform(-128, 128, n)]
    )
    pts[0::8, 1:] = 0.0  # achromatic
    pts[1::8, 1:] *= 1e-7  # nearly achromatic
    pts[2::8] = palette_lab[rng.integers(0, len(palette_lab), len(pts[2::8]))]
    pts[3::8] = palette_lab[rng.integers(0, len(palette_lab), len(pts[3::8]))] + rng.normal(
        0, 0.7, (len(pts[3::8]), 3)
    )
    pts[4::8, 1:] = rng.normal([20.0, -60.0], 10.0, (len(pts[4::8]), 2))  # blue: large R_T
    return pts


@pytest.mark.parametrize("kind", ["srgb", "wide", "greys"])
def test_pruned_search_is_exact(kind: str) -> None:
    rng = np.random.default_rng({"srgb": 11, "wide": 12, "greys": 13}[kind])
    if kind == "srgb":
        pal = rgb_to_lab(rng.uniform(0, 1, (200, 3)))
    elif kind == "wide":
        pal = np.column_stack(
            [rng.uniform(0, 100, 150), rng.uniform(-128, 128, 150), rng.uniform(-128, 128, 150)]
        )
    else:
        pal = np.column_stack([rng.uniform(0, 100, 80), rng.normal(0, 3, 80), rng.normal(0, 3, 80)])
        pal[::4, 1:] = 0.0
        pal[1::4, 1] = -0.0
    search = _NearestPalette(pal)
    pts = _query_points(pal, 400, seed=14)
    d2 = pairwise_delta_e_2000(pts, pal) ** 2
    brute = np.argmin(d2, axis=1)
    got = np.array([search(*map(float, p)) for p in pts])
    # identical, or an exact tie in distance
    same = (got == brute) | np.isclose(
        d2[np.arange(len(pts)), got], d2.min(axis=1), rtol=1e-12, atol=1e-12
    )
    assert same.all()
    for p, row in zip(pts, d2, strict=True):
        lower, _ = search.lower_bound_sq(*map(float, p))
        assert np.all(lower <= row * (1 + 1e-9) + 1e-12)  # the pruning bound is a true bound


def test_dither_matches_unpruned_reference_scan() -> None:
    """Re-run the same scan with brute-force CIEDE2000 nearest and compare."""
    palette = _palette(120, seed=15)
    img = _gradient(12, 14)
    pal_lab = rgb_to_lab(palette)
    lab = rgb_to_lab(img)
    lo, hi = pal_lab.min(axis=0), pal_lab.max(axis=0)
    h, w = lab.shape[:2]
    err = np.zeros((h + 1, w + 2, 3))  # diffused error, padded like the implementation
    ref = np.zeros((h, w), dtype=np.int64)
    for y in range(h):
        back = y % 2 == 1
        step = -1 if back else 1
        for x in range(w - 1, -1, -1) if back else range(w):
            v = np.clip(lab[y, x] + err[y, x + 1], lo, hi)
            i = int(np.argmin(delta_e_2000(v, pal_lab)))
            ref[y, x] = i
            e = v - pal_lab[i]
            err[y, x + 1 + step] += e * 0.4375
            err[y + 1, x + 1 - step] += e * 0.1875
            err[y + 1, x + 1] += e * 0.3125
            err[y + 1, x + 1 + step] += e * 0.0625
    np.testing.assert_array_equal(floyd_steinberg(img, palette), ref)
