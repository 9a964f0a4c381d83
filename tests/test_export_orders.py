"""Ordering lists: BrickLink wanted-list XML and the shopping-list CSV."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from craftpix.export import export_pattern
from craftpix.export.bom import build_bom, resolve_settings
from craftpix.export.orders import SHOPPING_HEADER, CatalogFacts, bricklink_xml, shopping_csv
from craftpix.palette import load_palette
from craftpix.pattern import Color, Pattern

ALLOWED = {"ITEMTYPE", "ITEMID", "COLOR", "MINQTY", "CONDITION", "REMARKS"}


def lego_pattern() -> Pattern:
    lego = load_palette("lego")
    pick = [lego.codes.index(c) for c in ("1", "26", "21")]  # White, Black, Bright Red
    pal = [Color(lego.codes[i], lego.names[i], "#{:02X}{:02X}{:02X}".format(*tuple(lego.rgb8[i])))
           for i in pick]
    cells = np.zeros((16, 16), dtype=np.int64)
    cells[2:10, 2:10] = 1
    cells[12:14, 0:16] = 2
    cells[15, 15] = -1  # empty: no brick
    return Pattern(cells, pal, "bricks", "lego")


def validate_wanted_list(text: str) -> list[dict[str, str]]:
    """BrickLink wanted-list upload rules (CRAFT-FACTS): no declaration, INVENTORY/ITEM..."""
    assert not text.lstrip().startswith("<?xml")
    root = ET.fromstring(text)
    assert root.tag == "INVENTORY"
    items = []
    for item in root:
        assert item.tag == "ITEM"
        fields = {child.tag: (child.text or "") for child in item}
        assert set(fields) <= ALLOWED and len(fields) == len(list(item))
        assert fields["ITEMTYPE"] == "P"
        assert fields["ITEMID"]
        assert fields["COLOR"].isdigit()
        assert fields["MINQTY"].isdigit() and int(fields["MINQTY"]) > 0
        items.append(fields)
    return items


def test_bricklink_xml_uses_bricklink_color_ids_and_merged_parts(tmp_path: Path) -> None:
    p = lego_pattern()
    res = export_pattern(p, tmp_path, merge=True, section=16, pdf=False, preview=False)
    text = (tmp_path / "bricklink.xml").read_text()
    items = validate_wanted_list(text)
    colors = {(i["ITEMID"], i["COLOR"]) for i in items}
    # LEGO 26 Black is BrickLink color 11, LEGO 1 White is BrickLink 1, LEGO 21 Bright Red is 5
    assert ("3020", "11") in colors  # the 8x8 black square is covered by 2x4 plates
    assert all(c in {"1", "11", "5"} for _, c in colors)
    assert res.merged is not None
    total = sum(int(i["MINQTY"]) for i in items)
    by_part: dict[str, int] = {}
    for pl in res.merged.placements:
        by_part[pl.part] = by_part.get(pl.part, 0) + 1
    singles = by_part.pop("3024", 0)
    assert total >= sum(by_part.values()) + singles  # 1x1 with spares, plates exact
    assert sum(pl.rows * pl.cols for pl in res.merged.placements) == 255  # empty cell skipped


def test_round_plates_are_ordered_as_bricklink_4073(tmp_path: Path) -> None:
    p = lego_pattern()
    bom = build_bom(p, resolve_settings("bricks", part="round"))
    lego = load_palette("lego")
    facts = CatalogFacts({c: e["bricklink_id"] for c, e in zip(lego.codes, lego.extra,
                                                               strict=True)}, {})
    text, missing = bricklink_xml(bom, facts)
    assert missing == []
    assert {i["ITEMID"] for i in validate_wanted_list(text)} == {"4073"}


def test_missing_bricklink_id_is_left_out_with_the_code() -> None:
    p = lego_pattern()
    bom = build_bom(p, resolve_settings("bricks"))
    text, missing = bricklink_xml(bom, CatalogFacts({"1": "1", "26": "11"}, {}))
    assert missing == ["21"]
    assert len(validate_wanted_list(text)) == 2
    with pytest.raises(ValueError):
        bricklink_xml(build_bom(Pattern(np.zeros((2, 2), dtype=np.int64), p.palette, "beads",
                                        "perler"), resolve_settings("beads")), CatalogFacts({}, {}))


@pytest.mark.parametrize("medium,brand,pal", [
    ("beads", "perler", [Color("80-19001", "White", "#F1F1F1"), Color("80-19018", "Black", "#2E2F32")]),
    ("stitch", "dmc", [Color("310", "Black", "#000000"), Color("321", "Red", "#C7002B")]),
])
def test_shopping_list_every_craft(medium: str, brand: str, pal: list[Color]) -> None:
    cells = np.zeros((30, 30), dtype=np.int64)
    cells[:5] = 1
    p = Pattern(cells, pal, medium, brand)
    bom = build_bom(p, resolve_settings(medium))
    text = shopping_csv(p, bom, CatalogFacts({}, {pal[0].code: 0.25}))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == SHOPPING_HEADER
    body = {r[0]: r for r in rows[1:]}
    assert int(body[pal[0].code][3]) == 750 and int(body[pal[1].code][3]) == 150
    packs = int(body[pal[0].code][4])
    assert packs >= 1
    assert body[pal[0].code][6] == "0.25" and body[pal[0].code][7] == f"{0.25 * packs:.2f}"
    assert body[pal[1].code][6] == "" and body[pal[1].code][7] == ""  # price unknown
    if medium == "beads":
        assert body[pal[0].code][5] == "1000"
