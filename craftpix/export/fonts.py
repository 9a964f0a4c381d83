"""PDF text in any script: a chain of embedded TrueType fonts with per-character fallback.

Fonts, in fallback order (all embedded as subsets; none is a standard-14 font):

1. Bitstream Vera Sans (regular and bold), shipped inside reportlab — Latin-1;
2. Noto Sans (package ``fontpkg-noto-sans``, SIL Open Font License 1.1) — Latin, Greek,
   Cyrillic and more; its variable font is used at its default (regular) instance;
3. WenQuanYi Micro Hei (package ``paperang-p2-fonts-cjk``, Apache License 2.0) — Chinese,
   Japanese kana, Korean Hangul and many other characters.

A string is cut into runs, each drawn in the first font of the chain that has all its
characters (:func:`runs`); widths and line wrapping use the same runs, so text in any mix of
scripts measures and wraps correctly (CJK text, which has no spaces, wraps between
characters). A character no font has is drawn with the last font (its "missing" box).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "CraftpixSans"
BOLD = "CraftpixSans-Bold"
NOTO = "CraftpixNoto"
CJK = "CraftpixCJK"


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations)))
    path = base.joinpath(*parts)
    return path if path.is_file() else None


def _noto_path() -> Path | None:
    spec = importlib.util.find_spec("fontpkg_noto_sans")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = Path(next(iter(spec.submodule_search_locations))) / "files"
    found = sorted(p for p in files.glob("NotoSans*.ttf") if "Italic" not in p.name)
    return found[0] if found else None


def font_files() -> dict[str, tuple[Path, int]]:
    """Registered name → (TrueType file, index in a collection) of every available font."""
    rl = Path(reportlab.__file__).parent / "fonts"
    out: dict[str, tuple[Path, int]] = {REGULAR: (rl / "Vera.ttf", 0), BOLD: (rl / "VeraBd.ttf", 0)}
    noto = _noto_path()
    if noto is not None:
        out[NOTO] = (noto, 0)
    cjk = _package_file("paperang_p2_fonts_cjk", "fonts", "wqy-microhei.ttc")
    if cjk is not None:
        out[CJK] = (cjk, 0)
    return out


@lru_cache(maxsize=1)
def _available() -> dict[str, tuple[Path, int]]:
    return font_files()


def _register(name: str) -> None:
    """Register font ``name`` with reportlab (once; parsing a TrueType file takes time)."""
    if name not in pdfmetrics.getRegisteredFontNames():
        path, index = _available()[name]
        pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))


@lru_cache(maxsize=1)
def register_fonts() -> tuple[str, ...]:
    """Register the primary fonts with reportlab once; return the names of every available
    font. The fallback fonts (Noto, CJK) are registered on first use, when a text needs a
    character the primary fonts lack."""
    for name in (REGULAR, BOLD):
        _register(name)
    return tuple(_available())


@lru_cache(maxsize=8)
def _cmap(name: str) -> frozenset[int]:
    _register(name)
    font = pdfmetrics.getFont(name)
    return frozenset(font.face.charToGlyph)


def chain(bold: bool = False) -> tuple[str, ...]:
    """Font names in fallback order for regular or bold text."""
    names = register_fonts()
    first = BOLD if bold else REGULAR
    return (first,) + tuple(n for n in (NOTO, CJK) if n in names)


def font_for(ch: str, bold: bool = False) -> str:
    """The first font of the chain that has character ``ch`` (the last one if none has it)."""
    fonts = chain(bold)
    cp = ord(ch)
    for name in fonts:
        if cp in _cmap(name):
            return name
    return fonts[-1]


def runs(text: str, bold: bool = False) -> list[tuple[str, str]]:
    """``text`` cut into ``(font name, substring)`` runs, each drawable in its font."""
    out: list[tuple[str, str]] = []
    for ch in text:
        name = font_for(ch, bold)
        if out and out[-1][0] == name:
            out[-1] = (name, out[-1][1] + ch)
        else:
            out.append((name, ch))
    return out


def chart_font_has(text: str, name: str = BOLD) -> bool:
    """Whether font ``name`` (default the bold font chart symbols are drawn in) has every
    character of ``text``."""
    cmap = _cmap(name)
    return all(ord(ch) in cmap for ch in text)


def missing_chars(text: str) -> str:
    """The characters of ``text`` that no font of the chain has (empty when all print)."""
    fonts = chain(False)
    return "".join(ch for ch in text if not any(ord(ch) in _cmap(n) for n in fonts)
                   and not ch.isspace())


def string_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points at ``size`` points, with fallback fonts."""
    return sum(pdfmetrics.stringWidth(s, name, size) for name, s in runs(text, bold))


def draw_string(canvas: object, x: float, y: float, text: str, size: float,
                bold: bool = False, align: str = "left") -> None:
    """Draw ``text`` with its baseline at ``y``; ``align`` is left, right or center at ``x``."""
    if align == "right":
        x -= string_width(text, size, bold)
    elif align == "center":
        x -= string_width(text, size, bold) / 2
    t = canvas.beginText()  # type: ignore[attr-defined]
    t.setTextOrigin(x, y)
    for name, s in runs(text, bold):
        t.setFont(name, size)
        t.textOut(s)
    canvas.drawText(t)  # type: ignore[attr-defined]


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Greedy line wrapping at spaces, and between characters inside words wider than ``width``
    (CJK text). Returns at least one line."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            cand = f"{line} {word}" if line else word
            if string_width(cand, size, bold) <= width:
                line = cand
                continue
            if line:
                lines.append(line)
                line = ""
            while word and string_width(word, size, bold) > width:
                k = 1
                while k < len(word) and string_width(word[:k + 1], size, bold) <= width:
                    k += 1
                lines.append(word[:k])
                word = word[k:]
            line = word
        lines.append(line)
    return lines or [""]
