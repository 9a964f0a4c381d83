"""Embroidery hoops: named presets, sizes with units, and the smallest hoop that fits.

A hoop is given as ``--hoop`` in one of these forms (all sizes are the hoop's sewing field,
width × height, in millimetres after parsing):

* a preset name: ``4x4``, ``5x7``, ``6x10``, ``8x8``, ``8x12``, ``200x280`` ... (see
  :data:`HOOP_PRESETS`). Hoops sold in inches are named by their nominal size; the sewing
  field is the metric size the machine makers print (a "4×4 in" hoop sews 100×100 mm);
* a size with a unit: ``130x180mm``, ``100 x 100 mm``, ``4x4in`` (a nominal inch size that is
  a preset uses that preset's field; any other inch size is converted at 25.4 mm per inch);
* a bare ``WxH`` that is not a preset is read as millimetres when both sides are at least
  :data:`MIN_BARE_MM` (``130x180``); smaller bare numbers are ambiguous and refused.

Preset sources: the sewing fields printed by Brother, Janome and Bernina for their standard
hoops (4×4 in = 100×100 mm, 5×7 in = 130×180 mm, 6×10 in = 160×260 mm, 8×8 in = 200×200 mm,
8×12 in = 200×300 mm, Janome RE28b = 200×280 mm, Janome SQ14 = 140×140 mm, 2×2 in = 50×50 mm,
Janome RE20b = 140×200 mm, 9.5×14 in = 240×360 mm).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from craftpix.errors import InputError
from craftpix.media import MM_PER_INCH

HOOP_MAX_MM = 1000.0
MIN_BARE_MM = 20.0  # bare numbers below this could be inches: ask for a unit


@dataclass(frozen=True)
class Hoop:
    """A hoop's sewing field: ``width_mm`` × ``height_mm``; ``name`` is its preset name or ''."""

    width_mm: float
    height_mm: float
    name: str = ""

    @property
    def size(self) -> tuple[float, float]:
        return (self.width_mm, self.height_mm)

    @property
    def label(self) -> str:
        mm = f"{self.width_mm:g}x{self.height_mm:g} mm"
        return f"{self.name} ({mm})" if self.name and self.name != f"{self.width_mm:g}x{self.height_mm:g}" else mm

    def fits(self, width_mm: float, height_mm: float) -> bool:
        """True when a ``width_mm`` × ``height_mm`` design fits unturned (0.001 mm slack)."""
        return width_mm <= self.width_mm + 1e-3 and height_mm <= self.height_mm + 1e-3

    def holds(self, width_mm: float, height_mm: float) -> bool:
        """True when the design fits as it is or turned a quarter turn (see :func:`needs_turn`)."""
        return self.fits(width_mm, height_mm) or self.fits(height_mm, width_mm)


# name -> sewing field (width, height) in mm; ordered by area, smallest first
HOOP_PRESETS: dict[str, tuple[float, float]] = {
    "2x2": (50.0, 50.0),
    "4x4": (100.0, 100.0),
    "140x140": (140.0, 140.0),
    "5x7": (130.0, 180.0),
    "140x200": (140.0, 200.0),
    "8x8": (200.0, 200.0),
    "6x10": (160.0, 260.0),
    "200x280": (200.0, 280.0),
    "8x12": (200.0, 300.0),
    "9.5x14": (240.0, 360.0),
}
DEFAULT_HOOP = Hoop(100.0, 100.0, "4x4")

_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"\s*(mm|cm|in|inch|inches|\")?\s*"
_HOOP_RE = re.compile(rf"^\s*{_NUM}{_UNIT}[x×X*]\s*{_NUM}{_UNIT}$")
_PER_UNIT = {"mm": 1.0, "cm": 10.0, "in": MM_PER_INCH, "inch": MM_PER_INCH,
             "inches": MM_PER_INCH, '"': MM_PER_INCH}


def _preset_key(w: float, h: float) -> str:
    return f"{w:g}x{h:g}"


def preset_names() -> str:
    """The preset names, comma separated, for messages and help."""
    return ", ".join(HOOP_PRESETS)


def parse_hoop(value: str | Sequence[float] | Hoop | None) -> Hoop | None:
    """Parse a ``--hoop`` value (see the module docstring); ``None`` stays ``None`` (= auto).

    A ``(width, height)`` sequence is millimetres. Raises :class:`InputError` with one line
    for a malformed, ambiguous or out-of-range hoop.
    """
    if value is None or isinstance(value, Hoop):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return None
        m = _HOOP_RE.match(text)
        if not m:
            raise InputError(
                f"hoop {value!r} is not a hoop: give a preset ({preset_names()}) or a size "
                "with its unit, e.g. 130x180mm or 4x4in"
            )
        w, uw, h, uh = float(m.group(1)), m.group(2), float(m.group(3)), m.group(4)
        if uw and uh and _PER_UNIT[uw] != _PER_UNIT[uh]:
            raise InputError(f"hoop {value!r} mixes units; use one unit for both sides")
        unit = uw or uh
        key = _preset_key(w, h)
        if unit is None or _PER_UNIT[unit] == MM_PER_INCH:
            if key in HOOP_PRESETS:
                pw, ph = HOOP_PRESETS[key]
                return Hoop(pw, ph, key)
        if unit is None:
            if min(w, h) < MIN_BARE_MM:
                raise InputError(
                    f"hoop {value!r} is ambiguous: it is not a preset ({preset_names()}); "
                    f"say {key}in or {key}mm"
                )
            unit = "mm"
        w, h = w * _PER_UNIT[unit], h * _PER_UNIT[unit]
    else:
        try:
            w, h = (float(v) for v in value)
        except (TypeError, ValueError):
            raise InputError(f"hoop {value!r} is not (width, height) in millimetres") from None
    for side in (w, h):
        if not 0 < side <= HOOP_MAX_MM:
            raise InputError(
                f"hoop {value!r}: each side must be more than 0 and at most {HOOP_MAX_MM:g} mm"
            )
    key = _preset_key(w, h)
    name = next((n for n, s in HOOP_PRESETS.items() if s == (w, h)), "")
    return Hoop(w, h, name if name else "")


def smallest_fitting_hoop(width_mm: float, height_mm: float) -> Hoop | None:
    """The preset with the smallest sewing area that holds the design — by area and shape: as
    it is or turned a quarter turn (a 145 × 109 mm design goes in the 5x7 hoop, 130 × 180 mm,
    turned; not in the 8x8). Ties: the one that needs no turn, then the shorter. None if none."""
    fitting = [Hoop(w, h, n) for n, (w, h) in HOOP_PRESETS.items()
               if Hoop(w, h).holds(width_mm, height_mm)]
    if not fitting:
        return None
    return min(fitting, key=lambda hp: (hp.width_mm * hp.height_mm,
                                        needs_turn(hp, width_mm, height_mm), hp.height_mm))


def needs_turn(hoop: Hoop, width_mm: float, height_mm: float) -> bool:
    """True when the design fits ``hoop`` only turned a quarter turn: the machine files then hold
    it turned (hoops clamp onto the machine one way round, so the file turns, not the hoop)."""
    return not hoop.fits(width_mm, height_mm) and hoop.fits(height_mm, width_mm)


def hoop_to_setting(hoop: Hoop | None) -> str | None:
    """How a hoop is stored in ``pattern.json`` settings: preset name or ``"WxHmm"``."""
    if hoop is None:
        return None
    return hoop.name or f"{hoop.width_mm:g}x{hoop.height_mm:g}mm"
