"""Palettes: built-in catalogs, custom CSV / GIMP / hex files, nearest color, subset selection."""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from colormath2.color_conversions import convert_color
from colormath2.color_diff import delta_e_cie2000
from colormath2.color_objects import LabColor, sRGBColor
from hypothesis import given, settings
from hypothesis import strategies as st

from craftpix.errors import InputError
from craftpix.palette import (
    Palette,
    PaletteError,
    available_palettes,
    load_palette,
    palettes_dir,
    parse_csv,
    parse_gpl,
    parse_hex,
)
from craftpix.pattern import Color

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=80)
BUILTIN = ["artkal", "dmc", "hama", "lego", "perler"]

# Characters str.splitlines() breaks on; generated names and codes avoid them.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rgb_list(p: Palette) -> list[tuple[int, int, int]]:
    return [tuple(int(v) for v in row) for row in p.rgb8]


# --- built-in catalogs -------------------------------------------------------------------
def test_available_palettes_lists_builtins():
    names = available_palettes()
    assert names == sorted(names)
    assert set(BUILTIN) <= set(names)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_catalogs_load(name):
    p = load_palette(name)
    assert p.name == name
    assert p.title and p.title != name  # a human title
    assert p.source  # header comments name the source
    assert len(p) >= 30
    assert len(set(p.codes)) == len(p.codes)
    assert all(c.strip() for c in p.codes) and all(n.strip() for n in p.names)
    assert p.rgb8.shape == (len(p), 3) and p.rgb8.dtype == np.uint8
    assert p.rgb.shape == (len(p), 3) and 0.0 <= p.rgb.min() and p.rgb.max() <= 1.0
    assert p.lab.shape == (len(p), 3)
    assert all(re.fullmatch(r"#[0-9A-F]{6}", h) for h in p.hexes)
    assert len(p.extra) == len(p)


def test_dmc_catalog():
    p = load_palette("dmc")
    assert len(p) >= 450
    for code in ("310", "321", "B5200", "BLANC", "ECRU"):
        assert code in p.codes
    black = p.rgb8[p.codes.index("310")]
    white = p.rgb8[p.codes.index("B5200")]
    assert black.max() < 40 and white.min() > 230


def test_builtin_name_is_case_insensitive():
    assert load_palette("DMC") is load_palette("dmc")


@pytest.mark.parametrize("name", ["perler", "hama", "artkal"])
def test_bead_catalogs_have_finish_column(name):
    p = load_palette(name)
    assert "finish" in p.columns
    finishes = {e["finish"] for e in p.extra}
    assert "standard" in finishes
    standard = p.where("finish", "standard")
    assert 0 < len(standard) <= len(p)
    assert all(e["finish"] == "standard" for e in standard.extra)


def test_lego_extra_columns_and_where():
    p = load_palette("lego")
    assert {"transparent", "finish", "bricklink_id"} <= set(p.columns)
    trans = p.where("transparent", "true")
    solid = p.where("transparent", "FALSE")  # case-insensitive
    assert len(trans) > 0 and len(solid) > 0
    assert len(trans) + len(solid) == len(p)
    assert all(e["transparent"] == "true" for e in trans.extra)
    assert set(trans.codes).isdisjoint(solid.codes)
    assert trans.columns == p.columns and trans.name == "lego"
    assert len(p.where("no_such_column", "x")) == 0


def test_unknown_catalog_lists_available():
    with pytest.raises(PaletteError) as info:
        load_palette("crayola")
    msg = str(info.value)
    assert "crayola" in msg
    for name in BUILTIN:
        assert name in msg
    assert issubclass(PaletteError, InputError)


def test_missing_palette_file(tmp_path):
    with pytest.raises(PaletteError, match="does not exist"):
        load_palette(tmp_path / "nope.csv")
    with pytest.raises(PaletteError, match="does not exist"):
        load_palette(str(tmp_path / "sub" / "nope"))  # looks like a path: has a separator


def test_palettes_dir_override(tmp_path, monkeypatch):
    write(tmp_path, "mine.csv", "code,name,hex\n1,One,#010101\n")
    monkeypatch.setenv("CRAFTPIX_PALETTES", str(tmp_path))
    assert palettes_dir() == tmp_path
    assert available_palettes() == ["mine"]
    assert load_palette("mine").codes == ("1",)
    with pytest.raises(PaletteError, match="available: mine"):
        load_palette("dmc")
    monkeypatch.setenv("CRAFTPIX_PALETTES", str(tmp_path / "missing"))
    assert available_palettes() == []
    with pytest.raises(PaletteError, match="none installed"):
        load_palette("dmc")


# --- caching -----------------------------------------------------------------------------
def test_lab_is_cached_on_the_palette():
    p = load_palette("perler")
    assert p.lab is p.lab
    assert p.rgb is p.rgb
    assert p.hexes is p.hexes


def test_load_palette_returns_cached_object_for_unchanged_file(tmp_path):
    path = write(tmp_path, "c.csv", "code,name,hex\na,A,#112233\n")
    first = load_palette(path)
    assert load_palette(path) is first
    assert load_palette(str(path)) is first
    assert load_palette("dmc") is load_palette("dmc")


def test_load_palette_rereads_changed_file(tmp_path):
    path = write(tmp_path, "c.csv", "code,name,hex\na,A,#112233\n")
    first = load_palette(path)
    write(tmp_path, "c.csv", "code,name,hex\na,A,#112233\nb,B,#445566\n")
    second = load_palette(path)
    assert second is not first
    assert second.codes == ("a", "b")
    # same size, new modification time
    write(tmp_path, "c.csv", "code,name,hex\na,A,#112233\nb,B,#445577\n")
    st_ = path.stat()
    os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    assert load_palette(path).hexes == ("#112233", "#445577")


# --- colors, subset ----------------------------------------------------------------------
def test_colors():
    p = load_palette("hama")
    cols = p.colors()
    assert len(cols) == len(p)
    assert cols[0] == Color(p.codes[0], p.names[0], p.hexes[0])
    assert all(c.rgb8 == tuple(int(v) for v in row) for c, row in zip(cols, p.rgb8, strict=True))


def test_subset_keeps_order_and_fields():
    p = load_palette("perler")
    s = p.subset([5, 0, 7])
    assert s.codes == (p.codes[5], p.codes[0], p.codes[7])
    assert s.names == (p.names[5], p.names[0], p.names[7])
    assert np.array_equal(s.rgb8, p.rgb8[[5, 0, 7]])
    assert s.extra == (p.extra[5], p.extra[0], p.extra[7])
    assert np.allclose(s.lab, p.lab[[5, 0, 7]])
    assert (s.name, s.title, s.source, s.columns) == (p.name, p.title, p.source, p.columns)
    assert p.subset(np.array([2])).codes == (p.codes[2],)


def test_subset_without_extras():
    p = parse_hex("FF0000\n00FF00\n0000FF\n", "x")
    s = p.subset([2, 0])
    assert s.codes == ("0000FF", "FF0000")
    assert len(s.extra) in (0, 2)


# --- nearest -----------------------------------------------------------------------------
def _cm_lab(rgb8) -> LabColor:
    return convert_color(sRGBColor(*[int(v) for v in rgb8], is_upscaled=True), LabColor)


@pytest.mark.parametrize("name, count", [("perler", 40), ("lego", 40)])
def test_nearest_agrees_with_colormath_bruteforce(name, count):
    p = load_palette(name)
    cat = [_cm_lab(c) for c in p.rgb8]
    rng = np.random.default_rng(1234)
    samples = rng.integers(0, 256, size=(count, 3))
    ours = p.nearest(samples / 255.0)
    assert ours.shape == (count,)
    from craftpix.color import pairwise_match_cost, rgb_to_lab

    cost = pairwise_match_cost(rgb_to_lab(samples / 255.0), p.lab)
    close = 0
    for s, k, row in zip(samples, ours, cost, strict=True):
        lab = _cm_lab(s)
        d = np.array([float(delta_e_cie2000(lab, c)) for c in cat])
        assert row[k] == row.min()  # the one color decision
        if d.min() < 4.9:  # a close match: the decision is plain CIEDE2000
            # colormath2 uses a 6-digit RGB->XYZ matrix (< 0.02 in Lab), so allow near-ties
            assert d[k] <= d.min() + 0.05, (s, k, int(d.argmin()))
            close += 1
    assert close >= 1


def test_nearest_exact_colors_map_to_themselves_and_keeps_shape():
    p = load_palette("perler")
    assert len(np.unique(p.rgb8, axis=0)) == len(p)
    img = p.rgb[None]  # (1, n, 3)
    idx = p.nearest(img)
    assert idx.shape == img.shape[:2]
    assert np.array_equal(idx.ravel(), np.arange(len(p)))
    assert p.nearest(np.array([1.0, 1.0, 1.0])).shape == ()


# --- select ------------------------------------------------------------------------------
def test_select_returns_n_distinct_catalog_entries():
    p = load_palette("dmc")
    rng = np.random.default_rng(0)
    img = rng.random((24, 24, 3))
    for n in (1, 2, 7, 16):
        s = p.select(img, n)
        assert len(s) == n
        assert len(set(s.codes)) == n
        assert set(s.codes) <= set(p.codes)
        for code, rgb in zip(s.codes, s.rgb8, strict=True):
            assert np.array_equal(rgb, p.rgb8[p.codes.index(code)])
        # in catalog order
        assert [p.codes.index(c) for c in s.codes] == sorted(p.codes.index(c) for c in s.codes)


def test_select_n_at_least_len_returns_palette():
    p = load_palette("hama")
    img = np.zeros((2, 2, 3))
    assert p.select(img, len(p)) is p
    assert p.select(img, len(p) + 10) is p


@pytest.mark.parametrize("n", [0, -1])
def test_select_rejects_n_below_one(n):
    with pytest.raises(InputError, match="at least 1"):
        load_palette("perler").select(np.zeros((2, 2, 3)), n)


def test_select_is_deterministic():
    p = load_palette("artkal")
    rng = np.random.default_rng(5)
    img = rng.random((80, 80, 3))  # > max_samples unique colors: the sampling path
    a = p.select(img, 6, max_samples=300)
    b = p.select(img.copy(), 6, max_samples=300)
    assert a.codes == b.codes
    small = img[:30, :30]  # fewer unique colors than max_samples: no sampling
    assert p.select(small, 6).codes == p.select(small.copy(), 6).codes


def test_select_flat_image_picks_nearest():
    p = load_palette("perler")
    img = np.full((4, 4, 3), 0.5)
    s = p.select(img, 1)
    assert s.codes == (p.codes[int(p.nearest(np.array([0.5, 0.5, 0.5])))],)


def _unique_color_indices(p: Palette) -> np.ndarray:
    _, first = np.unique(p.rgb8, axis=0, return_index=True)
    return np.sort(first)


@pytest.mark.parametrize("name", ["perler", "lego", "dmc"])
def test_select_recovers_the_colors_an_image_is_made_of(name):
    p = load_palette(name)
    pool = _unique_color_indices(p)  # lego has two codes with the same RGB
    for seed in range(25):
        rng = np.random.default_rng(seed)
        k = int(rng.integers(1, 13))
        idx = rng.choice(pool, k, replace=False)
        cells = np.repeat(idx, rng.integers(1, 40, k))
        rng.shuffle(cells)
        img = p.rgb[cells].reshape(1, -1, 3)
        got = p.select(img, k)
        assert sorted(got.codes) == sorted(p.codes[i] for i in idx), (seed, k)


@HYP
@given(
    k=st.integers(1, 10),
    seed=st.integers(0, 2**32 - 1),
    name=st.sampled_from(["perler", "hama", "artkal"]),
)
def test_property_select_recovers_k_colors(k, seed, name):
    p = load_palette(name)
    rng = np.random.default_rng(seed)
    idx = rng.choice(_unique_color_indices(p), k, replace=False)
    img = p.rgb[np.repeat(idx, rng.integers(1, 30, k))]
    assert set(p.select(img, k).codes) == {p.codes[i] for i in idx}


# --- custom CSV --------------------------------------------------------------------------
GOOD_CSV = """\
# My palette
# from somewhere

code,name,hex,finish
1,"Red, bright",#FF0000,standard
2,Green,00ff00,neon

 3 , Blue , #00f ,glow
4,Short,#010203
"""


def test_custom_csv(tmp_path):
    p = load_palette(write(tmp_path, "mine.csv", GOOD_CSV))
    assert p.name == "mine" and p.title == "mine"
    assert p.codes == ("1", "2", "3", "4")
    assert p.names == ("Red, bright", "Green", "Blue", "Short")
    assert p.hexes == ("#FF0000", "#00FF00", "#0000FF", "#010203")
    assert p.columns == ("finish",)
    assert p.extra == ({"finish": "standard"}, {"finish": "neon"}, {"finish": "glow"}, {})
    assert p.source == "My palette\nfrom somewhere"
    assert len(p.where("finish", "NEON")) == 1


def test_custom_csv_with_bom_and_crlf(tmp_path):
    data = "\ufeffcode,name,hex\r\nA,Alpha,#123456\r\n".encode()
    p = load_palette(write(tmp_path, "bom.csv", data))
    assert p.codes == ("A",) and p.hexes == ("#123456",)


@pytest.mark.parametrize(
    "text, match",
    [
        ("# only a comment\n", "no header line"),
        ("", "no header line"),
        ("code,name\n1,a\n", "header must start with code,name,hex"),
        ("id,name,hex\n1,a,#000000\n", r"header must start with code,name,hex \(got 'id,name,hex'\)"),
        ("1,Red,#FF0000\n", "header must start with code,name,hex"),
        ("code,name,hex\n", "no colors found"),
        ("# c\ncode,name,hex\n1,Red,#FF0000\n,Blank,#000000\n", "line 4: empty code or name"),
        ("code,name,hex\n1,,#FF0000\n", "line 2: empty code or name"),
        ("# a\n# b\ncode,name,hex\n1,R,#FF0000\n2,G,#00FF00\n1,B,#0000FF\n", "line 6: color code '1' appears twice"),
        ("code,name,hex\n1,R,#FF0000\n\n2,G,#GG0000\n", "line 4: bad hex color '#GG0000'"),
        ("code,name,hex\n1,R,red\n", "line 2: bad hex color 'red'"),
        ("code,name,hex\n1,R,#FF00\n", "line 2: bad hex color"),
        ("code,name,hex\n1,R\n", "line 2: expected code,name,hex"),
    ],
)
def test_bad_csv(tmp_path, text, match):
    with pytest.raises(PaletteError, match=match):
        parse_csv(text, "t", "t.csv")
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(PaletteError, match=match) as info:
        load_palette(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_csv_error_names_the_file(tmp_path):
    path = write(tmp_path, "dup.csv", "code,name,hex\n1,a,#000000\n1,b,#000001\n")
    with pytest.raises(PaletteError, match=re.escape(f"{path} line 3")):
        load_palette(path)


def test_non_utf8_csv_names_the_line(tmp_path):
    data = b"code,name,hex\n1,Red,#FF0000\n2,Gr\xfcn,#00FF00\n"
    path = write(tmp_path, "latin.csv", data)
    with pytest.raises(PaletteError, match=re.escape(f"{path} line 3: not UTF-8")):
        load_palette(path)
    bom = write(tmp_path, "bom.csv", b"\xef\xbb\xbfcode,name,hex\n\xff,x,#000000\n")
    with pytest.raises(PaletteError, match="line 2: not UTF-8"):
        load_palette(bom)
    first = write(tmp_path, "first.csv", b"\xfe\xffcode")
    with pytest.raises(PaletteError, match="line 1: not UTF-8"):
        load_palette(first)


def test_csv_file_that_is_really_gimp(tmp_path):
    p = load_palette(write(tmp_path, "looks.csv", "GIMP Palette\n1 2 3 x\n"))
    assert rgb_list(p) == [(1, 2, 3)]


# --- GIMP .gpl ---------------------------------------------------------------------------
GOOD_GPL = """\
GIMP Palette
Name: Sweetie 16
Columns: 4
#
# a comment
  0   0   0\tBlack
255 255 255 White  Bright
 26  28  44
 26  28  44
 93  39  93\tBlack

"""


def test_gpl(tmp_path):
    p = load_palette(write(tmp_path, "sweet.gpl", GOOD_GPL))
    assert rgb_list(p) == [(0, 0, 0), (255, 255, 255), (26, 28, 44), (26, 28, 44), (93, 39, 93)]
    assert p.names == ("Black", "White  Bright", "#1A1C2C", "#1A1C2C", "Black")
    assert len(set(p.codes)) == len(p.codes)
    assert p.codes[:3] == ("Black", "White  Bright", "#1A1C2C")
    assert p.codes[4] == "Black (5)"
    assert "a comment" in p.source


def test_gpl_repeated_names_get_distinct_codes():
    text = "GIMP Palette\n1 1 1 a\n2 2 2 a (3)\n3 3 3 a\n4 4 4 a\n5 5 5 a (3)\n"
    p = parse_gpl(text, "x")
    assert len(set(p.codes)) == 5
    assert p.names == ("a", "a (3)", "a", "a", "a (3)")
    # the codes work in a pattern (which rejects repeated codes)
    from craftpix.pattern import Pattern

    Pattern(np.arange(5).reshape(1, 5), p.colors(), "beads", "x")


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "must start with 'GIMP Palette'"),
        ("0 0 0 Black\n", "must start with 'GIMP Palette'"),
        ("JASC-PAL\n0100\n", "must start with 'GIMP Palette'"),
        ("GIMP Palette\nName: x\n", "no colors found"),
        ("GIMP Palette\n0 0 0 a\n0 0 b\n", r"line 3: expected 'R G B name', got '0 0 b'"),
        ("GIMP Palette\n0 0\n", "line 2: expected 'R G B name'"),
        ("GIMP Palette\n0,0,0 a\n", "line 2: expected 'R G B name'"),
        ("GIMP Palette\n#x\n1 2 3x\n", "line 3: expected 'R G B name'"),
        ("GIMP Palette\n0 0 1000\n", "line 2: expected 'R G B name'"),
        ("GIMP Palette\n0 0 0\n0 256 0 green\n", "line 3: color values must be 0..255"),
        ("GIMP Palette\n999 0 0\n", "line 2: color values must be 0..255"),
    ],
)
def test_bad_gpl(tmp_path, text, match):
    with pytest.raises(PaletteError, match=match):
        parse_gpl(text, "t", "t.gpl")
    with pytest.raises(PaletteError, match=match):
        load_palette(write(tmp_path, "bad.gpl", text))


# --- .hex --------------------------------------------------------------------------------
def test_hex_lospec_style(tmp_path):
    text = "ff0000\n00FF00\n\n#0000ff\n  123abc  \n; comment\n# comment line\nff0000\n"
    p = load_palette(write(tmp_path, "lospec.hex", text))
    assert rgb_list(p) == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0x12, 0x3A, 0xBC)]
    assert p.codes == ("FF0000", "00FF00", "0000FF", "123ABC")
    assert p.names == ("#FF0000", "#00FF00", "#0000FF", "#123ABC")
    assert load_palette(write(tmp_path, "lospec.txt", text)).codes == p.codes


@pytest.mark.parametrize(
    "text, match",
    [
        ("ff0000\nnot a color\n", "line 2: expected RRGGBB, got 'not a color'"),
        ("ff00\n", "line 1: expected RRGGBB"),
        ("ff0000ff\n", "line 1: expected RRGGBB"),
        ("ff0000 red\n", "line 1: expected RRGGBB"),
        ("\n; nothing\n", "no colors found"),
    ],
)
def test_bad_hex(tmp_path, text, match):
    with pytest.raises(PaletteError, match=match):
        parse_hex(text, "t", "t.hex")
    with pytest.raises(PaletteError, match=match):
        load_palette(write(tmp_path, "bad.hex", text))


def test_palette_folder_is_not_a_palette(tmp_path):
    folder = tmp_path / "x.csv"
    folder.mkdir()
    with pytest.raises(PaletteError):
        load_palette(folder)


# --- property tests for the parsers ------------------------------------------------------
rgb8 = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


def _dedup(seq):
    return list(dict.fromkeys(seq))


@HYP
@given(
    colors=st.lists(rgb8, min_size=1, max_size=20),
    hashes=st.lists(st.booleans(), min_size=20, max_size=20),
    upper=st.lists(st.booleans(), min_size=20, max_size=20),
    blank_every=st.integers(0, 5),
    crlf=st.booleans(),
)
def test_property_hex_round_trip(colors, hashes, upper, blank_every, crlf):
    lines = []
    for i, (c, h, u) in enumerate(zip(colors, hashes, upper, strict=False)):
        s = "{:02x}{:02x}{:02x}".format(*c)
        lines.append(("#" if h else "") + (s.upper() if u else s))
        if blank_every and i % blank_every == 0:
            lines.append("  ")
    text = ("\r\n" if crlf else "\n").join(lines)
    p = parse_hex(text, "h")
    assert rgb_list(p) == _dedup(colors)


_gpl_name = st.text(
    alphabet=st.characters(blacklist_characters=LINE_BREAKS, blacklist_categories=("Cs",)),
    max_size=12,
)
_sep = st.sampled_from([" ", "  ", "\t", " \t "])


@HYP
@given(
    rows=st.lists(st.tuples(rgb8, _gpl_name, _sep, st.integers(0, 3)), min_size=1, max_size=15),
    header=st.booleans(),
)
def test_property_gpl_round_trip(rows, header):
    lines = ["GIMP Palette"]
    if header:
        lines += ["Name: generated", "Columns: 8", "#"]
    for (r, g, b), name, sep, pad in rows:
        lines.append(" " * pad + sep.join(str(v).rjust(3) for v in (r, g, b)) + sep + name)
    p = parse_gpl("\n".join(lines) + "\n", "g")
    assert rgb_list(p) == [r[0] for r in rows]
    want_names = [name.strip() or "#{:02X}{:02X}{:02X}".format(*rgb) for rgb, name, _, _ in rows]
    assert list(p.names) == want_names
    assert len(set(p.codes)) == len(p.codes)


_csv_field = st.text(
    alphabet=st.characters(
        blacklist_characters=LINE_BREAKS, blacklist_categories=("Cs", "Cc")
    ),
    min_size=1,
    max_size=10,
).filter(lambda s: s == s.strip() and s != "")


@HYP
@given(
    rows=st.lists(
        st.tuples(_csv_field, _csv_field, rgb8, st.one_of(st.just(""), _csv_field)),
        min_size=1,
        max_size=15,
        unique_by=lambda r: r[0],
    ),
    comments=st.lists(_csv_field.map(lambda s: "# " + s), max_size=3),
    hash_prefix=st.booleans(),
)
def test_property_csv_round_trip(rows, comments, hash_prefix):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "name", "hex", "note"])
    for code, name, rgb, note in rows:
        w.writerow([code, name, ("#" if hash_prefix else "") + "{:02X}{:02X}{:02X}".format(*rgb), note])
    text = "".join(c + "\n" for c in comments) + buf.getvalue()
    p = parse_csv(text, "c")
    assert list(p.codes) == [r[0] for r in rows]
    assert list(p.names) == [r[1] for r in rows]
    assert rgb_list(p) == [r[2] for r in rows]
    assert [e["note"] for e in p.extra] == [r[3] for r in rows]
    assert p.columns == ("note",)


_garbage_line = st.text(max_size=30) | st.sampled_from(
    ["code,name,hex", '"unterminated', "1,2", "0 0 0", "1 2 3 name", "GIMP Palette", "#", ";",
     "ffffff", "#fff", ",,,", '"a"b"', "\x00", "256 0 0", "\ufeff"]
)


@HYP
@given(prefix=st.sampled_from(["", "code,name,hex\n1,a,#000000\n", "GIMP Palette\n", "ffffff\n"]),
       lines=st.lists(_garbage_line, max_size=6))
def test_property_garbage_raises_only_palette_error(prefix, lines):
    text = prefix + "\n".join(lines)
    for parse in (parse_csv, parse_gpl, parse_hex):
        try:
            p = parse(text, "g")
        except PaletteError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert len(p) >= 1
            assert p.rgb8.shape == (len(p), 3)
            assert len(set(p.codes)) == len(p.codes)


_counter = itertools.count()


@HYP
@given(data=st.binary(max_size=60), suffix=st.sampled_from([".csv", ".gpl", ".hex", ".txt"]))
def test_property_garbage_files_raise_only_palette_error(data, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"g{next(_counter)}{suffix}"
        path.write_bytes(data)
        try:
            load_palette(path)
        except PaletteError as exc:
            assert "\n" not in str(exc)


# --- choose: per-image color count, indistinct colors ---------------------------------------
from craftpix.palette import DISTINCT, drop_indistinct, unique_colors  # noqa: E402


def test_choose_finds_the_colors_an_image_is_made_of():
    p = load_palette("perler")
    rng = np.random.default_rng(0)
    pick = [3, 17, 40, 66]
    img = p.rgb[rng.choice(pick, size=(20, 20))]
    got = p.choose(img)
    assert set(got.codes) == {p.codes[i] for i in pick}


def test_choose_caps_and_honours_n():
    p = load_palette("dmc")
    img = np.random.default_rng(1).random((30, 30, 3))
    assert len(p.choose(img, cap=7)) <= 7
    assert len(p.choose(img, n=5)) <= 5
    assert len(p.choose(np.full((5, 5, 3), 0.3))) == 1  # one more color never pays
    with pytest.raises(InputError):
        p.choose(img, n=0)


def test_choose_drops_indistinct_colors():
    p = load_palette("dmc")
    codes = list(p.codes)
    white = p.rgb[[codes.index("B5200"), codes.index("BLANC")]]
    img = np.concatenate([np.tile(white[0], (50, 1)), np.tile(white[1], (50, 1))])
    got = p.choose(img, n=2)
    assert len(got) == 1 and got.codes[0] in ("B5200", "BLANC")


def test_drop_indistinct_keeps_colors_the_image_needs():
    lab = np.array([[50.0, 0, 0], [51.5, 0, 0], [90.0, 0, 0]])
    # pixels sit exactly on the two close colors, far from the third: dropping costs 1.5 each
    d = np.array([[0.0, 1.5, 40.0], [1.5, 0.0, 40.0]])
    w = np.array([1.0, 1.0])
    assert drop_indistinct(d, w, [0, 1, 2], lab) in ([1, 2], [0, 2])
    assert drop_indistinct(d, w, [0, 1, 2], lab, need=1.0) == [0, 1, 2]
    assert DISTINCT == 2.5


def test_unique_colors_groups_and_weights():
    img = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    colors, w, inv = unique_colors(img, return_inverse=True)
    assert len(colors) == 2 and sorted(w.tolist()) == [1.0, 2.0]
    assert np.allclose(colors[inv], img)
    many = np.random.default_rng(0).random((5000, 3))
    colors, w = unique_colors(many, max_colors=300)
    assert len(colors) <= 300 and w.sum() == 5000
