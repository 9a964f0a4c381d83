"""Pattern sizes as crafters say them, and where the image goes in the grid.

Size texts (``--size``):

* ``48`` — the longer side is 48 cells, the other follows the image's aspect ratio (a prompt
  alone: a 48×48 square);
* ``48x`` / ``x60`` — the width (height) in cells, the other side follows the image;
* ``64x48`` — both sides given;
* lengths: ``30cmx20cm``, ``8inx10in``, ``300mm``, ``20cmx``; a unit after the last number
  alone applies to both sides (``30x20cm`` = ``30cmx20cm``). A length becomes the largest
  number of whole cells that fits in it, at the medium's cell pitch
  (:meth:`craftpix.media.Medium.cell_mm`: 5 mm beads, 8 mm studs, 25.4 mm / fabric count).

``auto``: the native grid of pixel art scaled up by a whole factor (each block one cell).
``hoop`` (cross-stitch): the largest design of the image's shape whose stitched extent fits
the embroidery hoop's sewing field (``--hoop``), so machine files can be written; the
transparent margins of an image are not sewn, so they need no room in the hoop.

Boards (``--boards 2x3``, or ``2`` for 2×2): that many pegboards or baseplates of the
craft's section size (29 beads, 16/32/48 studs).

The image is never cut silently. When both sides are given and the image's shape differs
by at least one cell, :func:`place` says what happens with ``fit``: ``pad`` (the default)
keeps the whole image and leaves empty cells around it, ``crop`` cuts the middle out,
``stretch`` distorts it. Each case adds a one-line note saying how much.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from craftpix.errors import InputError
from craftpix.notes import Hint, Note

MIN_SIDE, MAX_SIDE = 2, 500
FITS = ("pad", "crop", "stretch")
DEFAULT_FIT = "pad"
#: Millimetres per unit. ``in`` is the international inch (25.4 mm exactly).
UNITS_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4}
_UNIT_ALIASES = {"": "cells", "cell": "cells", "cells": "cells", "mm": "mm", "cm": "cm",
                 "in": "in", "inch": "in", "inches": "in", '"': "in"}
#: An image is "upscaled a lot" when one pixel spreads over this many cells (per side) or more.
UPSCALE_WARN = 2.0

_SIDE = r"(\d+(?:[.,]\d+)?)\s*(mm|cm|inches|inch|in|\"|cells|cell)?"
_SEP = r"\s*[x×*]\s*"

__all__ = [
    "DEFAULT_FIT", "FITS", "Length", "Placement", "SizeSpec", "frame_count", "parse_boards",
    "parse_size", "place", "resolve",
]


@dataclass(frozen=True)
class Length:
    """One side of a size: ``value`` in ``unit`` (``"cells"``, ``"mm"``, ``"cm"``, ``"in"``)."""

    value: float
    unit: str = "cells"

    def cells(self, cell_mm: float) -> int:
        """Whole cells: the value itself, or the most cells of ``cell_mm`` that fit the length."""
        if self.unit == "cells":
            return int(self.value)
        # the small tolerance keeps 30 cm of 5 mm beads at 60, not 59 (float rounding)
        return int(math.floor(self.value * UNITS_MM[self.unit] / cell_mm + 1e-9))

    def text(self) -> str:
        v = f"{self.value:g}"
        return v if self.unit == "cells" else f"{v}{self.unit}"


@dataclass(frozen=True)
class SizeSpec:
    """A parsed size: ``width`` and/or ``height``, or ``longest`` (the ``N`` form)."""

    width: Length | None = None
    height: Length | None = None
    longest: Length | None = None
    hoop: bool = False  # the largest design that fits the embroidery hoop
    auto: bool = False  # pixel art's own grid (an image scaled up by a whole factor)

    @classmethod
    def cells(cls, width: int, height: int) -> SizeSpec:
        """Both sides, in cells."""
        return cls(Length(int(width)), Length(int(height)))

    @property
    def both(self) -> bool:
        return self.width is not None and self.height is not None

    def text(self) -> str:
        """The spec written back as a ``--size`` value (``48``, ``48x``, ``30cmx20cm``)."""
        if self.hoop:
            return "hoop"
        if self.auto:
            return "auto"
        if self.longest is not None:
            return self.longest.text()
        w = self.width.text() if self.width else ""
        h = self.height.text() if self.height else ""
        return f"{w}x{h}"


def _length(number: str, unit: str | None, text: str) -> Length:
    unit_name = _UNIT_ALIASES[(unit or "").lower()]
    value = float(number.replace(",", "."))
    if unit_name == "cells" and value != int(value):
        raise InputError(f"size {text!r}: a number of cells must be whole, got {number}")
    if value <= 0:
        raise InputError(f"size {text!r}: each side must be more than 0")
    return Length(value, unit_name)


def parse_size(text: str | int | tuple[int, int] | SizeSpec) -> SizeSpec:
    """Parse a size text (see the module docstring); a ``(w, h)`` tuple is cells, an int ``N``
    is the ``N`` form.

    Raises :class:`InputError` (one line) for text that is not a size, a side of 0, or a
    fractional number of cells. Ranges are checked by :func:`resolve`, once the image is known.
    """
    if isinstance(text, SizeSpec):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise InputError(f"size {text}: each side must be more than 0")
        return SizeSpec(longest=Length(text))
    if isinstance(text, (tuple, list)):
        try:
            w, h = (int(v) for v in text)
        except (TypeError, ValueError):
            raise InputError(f"size must be (width, height) in cells, got {text!r}") from None
        return SizeSpec.cells(w, h)
    if not isinstance(text, str):
        raise InputError(f"size must be (width, height) in cells or a size text, got {text!r}")
    s = text.strip().lower()
    if s == "hoop":
        return SizeSpec(hoop=True)
    if s == "auto":
        return SizeSpec(auto=True)
    m = re.fullmatch(_SIDE, s)
    if m:
        return SizeSpec(longest=_length(m.group(1), m.group(2), text))
    m = re.fullmatch(_SIDE + _SEP, s)
    if m:
        return SizeSpec(width=_length(m.group(1), m.group(2), text))
    m = re.fullmatch(r"[x×*]\s*" + _SIDE, s)
    if m:
        return SizeSpec(height=_length(m.group(1), m.group(2), text))
    m = re.fullmatch(_SIDE + _SEP + _SIDE, s)
    if m:
        unit_w, unit_h = m.group(2), m.group(4)
        if unit_w is None and unit_h is not None:
            unit_w = unit_h  # "30x20cm": the unit applies to both sides
        return SizeSpec(_length(m.group(1), unit_w, text), _length(m.group(3), unit_h, text))
    raise InputError(f"size must be N, Nx, xN or WxH in cells, or lengths such as 30cmx20cm or "
                     f"8inx10in; {text!r} is not a size")


def parse_boards(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"2x3"`` (boards across × down) or ``"2"`` (2×2) → ``(2, 3)``; each 1..20.

    Raises :class:`InputError` for anything else.
    """
    if isinstance(text, (tuple, list)):
        try:
            across, down = (int(v) for v in text)
        except (TypeError, ValueError):
            raise InputError(f"boards must be (across, down), got {text!r}") from None
    else:
        m = re.fullmatch(r"(\d+)(?:" + _SEP + r"(\d+))?", str(text).strip().lower())
        if not m:
            raise InputError(f"{text!r} is not a number of boards; use e.g. 2x2 or 3x2")
        across = int(m.group(1))
        down = int(m.group(2)) if m.group(2) else across
    if not (1 <= across <= 20 and 1 <= down <= 20):
        raise InputError(f"boards {across}x{down}: use 1 to 20 boards each way")
    return across, down


def _check(width: int, height: int, spec_text: str, why: str = "") -> tuple[int, int]:
    for side in (width, height):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise InputError(f"size {spec_text} is out of range: {width}x{height} cells{why}; "
                             f"each side must be {MIN_SIDE} to {MAX_SIDE} cells")
    return width, height


def stitched_extent(alpha: np.ndarray, width: int, height: int) -> tuple[int, int]:
    """``(columns, rows)`` of the cells that hold pieces when an image with alpha plane
    ``alpha`` ((H, W) uint8, 0..255) fills a ``width``×``height`` grid: the bounding box of the
    cells at least half covered (mean alpha ≥ 0.5 over the cell, box filter), the rule of
    :func:`craftpix.imageio.area_downsample_alpha` and the photo engine. ``(0, 0)`` when no
    cell is."""
    from PIL import Image

    a = np.asarray(alpha, dtype=np.float32) / 255.0
    cover = np.asarray(Image.fromarray(a).resize((width, height), Image.Resampling.BOX))
    rows = np.flatnonzero((cover >= 0.5).any(axis=1))
    cols = np.flatnonzero((cover >= 0.5).any(axis=0))
    if rows.size == 0:
        return 0, 0
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def alpha_plane(image: Any) -> np.ndarray | None:
    """The alpha plane ((H, W) uint8) of a PIL image with transparency, else None."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return None
    a = np.asarray(image.convert("RGBA").getchannel("A"))
    return a if a.size and a.min() < 255 else None


def _hoop_grid(wmax: int, hmax: int, aspect: float,
               alpha: np.ndarray | None) -> tuple[int, int]:
    """The largest grid of the image's shape (the following side rounded down) whose
    stitched extent (:func:`stitched_extent`) is at most ``wmax``×``hmax`` cells; the whole
    grid counts when ``alpha`` is None. The longer side is at most ``MAX_SIDE``."""
    if aspect >= wmax / hmax:
        full = (wmax, min(hmax, max(1, math.floor(wmax / aspect + 1e-9))))
    else:
        full = (min(wmax, max(1, math.floor(hmax * aspect + 1e-9))), hmax)
    if alpha is None:
        return full

    def grid(n: int) -> tuple[int, int]:
        return ((n, max(1, math.floor(n / aspect + 1e-9))) if aspect >= 1
                else (max(1, math.floor(n * aspect + 1e-9)), n))

    def fits(n: int) -> bool:
        w, h = grid(n)
        ew, eh = stitched_extent(alpha, w, h)
        return max(w, h) <= MAX_SIDE and 0 < ew <= wmax and 0 < eh <= hmax

    lo, hi = max(full), MAX_SIDE  # lo always fits: its whole grid does
    if fits(hi):
        return grid(hi)
    while hi - lo > 1:  # the extent grows with the grid: bisect for the last size that fits
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return grid(lo) if lo > max(full) else full


def resolve(spec: SizeSpec, cell_mm: float, image_size: tuple[int, int] | None = None,
            hoop_mm: tuple[float, float] | None = None, *,
            alpha: np.ndarray | None = None) -> tuple[int, int]:
    """The grid ``(width, height)`` in cells for ``spec``.

    ``cell_mm`` is the cell pitch in mm (for lengths); ``image_size`` the image's
    ``(width, height)`` in pixels (after EXIF rotation) for the sides that follow its aspect
    ratio, ``None`` for a prompt alone (``N`` is then a square). The following side is
    rounded to the nearest cell. ``hoop_mm`` is the hoop's sewing field ``(width, height)``
    in mm for ``spec.hoop``: every side is rounded down so the design fits it; with ``alpha``,
    the image's alpha plane (:func:`alpha_plane`), the stitched extent must fit it, not the
    grid with its empty margins (:func:`stitched_extent`). Raises
    :class:`InputError` when a side is out of ``MIN_SIDE..MAX_SIDE``, when a side must
    follow an image and there is none, or for ``hoop`` without ``hoop_mm``.
    """
    text = spec.text()
    aspect = image_size[0] / image_size[1] if image_size else None
    if spec.hoop:
        if hoop_mm is None:
            raise InputError("--size hoop needs a hoop: give --hoop, e.g. --hoop 130x180mm")
        wmax = int(math.floor(hoop_mm[0] / cell_mm + 1e-9))
        hmax = int(math.floor(hoop_mm[1] / cell_mm + 1e-9))
        why = f" to fit the {hoop_mm[0]:g}x{hoop_mm[1]:g} mm hoop"
        if aspect is None:
            return _check(wmax, hmax, text, why)
        return _check(*_hoop_grid(wmax, hmax, aspect, alpha), text, why)
    if spec.longest is not None:
        n = spec.longest.cells(cell_mm)
        if aspect is None:
            return _check(n, n, text)
        if aspect >= 1:
            return _check(n, max(1, round(n / aspect)), text, " keeping the image's shape")
        return _check(max(1, round(n * aspect)), n, text, " keeping the image's shape")
    if spec.both:
        assert spec.width is not None and spec.height is not None
        return _check(spec.width.cells(cell_mm), spec.height.cells(cell_mm), text)
    if aspect is None:
        raise InputError(f"size {text} leaves one side to follow the image, and there is no "
                         "image; give both sides, e.g. 48x48")
    if spec.width is not None:
        w = spec.width.cells(cell_mm)
        return _check(w, max(1, round(w / aspect)), text, " keeping the image's shape")
    assert spec.height is not None
    h = spec.height.cells(cell_mm)
    return _check(max(1, round(h * aspect)), h, text, " keeping the image's shape")


@dataclass(frozen=True)
class Placement:
    """Where the image goes in a ``width``×``height`` grid.

    The image (after ``crop`` or ``stretch``) fills the box ``left, top, inner_w, inner_h``
    (cells); cells outside it are empty. ``crop_box`` is the part of the image used, in
    pixels ``(left, top, right, bottom)``. ``notes`` are one-line messages for the user.
    """

    width: int
    height: int
    left: int
    top: int
    inner_w: int
    inner_h: int
    crop_box: tuple[int, int, int, int]
    notes: list[str] = field(default_factory=list)

    @property
    def padded(self) -> bool:
        return (self.inner_w, self.inner_h) != (self.width, self.height)


def _side_word(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def place(width: int, height: int, image_size: tuple[int, int], fit: str = DEFAULT_FIT,
          both_given: bool = True) -> Placement:
    """Fit an image of ``image_size`` pixels into a ``width``×``height`` grid (see module).

    Shapes that differ by less than one cell are not reported (the image is scaled to the
    grid). Also notes a large upscale (:data:`UPSCALE_WARN`). Raises :class:`InputError`
    for an unknown ``fit``.
    """
    if fit not in FITS:
        raise InputError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    iw, ih = image_size
    aspect = iw / ih
    notes: list[str] = []
    full = (0, 0, iw, ih)
    # the image's own shape at this grid: how many cells it would span keeping its aspect
    if aspect > width / height:
        keep_w, keep_h = width, max(1, min(height, round(width / aspect)))
    else:
        keep_w, keep_h = max(1, min(width, round(height * aspect))), height
    result = Placement(width, height, 0, 0, width, height, full, notes)
    # a grid that already follows the image (48x, 48) differs from it by rounding only
    differs = both_given and (keep_w, keep_h) != (width, height)
    size = f"{width}x{height}"
    if differs and fit == "pad":
        left, top = (width - keep_w) // 2, (height - keep_h) // 2
        if keep_w < width:
            extra = width - keep_w
            notes.append(Note(f"the image is narrower than {size}: kept whole, with "
                              f"{_side_word(left, 'empty column')} on the left and "
                              f"{_side_word(extra - left, 'empty column')} on the right",
                              [Hint("fit", "crop", "fills the grid"),
                               Hint("size", f"x{height}", "keeps the image's shape")]))
        else:
            extra = height - keep_h
            notes.append(Note(f"the image is wider than {size}: kept whole, with "
                              f"{_side_word(top, 'empty row')} above and "
                              f"{_side_word(extra - top, 'empty row')} below",
                              [Hint("fit", "crop", "fills the grid"),
                               Hint("size", f"{width}x", "keeps the image's shape")]))
        result = Placement(width, height, left, top, keep_w, keep_h, full, notes)
    elif differs and fit == "crop":
        target = width / height
        if aspect > target:
            new_w = max(1, round(ih * target))
            x0 = (iw - new_w) // 2
            box = (x0, 0, x0 + new_w, ih)
            notes.append(Note(f"the image is wider than {size}: cut {1 - new_w / iw:.0%} of its "
                              "width off the left and right", [Hint("fit", "pad", "keeps all of it")]))
        else:
            new_h = max(1, round(iw / target))
            y0 = (ih - new_h) // 2
            box = (0, y0, iw, y0 + new_h)
            notes.append(Note(f"the image is taller than {size}: cut {1 - new_h / ih:.0%} of its "
                              "height off the top and bottom", [Hint("fit", "pad", "keeps all of it")]))
        result = Placement(width, height, 0, 0, width, height, box, notes)
    elif differs and fit == "stretch":
        notes.append(Note(f"the image ({iw}x{ih} pixels) is stretched to {size}: its shape "
                          "changes", [Hint("fit", "pad", "keeps it")]))
    bw = result.crop_box[2] - result.crop_box[0]
    bh = result.crop_box[3] - result.crop_box[1]
    scale = max(result.inner_w / bw, result.inner_h / bh)
    if scale >= UPSCALE_WARN:
        notes.append(Note(f"the image is only {iw}x{ih} pixels: each pixel becomes about "
                          f"{scale:.1f}x{scale:.1f} cells, so the pattern will look blocky or "
                          "soft", [Hint("size", f"{bw}x", "gives one cell per pixel")]))
    return result


def frame_count(path: str | os.PathLike[str]) -> int:
    """Number of frames of an image file (1 for still images); 1 when it cannot be read.

    Only the header is read. Reading errors are left to :func:`craftpix.imageio.load_image`.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(Path(path)) as im:
            return int(getattr(im, "n_frames", 1))
    except (OSError, UnidentifiedImageError, ValueError):
        return 1
