"""The finished design: a grid of catalog colors, and the hand-off to every export.

``pattern.json`` schema (version 2)::

    {
      "format": "craftpix.pattern", "version": 2,
      "medium": "beads" | "bricks" | "stitch" | "diamond",
      "brand": "perler",                       # catalog the colors come from
      "width": W, "height": H,
      "palette": [{"code": "80-19001", "name": "White", "hex": "#F1F1F1"}, ...],
      "cells": [[i, null, ...], ...],          # H rows of W indices into "palette";
                                               # null = empty cell (no piece)
      "meta": {...},                           # free-form: prompt, seed, engine, steps, ...
      "settings": {...}                        # optional: the export settings last used
    }

Version 2 adds empty cells (``null``; in memory :data:`EMPTY` = -1 in the int64 grid) and the
``"settings"`` object (paper, fabric_count, strands, section, merge, part, hoop, formats,
pdf, background, backstitch, ... as written by :func:`craftpix.export.export_pattern`, which
uses them again unless overridden). Version-1 files (no empty cells, no settings) still load.
An empty cell means an empty peg, bare fabric or no brick: exports count, draw and stitch
nothing there. A pattern whose cells are all empty is refused.

A palette entry may carry an optional ``"symbol"`` to pin its chart symbol. Exports read a
:class:`Pattern` and nothing else: no tensors, no models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from craftpix.color import hex_to_rgb8, rgb8_to_hex
from craftpix.errors import InputError, excerpt, printable
from craftpix.fileio import write_text
from craftpix.media import MEDIA
from craftpix.symbols import GLYPHS, assign_symbols

FORMAT = "craftpix.pattern"
VERSION = 2
READ_VERSIONS = (1, 2)
EMPTY = -1  # "no piece" in Pattern.cells
#: Deepest nesting of arrays and objects a pattern file may have (``cells`` needs 2)
MAX_DEPTH = 32
#: ``meta`` keys the exports read as text (the PDF title, the image's file name)
META_TEXT = ("prompt", "image", "title")

# Chart symbols: the curated set of craftpix.symbols, simplest first (see that module).
SYMBOLS = "".join(g for g, _ in GLYPHS)


def usage_order(counts: np.ndarray) -> list[int]:
    """Indices of the used entries of ``counts``, most used first (ties: index order)."""
    return [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0]


class PatternError(InputError):
    """A pattern file or pattern value is malformed."""


@dataclass(frozen=True)
class Color:
    """One catalog color as it appears in a pattern."""

    code: str
    name: str
    hex: str
    symbol: str | None = None

    @property
    def rgb8(self) -> tuple[int, int, int]:
        return hex_to_rgb8(self.hex)


@dataclass
class Pattern:
    """A ``height``×``width`` grid of indices into ``palette``; :data:`EMPTY` (-1) = no piece.

    ``settings`` holds the export settings stored with the pattern (see the module docstring).
    Raises :class:`PatternError` for a malformed grid or palette, or when every cell is empty.
    """

    cells: np.ndarray
    palette: list[Color]
    medium: str
    brand: str
    meta: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cells = np.asarray(self.cells)
        if cells.ndim != 2 or cells.size == 0:
            raise PatternError(f"cells must be a non-empty 2-D grid, got shape {cells.shape}")
        if not np.issubdtype(cells.dtype, np.integer):
            raise PatternError("cells must hold integer palette indices")
        if not self.palette:
            raise PatternError("palette is empty")
        lo, hi = int(cells.min()), int(cells.max())
        if hi < 0:
            raise PatternError("the pattern is empty: every cell is an empty cell (no pieces)")
        if lo < EMPTY or hi >= len(self.palette):
            raise PatternError(
                f"cells refer to palette index {hi if hi >= len(self.palette) else lo}, "
                f"but the palette has {len(self.palette)} colors"
            )
        if self.medium not in MEDIA:
            raise PatternError(f"unknown medium {self.medium!r}; expected one of {', '.join(MEDIA)}")
        codes = [c.code for c in self.palette]
        if len(set(codes)) != len(codes):
            dup = next(c for c in codes if codes.count(c) > 1)
            raise PatternError(f"palette lists color {dup!r} twice")
        pinned = [c.symbol for c in self.palette if c.symbol]
        if len(set(pinned)) != len(pinned):
            dup = next(s for s in pinned if pinned.count(s) > 1)
            raise PatternError(f"palette pins symbol {dup!r} on more than one color")
        self.cells = cells.astype(np.int64, copy=False)

    # --- shape and statistics -------------------------------------------------------------
    @property
    def height(self) -> int:
        return int(self.cells.shape[0])

    @property
    def width(self) -> int:
        return int(self.cells.shape[1])

    @property
    def filled(self) -> np.ndarray:
        """``(H, W)`` bool: True where a cell holds a piece (not :data:`EMPTY`)."""
        return self.cells >= 0

    @property
    def has_empty(self) -> bool:
        """True when at least one cell is empty."""
        return bool((self.cells < 0).any())

    def counts(self) -> np.ndarray:
        """Number of cells of each palette entry (same order as ``palette``); empty cells skipped."""
        flat = self.cells.ravel()
        return np.bincount(flat[flat >= 0], minlength=len(self.palette))

    def compact(self) -> Pattern:
        """Drop palette entries no cell uses; order the rest by count, most used first.

        Empty cells stay empty; ``meta`` and ``settings`` are copied.
        """
        keep = usage_order(self.counts())
        remap = np.full(len(self.palette) + 1, EMPTY, dtype=np.int64)  # last slot: EMPTY → EMPTY
        remap[keep] = np.arange(len(keep))
        return Pattern(
            cells=remap[self.cells],
            palette=[self.palette[i] for i in keep],
            medium=self.medium,
            brand=self.brand,
            meta=dict(self.meta),
            settings=dict(self.settings),
        )

    def rgb8(self, empty: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
        """The design as an ``(H, W, 3)`` uint8 sRGB image, one pixel per cell.

        Empty cells get the color ``empty`` (0..255 sRGB; white by default).
        """
        lut = np.array([c.rgb8 for c in self.palette] + [tuple(empty)], dtype=np.uint8)
        return lut[self.cells]  # index -1 picks the last row: the empty color

    def rgba8(self) -> np.ndarray:
        """The design as an ``(H, W, 4)`` uint8 sRGBA image; empty cells are transparent (0, 0, 0, 0)."""
        lut = np.array([(*c.rgb8, 255) for c in self.palette] + [(0, 0, 0, 0)], dtype=np.uint8)
        return lut[self.cells]

    def symbols(self) -> list[str]:
        """One distinct chart symbol per palette entry (:func:`craftpix.symbols.assign_symbols`).

        Pinned symbols win; the other colors, most-used first, take the simplest curated glyph
        with no look-alike already on the chart.
        """
        return assign_symbols([c.code for c in self.palette], self.counts().tolist(),
                              [c.symbol for c in self.palette])

    def with_symbols(self) -> Pattern:
        """A copy whose palette pins every color's current symbol (stable from now on)."""
        syms = self.symbols()
        palette = [Color(c.code, c.name, c.hex, s) for c, s in zip(self.palette, syms, strict=True)]
        return Pattern(self.cells, palette, self.medium, self.brand, dict(self.meta),
                       dict(self.settings))

    # --- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``pattern.json`` object (schema version 2; empty cells as ``None``)."""
        palette = []
        for c in self.palette:
            entry = {"code": c.code, "name": c.name, "hex": c.hex}
            if c.symbol:
                entry["symbol"] = c.symbol
            palette.append(entry)
        rows: list[list[int | None]] = self.cells.tolist()
        if self.has_empty:
            rows = [[v if v >= 0 else None for v in row] for row in rows]  # type: ignore[operator]
        d: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "medium": self.medium,
            "brand": self.brand,
            "width": self.width,
            "height": self.height,
            "palette": palette,
            "cells": rows,
            "meta": self.meta,
        }
        if self.settings:
            d["settings"] = self.settings
        return d

    def to_json(self) -> str:
        # One row of cells per line keeps the file readable and diff-friendly.
        d = self.to_dict()
        cells = d.pop("cells")
        d.pop("settings", None)
        d.pop("meta")
        d["meta"] = self.meta
        if self.settings:
            d["settings"] = self.settings
        head = json.dumps(d, indent=2, ensure_ascii=False)
        rows = ",\n    ".join(json.dumps(r, separators=(",", ":")) for r in cells)
        return head[:-2] + ',\n  "cells": [\n    ' + rows + "\n  ]\n}\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``pattern.json`` atomically."""
        return write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, d: Any, source: str = "pattern") -> Pattern:
        """Build a pattern from parsed JSON, naming the first thing that is wrong."""

        def fail(msg: str) -> PatternError:
            return PatternError(f"{source}: {msg}")

        if not isinstance(d, dict):
            raise fail("expected a JSON object at the top level")
        if d.get("format", FORMAT) != FORMAT:
            raise fail(f"not a craftpix pattern (format is {d.get('format')!r})")
        version = d.get("version", VERSION)
        if version not in READ_VERSIONS or isinstance(version, bool):
            readable = ", ".join(str(v) for v in READ_VERSIONS)
            raise fail(f"unsupported pattern version {version!r} (this craftpix reads {readable})")
        for key in ("medium", "brand", "width", "height", "palette", "cells"):
            if key not in d:
                raise fail(f"missing key {key!r}")
        medium, brand = d["medium"], d["brand"]
        if not isinstance(medium, str) or medium not in MEDIA:
            raise fail(f"'medium' must be one of {', '.join(MEDIA)}, got {medium!r}")
        if not isinstance(brand, str) or not brand:
            raise fail("'brand' must be a non-empty string")
        width, height = d["width"], d["height"]
        for key, val in (("width", width), ("height", height)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise fail(f"'{key}' must be a positive integer, got {val!r}")
        palette = _parse_palette(d["palette"], fail)
        cells = d["cells"]
        if not isinstance(cells, list) or len(cells) != height:
            got = len(cells) if isinstance(cells, list) else type(cells).__name__
            raise fail(f"'cells' must hold {height} rows (height), got {got}")
        for r, row in enumerate(cells):
            if not isinstance(row, list) or len(row) != width:
                got = len(row) if isinstance(row, list) else type(row).__name__
                raise fail(f"'cells' row {r} must hold {width} entries (width), got {got}")
            for c, v in enumerate(row):
                if v is None and version >= 2:
                    continue
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < len(palette):
                    empty = " or null (empty cell)" if version >= 2 else ""
                    raise fail(
                        f"'cells' row {r} column {c} is {v!r}, expected a palette index "
                        f"0..{len(palette) - 1}{empty}"
                    )
        meta = d.get("meta", {})
        if not isinstance(meta, dict):
            raise fail("'meta' must be a JSON object")
        for key in META_TEXT:
            if meta.get(key) is not None and not isinstance(meta[key], str):
                raise fail(f"'meta.{key}' must be a string, got {type(meta[key]).__name__}")
        settings = d.get("settings", {})
        if not isinstance(settings, dict):
            raise fail("'settings' must be a JSON object")
        grid = np.array([[EMPTY if v is None else v for v in row] for row in cells], dtype=np.int64)
        if not (grid >= 0).any():
            raise fail("every cell is empty (null); a pattern needs at least one piece")
        return cls(grid, palette, medium, brand, meta, dict(settings))

    @classmethod
    def from_json(cls, text: str, source: str = "pattern") -> Pattern:
        """Parse ``pattern.json`` text (a leading BOM is allowed).

        Raises :class:`PatternError` for invalid JSON, nesting deeper than ``MAX_DEPTH``,
        text that is not valid Unicode (a lone surrogate escape such as ``"\\ud800"``), and
        everything :meth:`from_dict` checks.
        """
        source = printable(source)
        try:
            data = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            raise PatternError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise PatternError(f"{source}: nested deeper than {MAX_DEPTH} levels (the limit)") from None
        _check_tree(data, source)
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pattern:
        p = Path(path)
        if p.exists() and not p.is_file():
            kind = "a folder" if p.is_dir() else "not a regular file"
            raise PatternError(f"cannot read pattern file {printable(p)}: {kind}")
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise PatternError(f"pattern file {printable(p)} does not exist") from None
        except UnicodeDecodeError:
            raise PatternError(f"cannot read pattern file {printable(p)}: it is {_file_kind(p)}, "
                               "not a pattern.json; give the pattern.json that a craftpix run "
                               "wrote, e.g. owl-beads-32/pattern.json") from None
        except OSError as exc:
            raise PatternError(f"cannot read pattern file {printable(p)}: "
                               f"{exc.strerror or exc}") from None
        return cls.from_json(text, source=str(p))


#: how a file that is not a pattern starts, and what it is (for the one-line refusal)
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"BM", "a BMP image"), (b"%PDF", "a PDF"), (b"II*\x00", "a TIFF image"),
          (b"MM\x00*", "a TIFF image"), (b"#PES", "a PES embroidery file"))


def _file_kind(path: Path) -> str:
    """What a file that is not UTF-8 text is, by its first bytes: ``"a PNG image"``; else
    ``"a binary file"``. WebP is ``RIFF....WEBP``."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return "a binary file"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "a binary file"


def _check_tree(data: Any, source: str) -> None:
    """Depth and text checks over a parsed JSON value, without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            if depth > MAX_DEPTH:
                raise PatternError(f"{source}: nested deeper than {MAX_DEPTH} levels (the limit)")
            items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
            for key, v in items:
                if key is not None:
                    stack.append((key, depth))
                if isinstance(v, (list, dict, str)):
                    stack.append((v, depth + 1))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise PatternError(f"{source}: text {excerpt(value)} holds a lone surrogate "
                                   "(not valid Unicode)") from None


def _parse_palette(raw: Any, fail: Any) -> list[Color]:
    if not isinstance(raw, list) or not raw:
        raise fail("'palette' must be a non-empty list of {code, name, hex}")
    out: list[Color] = []
    seen: set[str] = set()
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise fail(f"'palette' entry {i} must be an object with code, name, hex")
        for key in ("code", "name", "hex"):
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise fail(f"'palette' entry {i} needs a non-empty string {key!r}")
        try:
            hexval = rgb8_to_hex(hex_to_rgb8(e["hex"]))
        except ValueError:
            raise fail(f"'palette' entry {i} ({e['code']}) has a bad hex color {e['hex']!r}") from None
        if e["code"] in seen:
            raise fail(f"'palette' lists color {e['code']!r} twice")
        seen.add(e["code"])
        symbol = e.get("symbol")
        if symbol is not None and (not isinstance(symbol, str) or not symbol.strip()):
            raise fail(f"'palette' entry {i} has an empty 'symbol'")
        if symbol is not None and any(c.symbol == symbol for c in out):
            raise fail(f"'palette' entry {i} ({e['code']}) pins symbol {symbol!r}, already used")
        out.append(Color(e["code"], e["name"], hexval, symbol))
    return out


def pattern_from_indices(
    cells: np.ndarray,
    codes: Sequence[str],
    names: Sequence[str],
    hexes: Sequence[str],
    medium: str,
    brand: str,
    meta: dict[str, Any] | None = None,
) -> Pattern:
    """Build a compact pattern from a grid of indices into a catalog's color lists.

    ``cells`` is ``(H, W)`` integers; -1 (:data:`EMPTY`) marks an empty cell. Raises
    :class:`PatternError` when every cell is empty or an index is out of range.
    """
    palette = [Color(c, n, h) for c, n, h in zip(codes, names, hexes, strict=True)]
    return Pattern(np.asarray(cells), palette, medium, brand, dict(meta or {})).compact()
