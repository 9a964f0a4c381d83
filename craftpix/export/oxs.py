"""``pattern.oxs``: the chart as an Open Cross Stitch (OXS) file for other cross-stitch software.

OXS is Ursa Software's open XML interchange format (``ursasoftware.com/OXSFormat``, 2020/21;
written and read by WinStitch/MacStitch, KG-Chart, XSPro Platinum, Embroiderly and others).
What this writer emits, and the facts it rests on:

* root ``<chart>``; ``<properties>`` with ``oxsversion="1.0"``, ``software``,
  ``software_version``, ``chartwidth``, ``chartheight``, ``charttitle``, ``author``,
  ``stitchesperinch`` and ``stitchesperinch_y`` (the fabric count) and ``palettecount`` — the
  number of palette items *other than the cloth*;
* ``<palette>``: item ``index="0"`` is the cloth (``number="cloth"``, white Aida); then one
  ``<palette_item>`` per pattern color, ``index`` = pattern palette index + 1, ``number`` as Ursa
  writes it (brand, then the code right-aligned: ``"DMC    310"``; readers take the last
  whitespace-separated token as the code), ``name``, ``color`` as six hex digits without ``#``,
  ``strands`` (crosses) and ``bsstrands`` (backstitch, 1), ``bscolor``, and the chart symbol:
  ``symbol`` as its decimal Unicode code point for a one-character symbol (the attribute is
  "an integer code point or the character itself"), the two-character symbols as text, and
  ``symbol_courier`` (MiniStitch's attribute for the literal symbol) always as text;
* ``<fullstitches>``: one ``<stitch x y palindex/>`` per stitched cell. **x and y count from
  0**, x to the right, y downwards — as real files show: Ursa's own "Piggies" (69×73) has
  stitches at y = 72 and none at 73, and the XSPro Platinum samples of Embroiderly's demo set
  have equal margins on all four sides only when read from 0;
* ``<backstitches>``: one ``<backstitch x1 y1 x2 y2 palindex objecttype="backstitch"
  sequence="0"/>`` per cell edge of the outline (``--backstitch auto``). Backstitch
  coordinates are on the lattice of cell corners in whole-cell units (corner (x, y) is the
  top-left corner of cell (x, y); 0.5 would be a cell's midpoint), again as in Ursa's files,
  whose backstitches are unit edges and diagonals;
* ``<partstitches>``, ``<ornaments_inc_knots_and_beads>`` and ``<commentboxes>`` are written
  empty (craftpix charts full crosses only); properties, fullstitches and backstitches are
  mandatory in OXS even when empty.

The text is UTF-8 with an XML declaration; characters XML 1.0 cannot hold are dropped from
names, and tabs and newlines in attribute values are written as character references.
:mod:`craftpix.oxs_import` reads these files (and other programs') back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from craftpix import __version__
from craftpix.export.backstitch import BACKSTITCH_STRANDS, Backstitch
from craftpix.pattern import Pattern

SOFTWARE = "craftpix"
OXS_VERSION = "1.0"
CLOTH_HEX = "FFFFFF"  # white Aida: craftpix does not model the fabric's color
#: Display names of brands in ``number`` (pattern.brand → OXS brand)
BRAND_NAMES = {"dmc": "DMC", "anchor": "Anchor", "madeira": "Madeira"}

# Characters XML 1.0 allows (Extensible Markup Language 1.0, production [2] Char).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
            "\r": "&#13;"}


def xml_attr(value: object) -> str:
    """``value`` as the text of a double-quoted XML attribute (escaped, XML 1.0 characters only)."""
    text = _NOT_XML.sub("", str(value))
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _element(tag: str, attrs: Iterable[tuple[str, object]]) -> str:
    return f"<{tag}" + "".join(f' {k}="{xml_attr(v)}"' for k, v in attrs) + "/>"


def oxs_number(brand: str, code: str) -> str:
    """The ``number`` attribute for a catalog color: ``"DMC    310"`` (Ursa's spacing: the code
    right-aligned in seven characters after the brand), ``"DMC B5200"`` past seven."""
    name = BRAND_NAMES.get(brand.lower(), brand)
    return f"{name}{code:>7}" if len(code) < 7 else f"{name} {code}"


def symbol_attrs(symbol: str) -> list[tuple[str, object]]:
    """``symbol`` (code point, or the text for a two-character symbol) and ``symbol_courier``."""
    value: object = ord(symbol) if len(symbol) == 1 else symbol
    return [("symbol", value), ("symbol_courier", symbol)]


def oxs_document(
    pattern: Pattern,
    *,
    fabric_count: int,
    strands: int,
    backstitch: Backstitch | None = None,
    title: str = "",
    author: str = "",
) -> str:
    """The OXS text of ``pattern`` (a cross-stitch pattern; see the module docstring).

    ``fabric_count`` is stitches per inch (``stitchesperinch``), ``strands`` the floss strands
    for crosses; ``backstitch`` the outline of :func:`craftpix.export.backstitch.plan_backstitch`
    (its color must be in ``pattern.palette``). Symbols are the pattern's
    (:meth:`~craftpix.pattern.Pattern.symbols`). Raises ValueError for a pattern that is not
    cross-stitch.
    """
    if pattern.medium != "stitch":
        raise ValueError(f"an OXS chart is made from a cross-stitch pattern, not {pattern.medium}")
    symbols = pattern.symbols()
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<chart>"]
    lines.append(_element("properties", [
        ("oxsversion", OXS_VERSION), ("software", SOFTWARE), ("software_version", __version__),
        ("chartwidth", pattern.width), ("chartheight", pattern.height),
        ("charttitle", title), ("author", author), ("copyright", ""), ("instructions", ""),
        ("stitchesperinch", fabric_count), ("stitchesperinch_y", fabric_count),
        ("palettecount", len(pattern.palette)),
    ]))
    lines.append("<palette>")
    lines.append(_element("palette_item", [
        ("index", 0), ("number", "cloth"), ("name", "cloth"), ("color", CLOTH_HEX),
        ("printcolor", CLOTH_HEX), ("blendcolor", "nil"), ("comments", ""), ("strands", strands),
        ("bsstrands", BACKSTITCH_STRANDS), ("bscolor", CLOTH_HEX),
    ]))
    for i, color in enumerate(pattern.palette):
        hexval = color.hex.lstrip("#").upper()
        lines.append(_element("palette_item", [
            ("index", i + 1), ("number", oxs_number(pattern.brand, color.code)),
            ("name", color.name), ("color", hexval), ("printcolor", hexval),
            ("blendcolor", "nil"), ("comments", ""), ("strands", strands),
            *symbol_attrs(symbols[i]), ("bsstrands", BACKSTITCH_STRANDS), ("bscolor", hexval),
        ]))
    lines.append("</palette>")
    lines.append("<fullstitches>")
    for y, x in zip(*(pattern.cells >= 0).nonzero(), strict=True):  # row-major
        lines.append(f'<stitch x="{int(x)}" y="{int(y)}" palindex="{int(pattern.cells[y, x]) + 1}"/>')
    lines.append("</fullstitches>")
    lines.append("<partstitches></partstitches>")
    lines.append("<backstitches>")
    if backstitch is not None:
        k = backstitch.color + 1
        for path in backstitch.paths:
            for (r0, c0), (r1, c1) in zip(path, path[1:], strict=False):
                lines.append(f'<backstitch x1="{c0}" y1="{r0}" x2="{c1}" y2="{r1}" palindex="{k}" '
                             'objecttype="backstitch" sequence="0"/>')
    lines.append("</backstitches>")
    lines.append("<ornaments_inc_knots_and_beads></ornaments_inc_knots_and_beads>")
    lines.append("<commentboxes></commentboxes>")
    lines.append("</chart>")
    return "\n".join(lines) + "\n"
