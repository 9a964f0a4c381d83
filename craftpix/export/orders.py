"""Ordering lists: a BrickLink wanted list (bricks) and a shopping-list CSV (every craft).

``bricklink.xml`` follows BrickLink's wanted-list upload format: no XML declaration, root
``<INVENTORY>``, one ``<ITEM>`` per part and color with ``<ITEMTYPE>P</ITEMTYPE>``,
``<ITEMID>`` (BrickLink part number), ``<COLOR>`` (BrickLink color id — not LEGO's number —
from the catalog's ``bricklink_id`` column) and ``<MINQTY>`` (quantity wanted, spares included).
Merged plates are their own items (3020 Plate 2×4, 3023 Plate 1×2, ...).

``shopping-list.csv`` has one row per thing to buy:
``code,name,item,count,packs,pack_size,price_per_pack,price_total`` — ``count`` is the pieces
the design uses (beads, crosses, parts), ``packs`` what to buy (bags, skeins, parts with
spares), ``pack_size`` pieces per pack where packs hold a fixed number. Prices come from a
``price`` column of the catalog (price of one pack as sold: a bag, a skein, one part) and are
left empty when the catalog has none.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from craftpix.export.bom import Bom
from craftpix.media import get_medium
from craftpix.pattern import Pattern

SHOPPING_HEADER = ("code", "name", "item", "count", "packs", "pack_size", "price_per_pack",
                   "price_total")


@dataclass(frozen=True)
class CatalogFacts:
    """What the ordering lists need from the catalog: BrickLink ids and prices, by color code."""

    bricklink: Mapping[str, str]
    price: Mapping[str, float]


def catalog_facts(brand: str) -> CatalogFacts:
    """BrickLink color ids and prices of the built-in catalog ``brand`` (empty if unknown).

    Reads the catalog's optional ``bricklink_id`` and ``price`` columns; a price that is not a
    non-negative number is ignored.
    """
    from craftpix.errors import CraftpixError
    from craftpix.palette import load_palette

    try:
        pal = load_palette(brand)
    except CraftpixError:
        return CatalogFacts({}, {})
    bl: dict[str, str] = {}
    price: dict[str, float] = {}
    for code, extra in zip(pal.codes, pal.extra or ({},) * len(pal.codes), strict=True):
        if extra.get("bricklink_id", "").strip().isdigit():
            bl[code] = extra["bricklink_id"].strip()
        raw = extra.get("price", "").strip()
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            price[code] = value
    return CatalogFacts(bl, price)


def bricklink_xml(bom: Bom, facts: CatalogFacts) -> tuple[str, list[str]]:
    """The wanted-list XML of a brick BOM, and the color codes left out (no BrickLink id).

    Items are merged by (part, color) and sorted by part then color id. Raises ValueError for a
    BOM that is not bricks.
    """
    if bom.medium != "bricks":
        raise ValueError("a BrickLink wanted list is made from a brick mosaic")
    wanted: dict[tuple[str, str], int] = {}
    missing: list[str] = []
    for row in bom.rows:
        color = facts.bricklink.get(row.color.code)
        if color is None:
            missing.append(row.color.code)
            continue
        for line in row.buy:
            key = (line.part, color)
            wanted[key] = wanted.get(key, 0) + line.quantity
    out = ["<INVENTORY>"]
    for (part, color), qty in sorted(wanted.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        out += ["  <ITEM>", "    <ITEMTYPE>P</ITEMTYPE>", f"    <ITEMID>{escape(part)}</ITEMID>",
                f"    <COLOR>{color}</COLOR>", f"    <MINQTY>{qty}</MINQTY>", "  </ITEM>"]
    out.append("</INVENTORY>")
    return "\n".join(out) + "\n", missing


def shopping_csv(pattern: Pattern, bom: Bom, facts: CatalogFacts) -> str:
    """The shopping list as CSV text (header :data:`SHOPPING_HEADER`, rows most-used first)."""
    medium = get_medium(pattern.medium)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SHOPPING_HEADER)
    for row in bom.rows:
        price = facts.price.get(row.color.code)
        for line in row.buy:
            if pattern.medium == "beads":
                pack_size = str(medium.pack_size)
            elif pattern.medium == "bricks":
                pack_size = "1"
            else:
                pack_size = ""
            per = "" if price is None else f"{price:.2f}"
            total = "" if price is None else f"{price * line.quantity:.2f}"
            w.writerow((row.color.code, row.color.name, line.item, line.needed, line.quantity,
                        pack_size, per, total))
    return buf.getvalue()
