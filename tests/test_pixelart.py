"""Pixel art from any source: the true grid and the sprite's own colors, on generator-style
sprites with known ground truth (tests/sprites.py)."""

from __future__ import annotations

import itertools
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image
from sprites import PALETTE, Degrade, draw_sprite, render, truth_image
from synthetic import blocks_photo

from craftpix.api import PatternRequest, make_pattern
from craftpix.cli import main
from craftpix.pixelart import find_sprite, sprite_colors

#: The sweep: every fractional scale of the issue's range and beyond, drift 0–1 px, blur
#: σ 0–0.7 px, JPEG q70 / q90 (32 cases, fixed seeds).
SWEEP = list(itertools.product((7.3, 8.0, 9.5, 11.6), (0.0, 1.0), (0.0, 0.7), (70, 90)))


def _case(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return draw_sprite(seed, int(rng.integers(16, 41)), int(rng.integers(16, 41)))


def _exact(sprite: np.ndarray, cells: np.ndarray) -> float:
    """Share of cells whose found color is the one its sprite color mostly became."""
    truth = sprite.ravel()
    got = cells.reshape(len(truth), -1).astype(np.int64) @ (256 ** np.arange(cells.shape[-1]))
    hits = 0
    for c in np.unique(truth):
        hits += np.unique(got[truth == c], return_counts=True)[1].max()
    return hits / len(truth)


def test_generator_style_sprites_come_back_cell_for_cell():
    """Over the sweep, the grid is found and ≥ 99 % of cells are exact in ≥ 90 % of the cases,
    and every grid found is the true one or refused, never a wrong sprite at ≥ 99 %."""
    good = 0
    for seed, (scale, drift, blur, quality) in enumerate(SWEEP):
        sprite = _case(seed)
        found = find_sprite(render(sprite, Degrade(scale, drift, blur, quality), seed))
        if found is None or found.size != sprite.shape[::-1]:
            continue
        good += _exact(sprite, np.asarray(found.cells)) >= 0.99
    assert good >= 0.9 * len(SWEEP), f"{good} of {len(SWEEP)}"


def test_one_cell_highlight_and_outline_keep_their_colors():
    """Each sprite color is one color: a lone white cell stays white, JPEG-noisy blacks one black."""
    rng = np.random.default_rng(3)
    cells = np.tile(np.array([200, 30, 40], np.uint8), (60, 1))
    cells[:20] = [0, 0, 0]
    cells[37] = [255, 250, 245]
    noisy = np.clip(cells + rng.integers(-4, 5, cells.shape), 0, 255).astype(np.uint8)
    labels, colors = sprite_colors(noisy)
    assert len(colors) == 3
    assert len(np.unique(labels[:20])) == 1 and (labels == labels[37]).sum() == 1


def test_photos_and_drawings_are_not_pixel_art(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    assert find_sprite(Image.fromarray(noise)) is None
    photo = blocks_photo(tmp_path / "p.jpg", (240, 320), (0.2, 0.5, 0.3),
                         [(slice(40, 170), slice(60, 200), (0.9, 0.2, 0.1))], 0.05, 1, quality=80)
    assert find_sprite(Image.open(photo).convert("RGB")) is None
    yy, xx = np.mgrid[0:300, 0:300]
    disc = np.where(((xx - 150) ** 2 + (yy - 140) ** 2 < 90 ** 2)[..., None], [20, 60, 200],
                    [255, 255, 255]).astype(np.uint8)
    assert find_sprite(Image.fromarray(disc)) is None


def _codes(pattern_json) -> np.ndarray:
    data = json.loads(pattern_json.read_text())
    codes = [c["code"] for c in data["palette"]]
    cells = np.array(data["cells"])
    return np.where(cells >= 0, np.array(codes, dtype=object)[np.maximum(cells, 0)], None)


def _partition_exact(sprite: np.ndarray, codes: np.ndarray) -> float:
    """Share of cells that have their sprite color's bead, each sprite color its own bead."""
    beads = {}
    for c in np.unique(sprite):
        found, counts = np.unique(codes[sprite == c].astype(str), return_counts=True)
        beads[c] = found[np.argmax(counts)]
    assert len(set(beads.values())) == len(beads)  # distinct colors stay distinct
    return float(np.mean([codes[idx] == beads[c] for idx, c in np.ndenumerate(sprite)]))


def test_cli_size_auto_on_a_generator_jpeg(tmp_path):
    """The journey: a 9.5× sprite, drifting a pixel, blurred, JPEG q70 → `--size auto` gives the
    sprite's grid, one bead per sprite color for ≥ 99 % of the cells; the same with its size
    given by hand."""
    sprite = _case(7)
    render(sprite, Degrade(9.5, 1.0, 0.7, 70), 7).save(tmp_path / "sprite.jpg", quality=95)
    res = CliRunner().invoke(main, ["beads", "--image", str(tmp_path / "sprite.jpg"), "--size",
                                    "auto", "--no-pdf", "--quiet", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "pixel art: read its 39×31 grid" in res.output
    got = _codes(tmp_path / "o" / "pattern.json")
    assert got.shape == sprite.shape
    assert _partition_exact(sprite, got) >= 0.99
    assert len(set(got.ravel())) == len(np.unique(sprite))
    given = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.jpg",
                                        size=sprite.shape[::-1]))
    assert any("pixel art: read its" in n for n in given.notes)
    codes = np.array([given.pattern.palette[i].code for i in given.pattern.cells.ravel()])
    assert _partition_exact(sprite, codes.reshape(sprite.shape)) >= 0.99


def test_transparent_sprite_leaves_its_background_empty(tmp_path):
    sprite = _case(11)
    how = Degrade(8.6, 1.0, 0.0, None)
    rgb = np.asarray(render(sprite, how, 11))
    background = sprite == sprite[0, 0]
    mask = np.asarray(render(np.where(background, 0, 7), how, 11))[..., 0]
    Image.fromarray(np.dstack([rgb, mask]), "RGBA").save(tmp_path / "sprite.png")
    result = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.png",
                                         size="auto"))
    cells = result.pattern.cells
    assert cells.shape == sprite.shape
    assert ((cells < 0) == background).mean() >= 0.99


def test_truth_image_is_the_sprite():
    sprite = _case(2)
    assert np.array_equal(np.asarray(truth_image(sprite)), PALETTE[sprite])


def test_size_by_hand_uses_the_sprite_only_for_its_own_grid(tmp_path):
    """A sprite given twice its grid gets 2×2 cells per sprite cell; a size that is not a whole
    multiple of its grid (and flat art at any size) resamples the image as before."""
    sprite = _case(7)
    render(sprite, Degrade(9.5, 1.0, 0.7, 70), 7).save(tmp_path / "sprite.jpg", quality=95)
    h, w = sprite.shape
    twice = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.jpg",
                                        size=(2 * w, 2 * h)))
    assert any("pixel art: read its" in n for n in twice.notes)
    cells = twice.pattern.cells
    assert cells.shape == (2 * h, 2 * w)
    assert np.array_equal(cells[::2, ::2], cells[1::2, 1::2])
    other = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.jpg",
                                        size=(w - 9, h - 7)))
    assert not any("pixel art" in n for n in other.notes)
    assert other.pattern.cells.shape == (h - 7, w - 9)


def test_a_drawn_logo_is_not_read_as_pixel_art(tmp_path):
    """A rectangle and a circle drawn at 400×300 line up with a 10.5-pixel lattice well enough
    to pass the periodicity and flat-cell checks; its curve crosses cells anywhere, so it is not
    pixel art: `--size auto` refuses it in one line."""
    from PIL import ImageDraw

    for mode, bg in (("RGB", "white"), ("RGBA", (0, 0, 0, 0))):
        im = Image.new(mode, (400, 300), bg)
        d = ImageDraw.Draw(im)
        d.rectangle([40, 60, 200, 240], fill=(0, 70, 200))
        d.ellipse([220, 80, 360, 220], fill=(220, 20, 30))
        assert find_sprite(im) is None, mode
        im.save(tmp_path / "logo.png")
        res = CliRunner().invoke(main, ["stitch", "--image", str(tmp_path / "logo.png"),
                                        "--size", "auto", "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and "is not pixel art" in res.output, res.output


def test_pixel_art_at_another_size_says_which_size_gives_one_cell_per_pixel(tmp_path):
    """An 8× sprite made at the web's default 48×48: a note names its own 16×16 grid (the page
    words the hint as its Width and Height fields); at 16×16 no note."""
    from craftpix.web.views import web_notes

    rng = np.random.default_rng(1)
    colors = np.array([[0, 0, 0], [255, 255, 255], [230, 40, 40], [40, 90, 220]], np.uint8)
    Image.fromarray(colors[rng.integers(0, 4, (16, 16))]).resize(
        (128, 128), Image.Resampling.NEAREST).save(tmp_path / "sprite.png")
    made = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.png",
                                       size=(48, 48)))
    notes = [n for n in made.notes if "pixel art of 16×16" in n]
    assert notes and "each of its pixels becomes 3×3 cells" in notes[0]
    assert "--size 16x16 gives one cell per pixel" in notes[0]
    assert any("Width 16 and Height 16 gives one cell per pixel" in n
               for n in web_notes(list(made.notes)))
    exact = make_pattern(PatternRequest(medium="beads", image=tmp_path / "sprite.png",
                                        size=(16, 16)))
    assert not any("pixel art" in n for n in exact.notes)
