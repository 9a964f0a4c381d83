"""Reading an OXS (Open Cross Stitch) chart — craftpix's own or another program's — into a Pattern.

Two steps, both plain functions:

* :func:`parse_oxs` reads the XML into an :class:`OxsChart` (what the file says, nothing
  more). The file is received, not trusted: it is read with expat directly, a document type
  declaration (and so every entity declaration: no "billion laughs", no external entity) is
  refused, nesting, element count, palette size and chart size are bounded, and every value
  is checked before use. Elements and attributes craftpix does not know are ignored, as the
  format asks. Numbers may use a decimal comma (XSPro Platinum writes ``y1="14,5"``).
* :func:`chart_to_pattern` maps the chart onto a catalog (DMC by default): a palette item whose
  ``number`` names a DMC code (``"DMC    310"``, ``"DMC 310"``, ``"  310"``, ``"BLANC"``) is
  that code; any other (``"Anchor 403"``, a blend ``"DMC 158 [+]"``, an unknown code) takes the
  catalog color nearest to its ``color`` in CIEDE2000
  (:func:`craftpix.color.nearest_color_indices`, the project's one color decision). Items
  that end up on the same catalog color become one color. Stitchless cells are empty cells
  (bare cloth).

What an OXS file holds that a craftpix pattern cannot is said in the notes, never dropped
silently: half and three-quarter stitches (``<partstitches>``) become full crosses in cells
without one; knots, beads and other ornaments are left out; backstitch is kept as
``--backstitch auto`` when the file's outline is exactly the one craftpix draws for the
imported chart (a chart craftpix wrote), and is otherwise left out (craftpix outlines along
cell edges; other programs' lines run anywhere). Coordinates count from 0 (see
:mod:`craftpix.export.oxs` for the facts).

Names in the file (title, author, color names) are only ever text: no path is made from them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

import numpy as np

from craftpix.color import delta_e_2000, hex_to_rgb8, nearest_color_indices, rgb8_to_lab
from craftpix.errors import InputError, excerpt, printable
from craftpix.palette import Palette
from craftpix.pattern import EMPTY, Color, Pattern

__all__ = ["MAX_FILE_BYTES", "OxsChart", "OxsItem", "chart_to_pattern", "parse_oxs"]

MAX_FILE_BYTES = 64 * 1024 * 1024  # a full 500×500 chart is about 12 MB
MAX_SIDE = 500  # as craftpix.api: the largest pattern side
MAX_DEPTH = 16  # chart > section > item > (blend) is 4 deep
MAX_ELEMENTS = 1_200_000  # 500×500 full and part stitches, a cell-edge outline, the palette
MAX_PALETTE = 1000  # palette items, the cloth included
MAX_TEXT = 300  # characters kept of a title, author or color name
#: Fabric counts craftpix charts (craftpix.media); evenweave counts worked over two halve.
FABRIC_COUNTS = (11, 14, 16, 18)
BRAND_LABELS = {"dmc": "DMC"}  # catalog name → how the notes name the brand
#: DMC codes as other programs spell them → the catalog's code
DMC_ALIASES = {"white": "BLANC", "blanc": "BLANC", "ecru": "ECRU", "snow white": "B5200"}
_HEX6 = re.compile(r"#?([0-9A-Fa-f]{6})")


class OxsError(InputError):
    """The file is not a readable OXS chart, or breaks one of the bounds."""


@dataclass(frozen=True)
class OxsItem:
    """One ``<palette_item>``: what the file says about a color (index 0 is the cloth)."""

    index: int
    number: str = ""
    name: str = ""
    color: str | None = None  # "RRGGBB", None when missing or not a color
    strands: int | None = None
    symbol: str | None = None
    symbol_courier: str | None = None
    blend: bool = False  # "[+]" in the number, a blendcolor, or <blend> children


@dataclass
class OxsChart:
    """What :func:`parse_oxs` read. Coordinates are as in the file (cells from 0; backstitch
    ends on the corner lattice, in cell units)."""

    width: int | None = None
    height: int | None = None
    title: str = ""
    author: str = ""
    software: str = ""
    stitches_per_inch: float | None = None
    stitches_per_inch_y: float | None = None
    items: dict[int, OxsItem] = field(default_factory=dict)
    full: list[tuple[float, float, int]] = field(default_factory=list)  # x, y, palindex
    part: list[tuple[float, float, int, int, int]] = field(default_factory=list)  # x y p1 p2 dir
    back: list[tuple[float, float, float, float, int, str]] = field(default_factory=list)
    ornaments: int = 0  # <object> elements: knots, beads, ...
    invalid: Counter[str] = field(default_factory=Counter)  # stitches whose values are not usable


# --- reading the XML --------------------------------------------------------------------------
def _number(value: str | None) -> float | None:
    """A finite number; a decimal comma is read as a point; None for anything else."""
    if value is None:
        return None
    text = value.strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _integer(value: str | None) -> int | None:
    v = _number(value)
    return int(v) if v is not None and v == int(v) and abs(v) < 2**31 else None


def _text(value: str | None) -> str:
    """Attribute text kept for display: stripped and cut to :data:`MAX_TEXT` characters."""
    return (value or "").strip()[:MAX_TEXT]


def _hex(value: str | None) -> str | None:
    m = _HEX6.fullmatch((value or "").strip())
    return m.group(1).upper() if m else None


class _Reader:
    """expat callbacks that fill an :class:`OxsChart`, with the bounds of the module."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.chart = OxsChart()
        self.stack: list[str] = []
        self.elements = 0
        self.closed = False
        self.position = 0  # palette_item order, for items without an index
        self.last_item: int | None = None  # the palette_item being read (for <blend>)

    def fail(self, message: str) -> OxsError:
        return OxsError(f"{self.source}: {message}")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = name.lower()
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise self.fail(f"more than {MAX_ELEMENTS:,} elements (the limit)")
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(f"elements nested deeper than {MAX_DEPTH} levels (the limit)")
        if not self.stack and tag != "chart":
            raise self.fail(f"not an OXS chart: the root element is <{printable(name, 40)}>, "
                            "not <chart>")
        if self.closed:
            raise self.fail("content after </chart>")
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(tag)
        a = {k.lower(): v for k, v in attrs.items()}
        if tag == "properties" and parent == "chart":
            self._properties(a)
        elif tag == "palette_item" and parent == "palette":
            self._palette_item(a)
        elif tag == "blend" and parent == "palette_item":
            self._mark_blend()
        elif tag == "stitch" and parent == "fullstitches":
            x, y, p = _number(a.get("x")), _number(a.get("y")), _integer(a.get("palindex"))
            if x is None or y is None or p is None:
                self.chart.invalid["full stitch"] += 1
            else:
                self.chart.full.append((x, y, p))
        elif tag == "partstitch" and parent == "partstitches":
            x, y = _number(a.get("x")), _number(a.get("y"))
            d = _integer(a.get("direction"))
            p1, p2 = _integer(a.get("palindex1")) or 0, _integer(a.get("palindex2")) or 0
            if x is None or y is None or d not in (1, 2, 3, 4):
                self.chart.invalid["part stitch"] += 1
            else:
                self.chart.part.append((x, y, p1, p2, int(d)))
        elif tag == "backstitch" and parent == "backstitches":
            ends = [_number(a.get(k)) for k in ("x1", "y1", "x2", "y2")]
            p = _integer(a.get("palindex"))
            if any(e is None for e in ends) or p is None:
                self.chart.invalid["backstitch"] += 1
            else:
                x1, y1, x2, y2 = (float(e) for e in ends)  # type: ignore[arg-type]
                kind = (a.get("objecttype") or "backstitch").strip().lower()
                self.chart.back.append((x1, y1, x2, y2, p, kind))
        elif tag == "object" and parent == "ornaments_inc_knots_and_beads":
            self.chart.ornaments += 1

    def end(self, name: str) -> None:
        self.stack.pop()
        if not self.stack:
            self.closed = True

    def _properties(self, a: dict[str, str]) -> None:
        c = self.chart
        for key, attr in (("width", "chartwidth"), ("height", "chartheight")):
            if attr in a:
                v = _integer(a[attr])
                if v is None or v < 1:
                    raise self.fail(f"{attr} is {excerpt(a[attr])}, not a positive whole number")
                if v > MAX_SIDE:
                    raise self.fail(f"{attr} is {v:,}: craftpix patterns are at most "
                                    f"{MAX_SIDE}×{MAX_SIDE} stitches")
                setattr(c, key, v)
        c.title, c.author = _text(a.get("charttitle")), _text(a.get("author"))
        c.software = _text(a.get("software"))
        c.stitches_per_inch = _number(a.get("stitchesperinch"))
        c.stitches_per_inch_y = _number(a.get("stitchesperinch_y"))

    def _palette_item(self, a: dict[str, str]) -> None:
        c = self.chart
        index = _integer(a.get("index")) if "index" in a else self.position
        self.position += 1
        if index is None or index < 0:
            raise self.fail(f"a palette_item has index {excerpt(a.get('index'))}, not a whole "
                            "number from 0")
        if index in c.items:
            raise self.fail(f"palette_item index {index} appears twice")
        if len(c.items) >= MAX_PALETTE:
            raise self.fail(f"more than {MAX_PALETTE} palette items (the limit)")
        number = _text(a.get("number"))
        strands = _integer(a.get("strands"))
        blend = "[+]" in number or _hex(a.get("blendcolor")) is not None
        self.last_item = index
        c.items[index] = OxsItem(
            index=index, number=number, name=_text(a.get("name")), color=_hex(a.get("color")),
            strands=strands if strands is not None and 1 <= strands <= 6 else None,
            symbol=_text(a.get("symbol")) or None,
            symbol_courier=_text(a.get("symbol_courier")) or None, blend=blend,
        )

    def _mark_blend(self) -> None:
        if self.last_item is not None:
            it = self.chart.items[self.last_item]
            self.chart.items[self.last_item] = OxsItem(
                it.index, it.number, it.name, it.color, it.strands, it.symbol,
                it.symbol_courier, True)


def parse_oxs(data: bytes, source: str = "OXS file") -> OxsChart:
    """Read OXS bytes into an :class:`OxsChart`.

    ``source`` names the file in messages. Raises :class:`OxsError` (one line) for data that is
    not well-formed XML, a root other than ``<chart>``, a document type declaration (refused:
    entity expansion and external entities), more than :data:`MAX_FILE_BYTES`, nesting deeper
    than :data:`MAX_DEPTH`, more than :data:`MAX_ELEMENTS` elements or :data:`MAX_PALETTE`
    palette items, a chart side over :data:`MAX_SIDE`, or a duplicate palette index.
    """
    source = printable(source)
    if len(data) > MAX_FILE_BYTES:
        raise OxsError(f"{source}: {len(data):,} bytes, over the limit of {MAX_FILE_BYTES:,}")
    reader = _Reader(source)
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: Any) -> None:
        raise reader.fail("it declares a document type (DTD); OXS files have none, and "
                          "craftpix does not expand entities")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OxsError(f"{source}: not a well-formed XML file "
                       f"({expat.ErrorString(exc.code)} at line {exc.lineno})") from None
    except (ValueError, LookupError) as exc:  # an encoding Python cannot decode
        raise OxsError(f"{source}: cannot decode the file ({printable(exc, 80)})") from None
    if not reader.closed:
        raise OxsError(f"{source}: no <chart> element")
    return reader.chart


# --- mapping onto a catalog ---------------------------------------------------------------------
def split_number(number: str) -> tuple[str, str]:
    """``"DMC    310"`` → ``("dmc", "310")``; ``"310"`` → ``("", "310")``; WinStitch's blend
    marker ``[+]`` is dropped. The code is the last whitespace-separated token."""
    words = number.replace("[+]", " ").split()
    if not words:
        return "", ""
    return " ".join(words[:-1]).lower(), words[-1]


def catalog_code(item: OxsItem, catalog: Palette, brand: str) -> int | None:
    """Index of the catalog color ``item`` names by code, or None (another brand, a blend, an
    unknown code). A bare code (no brand) counts as the catalog's own brand."""
    if item.blend:
        return None
    item_brand, code = split_number(item.number)
    if item_brand not in ("", brand.lower()):
        return None
    lookup = {c.lower(): i for i, c in enumerate(catalog.codes)}
    key = code.lower()
    if key not in lookup and brand.lower() == "dmc":
        key = DMC_ALIASES.get(key, DMC_ALIASES.get(item.number.strip().lower(), key)).lower()
    return lookup.get(key)


#: Longest chart symbol kept from a file (craftpix's own two-character symbols reach 3: ``X10``)
MAX_SYMBOL = 3


def _printable_symbol(text: str) -> bool:
    """Whether ``text`` can be a chart symbol: 1 to :data:`MAX_SYMBOL` visible characters, each
    one the chart font has (the PDF draws symbols in one embedded font, with no fallback)."""
    if not 1 <= len(text) <= MAX_SYMBOL or any(not ch.isprintable() or ch.isspace()
                                                for ch in text):
        return False
    from craftpix.export.fonts import BOLD, chart_font_has

    return chart_font_has(text, BOLD)


def _symbol(item: OxsItem, own_file: bool) -> str | None:
    """The item's chart symbol as the file gives it, when the chart font can draw it
    (:func:`_printable_symbol`): the literal ``symbol_courier`` first (digits too), else
    ``symbol``; a numeric ``symbol`` is a code point only in files craftpix wrote (other
    programs number the glyphs of their own fonts), so there it is used only for craftpix's
    files."""
    for raw, literal in ((item.symbol_courier, True), (item.symbol, False)):
        if raw is None:
            continue
        text = raw
        if raw.isdigit() and not literal:  # a code point (craftpix) or a font's glyph number
            if not own_file:
                continue
            cp = int(raw)
            if not 32 < cp <= 0x10FFFF:
                continue
            text = chr(cp)
        if _printable_symbol(text):
            return text
    return None


def _edge_masks(chart: OxsChart, width: int, height: int
                ) -> tuple[np.ndarray, np.ndarray, set[int]] | None:
    """The file's backstitch as cell-edge masks ``(h, v)`` (as
    :class:`craftpix.export.backstitch.Backstitch`) and its thread palindexes; None when a
    line does not run along cell edges (a diagonal, a half cell, a french knot's line)."""
    h = np.zeros((height + 1, width), dtype=bool)
    v = np.zeros((height, width + 1), dtype=bool)
    threads: set[int] = set()
    for x1, y1, x2, y2, p, kind in chart.back:
        ends = (x1, y1, x2, y2)
        if kind not in ("backstitch", "straightstitch") or any(e != int(e) for e in ends):
            return None
        a, b, c, d = (int(e) for e in ends)
        if not (0 <= min(a, c) and max(a, c) <= width and 0 <= min(b, d) and max(b, d) <= height):
            return None
        if b == d and a != c:
            h[b, min(a, c):max(a, c)] = True
        elif a == c and b != d:
            v[min(b, d):max(b, d), a] = True
        else:
            return None
        threads.add(p)
    return h, v, threads


def _fabric_count(chart: OxsChart, notes: list[str]) -> int | None:
    spi = chart.stitches_per_inch
    if spi is None:
        return None
    if chart.stitches_per_inch_y not in (None, spi):
        notes.append(f"the chart is for fabric of {spi:g} × {chart.stitches_per_inch_y:g} "
                     "stitches per inch; craftpix charts square fabric")
    for count, over in ((spi, 1), (spi / 2, 2)):
        if count in FABRIC_COUNTS:
            if over == 2:
                notes.append(f"{spi:g}-count evenweave worked over two: charted at "
                             f"{int(count)} count")
            return int(count)
    notes.append(f"the chart is for {spi:g} stitches per inch; craftpix charts 11, 14, 16 "
                 "or 18 count (the default 14 is used; --fabric-count to change)")
    return None


def chart_to_pattern(chart: OxsChart, catalog: Palette, brand: str,
                     source: str = "OXS file") -> tuple[Pattern, list[str]]:
    """The cross-stitch pattern of ``chart`` in ``catalog`` colors, and notes for the user.

    ``brand`` names the catalog (``pattern.brand``). The pattern's ``settings`` carry what
    the file says about the fabric (``fabric_count``), the strands, and the backstitch when
    it is kept; its ``meta`` the title and where it came from. Raises :class:`OxsError` when
    no cell is stitched.
    """
    source = printable(source)
    notes: list[str] = []
    items = chart.items
    coords = [(x, y) for x, y, _ in chart.full] + [(x, y) for x, y, *_ in chart.part]
    width, height = chart.width, chart.height
    if width is None or height is None:
        if not coords:
            raise OxsError(f"{source}: the chart has no stitches")
        width = width or min(MAX_SIDE, max(1, int(max(x for x, _ in coords)) + 1))
        height = height or min(MAX_SIDE, max(1, int(max(y for _, y in coords)) + 1))
        notes.append(f"the file gives no chart size; {width}×{height} holds its stitches")
    grid = np.zeros((height, width), dtype=np.int64)  # OXS palindex, 0 = cloth
    problems: Counter[str] = Counter(chart.invalid)

    def usable(x: float, y: float, p: int, what: str) -> bool:
        if x != int(x) or y != int(y):
            problems[f"{what} off the grid"] += 1
        elif not (0 <= x < width and 0 <= y < height):
            problems[f"{what} outside the {width}×{height} chart"] += 1
        elif p not in items:
            problems[f"{what} of an undefined color"] += 1
        else:
            return True
        return False

    for x, y, p in chart.full:
        if p != 0 and usable(x, y, p, "full stitch"):
            if grid[int(y), int(x)]:
                problems["second full stitch in a cell (the last is kept)"] += 1
            grid[int(y), int(x)] = p
    made_full = 0
    for x, y, p1, p2, _d in chart.part:
        p = p1 or p2
        if p and usable(x, y, p, "part stitch") and not grid[int(y), int(x)]:
            grid[int(y), int(x)] = p
            made_full += 1
    if made_full:
        notes.append(f"{made_full} half or three-quarter "
                     + ("stitch became a full cross" if made_full == 1 else
                        "stitches became full crosses")
                     + " (craftpix charts full crosses)")
    if chart.ornaments:
        notes.append(f"{chart.ornaments} knot, bead or other ornament is not imported"
                     if chart.ornaments == 1 else
                     f"{chart.ornaments} knots, beads or other ornaments are not imported")
    for what, n in sorted(problems.items()):
        notes.append(f"{n} {what} left out" if "kept" not in what else f"{n} × {what}")

    used = sorted(int(p) for p in np.unique(grid) if p)
    if not used:
        raise OxsError(f"{source}: no cell is stitched (every stitch is cloth or unusable)")
    targets: dict[int, int] = {}  # OXS index → catalog index
    moved: list[tuple[float, str, str]] = []
    need_color = [p for p in used if catalog_code(items[p], catalog, brand) is None]
    for p in used:
        k = catalog_code(items[p], catalog, brand)
        if k is not None:
            targets[p] = k
    if need_color:
        rgb = []
        for p in need_color:
            if items[p].color is None:
                notes.append(f"palette item {p} ({printable(items[p].number or items[p].name, 40)})"
                             " has no color and no catalog code: magenta (FF00FF) is used, as "
                             "the format says")
            rgb.append(hex_to_rgb8(items[p].color or "FF00FF"))
        lab = rgb8_to_lab(np.array(rgb, dtype=np.uint8))
        nearest = nearest_color_indices(lab, catalog.lab)
        de = np.asarray(delta_e_2000(lab, catalog.lab[nearest]), dtype=np.float64)
        for p, k, d in zip(need_color, nearest.tolist(), de.tolist(), strict=True):
            targets[p] = int(k)
            label = items[p].number.strip() or items[p].name or f"color {p}"
            moved.append((d, printable(label, 40), catalog.codes[int(k)]))
    label = BRAND_LABELS.get(brand, brand)
    if moved:
        worst = max(moved)
        notes.append(f"{len(moved)} color{'s' if len(moved) != 1 else ''} without a {label} code "
                     f"took the nearest {label} color (ΔE00 up to {worst[0]:.1f}: "
                     f"{worst[1]} → {worst[2]})")

    settings: dict[str, Any] = {}
    count = _fabric_count(chart, notes)
    if count is not None:
        settings["fabric_count"] = count
    strands = Counter(items[p].strands for p in used if items[p].strands)
    if strands:
        settings["strands"] = int(strands.most_common(1)[0][0])
    meta: dict[str, Any] = {"imported": {"format": "OXS", "software": chart.software,
                                         "author": chart.author}}
    if chart.title:
        meta["title"] = chart.title
    own = chart.software.strip().lower() == "craftpix"
    thread = _backstitch_thread(chart, items, catalog, brand, width, height)
    pattern = None
    if thread is not None:  # the thread joins the palette, as when craftpix outlines
        if thread[0] not in targets:
            k = catalog_code(items[thread[0]], catalog, brand)
            assert k is not None  # _backstitch_thread checked it
            targets[thread[0]] = k
        pattern = _build(grid, used + [thread[0]], targets, items, catalog, brand, own, meta)
        code = catalog.codes[targets[thread[0]]]
        if _same_outline(pattern, thread[1], thread[2], code):
            settings.update(backstitch="auto", backstitch_color=code)
        else:
            pattern = None
    if pattern is None:
        pattern = _build(grid, used, targets, items, catalog, brand, own, meta)
        if chart.back:
            n = len(chart.back)
            notes.append(f"{n} backstitch {'line is' if n == 1 else 'lines are'} not imported "
                         "(craftpix draws its own outline along cell edges: --backstitch auto)")
    merged = [c for c, n in Counter(targets[p] for p in used).items() if n > 1]
    if merged:
        notes.append(f"{len(merged)} {BRAND_LABELS.get(brand, brand)} color"
                     f"{' has to stand' if len(merged) == 1 else 's stand'} for "
                     "more than one of the file's colors: "
                     + ", ".join(catalog.codes[k] for k in merged[:8]))
    pattern.settings = settings
    return pattern, notes


def _build(grid: np.ndarray, indices: list[int], targets: dict[int, int],
           items: dict[int, OxsItem], catalog: Palette, brand: str, own: bool,
           meta: dict[str, Any]) -> Pattern:
    """The pattern of ``grid`` (OXS palindexes, 0 = cloth) with the palette items ``indices``
    as catalog colors ``targets``: in file order, one entry per catalog color, each item's
    symbol from the file pinned where it is valid (:func:`_symbol`) and no color before it
    has it, so the chart reads as the other program printed it; the other colors get
    craftpix's symbols when the pattern is exported."""
    order: list[int] = []  # catalog indices in file order, once each
    for p in sorted(set(indices)):
        if targets[p] not in order:
            order.append(targets[p])
    pos = {k: i for i, k in enumerate(order)}
    symbols: dict[int, str] = {}
    for p in sorted(set(indices)):
        s, slot = _symbol(items[p], own), pos[targets[p]]
        if s is None or slot in symbols or s in symbols.values():
            continue
        symbols[slot] = s
    palette = [Color(catalog.codes[k], catalog.names[k], catalog.hexes[k], symbols.get(i))
               for i, k in enumerate(order)]
    keys = np.array(sorted(targets), dtype=np.int64)
    values = np.array([pos.get(targets[int(k)], EMPTY) for k in keys], dtype=np.int64)
    at = np.clip(np.searchsorted(keys, grid), 0, len(keys) - 1)
    cells = np.where(grid > 0, values[at], EMPTY)
    return Pattern(cells, palette, "stitch", brand, dict(meta), {})


def _backstitch_thread(chart: OxsChart, items: dict[int, OxsItem], catalog: Palette,
                       brand: str, width: int, height: int
                       ) -> tuple[int, np.ndarray, np.ndarray] | None:
    """``(palindex, h, v)`` when the file's backstitch is one thread along cell edges whose
    color the catalog has by code; None otherwise."""
    if not chart.back:
        return None
    masks = _edge_masks(chart, width, height)
    if masks is None:
        return None
    h, v, threads = masks
    if len(threads) != 1:
        return None
    (p,) = threads
    if p == 0 or p not in items or catalog_code(items[p], catalog, brand) is None:
        return None
    return p, h, v


def _same_outline(pattern: Pattern, h: np.ndarray, v: np.ndarray, code: str) -> bool:
    """True when craftpix's own outline of ``pattern`` in ``code`` is ``(h, v)``, edge for edge."""
    from craftpix.export.backstitch import plan_backstitch

    try:
        _, bs = plan_backstitch(pattern, code)
    except InputError:
        return False
    return bs is not None and np.array_equal(bs.h, h) and np.array_equal(bs.v, v)
