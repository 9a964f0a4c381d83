"""Flat art as a person sees it: a 3-color logo is 3 colors in the hues they would name, as PNG
or JPEG, anti-aliased, on white or transparency; near-identical whites are one White; and every
catalog color says which source color it stands for and how far it is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from craftpix.api import PatternRequest, make_pattern
from craftpix.cli import main
from craftpix.color import rgb_to_lab
from craftpix.flatart import find_flat_art

try:
    from test_color import _xkcd_hue_namer
except ImportError:  # tests/ imported as a package
    from tests.test_color import _xkcd_hue_namer

#: (medium, brand) for the five catalogs of palettes/
CATALOGS = [("beads", "perler"), ("beads", "hama"), ("beads", "artkal"), ("bricks", "lego"),
            ("stitch", "dmc")]

#: Logos: shapes in (x0, y0, x1, y1) fractions, the hue a person names them, and where (fractions)
#: a cell lies well inside each shape.
LOGOS = {
    "blue-red": [("rect", (0.10, 0.15, 0.55, 0.60), (0, 0, 255), "blue", (0.25, 0.3)),
                 ("ellipse", (0.45, 0.40, 0.90, 0.85), (255, 0, 0), "red", (0.75, 0.7))],
    "green-yellow-black": [("rect", (0.05, 0.05, 0.95, 0.30), (0, 150, 60), "green", (0.5, 0.17)),
                           ("ellipse", (0.15, 0.40, 0.55, 0.90), (255, 215, 0), "yellow", (0.35, 0.65)),
                           ("rect", (0.62, 0.45, 0.92, 0.90), (0, 0, 0), "black", (0.77, 0.67))],
}
SIZE = 240  # pixels of the logo file
GRID = 40   # cells


def _logo(shapes, transparent: bool) -> Image.Image:
    """A logo drawn at 4× and resized with Lanczos: anti-aliased edges with a little ringing."""
    big = SIZE * 4
    im = Image.new("RGBA", (big, big), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    draw = ImageDraw.Draw(im)
    for kind, box, color, _, _ in shapes:
        xy = [v * big for v in box]
        (draw.rectangle if kind == "rect" else draw.ellipse)(xy, fill=(*color, 255))
    return im.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Each logo as png, jpeg q70, jpeg q90 (on white) and png on transparency."""
    root = tmp_path_factory.mktemp("logos")
    out = {}
    for name, shapes in LOGOS.items():
        white = _logo(shapes, transparent=False).convert("RGB")
        out[name, "png"] = root / f"{name}.png"
        white.save(out[name, "png"])
        for q in (70, 90):
            out[name, f"jpeg{q}"] = root / f"{name}-q{q}.jpg"
            white.save(out[name, f"jpeg{q}"], quality=q)
        out[name, "transparent"] = root / f"{name}-transparent.png"
        _logo(shapes, transparent=True).save(out[name, "transparent"])
    return out


@pytest.fixture(scope="module")
def hue():
    return _xkcd_hue_namer()


def _make(path: Path, medium: str, brand: str):
    return make_pattern(PatternRequest(medium=medium, brand=brand, image=path, size=GRID)).pattern


@pytest.mark.parametrize(("medium", "brand"), CATALOGS)
@pytest.mark.parametrize("logo", sorted(LOGOS))
def test_logo_keeps_its_colors_and_hues_in_every_format(files, hue, logo, medium, brand):
    shapes = LOGOS[logo]
    png = _make(files[logo, "png"], medium, brand)
    codes = sorted(c.code for c in png.palette)
    assert len(codes) == len(shapes) + 1, [c.name for c in png.palette]  # the shapes and white
    for fmt in ("jpeg70", "jpeg90"):
        jpg = _make(files[logo, fmt], medium, brand)
        assert sorted(c.code for c in jpg.palette) == codes, (fmt, [c.name for c in jpg.palette])
        # blended and ringing pixels take a neighbouring real color: the cells barely differ
        assert (jpg.cells != png.cells).mean() < 0.02, fmt
    transparent = _make(files[logo, "transparent"], medium, brand)
    background = png.palette[png.cells[0, 0]]
    white = rgb_to_lab(np.array(background.rgb8) / 255.0)  # catalog whites are off-white
    assert white[0] > 90 and np.hypot(white[1], white[2]) < 8, background.name
    assert sorted(c.code for c in transparent.palette) == sorted(
        c.code for c in png.palette if c.code != background.code)
    assert (transparent.cells[0, 0], transparent.cells[-1, -1]) == (-1, -1)
    for _, _, _, name, (fx, fy) in shapes:
        for p in (png, transparent):
            color = p.palette[p.cells[int(fy * GRID), int(fx * GRID)]]
            lab = rgb_to_lab(np.array(color.rgb8) / 255.0)
            if name == "black":  # the XKCD names call the darkest catalog blacks "grey"
                assert lab[0] < 25, (brand, color.name)
            else:
                assert hue(lab) == name, (brand, color.name)


def test_near_identical_whites_are_one_white_and_distinct_stripes_stay_apart(tmp_path):
    """The issue's banner: a (250,250,240) background with (255,255,255) areas, blue and purple
    stripes; ``craftpix bricks --size 96 --merge``: the background is White."""
    banner = Image.new("RGB", (960, 480), (250, 250, 240))
    draw = ImageDraw.Draw(banner)
    draw.rectangle([100, 100, 400, 300], fill=(255, 255, 255))
    draw.rectangle([600, 50, 900, 200], fill=(255, 255, 255))
    draw.rectangle([0, 400, 960, 430], fill=(0, 0, 255))
    draw.rectangle([0, 440, 960, 470], fill=(128, 0, 160))
    for name in ("banner.png", "banner.jpg"):
        banner.save(tmp_path / name, quality=85)
        out = tmp_path / name.replace(".", "-")
        res = CliRunner().invoke(main, ["bricks", "--image", str(tmp_path / name), "--size", "96",
                                        "--merge", "--out", str(out), "-q"])
        assert res.exit_code == 0, res.output
        pattern = json.loads((out / "pattern.json").read_text())
        names = [c["name"] for c in pattern["palette"]]
        cells = np.array(pattern["cells"])
        assert names[cells[0][0]] == "White", (name, names)
        assert names[cells[15][25]] == "White"  # a (255,255,255) area
        assert cells[41][5] != cells[45][5]  # blue and purple stripes: two colors
        assert len(names) == 3, names


def test_each_catalog_color_names_its_source_and_a_far_one_gets_a_note(files, tmp_path):
    out = tmp_path / "beads"
    res = CliRunner().invoke(main, ["beads", "--image", str(files["blue-red", "jpeg70"]),
                                    "--size", "24", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "pattern.json").read_text())["meta"]["stands_for"]
    sources = {v["source"] for v in meta.values()}
    assert len(meta) == 3 and {"#FFFFFF"} <= sources
    blue = next(v for v in meta.values() if v["source"].startswith("#0000"))
    assert blue["delta_e00"] > 10  # Perler has no blue close to pure blue
    summary = res.stdout.splitlines()[1]
    assert summary.startswith("colors: ") and f"for {blue['source']} (ΔE00" in summary
    notes = [line for line in res.stderr.splitlines() if "no close match" in line]
    assert len(notes) == 1 and blue["source"] in notes[0] and "--palette" in notes[0]
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(out / "pattern.pdf").pages)
    assert f"for {blue['source']}" in text


def test_close_colors_get_no_note(files):
    res = make_pattern(PatternRequest(medium="stitch", image=files["green-yellow-black", "png"],
                                      size=GRID))
    assert not [n for n in res.notes if "no close match" in n]
    assert all(v["delta_e00"] <= 10 for v in res.pattern.meta["stands_for"].values())


def test_photos_and_gradients_are_not_flat_art():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:200, 0:300] / 300.0
    gradient = np.stack([x, 0.5 * y + 0.2, 1 - x], axis=-1)
    textured = np.clip(gradient + rng.normal(0, 0.04, gradient.shape), 0, 1)
    for img in (gradient, textured):
        assert find_flat_art(Image.fromarray((img * 255).astype(np.uint8)), 30, 20) is None


def test_noisy_scan_of_a_logo_is_its_real_colors():
    logo = np.asarray(_logo(LOGOS["blue-red"], transparent=False).convert("RGB")).astype(float)
    scan = np.clip(logo + np.random.default_rng(1).normal(0, 4, logo.shape), 0, 255)
    flat = find_flat_art(Image.fromarray(scan.astype(np.uint8)), GRID, GRID)
    assert flat is not None and len(flat.colors) == 3
    assert np.abs(flat.colors * 255 - [[255, 255, 255], [0, 0, 255], [255, 0, 0]]).max() < 6
    assert flat.shares.shape == (GRID, GRID, 3)
    assert np.allclose(flat.shares.sum(-1), 1.0)
