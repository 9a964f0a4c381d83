"""Ordering lists: a BrickLink wanted list (bricks) and a shopping-list CSV (every craft).

``bricklink.xml`` follows BrickLink's wanted-list upload format (BrickLink help, "Importing
items on BrickLink with XML", helpID=2567: "A BrickLink XML formatted file cannot have an XML
declaration"; a wanted list gives the quantity as ``MINQTY``): no XML declaration, root
``<INVENTORY>``, one ``<ITEM>`` per part and color with ``<ITEMTYPE>P</ITEMTYPE>``,
``<ITEMID>`` (BrickLink part number), ``<COLOR>`` (BrickLink color id — not LEGO's number —
from the catalog's ``bricklink_id`` column) and ``<MINQTY>`` (quantity wanted, spares included).
Merged plates are their own items (3020 Plate 2×4, 3023 Plate 1×2, ...).

``rebrickable.csv`` (:func:`rebrickable_csv`) and ``lego-pick-a-brick.csv``
(:func:`pick_a_brick_csv`) are the same parts for Rebrickable's part-list import and for
LEGO's Pick a Brick.

``shopping-list.csv`` has one row per thing to buy:
``code,name,item,count,packs,pack_size,price_per_pack,price_total,owned`` — ``count`` is the
pieces the design uses (beads, crosses, parts), ``owned`` how many of those you own (from
``--inventory``), ``packs`` what to buy for the rest (bags, skeins, parts with spares),
``pack_size`` pieces per pack where packs hold a fixed number. A color you own enough of is not
listed. Prices are per pack (see :mod:`craftpix.prices`: the pattern's own prices from its
palette or inventory file, else the built-in catalog's ``price`` column) and left empty
when there is none.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from craftpix.export.bom import Bom
from craftpix.media import get_medium
from craftpix.pattern import Pattern

SHOPPING_HEADER = ("code", "name", "item", "count", "packs", "pack_size", "price_per_pack",
                   "price_total", "owned")


@dataclass(frozen=True)
class CatalogFacts:
    """What the ordering lists need from the catalog: BrickLink ids and prices, by color code."""

    bricklink: Mapping[str, str]
    price: Mapping[str, float]


def catalog_facts(brand: str) -> CatalogFacts:
    """BrickLink color ids and prices of the built-in catalog ``brand`` (empty if unknown).

    Reads the catalog's optional ``bricklink_id`` and ``price`` columns; a price that is not a
    non-negative number is ignored. ``brand`` comes from a pattern file: it is looked up as a
    catalog name, never opened as a path (:func:`craftpix.palette.pattern_catalog`).
    """
    from craftpix.palette import pattern_catalog

    pal = pattern_catalog(brand)
    if pal is None:
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
    medium = get_medium(pattern.medium, pattern.brand)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SHOPPING_HEADER)
    for row in bom.rows:
        price = facts.price.get(row.color.code)
        for line in row.buy:
            if line.quantity == 0:  # all owned: nothing to buy
                continue
            if pattern.medium in ("beads", "diamond"):
                pack_size = str(medium.pack_size)
            elif pattern.medium == "bricks":
                pack_size = "1"
            else:
                pack_size = ""
            each = line.price_per_pack if line.price_per_pack is not None else price
            per = "" if each is None else f"{each:.2f}"
            total = "" if each is None else f"{each * line.quantity:.2f}"
            w.writerow((row.color.code, row.color.name, line.item, line.needed, line.quantity,
                        pack_size, per, total, line.owned))
    return buf.getvalue()


# --- Rebrickable and LEGO Pick a Brick --------------------------------------------------------
#: Rebrickable's part numbers where they differ from BrickLink's (BrickLink 4073 is the round
#: plate 1x1 that Rebrickable, like LDraw, numbers 6141: rebrickable.com/parts/6141/).
REBRICKABLE_PARTS = {"4073": "6141"}
REBRICKABLE_HEADER = ("Part", "Color", "Quantity")
PICK_A_BRICK_HEADER = ("elementId", "quantity")


def catalog_column(brand: str, column: str) -> dict[str, str]:
    """``code → value`` of one column of the built-in catalog ``brand`` (non-empty values only;
    empty for an unknown catalog or a catalog without the column). ``brand`` comes from a
    pattern file: it is looked up as a catalog name, never opened as a path."""
    from craftpix.palette import pattern_catalog

    pal = pattern_catalog(brand)
    if pal is None or column not in pal.columns:
        return {}
    return {code: extra[column].strip() for code, extra in zip(pal.codes, pal.extra, strict=True)
            if extra.get(column, "").strip()}


def _lines(bom: Bom) -> list[tuple[str, str, int, str]]:
    """``(color code, BrickLink part, quantity to buy, "part in color")`` of a brick BOM,
    spares included."""
    if bom.medium != "bricks":
        raise ValueError("an ordering list of LEGO parts is made from a brick mosaic")
    return [(row.color.code, line.part, line.quantity, f"{line.part} in {row.color.name}")
            for row in bom.rows for line in row.buy]


def rebrickable_csv(bom: Bom, brand: str) -> tuple[str, list[str]]:
    """A Rebrickable part list (``rebrickable.csv``) of a brick BOM, and what it leaves out.

    Columns ``Part,Color,Quantity``: Rebrickable part number (:data:`REBRICKABLE_PARTS`),
    Rebrickable color id (the catalog's ``rebrickable_id`` column) and the quantity to buy
    (spares included, as in ``bricklink.xml``). This is the CSV that Rebrickable exports part
    lists as ("Rebrickable CSV", ``format=rbpartscsv``) and reads back through its part-list
    import; Rebrickable's own help page on it is not among the sources at hand, so the
    columns follow the files Rebrickable writes as third-party tools document them. Rows
    with the same part and color are summed; order: part, then color id. Colors without a
    Rebrickable id are left out and returned as ``"part in color name"``.
    """
    ids = catalog_column(brand, "rebrickable_id")
    wanted: Counter[tuple[str, int]] = Counter()
    missing: list[str] = []
    for code, part, qty, label in _lines(bom):
        color = ids.get(code, "")
        if not color.isdigit():
            missing.append(label)
            continue
        wanted[(REBRICKABLE_PARTS.get(part, part), int(color))] += qty
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REBRICKABLE_HEADER)
    for (part, color), qty in sorted(wanted.items()):
        w.writerow((part, color, qty))
    return buf.getvalue(), missing


def element_ids(brand: str) -> dict[tuple[str, str], str]:
    """``(color code, BrickLink part) → LEGO element id`` from the catalog's ``element_ids``
    column (``part:element`` pairs, ``;``-separated); malformed pairs are skipped."""
    out: dict[tuple[str, str], str] = {}
    for code, text in catalog_column(brand, "element_ids").items():
        for pair in text.split(";"):
            part, _, element = pair.strip().partition(":")
            if part and element.strip().isdigit():
                out[(code, part.strip())] = element.strip()
    return out


def pick_a_brick_csv(bom: Bom, brand: str) -> tuple[str, list[str]]:
    """A LEGO Pick a Brick list (``lego-pick-a-brick.csv``) of a brick BOM, and what it leaves out.

    LEGO publishes no file format for Pick a Brick: the site sells LEGO *element ids* (one per
    part and color). The columns are those of BrickStore's Pick a Brick export
    (``extensions/lego-pickabrick-export.bs.qml``, "a CSV ... that can be uploaded to LEGO's
    official Pick a Brick service"): ``elementId,quantity``, one row per element, quantities
    summed, spares included. Element ids come from the catalog's ``element_ids`` column
    (:func:`element_ids`); parts and colors without one are left out and returned as
    ``"part in color name"`` (order those from the BrickLink or Rebrickable list).
    """
    ids = element_ids(brand)
    wanted: Counter[str] = Counter()
    missing: list[str] = []
    for code, part, qty, label in _lines(bom):
        element = ids.get((code, part))
        if element is None:
            missing.append(label)
            continue
        wanted[element] += qty
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PICK_A_BRICK_HEADER)
    for element, qty in sorted(wanted.items(), key=lambda kv: int(kv[0])):
        w.writerow((element, qty))
    return buf.getvalue(), missing
