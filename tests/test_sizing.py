"""Sizes as crafters say them: parsing, resolving against an image, placing the image."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from craftpix.errors import InputError
from craftpix.media import MEDIA
from craftpix.sizing import (
    MAX_SIDE,
    MIN_SIDE,
    Length,
    SizeSpec,
    frame_count,
    parse_boards,
    parse_size,
    place,
    resolve,
)

BEAD = MEDIA["beads"].cell_mm()  # 5 mm


@pytest.mark.parametrize("text, spec", [
    ("48", SizeSpec(longest=Length(48))),
    ("48x", SizeSpec(width=Length(48))),
    ("x60", SizeSpec(height=Length(60))),
    ("64x48", SizeSpec(Length(64), Length(48))),
    ("64 × 48", SizeSpec(Length(64), Length(48))),
    ("30cmx20cm", SizeSpec(Length(30, "cm"), Length(20, "cm"))),
    ("30x20cm", SizeSpec(Length(30, "cm"), Length(20, "cm"))),
    ("8inx10in", SizeSpec(Length(8, "in"), Length(10, "in"))),
    ('8"x10"', SizeSpec(Length(8, "in"), Length(10, "in"))),
    ("300mm", SizeSpec(longest=Length(300, "mm"))),
    ("20cmx", SizeSpec(width=Length(20, "cm"))),
    ("12.5cmx40", SizeSpec(Length(12.5, "cm"), Length(40))),
])
def test_size_texts(text, spec):
    assert parse_size(text) == spec


@pytest.mark.parametrize("text, message", [
    ("abc", "not a size"), ("", "not a size"), ("x", "not a size"), ("-3", "not a size"),
    ("0", "more than 0"), ("2.5x3", "whole"), ("30parsecs", "not a size"),
])
def test_bad_size_texts_are_one_line_errors(text, message):
    with pytest.raises(InputError, match=message) as err:
        parse_size(text)
    assert "\n" not in str(err.value)


@settings(max_examples=60, deadline=None)
@given(w=st.integers(1, 999), h=st.integers(1, 999),
       sep=st.sampled_from(["x", "X", "×", "*", " x "]), form=st.sampled_from(["both", "w", "h", "n"]))
def test_cell_sizes_round_trip(w, h, sep, form):
    text = {"both": f"{w}{sep}{h}", "w": f"{w}{sep}", "h": f"{sep.strip()}{h}", "n": f"{w}"}[form]
    spec = parse_size(text)
    assert parse_size(spec.text()) == spec
    if form == "both":
        assert (spec.width.value, spec.height.value) == (w, h)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=12))
def test_any_text_parses_or_says_one_line(text):
    try:
        spec = parse_size(text)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert spec.longest or spec.width or spec.height


@settings(max_examples=60, deadline=None)
@given(iw=st.integers(1, 4000), ih=st.integers(1, 4000), w=st.integers(2, 300))
def test_one_side_follows_the_image(iw, ih, w):
    """``Nx`` keeps the image's aspect to within one cell, or says it is out of range."""
    try:
        width, height = resolve(parse_size(f"{w}x"), BEAD, (iw, ih))
    except InputError as exc:
        assert "out of range" in str(exc)
        return
    assert width == w
    assert abs(height - w * ih / iw) <= 0.5 + 1e-9
    assert MIN_SIDE <= height <= MAX_SIDE


@settings(max_examples=60, deadline=None)
@given(iw=st.integers(1, 4000), ih=st.integers(1, 4000), n=st.integers(2, 300))
def test_n_is_the_longer_side(iw, ih, n):
    try:
        width, height = resolve(parse_size(str(n)), BEAD, (iw, ih))
    except InputError:
        return
    assert max(width, height) == n


def test_the_issues_logo_is_kept_whole():
    """542×130 at ``--size 48``: 48×12, not the middle of it."""
    assert resolve(parse_size("48"), BEAD, (542, 130)) == (48, 12)
    assert resolve(parse_size("x12"), BEAD, (542, 130)) == (50, 12)


def test_lengths_become_whole_cells_at_the_crafts_pitch():
    assert resolve(parse_size("30cmx20cm"), BEAD, None) == (60, 40)  # 5 mm beads
    assert resolve(parse_size("8inx10in"), BEAD, None) == (40, 50)  # 203.2 mm / 5 = 40.6
    stud = MEDIA["bricks"].cell_mm()
    assert resolve(parse_size("25.6cmx12.8cm"), stud, None) == (32, 16)
    aida14 = MEDIA["stitch"].cell_mm(14)
    assert resolve(parse_size("8inx10in"), aida14, None) == (112, 140)
    assert resolve(parse_size("8inx10in"), MEDIA["stitch"].cell_mm(18), None) == (144, 180)


def test_prompt_alone_needs_both_sides_or_n():
    assert resolve(parse_size("48"), BEAD, None) == (48, 48)
    with pytest.raises(InputError, match="no image"):
        resolve(parse_size("48x"), BEAD, None)


def test_out_of_range_sizes():
    with pytest.raises(InputError, match="out of range"):
        resolve(parse_size("600x10"), BEAD, None)
    with pytest.raises(InputError, match="out of range"):
        resolve(parse_size("9mm"), BEAD, None)  # one 5 mm bead
    with pytest.raises(InputError, match="out of range"):
        resolve(parse_size("48x"), BEAD, (542, 5))  # one cell tall


@pytest.mark.parametrize("text, boards", [("2x2", (2, 2)), ("3", (3, 3)), ("1 x 4", (1, 4))])
def test_boards(text, boards):
    assert parse_boards(text) == boards


@pytest.mark.parametrize("text", ["0x2", "abc", "2x", "21x1"])
def test_bad_boards(text):
    with pytest.raises(InputError):
        parse_boards(text)


def test_padding_keeps_the_whole_image_and_says_so():
    p = place(64, 48, (542, 130), "pad")
    assert (p.inner_w, p.inner_h) == (64, 15) and p.padded
    assert p.top + p.inner_h <= 48 and p.top == (48 - 15) // 2
    assert p.crop_box == (0, 0, 542, 130)
    assert len(p.notes) == 1 and "empty rows" in p.notes[0] and "--size 64x" in p.notes[0]


def test_cropping_says_how_much():
    p = place(64, 48, (542, 130), "crop")
    assert not p.padded and (p.inner_w, p.inner_h) == (64, 48)
    left, top, right, bottom = p.crop_box
    assert (top, bottom) == (0, 130) and abs((right - left) / 130 - 64 / 48) < 0.01
    assert "cut 68% of its width" in p.notes[0]


def test_a_matching_shape_says_nothing():
    assert place(64, 48, (640, 480)).notes == []
    assert not place(64, 48, (640, 480)).padded
    assert place(48, 12, (542, 130), both_given=False).notes == []


@settings(max_examples=60, deadline=None)
@given(w=st.integers(2, 200), h=st.integers(2, 200), iw=st.integers(1, 3000),
       ih=st.integers(1, 3000), fit=st.sampled_from(["pad", "crop", "stretch"]))
def test_placement_stays_inside_the_grid(w, h, iw, ih, fit):
    p = place(w, h, (iw, ih), fit)
    assert 0 <= p.left and p.left + p.inner_w <= w and 0 <= p.top and p.top + p.inner_h <= h
    assert p.inner_w >= 1 and p.inner_h >= 1
    x0, y0, x1, y1 = p.crop_box
    assert 0 <= x0 < x1 <= iw and 0 <= y0 < y1 <= ih
    if fit != "pad":
        assert not p.padded


def test_big_upscale_is_noted():
    notes = place(64, 64, (16, 16), both_given=False).notes
    assert any("16x16 pixels" in n and "--size 16x" in n for n in notes)
    assert place(16, 16, (16, 16)).notes == []


def test_animated_images_are_counted(tmp_path):
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (0, 128, 255)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    assert frame_count(gif) == 3
    png = tmp_path / "still.png"
    frames[0].save(png)
    assert frame_count(png) == 1


def test_hoop_size_is_the_largest_design_that_fits():
    aida14 = MEDIA["stitch"].cell_mm(14)
    spec = parse_size("hoop")
    assert spec.hoop and spec.text() == "hoop"
    assert resolve(spec, aida14, None, (100.0, 100.0)) == (55, 55)  # 100 mm / 1.814 mm
    w, h = resolve(spec, aida14, (542, 130), (130.0, 180.0))
    assert (w, h) == (71, 17) and w * aida14 <= 130 and h * aida14 <= 180
    w, h = resolve(spec, aida14, (90, 120), (130.0, 180.0))
    assert w * aida14 <= 130 and h * aida14 <= 180 and (w == 71 or h == 99)
    with pytest.raises(InputError, match="needs a hoop"):
        resolve(spec, aida14, (90, 120), None)
