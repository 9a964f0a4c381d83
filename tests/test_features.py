"""Features survive clean-up: a portrait keeps its eyes, flat art is left alone, no OpenCV no error."""

import builtins
import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from craftpix.cli import main
from craftpix.engines.labeling import absorb_blobs, grid_edges
from craftpix.engines.photo import PhotoSettings, make_photo_pattern
from craftpix.features import FEATURE_SMOOTH, detail_saliency, feature_map
from craftpix.imageio import reference_grid
from craftpix.metrics import isolated_cell_rate
from craftpix.palette import load_palette
from craftpix.pattern import Pattern

ASTRONAUT = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _no_cv2(monkeypatch):
    """Make ``import cv2`` fail as it does where OpenCV is not installed."""
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "cv2" or name.startswith("cv2."):
            raise ImportError("No module named 'cv2'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


def _eye_band(box):
    """Cells (rows, cols) of the eye band of a face box (x0, y0, x1, y1) in cells: from a
    quarter to a half of its height, its middle 70 % across."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    rows = [r for r in range(int(y0), int(np.ceil(y1))) if y0 + 0.25 * h <= r + 0.5 <= y0 + 0.5 * h]
    cols = [c for c in range(int(x0), int(np.ceil(x1))) if x0 + 0.15 * w <= c + 0.5 <= x1 - 0.15 * w]
    return rows, cols


def _non_skin_cells(rgb8, box):
    """Cells in the eye band whose color is not the skin color (the commonest color of the
    face box's middle half)."""
    x0, y0, x1, y1 = box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
    middle = rgb8[int(cy - hh):int(np.ceil(cy + hh)), int(cx - hw):int(np.ceil(cx + hw))]
    colors, counts = np.unique(middle.reshape(-1, 3), axis=0, return_counts=True)
    skin = colors[np.argmax(counts)]
    rows, cols = _eye_band(box)
    band = rgb8[np.ix_(rows, cols)]
    return int((band != skin).any(axis=-1).sum())


@pytest.fixture(scope="module")
def astronaut_face():
    pytest.importorskip("cv2")
    ref = reference_grid(ASTRONAUT, 48, 48)
    fm = feature_map(ref.rgb, np.ones((48, 48), bool), ref.fitted)
    if not fm.detector:
        pytest.skip("this OpenCV has no face cascade (install the 'faces' extra)")
    assert len(fm.faces) == 1, fm.faces
    return fm.faces[0]


def test_astronaut_keeps_eyes_and_mouth_at_48(astronaut_face, tmp_path):
    """`craftpix beads --image examples/astronaut.jpg --size 48`: the eye band of the face
    holds cells of other colors than the skin; with --features off it is one skin slab."""
    counts = {}
    for flag in ("on", "off"):
        out = tmp_path / flag
        res = run("beads", "--image", ASTRONAUT, "--size", "48", "--out", out, "--quiet",
                  "--no-pdf", "--features", flag)
        assert res.exit_code == 0, res.output
        pattern = Pattern.load(out / "pattern.json")
        assert (pattern.width, pattern.height) == (48, 48)
        counts[flag] = _non_skin_cells(pattern.rgb8(), astronaut_face)
    assert counts["on"] >= 3, counts
    assert counts["off"] < 3, counts


def test_bad_features_value_is_one_line_exit_2(tmp_path):
    res = run("beads", "--image", ASTRONAUT, "--size", "16", "--out", tmp_path / "o",
              "--features", "maybe")
    assert res.exit_code == 2
    assert "maybe" in res.output


def _logo_png() -> Image.Image:
    im = Image.new("RGB", (256, 256), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.ellipse((20, 20, 236, 236), fill=(230, 40, 40), outline=(0, 0, 0), width=12)
    d.rectangle((75, 110, 181, 145), fill=(255, 210, 0), outline=(0, 0, 0), width=6)
    return im


def test_flat_logo_is_unchanged_by_the_feature_term(tmp_path):
    """A flat logo maps color for color with and without features; as a JPEG (the photo path)
    the feature term adds no confetti."""
    pal = load_palette("perler")
    png = tmp_path / "logo.png"
    _logo_png().save(png)
    ref = reference_grid(png, 32, 32)
    assert ref.flat_colors is not None
    on = make_photo_pattern(ref, pal, PhotoSettings(features=True))
    off = make_photo_pattern(ref, pal, PhotoSettings(features=False))
    assert np.array_equal(on.indices, off.indices) and on.palette.codes == off.palette.codes
    buf = io.BytesIO()
    _logo_png().save(buf, "JPEG", quality=75)
    jpg = tmp_path / "logo.jpg"
    jpg.write_bytes(buf.getvalue())
    ref = reference_grid(jpg, 32, 32)
    on = make_photo_pattern(ref, pal, PhotoSettings(features=True))
    off = make_photo_pattern(ref, pal, PhotoSettings(features=False))
    assert isolated_cell_rate(on.indices) <= isolated_cell_rate(off.indices)
    assert (on.indices >= 0).all()


def test_without_opencv_faces_are_skipped_without_error(monkeypatch, tmp_path):
    _no_cv2(monkeypatch)
    ref = reference_grid(ASTRONAUT, 32, 32)
    fm = feature_map(ref.rgb, np.ones((32, 32), bool), ref.fitted)
    assert not fm.detector and fm.faces == []
    res = run("beads", "--image", ASTRONAUT, "--size", "32", "--out", tmp_path / "o",
              "--quiet", "--no-pdf")
    assert res.exit_code == 0, res.output
    assert Pattern.load(tmp_path / "o" / "pattern.json").width == 32


def test_details_are_isolated_dots_not_texture():
    """The difference of Gaussians marks a dark dot on a flat field, not a noisy field."""
    rng = np.random.default_rng(3)
    lab = np.zeros((20, 20, 3))
    lab[..., 0] = 80.0
    lab[10, 10] = (30.0, 0.0, 0.0)
    sal, _ = detail_saliency(lab, np.ones((20, 20), bool))
    assert sal[10, 10] > 0 and (sal > 0).sum() == 1
    noisy = lab.copy()
    noisy[..., 0] = rng.uniform(20, 90, (20, 20))
    sal, _ = detail_saliency(noisy, np.ones((20, 20), bool))
    assert (sal > 0).mean() < 0.02


def test_feature_map_lowers_potts_and_protects_blobs():
    """A lone detail cell keeps its label through blob clean-up only when protected, and its
    edges' Potts weights drop to FEATURE_SMOOTH of a full feature's."""
    rgb = np.full((12, 12, 3), 0.8)
    rgb[6, 6] = (0.1, 0.1, 0.1)
    fm = feature_map(rgb, np.ones((12, 12), bool), None)
    assert fm.saliency[6, 6] > 0 and fm.protected()[6, 6]
    edges = grid_edges(12, 12)
    scale = fm.edge_scale(edges)
    touching = (edges == 6 * 12 + 6).any(axis=1)
    assert np.allclose(scale[~touching], 1.0)
    assert np.all(scale[touching] < 1.0) and np.all(scale[touching] >= FEATURE_SMOOTH)
    labels = np.zeros(144, dtype=np.int64)
    labels[6 * 12 + 6] = 1
    unary = np.zeros((144, 2))
    weights = np.ones(len(edges))
    free = absorb_blobs(labels, unary, edges, weights, (12, 12), penalty=10.0)
    kept = absorb_blobs(labels, unary, edges, weights, (12, 12), penalty=10.0,
                        protect=fm.protected().ravel())
    assert free[6 * 12 + 6] == 0 and kept[6 * 12 + 6] == 1
