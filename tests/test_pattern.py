"""Pattern: JSON round-trip, counts, compact, symbols, and errors for hand-edited files."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from craftpix import fileio
from craftpix.errors import InputError
from craftpix.media import MEDIA
from craftpix.pattern import (
    FORMAT,
    SYMBOLS,
    VERSION,
    Color,
    Pattern,
    PatternError,
    pattern_from_indices,
)

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=60)

PALETTE = [
    Color("80-19001", "White", "#F1F1F1"),
    Color("80-19018", "Black", "#2E2F32"),
    Color("80-19005", "Red", "#BF2E40"),
    Color("80-19009", "Dark Blue", "#2B3F87"),
]


def make(cells=None, palette=None, medium="beads", brand="perler", meta=None) -> Pattern:
    if cells is None:
        cells = [[0, 1, 1], [2, 1, 0]]
    return Pattern(np.array(cells), list(palette or PALETTE), medium, brand, dict(meta or {}))


def valid_dict() -> dict:
    return json.loads(make(meta={"prompt": "a fox", "seed": 3}).to_json())


def assert_same(a: Pattern, b: Pattern) -> None:
    assert np.array_equal(a.cells, b.cells)
    assert a.cells.dtype == np.int64 and b.cells.dtype == np.int64
    assert a.palette == b.palette
    assert (a.medium, a.brand, a.meta) == (b.medium, b.brand, b.meta)


# --- round trip ---------------------------------------------------------------------------------
def test_to_dict_follows_schema():
    p = make(meta={"prompt": "x"})
    d = p.to_dict()
    assert d["format"] == FORMAT == "craftpix.pattern"
    assert d["version"] == VERSION == 1
    assert (d["width"], d["height"]) == (3, 2)
    assert d["medium"] == "beads" and d["brand"] == "perler"
    assert d["palette"][0] == {"code": "80-19001", "name": "White", "hex": "#F1F1F1"}
    assert d["cells"] == [[0, 1, 1], [2, 1, 0]]
    assert d["meta"] == {"prompt": "x"}


def test_to_json_is_valid_json_equal_to_dict_and_one_row_per_line():
    p = make(meta={"prompt": "ünïcode ✓", "nested": {"a": [1, 2]}})
    text = p.to_json()
    assert json.loads(text) == p.to_dict()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[lines.index('"cells": [') + 1 :][:3] == ["[0,1,1],", "[2,1,0]", "]"]
    assert text.endswith("}\n")
    assert "ünïcode ✓" in text  # written as UTF-8, not escaped


def test_json_round_trip():
    p = make(meta={"prompt": "a fox", "seed": 7, "steps": [1, 2.5, None], "ok": True})
    q = Pattern.from_json(p.to_json())
    assert_same(p, q)


def test_round_trip_with_empty_meta_and_pinned_symbol():
    pal = [Color("1", "a", "#000000", symbol="@"), Color("2", "b", "#FFFFFF")]
    p = make([[0, 1]], pal, medium="bricks", brand="lego")
    q = Pattern.from_json(p.to_json())
    assert_same(p, q)
    assert q.palette[0].symbol == "@" and q.palette[1].symbol is None
    assert "symbol" not in p.to_dict()["palette"][1]


def test_save_and_load(tmp_path):
    p = make(meta={"prompt": "héllo"})
    out = p.save(tmp_path / "pattern.json")
    assert out == tmp_path / "pattern.json"
    assert_same(p, Pattern.load(out))
    assert Pattern.load(str(out)).width == 3
    assert [f.name for f in tmp_path.iterdir()] == ["pattern.json"]


def test_save_overwrites(tmp_path):
    path = tmp_path / "pattern.json"
    make().save(path)
    p2 = make([[3]])
    p2.save(path)
    assert_same(p2, Pattern.load(path))


def test_from_dict_normalizes_hex_and_defaults():
    d = valid_dict()
    d["palette"][0]["hex"] = "f1f1f1"
    d["palette"][1]["hex"] = "#abc"
    del d["meta"]
    del d["format"]
    del d["version"]
    p = Pattern.from_dict(d)
    assert p.palette[0].hex == "#F1F1F1"
    assert p.palette[1].hex == "#AABBCC"
    assert p.meta == {}


def test_width_height_properties():
    p = make(np.zeros((5, 7), dtype=np.uint8))
    assert (p.width, p.height) == (7, 5)
    assert p.cells.dtype == np.int64


# --- counts, compact, rgb8 -------------------------------------------------------------------
def test_counts():
    p = make([[0, 1, 1], [2, 1, 0]])
    assert p.counts().tolist() == [2, 3, 1, 0]
    assert p.counts().sum() == p.width * p.height


def test_compact_orders_by_count_and_reindexes():
    # counts: 0 -> 1, 1 -> 0 (unused), 2 -> 5, 3 -> 3
    cells = [[2, 2, 3], [2, 0, 3], [2, 3, 2]]
    p = make(cells, meta={"k": 1})
    c = p.compact()
    assert [col.code for col in c.palette] == ["80-19005", "80-19009", "80-19001"]
    assert c.counts().tolist() == [5, 3, 1]
    # every cell keeps its color
    assert np.array_equal(c.rgb8(), p.rgb8())
    assert c.cells.tolist() == [[0, 0, 1], [0, 2, 1], [0, 1, 0]]
    assert c.meta == {"k": 1} and c.meta is not p.meta
    assert (c.medium, c.brand) == (p.medium, p.brand)


def test_compact_ties_keep_palette_order():
    p = make([[3, 1], [1, 3]])
    assert [c.code for c in p.compact().palette] == [PALETTE[1].code, PALETTE[3].code]


def test_compact_is_idempotent():
    c = make([[3, 3, 0]]).compact()
    cc = c.compact()
    assert_same(c, cc)


def test_pattern_from_indices_is_compact():
    cells = np.array([[5, 5], [1, 5]])
    codes = [str(i) for i in range(6)]
    hexes = [f"#{i:02X}0000" for i in range(6)]
    p = pattern_from_indices(cells, codes, codes, hexes, "stitch", "dmc", {"a": 1})
    assert [c.code for c in p.palette] == ["5", "1"]
    assert p.cells.tolist() == [[0, 0], [1, 0]]
    assert p.meta == {"a": 1}


def test_rgb8():
    p = make([[0, 1], [2, 3]])
    img = p.rgb8()
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8
    assert img[0, 0].tolist() == [0xF1, 0xF1, 0xF1]
    assert img[0, 1].tolist() == [0x2E, 0x2F, 0x32]
    assert img[1, 0].tolist() == [0xBF, 0x2E, 0x40]
    assert img[1, 1].tolist() == [0x2B, 0x3F, 0x87]


def test_color_rgb8():
    assert Color("x", "x", "#0A0B0C").rgb8 == (10, 11, 12)


# --- symbols ---------------------------------------------------------------------------------
def many_colors(n: int, prefix: str = "") -> list[Color]:
    return [Color(f"{prefix}{i}", f"c{i}", f"#{(i * 2654435761) % 0xFFFFFF:06X}") for i in range(n)]


def grid_for(n: int) -> np.ndarray:
    return np.arange(n).reshape(1, n)


def test_symbols_distinct_and_from_alphabet():
    p = make([[0, 1, 2, 3]])
    syms = p.symbols()
    assert len(syms) == 4 and len(set(syms)) == 4
    assert all(s in SYMBOLS for s in syms)


def test_symbols_deterministic():
    assert make().symbols() == make().symbols()


def test_symbols_stable_across_patterns():
    # The same brand+code keeps its symbol in a different pattern (different palette, order,
    # counts) unless it clashes.
    a = make([[0, 1, 2, 3]], PALETTE)
    pal_b = [PALETTE[2], Color("80-19070", "Other", "#123456"), PALETTE[0]]
    b = make([[0, 0, 1, 2]], pal_b)
    sa = dict(zip([c.code for c in a.palette], a.symbols(), strict=True))
    sb = dict(zip([c.code for c in b.palette], b.symbols(), strict=True))
    for code in ("80-19005", "80-19001"):
        assert sa[code] == sb[code]


def alone(col: Color, brand: str = "perler") -> str:
    return make([[0]], [col], brand=brand).symbols()[0]


def test_symbol_depends_on_brand_and_code_only():
    col = PALETTE[0]
    assert alone(col) == alone(Color(col.code, "renamed", "#000000"))
    assert alone(col) == make([[0, 0, 0]], [col]).symbols()[0]
    # some brand gives the same code another symbol
    assert len({alone(col, brand=f"b{i}") for i in range(10)}) > 1


def test_colors_without_clash_get_their_own_symbol():
    # The preferred symbols of these four codes differ, so each keeps its own.
    prefs = [alone(c) for c in PALETTE]
    assert len(set(prefs)) == len(prefs)
    assert make([[0, 1, 2, 3]]).symbols() == prefs
    assert make([[3, 3, 3, 1]]).symbols() == prefs


def test_pinned_symbols_respected_and_not_reused():
    pinned = [Color(c.code, c.name, c.hex, symbol=s) for c, s in zip(PALETTE[:2], "XY", strict=True)]
    pal = pinned + many_colors(60)
    p = make(grid_for(len(pal)), pal)
    syms = p.symbols()
    assert syms[:2] == ["X", "Y"]
    assert len(set(syms)) == len(syms)
    assert syms.count("X") == 1 and syms.count("Y") == 1


def test_pinned_symbol_outside_alphabet():
    pal = [Color("a", "a", "#000000", symbol="☃"), Color("b", "b", "#FFFFFF")]
    assert make([[0, 1]], pal).symbols()[0] == "☃"


def test_duplicate_pinned_symbols_rejected():
    pal = [Color("a", "a", "#000000", symbol="X"), Color("b", "b", "#FFFFFF", symbol="X")]
    with pytest.raises(PatternError, match="symbol 'X'"):
        make([[0, 1]], pal)
    d = valid_dict()
    d["palette"][0]["symbol"] = "X"
    d["palette"][2]["symbol"] = "X"
    with pytest.raises(PatternError, match=r"entry 2.*symbol 'X'"):
        Pattern.from_dict(d)


def test_most_used_color_keeps_preferred_symbol_on_clash():
    # Find two codes whose preferred symbols clash; the more used one gets it.
    alone = {}
    for i in range(400):
        sym = make([[0]], [Color(f"k{i}", "n", "#000000")]).symbols()[0]
        if sym in alone:
            j = alone[sym]
            break
        alone[sym] = i
    else:  # pragma: no cover - 400 codes into 83 slots always clash
        pytest.fail("no clash found")
    pal = [Color(f"k{j}", "n", "#000000"), Color(f"k{i}", "n", "#FFFFFF")]
    first_more = make([[0, 0, 1]], pal).symbols()
    second_more = make([[0, 1, 1]], pal).symbols()
    assert first_more[0] == sym and first_more[1] != sym
    assert second_more[1] == sym and second_more[0] != sym


def test_symbol_alphabet_has_no_repeats():
    # a repeated symbol would leave fewer free slots than colors (and symbols() would spin)
    assert len(set(SYMBOLS)) == len(SYMBOLS)
    assert all(s.strip() for s in SYMBOLS)


N_TWO_CHAR = len(SYMBOLS) + 20 * 8  # single symbols, then 20 × 8 two-character ones


@pytest.mark.parametrize("n", [len(SYMBOLS), len(SYMBOLS) + 1, N_TWO_CHAR, N_TWO_CHAR + 1, 600])
def test_symbols_for_large_palettes(n):
    pal = many_colors(n)
    p = make(grid_for(n), pal, medium="stitch", brand="dmc")
    syms = p.symbols()
    assert len(syms) == n
    assert len(set(syms)) == n
    assert all(isinstance(s, str) and s.strip() and len(s) <= 3 for s in syms)


def test_symbols_large_palette_with_pins():
    n = 300
    pal = [Color("p0", "p", "#000000", symbol="X"), Color("p1", "p", "#000001", symbol="X2")]
    pal += many_colors(n - 2)
    syms = make(grid_for(n), pal).symbols()
    assert syms[:2] == ["X", "X2"] and len(set(syms)) == n


# --- construction errors ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "cells, match",
    [
        (np.zeros((0, 3), dtype=int), "non-empty 2-D"),
        (np.zeros(3, dtype=int), "non-empty 2-D"),
        (np.zeros((2, 2)), "integer"),
        (np.array([[0, 4]]), "index 4"),
        (np.array([[0, -2]]), "index -2"),
        (np.array([[-1, -1]]), "every cell is an empty cell"),
    ],
)
def test_constructor_rejects_bad_cells(cells, match):
    with pytest.raises(PatternError, match=match):
        make(cells)


def test_constructor_rejects_bad_palette_and_medium():
    with pytest.raises(PatternError, match="empty"):
        Pattern(np.zeros((1, 1), dtype=int), [], "beads", "perler")
    with pytest.raises(PatternError, match="unknown medium"):
        make(medium="knitting")
    with pytest.raises(PatternError, match="twice"):
        make([[0]], [PALETTE[0], PALETTE[0]])


def test_pattern_error_is_input_error():
    assert issubclass(PatternError, InputError)


# --- malformed / hand-edited files -------------------------------------------------------
def mutate(fn):
    d = valid_dict()
    fn(d)
    return json.dumps(d)


def _del(key):
    return lambda d: d.pop(key)


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _pal(i, key, value):
    return lambda d: d["palette"][i].__setitem__(key, value)


def _cell(r, c, value):
    return lambda d: d["cells"][r].__setitem__(c, value)


BAD = [
    ("wrong format", _set("format", "something.else"), "not a craftpix pattern"),
    ("wrong version", _set("version", 2), "version 2"),
    ("missing medium", _del("medium"), "missing key 'medium'"),
    ("missing brand", _del("brand"), "missing key 'brand'"),
    ("missing width", _del("width"), "missing key 'width'"),
    ("missing height", _del("height"), "missing key 'height'"),
    ("missing palette", _del("palette"), "missing key 'palette'"),
    ("missing cells", _del("cells"), "missing key 'cells'"),
    ("bad medium", _set("medium", "knitting"), "'medium' must be one of"),
    ("medium not str", _set("medium", 3), "'medium' must be one of"),
    ("empty brand", _set("brand", ""), "'brand'"),
    ("brand not str", _set("brand", ["perler"]), "'brand'"),
    ("width too big", _set("width", 4), "row 0 must hold 4 entries"),
    ("width too small", _set("width", 2), "row 0 must hold 2 entries"),
    ("height too big", _set("height", 3), "must hold 3 rows"),
    ("height too small", _set("height", 1), "must hold 1 rows"),
    ("width zero", _set("width", 0), "'width' must be a positive integer"),
    ("width str", _set("width", "3"), "'width' must be a positive integer"),
    ("width float", _set("width", 3.0), "'width' must be a positive integer"),
    ("width bool", _set("width", True), "'width' must be a positive integer"),
    ("height bool", _set("height", True), "'height' must be a positive integer"),
    ("cells not list", _set("cells", "0,1"), "'cells' must hold 2 rows"),
    ("row not list", lambda d: d["cells"].__setitem__(1, 5), "row 1 must hold 3 entries"),
    ("ragged row", lambda d: d["cells"][1].append(0), "row 1 must hold 3 entries"),
    ("index too big", _cell(1, 2, 4), "row 1 column 2 is 4"),
    ("index negative", _cell(0, 1, -1), "row 0 column 1 is -1"),
    ("index float", _cell(0, 0, 1.0), "row 0 column 0 is 1.0"),
    ("index str", _cell(0, 0, "1"), "row 0 column 0 is '1'"),
    ("index bool", _cell(1, 0, True), "row 1 column 0 is True"),
    ("palette empty", _set("palette", []), "'palette' must be a non-empty list"),
    ("palette not list", _set("palette", {"a": 1}), "'palette' must be a non-empty list"),
    ("entry not dict", lambda d: d["palette"].__setitem__(1, "black"), "entry 1 must be an object"),
    ("missing hex", lambda d: d["palette"][2].pop("hex"), "entry 2 needs a non-empty string 'hex'"),
    ("missing code", lambda d: d["palette"][0].pop("code"), "entry 0 needs a non-empty string 'code'"),
    ("empty name", _pal(3, "name", "  "), "entry 3 needs a non-empty string 'name'"),
    ("code not str", _pal(1, "code", 19018), "entry 1 needs a non-empty string 'code'"),
    ("bad hex", _pal(1, "hex", "#GGGGGG"), "entry 1 \\(80-19018\\) has a bad hex color '#GGGGGG'"),
    ("short hex", _pal(0, "hex", "#12345"), "bad hex color '#12345'"),
    ("hex not str", _pal(0, "hex", 0xF1F1F1), "needs a non-empty string 'hex'"),
    ("duplicate code", _pal(2, "code", "80-19001"), "'80-19001' twice"),
    ("empty symbol", _pal(0, "symbol", " "), "entry 0 has an empty 'symbol'"),
    ("symbol not str", _pal(0, "symbol", 5), "entry 0 has an empty 'symbol'"),
    ("meta list", _set("meta", [1, 2]), "'meta' must be a JSON object"),
    ("meta str", _set("meta", "prompt"), "'meta' must be a JSON object"),
    ("meta null", _set("meta", None), "'meta' must be a JSON object"),
]


@pytest.mark.parametrize("label, fn, match", BAD, ids=[b[0] for b in BAD])
def test_malformed_json_names_the_problem(label, fn, match):
    with pytest.raises(PatternError, match=match) as info:
        Pattern.from_json(mutate(fn), source="my.json")
    msg = str(info.value)
    assert msg.startswith("my.json: ")
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("this is not json", "not valid JSON .* line 1"),
        ('{"format": "craftpix.pattern",\n "width": 3,,}', "not valid JSON .* line 2"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('"pattern"', "expected a JSON object"),
        ("null", "expected a JSON object"),
    ],
)
def test_not_json_or_not_object(text, match):
    with pytest.raises(PatternError, match=match):
        Pattern.from_json(text)


def test_from_dict_rejects_non_dict():
    with pytest.raises(PatternError, match="JSON object"):
        Pattern.from_dict([])


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(PatternError, match="does not exist"):
        Pattern.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(PatternError, match=re.escape(f"{bad}: not valid JSON")):
        Pattern.load(bad)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PatternError, match="cannot read pattern file"):
        Pattern.load(binary)
    with pytest.raises(PatternError, match="cannot read pattern file"):
        Pattern.load(tmp_path)  # a folder
    edited = tmp_path / "edited.json"
    edited.write_text(mutate(_cell(0, 0, 9)), encoding="utf-8")
    with pytest.raises(PatternError, match=re.escape(f"{edited}: 'cells' row 0 column 0 is 9")):
        Pattern.load(edited)


# --- atomic save -------------------------------------------------------------------------
def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "pattern.json"
    old = make()
    old.save(path)
    before = path.read_bytes()

    real_write_bytes = type(path).write_bytes

    def half_write(self, data):
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(path), "write_bytes", half_write)
    with pytest.raises(OSError, match="No space"):
        make([[3, 3]]).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["pattern.json"]
    assert_same(old, Pattern.load(path))


def test_save_is_atomic_when_serialization_fails(tmp_path):
    path = tmp_path / "pattern.json"
    make().save(path)
    before = path.read_bytes()
    bad = make(meta={"not json": object()})
    with pytest.raises(TypeError):
        bad.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["pattern.json"]


def test_save_is_atomic_when_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "pattern.json"
    make().save(path)
    before = path.read_bytes()

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        make([[3]]).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["pattern.json"]


# --- property test -----------------------------------------------------------------------
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
_json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10) | st.floats(
    allow_nan=False, allow_infinity=False
)
_meta = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        _json_scalar,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)


@st.composite
def patterns(draw):
    n = draw(st.integers(1, 12))
    codes = draw(st.lists(_text, min_size=n, max_size=n, unique=True))
    names = draw(st.lists(_text, min_size=n, max_size=n))
    rgbs = draw(st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=n, max_size=n))
    syms = draw(st.lists(st.none() | _text, min_size=n, max_size=n))
    seen: set[str] = set()
    palette = []
    for code, name, rgb, sym in zip(codes, names, rgbs, syms, strict=True):
        if sym is not None and sym in seen:
            sym = None
        if sym is not None:
            seen.add(sym)
        palette.append(Color(code, name, "#{:02X}{:02X}{:02X}".format(*rgb), sym))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    cells = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=w, max_size=w), min_size=h, max_size=h))
    medium = draw(st.sampled_from(sorted(MEDIA)))
    brand = draw(_text)
    meta = draw(_meta)
    return Pattern(np.array(cells, dtype=np.int64), palette, medium, brand, meta)


@HYP
@given(patterns())
def test_property_json_round_trip_is_exact(p):
    text = p.to_json()
    q = Pattern.from_json(text)
    assert_same(p, q)
    assert q.to_json() == text
    syms = q.symbols()
    assert len(set(syms)) == len(q.palette)
    assert syms == p.symbols()
