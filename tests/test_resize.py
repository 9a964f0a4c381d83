"""Size change keeping the design: geometry, photo re-solve, grid resample, SDS continuation, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix import api
from craftpix.api import PatternRequest, make_pattern
from craftpix.cli import main
from craftpix.errors import InputError
from craftpix.pattern import Color, Pattern
from craftpix.resize import (
    _resample_logits,
    area_matrix,
    majority_downsample,
    resample_shares,
    resize_pattern,
    size_consistency,
    target_size,
)

try:
    from tiny_models import tiny_paths, tiny_settings, write_palette_csv  # noqa: F401  (fixture)
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths, tiny_settings, write_palette_csv  # noqa: F401

COLORS = [Color("A", "red", "#D02020"), Color("B", "white", "#F0F0F0"),
          Color("C", "blue", "#2030C0"), Color("D", "yellow", "#F0D020")]


def _pattern(cells: np.ndarray, meta: dict | None = None) -> Pattern:
    return Pattern(np.asarray(cells), list(COLORS), "beads", "test", dict(meta or {}))


def _blocks(h: int = 12, w: int = 12) -> np.ndarray:
    g = np.ones((h, w), dtype=np.int64)  # white ground
    g[2:8, 2:6] = 0  # a red block
    g[6:11, 7:11] = 2  # a blue block
    g[0, w - 1] = 3  # one yellow corner cell
    return g


def _photo(path, size: int = 96, seed: int = 0) -> str:
    """A smooth photo-like picture: shapes, a gradient and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.3 + 0.5 * x, 0.4 + 0.3 * y, 0.6 - 0.3 * x * y], axis=-1)
    img[(x - 0.35) ** 2 + (y - 0.4) ** 2 < 0.05] = (0.85, 0.15, 0.1)
    img[(y > 0.7) & (x > 0.55)] = (0.1, 0.2, 0.7)
    img += rng.normal(0, 0.03, img.shape)
    Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8)).save(path)
    return str(path)


# --- geometry -------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40))
def test_area_matrix_rows_are_shares(n_old: int, n_new: int) -> None:
    a = area_matrix(n_old, n_new)
    assert a.shape == (n_new, n_old)
    assert np.allclose(a.sum(axis=1), 1.0) and (a >= 0).all()
    # Every old cell is seen in total as much as its length allows (n_new / n_old new cells).
    assert np.allclose(a.sum(axis=0), n_new / n_old)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**16))
def test_majority_downsample_undoes_block_upsampling(h: int, w: int, k: int, seed: int) -> None:
    g = np.random.default_rng(seed).integers(-1, 4, (h, w))
    big = np.kron(g, np.ones((k, k), dtype=np.int64))
    assert np.array_equal(majority_downsample(big, (w, h)), g)
    shares = resample_shares(g, 4, (w * k + 1, h * k + 2))
    assert np.allclose(shares.sum(axis=2), 1.0)


def test_target_size_keeps_proportions_and_checks_range() -> None:
    assert target_size((48, 32), 96) == (96, 64)
    assert target_size((30, 60), 40) == (20, 40)
    assert target_size((30, 60), (50, 50)) == (50, 50)
    with pytest.raises(InputError, match="out of range"):
        target_size((48, 48), 501)
    with pytest.raises(InputError, match="out of range"):
        target_size((100, 2), 50)  # the short side would be 1 cell


# --- photo patterns and the grid ------------------------------------------------------------------
def test_grid_resize_by_whole_factor_is_exact_and_keeps_colors() -> None:
    g = _blocks()
    p = _pattern(g, {"engine": "photo", "seed": 3})
    big = resize_pattern(p, 36)
    assert (big.width, big.height) == (36, 36)
    assert big.meta["resized"] == {"from": "12x12", "method": "grid"}
    assert big.meta["seed"] == 3
    lut = {c.hex: i for i, c in enumerate(COLORS)}
    back = np.array([lut[c.hex] for c in big.palette])[big.cells]
    # The single yellow cell becomes a 3×3 block: a whole factor keeps every cell.
    assert np.array_equal(back, np.kron(g, np.ones((3, 3), dtype=np.int64)))
    agreement, de = size_consistency(p, big)
    assert agreement == 1.0 and de == 0.0


def test_grid_resize_to_a_fraction_keeps_shapes() -> None:
    p = _pattern(_blocks(24, 24))
    new = resize_pattern(p, 17)
    assert {c.code for c in new.palette} <= {c.code for c in COLORS}
    agreement, _ = size_consistency(new, p)
    assert agreement > 0.9


def test_consistency_term_pulls_towards_the_original(tmp_path) -> None:
    photo = _photo(tmp_path / "p.png")
    small = make_pattern(PatternRequest(medium="beads", image=photo, size=(16, 16), colors=6)).pattern
    indep = make_pattern(PatternRequest(medium="beads", image=photo, size=(40, 40), colors=6)).pattern
    free = resize_pattern(small, 40, photo, consistency=0.0)
    tied = resize_pattern(small, 40, photo)
    strong = resize_pattern(small, 40, photo, consistency=20.0)
    codes = {c.code for c in small.palette}
    for p in (free, tied, strong):
        assert (p.width, p.height) == (40, 40)
        assert {c.code for c in p.palette} <= codes  # the same colors, none new
    a_free, a_tied, a_strong = (size_consistency(small, p)[0] for p in (free, tied, strong))
    a_indep = size_consistency(small, indep)[0]
    assert a_free <= a_tied <= a_strong
    assert a_tied > a_indep
    assert a_strong > 0.97
    assert tied.meta["resized"]["method"] == "photo"
    assert tied.meta["delta_e00_mean"] > 0


def test_empty_cells_stay_empty_where_most_of_a_block_was_empty() -> None:
    g = _blocks()
    # Pattern refuses -1 until empty cells are merged; the resampling works on raw grids.
    g[:, :6] = -1
    shares = resample_shares(g, 4, (6, 6))
    assert np.allclose(shares[:, :3, 4], 1.0) and np.allclose(shares[:, 3:, 4], 0.0)
    assert (majority_downsample(g, (6, 6))[:, :3] == -1).all()


def test_resize_errors_are_one_line(tmp_path) -> None:
    p = _pattern(_blocks())
    with pytest.raises(InputError, match="out of range"):
        api.resize(p, (1, 20))
    with pytest.raises(InputError):
        api.resize(p, 20, tmp_path / "missing.png")
    with pytest.raises(InputError, match="fit"):
        api.resize(p, 20, fit="zoom")


# --- CLI --------------------------------------------------------------------------------------------
def test_cli_resize_and_sizes(tmp_path) -> None:
    photo = _photo(tmp_path / "p.png")
    runner = CliRunner()
    out = tmp_path / "run"
    r = runner.invoke(main, ["beads", "--image", photo, "--size", "16", "--sizes", "16,24x20,32",
                             "--colors", "5", "--out", str(out), "-q", "--no-pdf"])
    assert r.exit_code == 0, r.output
    for sub, (w, h) in (("24x20", (24, 20)), ("32x32", (32, 32))):
        data = json.loads((out / sub / "pattern.json").read_text())
        assert (data["width"], data["height"]) == (w, h)
        assert data["meta"]["resized"]["from"] == "16x16"
    assert not (out / "16x16").exists()
    r = runner.invoke(main, ["resize", str(out / "pattern.json"), "--size", "40",
                             "--image", photo, "--no-pdf"])
    assert r.exit_code == 0, r.output
    assert Pattern.load(out / "40x40" / "pattern.json").width == 40
    r = runner.invoke(main, ["resize", str(out / "pattern.json"), "--size", "0"])
    assert r.exit_code == 2 and "out of range" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["resize", str(tmp_path / "none.json"), "--size", "20"])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(main, ["beads", "--image", photo, "--size", "16", "--sizes", "16,x"])
    assert r.exit_code == 2 and "not a size" in r.output


# --- SDS patterns (tiny random models) ------------------------------------------------------------
def test_sds_pattern_continues_its_run_at_the_new_size(tiny_paths, tmp_path) -> None:
    settings_ = tiny_settings(tiny_paths, "sd15", canny_weight=0.0, depth_weight=0.0,
                              optim={"warmup": 1, "lr": 0.3})
    palette = write_palette_csv(tmp_path / "pal.csv")
    out = tmp_path / "sds"
    photo = _photo(tmp_path / "p.png", size=48)
    made = make_pattern(PatternRequest(medium="beads", prompt="a red rose", image=photo,
                                       size=(8, 8), palette=palette, colors=4, steps=4,
                                       sds=settings_, out=out))
    assert (out / "checkpoint.pt").is_file()  # kept for resizing
    small = made.pattern
    # Zero further steps: the resampled logits alone must keep the design.
    same = api.resize(out / "pattern.json", 16, steps=0, sds=settings_, out=tmp_path / "r0")
    assert same.meta["resized"] == {"from": "8x8", "method": "sds", "steps": 0, "from_step": 4}
    assert {c.code for c in same.palette} <= {c.code for c in small.palette}
    state = torch.load(out / "checkpoint.pt", weights_only=True)["generator"]
    logits = _resample_logits(state["logits"], 16, 16).masked_fill(~state["active"], -np.inf)
    rows = state["palette"].numpy()
    expected = np.rint(rows[logits.argmax(-1).numpy()] * 255)
    got = np.array([c.rgb8 for c in same.palette], dtype=np.float64)[same.cells]
    assert np.array_equal(got, expected)  # exactly the argmax of the resampled logits
    assert size_consistency(small, same)[0] >= 0.7
    # A short continuation runs (and leaves its own checkpoint for the next resize).
    cont = api.resize(out / "pattern.json", (12, 10), steps=2, sds=settings_,
                      out=tmp_path / "r2")
    assert (cont.width, cont.height) == (12, 10)
    assert {c.code for c in cont.palette} <= {c.code for c in small.palette}
    assert (tmp_path / "r2" / "checkpoint.pt").is_file()
    # Without the checkpoint the grid is resampled, and the user is told.
    notes: list[str] = []
    grid = api.resize(small, 16, run_dir=tmp_path / "nowhere", notes=notes)
    assert grid.meta["resized"]["method"] == "grid" and "checkpoint" in notes[0]
