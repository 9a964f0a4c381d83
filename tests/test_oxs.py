"""OXS (Open Cross Stitch): the writer, the reader of received files, and the round trip."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from craftpix import oxs_import
from craftpix.api import import_pattern
from craftpix.cli import main
from craftpix.errors import InputError
from craftpix.export import export_pattern
from craftpix.export.backstitch import plan_backstitch
from craftpix.export.oxs import oxs_document, oxs_number, xml_attr
from craftpix.oxs_import import chart_to_pattern, parse_oxs, split_number
from craftpix.palette import load_palette
from craftpix.pattern import Color, Pattern

DMC = load_palette("dmc")
LONG = os.environ.get("CRAFTPIX_FUZZ") == "long"


def budget(n: int) -> settings:
    return settings(max_examples=20 * n if LONG else n, derandomize=not LONG, deadline=None,
                    database=None, suppress_health_check=[HealthCheck.too_slow,
                                                          HealthCheck.data_too_large])


def dmc(*codes: str) -> list[Color]:
    return [Color(c, DMC.names[DMC.codes.index(c)], DMC.hexes[DMC.codes.index(c)]) for c in codes]


def heart() -> Pattern:
    """A red heart with a white patch on bare cloth: strong edges all round, empty cells."""
    cells = np.full((9, 11), -1, dtype=np.int64)
    rows = ["..XX...XX..", ".XXXX.XXXX.", "XXXXXXXXXXX", "XXWWXXXXXXX", "XXWWXXXXXXX",
            ".XXXXXXXXX.", "..XXXXXXX..", "...XXXXX...", "....XXX...."]
    for r, line in enumerate(rows):
        for c, ch in enumerate(line):
            cells[r, c] = {"X": 0, "W": 1}.get(ch, -1)
    return Pattern(cells, dmc("321", "BLANC"), "stitch", "dmc", {"image": "heart.png"})


def read(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


# --- the writer -------------------------------------------------------------------------------
def test_writer_follows_the_format(tmp_path: Path) -> None:
    p = heart()
    res = export_pattern(p, tmp_path, formats="oxs", backstitch="auto", pdf=False, preview=False,
                         orders=False, fabric_count=18)
    assert tmp_path / "pattern.oxs" in res.paths
    text = (tmp_path / "pattern.oxs").read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = read(text)
    assert root.tag == "chart"
    tags = [c.tag for c in root]
    for mandatory in ("properties", "palette", "fullstitches", "backstitches"):
        assert tags.count(mandatory) == 1, mandatory
    props = root.find("properties").attrib
    assert props["chartwidth"] == "11" and props["chartheight"] == "9"
    assert props["stitchesperinch"] == props["stitchesperinch_y"] == "18"
    assert props["oxsversion"] == "1.0" and props["software"] == "craftpix"
    assert props["charttitle"] == "heart.png"
    items = root.find("palette").findall("palette_item")
    # index 0 is the cloth, then every pattern color (the outline thread 310 joined the palette)
    assert items[0].get("index") == "0" and items[0].get("number") == "cloth"
    assert int(props["palettecount"]) == len(items) - 1 == len(p.palette) == 3
    assert [i.get("number") for i in items[1:]] == ["DMC    321", "DMC  BLANC", "DMC    310"]
    assert all(len(i.get("color")) == 6 and not i.get("color").startswith("#") for i in items)
    assert items[1].get("color") == p.palette[0].hex.lstrip("#").upper()
    assert [chr(int(i.get("symbol"))) for i in items[1:]] == p.symbols()
    assert [i.get("symbol_courier") for i in items[1:]] == p.symbols()
    assert all(i.get("strands") == "2" and i.get("bsstrands") == "1" for i in items[1:])
    # full stitches count from 0, x across, y down; one per stitched cell
    st_ = [(int(s.get("x")), int(s.get("y")), int(s.get("palindex")))
           for s in root.find("fullstitches")]
    assert len(st_) == int((p.cells >= 0).sum())
    assert min(x for x, _, _ in st_) == 0 and max(x for x, _, _ in st_) == 10
    assert min(y for _, y, _ in st_) == 0 and max(y for _, y, _ in st_) == 8
    assert all(p.cells[y, x] == k - 1 for x, y, k in st_)
    assert (2, 0, 1) in st_ and (0, 0, 1) not in st_  # row 0 starts with two empty cells
    # backstitch: one unit cell edge per element, on the corner lattice, in the thread's index
    _, bs = plan_backstitch(p)
    back = root.find("backstitches").findall("backstitch")
    assert len(back) == bs.segments
    for b in back:
        x1, y1, x2, y2 = (int(b.get(k)) for k in ("x1", "y1", "x2", "y2"))
        assert abs(x1 - x2) + abs(y1 - y2) == 1
        assert 0 <= min(x1, x2) and max(x1, x2) <= 11 and 0 <= min(y1, y2) and max(y1, y2) <= 9
        assert b.get("palindex") == "3" and b.get("objecttype") == "backstitch"


def test_number_and_attribute_text() -> None:
    assert oxs_number("dmc", "310") == "DMC    310"  # as Ursa writes it: code right-aligned
    assert oxs_number("dmc", "3865") == "DMC   3865"
    assert split_number(oxs_number("dmc", "B5200")) == ("dmc", "B5200")
    assert xml_attr('a "b" <c> & d\n\x01') == "a &quot;b&quot; &lt;c&gt; &amp; d&#10;"
    tabbed = xml_attr("tab\there")
    assert ET.fromstring(f'<x t="{tabbed}"/>').get("t") == "tab\there"


def test_the_writer_refuses_another_craft() -> None:
    beads = Pattern(np.zeros((2, 2), dtype=np.int64), [Color("P01", "White", "#FFFFFF")],
                    "beads", "perler")
    with pytest.raises(ValueError):
        oxs_document(beads, fabric_count=14, strands=2)
    with pytest.raises(InputError, match="oxs is an OXS cross-stitch chart"):
        export_pattern(beads, Path("unused"), formats="oxs")


# --- the round trip ---------------------------------------------------------------------------
def test_round_trip_cells_palette_and_backstitch(tmp_path: Path) -> None:
    """write → import → identical cells, palette (symbols too) and backstitch; written again,
    the file is byte for byte the same."""
    p = heart()
    export_pattern(p, tmp_path / "a", formats="oxs", backstitch="auto", pdf=False,
                   preview=False, orders=False)
    first = (tmp_path / "a" / "pattern.oxs").read_bytes()
    saved = Pattern.load(tmp_path / "a" / "pattern.json")
    res = import_pattern(tmp_path / "a" / "pattern.oxs", tmp_path / "b",
                         export={"formats": "oxs", "pdf": False})
    back = Pattern.load(tmp_path / "b" / "pattern.json")
    assert np.array_equal(back.cells, saved.cells)
    assert back.palette == saved.palette  # codes, names, hex and pinned symbols
    assert back.settings["backstitch"] == "auto" and back.settings["backstitch_color"] == "310"
    _, bs1 = plan_backstitch(saved, "310")
    _, bs2 = plan_backstitch(back, "310")
    assert np.array_equal(bs1.h, bs2.h) and np.array_equal(bs1.v, bs2.v)
    assert (tmp_path / "b" / "pattern.oxs").read_bytes() == first
    assert not any("backstitch lines are not imported" in n for n in res.notes)


@st.composite
def patterns(draw) -> Pattern:
    w, h = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    codes = draw(st.lists(st.sampled_from(DMC.codes), min_size=1, max_size=6, unique=True))
    cells = np.array(draw(st.lists(st.integers(-1, len(codes) - 1), min_size=w * h,
                                   max_size=w * h)), dtype=np.int64).reshape(h, w)
    if not (cells >= 0).any():
        cells[0, 0] = 0
    p = Pattern(cells, dmc(*codes), "stitch", "dmc").compact()
    return p.with_symbols()


@budget(40)
@given(patterns(), st.sampled_from((11, 14, 16, 18)), st.booleans())
def test_round_trip_any_pattern(p: Pattern, count: int, outline: bool) -> None:
    bs = None
    if outline:
        p, bs = plan_backstitch(p)
        p = p.with_symbols()
    text = oxs_document(p, fabric_count=count, strands=2, backstitch=bs)
    back, notes = chart_to_pattern(parse_oxs(text.encode()), DMC, "dmc")
    assert np.array_equal(back.cells, p.cells)
    used = set(int(i) for i in np.unique(p.cells) if i >= 0)
    keep = [c for i, c in enumerate(p.palette) if i in used or (bs is not None and i == bs.color)]
    assert back.palette == keep
    assert back.settings["fabric_count"] == count
    assert (back.settings.get("backstitch") == "auto") == (bs is not None)


# --- files of other programs, and one written by hand from the spec ---------------------------
HAND_WRITTEN = """<?xml version="1.0" encoding="UTF-8"?>
<chart>
<format comments01="written by hand from the OXS description"/>
<properties oxsversion="1.0" software="Hand" chartheight="4" chartwidth="5" charttitle="Tiny"
  author="Someone" stitchesperinch="28" stitchesperinch_y="28" palettecount="5" misc1="x"/>
<palette>
<palette_item index="0" number="cloth" name="cloth" color="F0F0E0"/>
<palette_item index="1" number="DMC    310" name="Black" color="000000" strands="2" symbol="100"/>
<palette_item index="2" number="DMC 666" name="Bright Red" color="E31D42" strands="2"/>
<palette_item index="3" number="Anchor 403" name="Black" color="1E1E1E" strands="2"/>
<palette_item index="4" number="  BLANC" name="White" color="FCFBF8"/>
<palette_item index="5" number="DMC 158 [+]" name="blend" color="303065" blendcolor="824596"/>
</palette>
<fullstitches>
<stitch x="0" y="0" palindex="1"/>
<stitch x="4" y="0" palindex="2"/>
<stitch x="1" y="1" palindex="3"/>
<stitch x="2" y="1" palindex="4"/>
<stitch x="3" y="3" palindex="5" marked="true"/>
<stitch x="2" y="2" palindex="0"/>
<stitch x="9" y="9" palindex="1"/>
<stitch x="0" y="1" palindex="77"/>
</fullstitches>
<partstitches>
<partstitch x="0" y="3" palindex1="2" palindex2="0" direction="2"/>
<partstitch x="0" y="0" palindex1="2" palindex2="0" direction="3"/>
</partstitches>
<backstitches>
<backstitch x1="0" x2="1" y1="0" y2="1" palindex="1" objecttype="backstitch" sequence="0"/>
</backstitches>
<ornaments_inc_knots_and_beads>
<object x1="2" y1="3.5" palindex="1" objecttype="knot"/>
</ornaments_inc_knots_and_beads>
<some_future_section><thing/></some_future_section>
</chart>
"""


def test_a_chart_written_by_hand_from_the_spec() -> None:
    chart = parse_oxs(HAND_WRITTEN.encode(), "tiny.oxs")
    p, notes = chart_to_pattern(chart, DMC, "dmc", "tiny.oxs")
    assert (p.width, p.height) == (5, 4)
    code = {(r, c): p.palette[int(p.cells[r, c])].code
            for r in range(4) for c in range(5) if p.cells[r, c] >= 0}
    assert code[(0, 0)] == "310" and code[(0, 4)] == "666" and code[(1, 2)] == "BLANC"
    assert code[(1, 1)] == "310"  # Anchor 403 (a black) takes the nearest DMC color
    assert code[(3, 0)] == "666"  # a three-quarter stitch in an empty cell: a full cross
    assert code[(3, 3)] not in ("158", "310")  # a blend: nearest to its mixed color
    assert (2, 2) not in code  # palindex 0 is the cloth: no stitch
    assert len(code) == 6  # the half stitch at (0, 0) is under a full cross: no change
    assert p.settings["fabric_count"] == 14  # 28 count worked over two
    assert p.meta["title"] == "Tiny"
    text = " ".join(notes)
    assert "1 half or three-quarter stitch became a full cross" in text
    assert "1 knot, bead or other ornament is not imported" in text
    assert "1 backstitch line is not imported" in text  # a diagonal: not a cell edge
    assert "outside the 5×4 chart" in text and "undefined color" in text
    assert "nearest DMC color" in text
    assert "stand for more than one" in text  # 310 and Anchor 403 are now one color
    assert all(c.symbol is None for c in p.palette)  # "100" indexes another program's font


def test_quirks_of_real_files() -> None:
    """XSPro Platinum: numbers without a brand ("  310"), a decimal comma, a second item of the
    same floss for backstitch, its own print section; no chart size given."""
    text = """<?xml version="1.0" encoding="UTF-8"?><chart>
    <properties oxsversion="1.0" software="DP Software" stitchesperinch="14"/>
    <palette filename="DMC.rng"><palette_item index="0" number="cloth" name="cloth" color="FFFFFF"/>
    <palette_item index="1" number="  310" name="Black" color="212121" bsstrands="1"/>
    <palette_item index="2" number="  310" name="Black" color="212121" bsstrands="2"/>
    <palette_item index="3" number="  ECRU" name="Ecru" color="F0EADA"/></palette>
    <fullstitches><stitch x="3" y="1" palindex="1"/><stitch x="0" y="0" palindex="2"/>
    <stitch x="1" y="0" palindex="3"/></fullstitches><partstitches/>
    <ornaments_inc_knots_and_beads><object objecttype="knot" palindex="1" x1="1" y1="0,5"/>
    </ornaments_inc_knots_and_beads><backstitches/><xsp_print pageindex="4"/></chart>"""
    p, notes = chart_to_pattern(parse_oxs(text.encode()), DMC, "dmc")
    assert (p.width, p.height) == (4, 2)  # the extent of its stitches
    assert [c.code for c in p.palette] == ["310", "ECRU"]
    assert p.cells[1, 3] == p.cells[0, 0] == 0 and p.palette[p.cells[0, 1]].code == "ECRU"
    assert any("no chart size" in n for n in notes)


# --- a received file is a parser's input ------------------------------------------------------
@pytest.mark.parametrize("doc,match", [
    ('<?xml version="1.0"?><!DOCTYPE chart [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     '<chart><properties charttitle="&b;"/></chart>', "document type"),
    ('<?xml version="1.0"?><!DOCTYPE chart SYSTEM "http://example.invalid/x.dtd"><chart/>',
     "document type"),
    ('<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><chart><properties '
     'charttitle="&x;"/></chart>', "document type"),
    ("<chart><properties chartwidth='1000000000' chartheight='2'/></chart>", "at most 500"),
    ("<chart><properties chartwidth='-3'/></chart>", "positive whole number"),
    ("<pattern/>", "root element is <pattern>"),
    ("<chart><palette>", "not a well-formed"),
    ("", "not a well-formed"),
    (b"\xff\xfe\x00<\x00c", "not a well-formed"),
    ("<chart><palette><palette_item index='1'/><palette_item index='1'/></palette></chart>",
     "appears twice"),
    ("<chart><properties/><fullstitches/><backstitches/></chart>", "no stitches"),
    ("<chart><properties chartwidth='2' chartheight='2'/><palette><palette_item index='0'/>"
     "</palette><fullstitches><stitch x='0' y='0' palindex='0'/></fullstitches></chart>",
     "no cell is stitched"),
    ("<chart>" + "<a>" * 40 + "</a>" * 40 + "</chart>", "nested deeper"),
])
def test_bad_files_are_one_line(doc, match) -> None:
    data = doc if isinstance(doc, bytes) else doc.encode()
    with pytest.raises(InputError, match=match) as err:
        chart_to_pattern(parse_oxs(data, "in.oxs"), DMC, "dmc", "in.oxs")
    assert "\n" not in str(err.value)


def test_bounds_on_elements_palette_and_bytes(monkeypatch) -> None:
    many = "<chart><fullstitches>" + '<stitch x="0" y="0" palindex="1"/>' * 50 + "</fullstitches></chart>"
    monkeypatch.setattr(oxs_import, "MAX_ELEMENTS", 20)
    with pytest.raises(InputError, match="more than 20 elements"):
        parse_oxs(many.encode())
    monkeypatch.setattr(oxs_import, "MAX_PALETTE", 3)
    items = "".join(f'<palette_item index="{i}"/>' for i in range(5))
    with pytest.raises(InputError, match="more than 3 palette items"):
        parse_oxs(f"<chart><palette>{items}</palette></chart>".encode())
    monkeypatch.setattr(oxs_import, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError, match="over the limit"):
        parse_oxs(b" " * 101 + b"<chart/>")


def test_huge_palette_index_does_not_allocate() -> None:
    doc = ("<chart><properties chartwidth='2' chartheight='1'/><palette>"
           "<palette_item index='0'/><palette_item index='2000000000' number='DMC 310' "
           "color='000000'/></palette><fullstitches><stitch x='1' y='0' palindex='2000000000'/>"
           "</fullstitches></chart>")
    p, _ = chart_to_pattern(parse_oxs(doc.encode()), DMC, "dmc")
    assert p.palette[0].code == "310" and p.cells.tolist() == [[-1, 0]]


def _mutate(doc: bytes, data) -> bytes:
    """Cut, duplicate or overwrite a slice of a valid document."""
    cuts = data.draw(st.lists(st.tuples(st.integers(0, len(doc)), st.integers(0, 40),
                                        st.binary(max_size=12)), max_size=4))
    out = bytearray(doc)
    for at, n, new in cuts:
        out[at:at + n] = new
    return bytes(out)


@budget(120)
@given(st.data())
def test_fuzz_the_reader(data) -> None:
    """Any bytes, or a valid chart with slices cut or overwritten: a chart or one InputError."""
    base = HAND_WRITTEN.encode() if data.draw(st.booleans()) else data.draw(st.binary(max_size=300))
    doc = _mutate(base, data)
    try:
        p, notes = chart_to_pattern(parse_oxs(doc, "fuzz.oxs"), DMC, "dmc", "fuzz.oxs")
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert 1 <= p.width <= 500 and 1 <= p.height <= 500
    assert (p.cells >= 0).any() and all(isinstance(n, str) for n in notes)


# --- through the command line ----------------------------------------------------------------
def test_import_command_and_journey(tmp_path: Path, monkeypatch) -> None:
    """stitch → --formats oxs → import → convert --brand → export --formats dst, as typed."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    img = np.full((24, 30, 3), 250, np.uint8)
    img[4:18, 3:16] = (200, 20, 30)
    img[8:22, 14:27] = (20, 40, 190)
    Image.fromarray(img).save("rose.png")
    run = CliRunner().invoke
    r = run(main, ["stitch", "--image", "rose.png", "--size", "30", "--colors", "4",
                   "--backstitch", "auto", "--formats", "oxs", "--out", "rose", "-q"])
    assert r.exit_code == 0, r.output
    assert Path("rose/pattern.oxs").is_file()
    assert not Path("rose/pattern.pes").exists()  # --formats oxs: the chart file only
    r = run(main, ["import", "rose/pattern.oxs"])
    assert r.exit_code == 0, r.output
    assert "pattern.oxs (craftpix): 30×24 cross-stitch" in r.output
    assert Path("pattern-stitch/pattern.json").is_file()  # named after the file, not its title
    assert Path("pattern-stitch/pattern.pdf").is_file()
    r = run(main, ["convert", "pattern-stitch/pattern.json", "--brand", "dmc"])
    assert r.exit_code == 0, r.output
    r = run(main, ["export", "pattern-stitch-dmc/pattern.json", "--formats", "dst"])
    assert r.exit_code == 0, r.output
    assert Path("pattern-stitch-dmc/pattern.dst").stat().st_size > 0
    first = Pattern.load("rose/pattern.json")
    last = Pattern.load("pattern-stitch-dmc/pattern.json")
    assert np.array_equal(first.cells, last.cells)
    # a bad file: one line, exit 2, the previous output untouched
    before = sorted(p.name for p in Path("pattern-stitch").iterdir())
    Path("bad.oxs").write_text("<chart><palette>")
    r = run(main, ["import", "bad.oxs", "--out", "pattern-stitch"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "not a well-formed" in r.output
    assert sorted(p.name for p in Path("pattern-stitch").iterdir()) == before
    r = run(main, ["import", "rose.png"])
    assert r.exit_code == 2 and "imports OXS charts" in r.output
