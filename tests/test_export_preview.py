"""PNG previews: sizes, colors, print resolution, atomic writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from craftpix.errors import InputError
from craftpix.export.preview import default_cell_px, render_preview, save_preview
from craftpix.pattern import Color, Pattern

PAL = [Color("80-19001", "White", "#F1F1F1"), Color("80-19018", "Black", "#2E2F32"),
       Color("80-19005", "Red", "#BF0F23"), Color("80-19009", "Dark Blue", "#2B3F87")]


def pattern(medium: str = "beads", h: int = 9, w: int = 13) -> Pattern:
    cells = (np.arange(h)[:, None] // 3 + np.arange(w)[None, :] // 4) % len(PAL)
    brand = {"beads": "perler", "bricks": "lego", "stitch": "dmc"}[medium]
    return Pattern(cells, PAL, medium, brand)


@pytest.mark.parametrize("medium", ["beads", "bricks", "stitch"])
@pytest.mark.parametrize("style", ["craft", "pixels"])
def test_preview_size_and_mode(medium: str, style: str) -> None:
    p = pattern(medium)
    img = render_preview(p, style, cell_px=10)
    assert img.mode == "RGB"
    assert img.size == (13 * 10, 9 * 10)


def test_pixels_are_exact_palette_colors() -> None:
    p = pattern()
    img = np.asarray(render_preview(p, "pixels", cell_px=3))
    assert (img[1::3, 1::3] == p.rgb8()).all()
    one = np.asarray(render_preview(p, "pixels", cell_px=1))
    assert (one == p.rgb8()).all()


@pytest.mark.parametrize("medium", ["beads", "bricks", "stitch"])
def test_craft_cells_look_like_their_color(medium: str) -> None:
    p = pattern(medium, 8, 8)
    p.cells[:] = 2  # all red
    img = np.asarray(render_preview(p, "craft", cell_px=16)).astype(float)
    red = np.array(p.palette[2].rgb8, dtype=float)
    # the pixel nearest to red in each cell is close to the catalog red
    cell = img[16:32, 16:32].reshape(-1, 3)
    assert np.min(np.linalg.norm(cell - red, axis=1)) < 40
    # and the texture is not flat (rings, studs, stitches on fabric)
    assert cell.std(axis=0).max() > 5
    # every cell is rendered identically (one sprite per color)
    assert (img[:16, :16] == img[16:32, 32:48]).all()


def test_bead_hole_and_stitch_fabric_show_background() -> None:
    p = pattern("beads", 4, 4)
    p.cells[:] = 1  # dark
    img = np.asarray(render_preview(p, "craft", cell_px=20)).astype(float)
    centre = img[10, 10]  # the bead's hole shows the light paper
    assert centre.mean() > 200
    s = pattern("stitch", 4, 4)
    s.cells[:] = 1
    simg = np.asarray(render_preview(s, "craft", cell_px=20)).astype(float)
    assert simg[10, 10].mean() < 120  # the crossing of the legs is thread
    assert simg[10, 1].mean() > 180  # between the legs, the fabric shows


def test_default_cell_px_and_large_preview_is_cheap() -> None:
    big = Pattern(np.random.default_rng(0).integers(0, 4, size=(200, 200)), PAL, "stitch", "dmc")
    assert default_cell_px(big) == 6
    img = render_preview(big)
    assert img.size == (1200, 1200)
    assert default_cell_px(pattern()) == 32


def test_print_resolution_matches_finished_size(tmp_path: Path) -> None:
    p = pattern("stitch")
    path = save_preview(p, tmp_path / "p.png", cell_px=14, fabric_count=14)
    with Image.open(path) as im:
        dpi = im.info["dpi"]
    assert dpi[0] == pytest.approx(14 * 14, rel=1e-3)  # 14 px per stitch at 14 stitches/inch
    b = render_preview(pattern("beads"), cell_px=10)
    assert b.info["dpi"][0] == pytest.approx(10 / (5 / 25.4))
    assert [q.name for q in tmp_path.iterdir()] == ["p.png"]


def test_bad_style_or_size() -> None:
    with pytest.raises(InputError, match="style"):
        render_preview(pattern(), "oil")
    with pytest.raises(InputError, match="cell size"):
        render_preview(pattern(), cell_px=0)


def test_cli_backstitch_outlines_are_in_preview_png(tmp_path: Path) -> None:
    """`stitch --backstitch auto`: preview.png shows the outline in the thread color (issue 21)."""
    from click.testing import CliRunner

    from craftpix.cli import main
    from craftpix.export.backstitch import plan_backstitch

    a = np.full((30, 30, 3), 245, np.uint8)
    a[8:22, 8:22] = (230, 200, 40)  # a yellow square on white: a strong boundary
    Image.fromarray(a).save(tmp_path / "sq.png")
    outs = {}
    for mode in ("auto", "none"):
        out = tmp_path / mode
        res = CliRunner().invoke(main, ["stitch", "--image", str(tmp_path / "sq.png"), "--size",
                                        "30", "--backstitch", mode, "--formats", "none",
                                        "--no-pdf", "-q", "--out", str(out)])
        assert res.exit_code == 0, res.output
        outs[mode] = np.asarray(Image.open(out / "preview.png").convert("RGB"))
    p = Pattern.load(tmp_path / "auto" / "pattern.json")
    outlined, bs = plan_backstitch(p, p.settings.get("backstitch_color"))
    assert bs is not None and bs.segments > 0
    thread = np.array(outlined.palette[bs.color].rgb8)
    cell = outs["auto"].shape[1] // p.width
    changed = np.any(outs["auto"] != outs["none"], axis=-1)
    assert changed.any()
    # the middle of every stitched vertical edge is the thread color
    for r, c in zip(*np.nonzero(bs.v), strict=True):
        x = min(c * cell, outs["auto"].shape[1] - 1)
        y = r * cell + cell // 2
        assert (outs["auto"][y, x] == thread).all()
