"""The finished design: a grid of catalog colors, and the hand-off to every export.

``pattern.json`` schema (version 1)::

    {
      "format": "craftpix.pattern", "version": 1,
      "medium": "beads" | "bricks" | "stitch",
      "brand": "perler",                       # catalog the colors come from
      "width": W, "height": H,
      "palette": [{"code": "80-19001", "name": "White", "hex": "#F1F1F1"}, ...],
      "cells": [[i, i, ...], ...],             # H rows of W indices into "palette"
      "meta": {...}                            # free-form: prompt, seed, engine, steps, ...
    }

A palette entry may carry an optional ``"symbol"`` to pin its chart symbol. Exports read a
:class:`Pattern` and nothing else: no tensors, no models.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from craftpix.color import hex_to_rgb8, rgb8_to_hex
from craftpix.errors import InputError, excerpt, printable
from craftpix.fileio import write_text
from craftpix.media import MEDIA

FORMAT = "craftpix.pattern"
VERSION = 1
#: Deepest nesting of arrays and objects a pattern file may have (``cells`` needs 2)
MAX_DEPTH = 32
#: ``meta`` keys the exports read as text (the PDF title, the image's file name)
META_TEXT = ("prompt", "image")

# Chart symbols, most legible first. All are in the Latin-1 range so that any embedded
# TrueType font used by the PDF has them. Look-alikes are left out: l/1/I, O/0/o, and the
# lower-case letters shaped like their capitals (s/S, x/X, ...).
SYMBOLS = (
    "X+O#*@%&=~/\\<>^$?!ZSNHKVWMAEFTLYUCDGJPQRB"
    "abdegnqrt23456789"
    "§¶©®±µ×÷¤ß¥£¢ÆØÞ¿¡«»°¬"
)


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
    """A ``height``×``width`` grid of indices into ``palette``."""

    cells: np.ndarray
    palette: list[Color]
    medium: str
    brand: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cells = np.asarray(self.cells)
        if cells.ndim != 2 or cells.size == 0:
            raise PatternError(f"cells must be a non-empty 2-D grid, got shape {cells.shape}")
        if not np.issubdtype(cells.dtype, np.integer):
            raise PatternError("cells must hold integer palette indices")
        if not self.palette:
            raise PatternError("palette is empty")
        lo, hi = int(cells.min()), int(cells.max())
        if lo < 0 or hi >= len(self.palette):
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

    def counts(self) -> np.ndarray:
        """Number of cells of each palette entry (same order as ``palette``)."""
        return np.bincount(self.cells.ravel(), minlength=len(self.palette))

    def compact(self) -> Pattern:
        """Drop palette entries no cell uses; order the rest by count, most used first."""
        keep = usage_order(self.counts())
        remap = np.full(len(self.palette), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        return Pattern(
            cells=remap[self.cells],
            palette=[self.palette[i] for i in keep],
            medium=self.medium,
            brand=self.brand,
            meta=dict(self.meta),
        )

    def rgb8(self) -> np.ndarray:
        """The design as an ``(H, W, 3)`` uint8 image, one pixel per cell."""
        lut = np.array([c.rgb8 for c in self.palette], dtype=np.uint8)
        return lut[self.cells]

    def symbols(self) -> list[str]:
        """One distinct chart symbol per palette entry.

        A color keeps the same symbol from pattern to pattern where it can: its preferred slot
        is a hash of brand and code, and a clash moves it to the next free slot. Colors are
        placed most-used first, so clashes move the rarer colors. Pinned symbols win.
        """
        n = len(self.palette)
        alphabet = list(SYMBOLS)
        if n > len(alphabet):  # very large palettes: add two-character symbols
            alphabet += [a + b for a in SYMBOLS[:20] for b in "23456789"]
            # ... and numbered ones beyond that, so that there is always a free slot.
            k = 10
            while len(alphabet) < n:
                alphabet += [a + str(k) for a in SYMBOLS[:20]]
                k += 1
        taken: set[str] = {c.symbol for c in self.palette if c.symbol}
        out: list[str | None] = [c.symbol for c in self.palette]
        order = np.argsort(-self.counts(), kind="stable")
        for i in order:
            if out[i]:
                continue
            key = f"{self.brand}:{self.palette[i].code}".encode()
            slot = zlib.crc32(key) % len(alphabet)
            while alphabet[slot] in taken:
                slot = (slot + 1) % len(alphabet)
            out[i] = alphabet[slot]
            taken.add(alphabet[slot])
        return [s for s in out if s is not None]

    # --- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        palette = []
        for c in self.palette:
            entry = {"code": c.code, "name": c.name, "hex": c.hex}
            if c.symbol:
                entry["symbol"] = c.symbol
            palette.append(entry)
        return {
            "format": FORMAT,
            "version": VERSION,
            "medium": self.medium,
            "brand": self.brand,
            "width": self.width,
            "height": self.height,
            "palette": palette,
            "cells": self.cells.tolist(),
            "meta": self.meta,
        }

    def to_json(self) -> str:
        # One row of cells per line keeps the file readable and diff-friendly.
        d = self.to_dict()
        cells = d.pop("cells")
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
        if d.get("version", VERSION) != VERSION:
            raise fail(f"unsupported pattern version {d.get('version')!r} (this craftpix reads {VERSION})")
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
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < len(palette):
                    raise fail(
                        f"'cells' row {r} column {c} is {v!r}, expected a palette index "
                        f"0..{len(palette) - 1}"
                    )
        meta = d.get("meta", {})
        if not isinstance(meta, dict):
            raise fail("'meta' must be a JSON object")
        for key in META_TEXT:
            if meta.get(key) is not None and not isinstance(meta[key], str):
                raise fail(f"'meta.{key}' must be a string, got {type(meta[key]).__name__}")
        return cls(np.array(cells, dtype=np.int64), palette, medium, brand, meta)

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
        except UnicodeDecodeError as exc:
            raise PatternError(f"cannot read pattern file {printable(p)}: not UTF-8 text "
                               f"(byte {exc.start})") from None
        except OSError as exc:
            raise PatternError(f"cannot read pattern file {printable(p)}: "
                               f"{exc.strerror or exc}") from None
        return cls.from_json(text, source=str(p))


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
    """Build a compact pattern from a grid of indices into a catalog's color lists."""
    palette = [Color(c, n, h) for c, n, h in zip(codes, names, hexes, strict=True)]
    return Pattern(np.asarray(cells), palette, medium, brand, dict(meta or {})).compact()
