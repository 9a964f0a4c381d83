"""Sanity checks for the colour catalogs shipped in palettes/*.csv.

File contract: UTF-8, leading ``#`` comment lines naming the sources, then a CSV
header whose first three columns are ``code,name,hex``.
"""

import csv
import re
from pathlib import Path

import pytest

PALETTES = Path(__file__).resolve().parent.parent / "palettes"
HEX_RE = re.compile(r"^#[0-9A-F]{6}$")

MIN_ROWS = {
    "dmc.csv": 450,
    "perler.csv": 60,
    "hama.csv": 50,
    "artkal.csv": 100,
    "lego.csv": 30,
}
CODE_PATTERNS = {
    "perler.csv": re.compile(r"^80-\d{5}$"),
    "hama.csv": re.compile(r"^H\d{2,3}$"),
    "artkal.csv": re.compile(r"^S(\d{2,3}|[EGLNPT]\d{1,2})$"),
}


def load(name):
    """Return (comment_lines, header, rows-as-dicts) for palettes/<name>."""
    text = (PALETTES / name).read_text(encoding="utf-8")
    lines = text.splitlines()
    comments = []
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        comments.append(lines[i])
        i += 1
    reader = csv.reader(lines[i:])
    header = next(reader)
    rows = [dict(zip(header, r, strict=False)) for r in reader if r]
    for r in rows:
        assert len(r) == len(header)
    return comments, header, rows


def rgb(hex_):
    return tuple(int(hex_[k:k + 2], 16) for k in (1, 3, 5))


@pytest.fixture(scope="module", params=sorted(MIN_ROWS))
def catalog(request):
    return (request.param, *load(request.param))


def test_header_and_provenance(catalog):
    name, comments, header, rows = catalog
    assert header[:3] == ["code", "name", "hex"]
    assert len(header) == len(set(header))
    assert comments, f"{name}: no provenance comment"
    joined = " ".join(comments).lower()
    assert "source" in joined and ("github" in joined or "http" in joined)
    assert "licen" in joined


def test_rows(catalog):
    name, _, _, rows = catalog
    assert len(rows) >= MIN_ROWS[name]
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes)), f"{name}: duplicate codes"
    for r in rows:
        assert r["code"].strip() and r["code"] == r["code"].strip()
        assert r["name"].strip(), f"{name}: empty name for {r['code']}"
        assert HEX_RE.match(r["hex"]), f"{name}: bad hex {r['hex']!r}"


def test_dmc_specifics():
    _, _, rows = load("dmc.csv")
    by = {r["code"]: r for r in rows}
    for code in ("310", "BLANC", "ECRU", "B5200", "321", "3865", "309", "1", "35"):
        assert code in by, code
    assert "White" not in by and "Ecru" not in by
    assert sum(rgb(by["310"]["hex"])) < 60  # near black
    assert min(rgb(by["BLANC"]["hex"])) > 240
    r, g, b = rgb(by["321"]["hex"])
    assert r > 150 and r > 3 * g and r > 3 * b  # a red
    assert rgb(by["309"]["hex"]) == (186, 74, 74)  # corrected from R=86
    assert all("?" not in row["name"] for row in rows)


@pytest.mark.parametrize("name", sorted(CODE_PATTERNS))
def test_bead_codes(name):
    _, _, rows = load(name)
    pat = CODE_PATTERNS[name]
    bad = [r["code"] for r in rows if not pat.match(r["code"])]
    assert not bad, f"{name}: unexpected codes {bad}"


def test_bead_brand_anchors():
    perler = {r["code"]: r for r in load("perler.csv")[2]}
    assert perler["80-19001"]["name"] == "White"
    assert perler["80-19018"]["name"] == "Black"
    hama = {r["code"]: r for r in load("hama.csv")[2]}
    assert hama["H01"]["name"] == "White" and hama["H18"]["name"] == "Black"
    artkal = {r["code"]: r for r in load("artkal.csv")[2]}
    assert artkal["S01"]["name"] == "White" and artkal["S13"]["name"] == "Black"


def test_lego_specifics():
    _, header, rows = load("lego.csv")
    for col in ("lego_id", "lego_name", "transparent", "bricklink_id", "parts"):
        assert col in header
    allowed_parts = {"3024", "4073", "6141", "3070b", "98138"}
    for r in rows:
        assert r["lego_id"].isdigit() and r["code"] == r["lego_id"]
        assert r["lego_name"].strip()
        assert r["transparent"] in ("true", "false")
        assert r["bricklink_id"].isdigit()
        parts = r["parts"].split(";")
        assert parts and set(parts) <= allowed_parts, r
    flags = {r["transparent"] for r in rows}
    assert flags == {"true", "false"}  # both solid and transparent colours
    by = {r["code"]: r for r in rows}
    assert by["21"]["lego_name"] == "Bright Red" and by["21"]["name"] == "Red"
    assert by["26"]["name"] == "Black" and by["1"]["name"] == "White"
    assert by["199"]["name"] == "Dark Bluish Gray"
    assert by["40"]["transparent"] == "true"


LEGO_PART_ORDER = ("3024", "4073", "6141", "3070b", "98138")


def test_lego_parts_availability():
    """``parts`` lists only evidenced 1x1 parts; see the sources in the file's ``#`` header."""
    comments, _, rows = load("lego.csv")
    header_text = "\n".join(comments)
    by = {r["code"]: r for r in rows}
    used = set()
    for r in rows:
        parts = r["parts"].split(";")
        assert all(parts), r  # no empty ids (e.g. trailing ";")
        assert len(parts) == len(set(parts)), r
        assert set(parts) <= set(LEGO_PART_ORDER), r
        assert parts == sorted(parts, key=LEGO_PART_ORDER.index), r  # canonical order
        # every colour in the file was selected from the 98138 Pick-a-Brick list
        assert "98138" in parts, r
        if r["finish"] == "solid":
            assert set(parts) & {"3024", "4073", "6141", "3070b", "98138"}, r
        used.update(parts)
    # each part id that is claimed must be backed by a source named in the header
    for part in used:
        assert part in header_text, f"part {part} used but no source for it in the header"
    # basic colours: Pick a Brick sells them as plate 1x1 (3024) and BrickLink knows them
    # as round plate 1x1 (4073)
    for code in ("1", "26", "21", "23", "24"):
        assert "3024" in by[code]["parts"].split(";"), code
        assert "4073" in by[code]["parts"].split(";"), code
    counts = {p: sum(p in r["parts"].split(";") for r in rows) for p in LEGO_PART_ORDER}
    assert counts["98138"] == len(rows)
    assert counts["3024"] >= 30 and counts["4073"] >= 40
    # the sources for 3024 (LEGO Pick a Brick) cover opaque colours only
    assert not any(r["transparent"] == "true" and "3024" in r["parts"] for r in rows)
