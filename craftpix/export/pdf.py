"""Printable instructions (reportlab): cover, bill of materials, page or board map, charts.

Everything on the chart pages is vector (filled cells, symbols as text, grid lines); the cover
picture and the map thumbnail are images. Text goes through :mod:`craftpix.export.fonts`: a
chain of embedded TrueType fonts (Vera, Noto Sans, WenQuanYi Micro Hei) with per-character
fallback, so names, titles and file names in Latin, Greek, Cyrillic and CJK scripts all print;
no standard-14 font is referenced anywhere.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as rl_canvas

from craftpix.color import srgb_to_linear
from craftpix.errors import InputError
from craftpix.export import fonts
from craftpix.export.backstitch import Backstitch
from craftpix.export.bom import PARTS, Bom, ExportSettings, section_counts
from craftpix.export.embroidery import StitchPlan, ThreadBlock
from craftpix.export.layout import ChartPage, page_plan, section_plan
from craftpix.export.merge import MergeResult
from craftpix.fileio import atomic_path
from craftpix.media import MM_PER_INCH, get_medium, pitch_text, plural
from craftpix.pattern import Pattern, usage_order

PAPERS: dict[str, tuple[float, float]] = {"a4": A4, "letter": LETTER}

FONT = fonts.REGULAR
FONT_BOLD = fonts.BOLD

MARGIN = 12 * mm
HEADER_H = 13 * mm
FOOTER_H = 7 * mm
LABEL_W = 7.5 * mm  # room for edge numbers and centre arrows around a chart
MIN_CELL = 3.0 * mm  # smallest chart cell (split charts)
MAX_CELL = 7.0 * mm  # largest chart cell (small designs)
BOLD_EVERY = 10

# what one cell of the chart is called when counted
CELL_UNITS = {"beads": "beads", "bricks": "studs", "stitch": "stitches", "diamond": "drills"}

BRAND_TITLES = {
    "perler": "Perler", "hama": "Hama", "artkal": "Artkal", "lego": "LEGO", "dmc": "DMC",
    "perler-mini": "Perler Mini", "hama-mini": "Hama mini", "artkal-mini": "Artkal mini",
}


def _register_fonts() -> None:
    fonts.register_fonts()


def simpleSplit(text: str, font: str, size: float, width: float) -> list[str]:  # noqa: N802
    """Wrap ``text`` to ``width`` points with the fallback fonts (reportlab's name kept)."""
    return fonts.wrap(text, size, width, bold=font == FONT_BOLD)


def pattern_title(pattern: Pattern) -> str:
    """The title of an imported chart, else the prompt, else the image's file name, else
    "craftpix pattern"."""
    title = pattern.meta.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    prompt = pattern.meta.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt.strip()
    image = pattern.meta.get("image")
    if isinstance(image, str) and image.strip():
        return Path(image.strip()).name
    return "craftpix pattern"


def luminance(rgb8: tuple[int, int, int]) -> float:
    """Relative luminance (WCAG) of an sRGB color, 0..1."""
    r, g, b = srgb_to_linear(np.asarray(rgb8, dtype=np.float64) / 255.0).tolist()
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def symbol_ink(rgb8: tuple[int, int, int]) -> tuple[float, float, float]:
    """Black or white, whichever contrasts more with the cell color."""
    return (0.0, 0.0, 0.0) if luminance(rgb8) > 0.179 else (1.0, 1.0, 1.0)


def _fmt_len(mm_value: float) -> str:
    return f"{mm_value / 10:.1f} cm"


#: fabric around a cross-stitch design for the hoop and finishing, each side (mm)
FABRIC_MARGIN_MM = 50.0


def fabric_cut_cm(side_mm: float) -> int:
    """Whole cm of fabric to cut for a design side of ``side_mm`` mm: the side plus
    :data:`FABRIC_MARGIN_MM` on each end, rounded up (a cut never leaves less margin than
    the cover promises: 82 mm → 19 cm, not 18)."""
    return math.ceil((side_mm + 2 * FABRIC_MARGIN_MM) / 10 - 1e-9)


def finished_size_text(w_mm: float, h_mm: float) -> str:
    return (f"{w_mm / 10:.1f} \u00d7 {h_mm / 10:.1f} cm "
            f"({w_mm / MM_PER_INCH:.1f} \u00d7 {h_mm / MM_PER_INCH:.1f} in)")


# --- chart geometry ------------------------------------------------------------------------
@dataclass(frozen=True)
class ChartLayout:
    """How the chart is cut into pages and drawn: the plan and the cell size in points."""

    pages: list[ChartPage]
    cell: float  # points
    boards: bool  # True: pages are physical boards (beads, bricks), numbered locally
    section: int | None
    true_scale: bool
    bom_h: float  # points reserved below a board chart for its own bill of materials


def _chart_area(paper: tuple[float, float]) -> tuple[float, float]:
    pw, ph = paper
    return (pw - 2 * MARGIN - 2 * LABEL_W,
            ph - 2 * MARGIN - HEADER_H - FOOTER_H - 2 * LABEL_W)


def _cap(avail: float, cell: float) -> int:
    """Cells per page at ``cell``: a multiple of ten plus one (for the overlap), at least 11."""
    n = int(avail // cell)
    return max(11, (n - 1) // 10 * 10 + 1) if n >= 11 else max(2, n)


def chart_layout(
    pattern: Pattern,
    settings: ExportSettings,
    paper: str = "a4",
    max_board_colors: int | None = None,
    merged: bool = False,
) -> ChartLayout:
    """Decide the page split: boards for beads/bricks, overlapping pages for cross-stitch."""
    size = PAPERS[paper]
    aw, ah = _chart_area(size)
    medium = get_medium(pattern.medium, pattern.brand)
    w, h = pattern.width, pattern.height
    if settings.section:
        s = settings.section
        n = max_board_colors or 1
        line = 7.6 if merged else 4.3  # mm per entry of the per-board bill of materials
        bom_h = (16 + line * math.ceil(n / 3)) * mm
        true_cell = medium.pitch_mm * mm
        cell = min(true_cell, aw / s, (ah - bom_h) / s)
        cell = max(cell, 2.4 * mm)
        return ChartLayout(section_plan(w, h, s), cell, True, s,
                           abs(cell - true_cell) < 1e-6, bom_h)
    if medium.name == "diamond":  # the canvas is printed at true scale: one cell = one drill
        cell = settings.cell_mm * mm
        aw_t, ah_t = aw, ah - 8 * mm  # room for the ruler under the chart
        if w * cell <= aw_t and h * cell <= ah_t:
            return ChartLayout(page_plan(w, h, w, h, overlap=0), cell, False, None, True, 0.0)
        cols, rows = int(aw_t // cell), int(ah_t // cell)
        return ChartLayout(page_plan(w, h, cols, rows, overlap=1), cell, False, None, True, 0.0)
    # one page if the whole chart fits at a readable size
    if w * MIN_CELL <= aw and h * MIN_CELL <= ah:
        cell = min(MAX_CELL, aw / w, ah / h)
        return ChartLayout(page_plan(w, h, w, h, overlap=0), cell, False, None, False, 0.0)
    cols = _cap(aw, MIN_CELL)
    rows = _cap(ah, MIN_CELL)
    cell = min(aw / cols, ah / rows)
    return ChartLayout(page_plan(w, h, cols, rows, overlap=1), cell, False, None, False, 0.0)


# --- the canvas ----------------------------------------------------------------------------
class _Canvas(rl_canvas.Canvas):
    """A canvas that writes "page N of M" footers once the page count is known."""

    def __init__(self, *args: Any, footer: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []
        self._footer = footer

    def showPage(self) -> None:  # noqa: N802 - reportlab API
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        pw, _ = self._pagesize
        self.setFillColorRGB(0.35, 0.35, 0.35)
        fonts.draw_string(self, MARGIN, MARGIN * 0.6, self._footer, 7)
        fonts.draw_string(self, pw - MARGIN, MARGIN * 0.6, f"page {self._pageNumber} of {total}",
                          7, align="right")


class _Doc:
    """Shared state while drawing one PDF."""

    def __init__(self, c: _Canvas, pattern: Pattern, paper: tuple[float, float]) -> None:
        self.c = c
        self.p = pattern
        self.pw, self.ph = paper
        self.title = pattern_title(pattern)
        self.symbols = pattern.symbols()
        self.rgb = [col.rgb8 for col in pattern.palette]
        self.fill = [(r / 255, g / 255, b / 255) for r, g, b in self.rgb]
        self.ink = [symbol_ink(x) for x in self.rgb]
        self.backstitch: Backstitch | None = None
        self.chart_note = ""  # added to each chart page's header (" · mirrored")
        # --mirror: the design's width; the chart shows the back, so its column k (0-based,
        # from the left edge as printed) is design column ``mirror_w - 1 - k`` and the
        # column numbers run right to left
        self.mirror_w: int | None = None

    def design_col(self, k: int) -> int:
        """The design's column boundary at the chart's boundary ``k`` (0..width): ``k``
        itself, or ``width - k`` on a mirrored chart (its left edge is the design's right)."""
        return k if self.mirror_w is None else self.mirror_w - k

    def columns_text(self, page: ChartPage) -> str:
        """``"columns 1–24"`` of a page, as design columns (1-based; mirrored: right to left,
        ``"columns 48–25"``)."""
        if self.mirror_w is None:
            return f"columns {page.col0 + 1}\u2013{page.col1}"
        return (f"columns {self.mirror_w - page.col0}\u2013{self.mirror_w - page.col1 + 1} "
                "(right to left)")

    # small helpers
    def text(self, x: float, y: float, s: str, size: float = 9, bold: bool = False,
             align: str = "left", color: tuple[float, float, float] = (0, 0, 0)) -> None:
        self.c.setFillColorRGB(*color)
        fonts.draw_string(self.c, x, y, s, size, bold, align)

    def para(self, x: float, y: float, s: str, width: float, size: float = 8.5,
             bold: bool = False, leading: float | None = None) -> float:
        """Wrapped text from baseline ``y`` downwards; returns the y below it."""
        lead = leading or size * 1.3
        for line in simpleSplit(s, FONT_BOLD if bold else FONT, size, width):
            self.text(x, y, line, size, bold)
            y -= lead
        return y

    def header(self, right: str, left: str | None = None) -> float:
        """Running header; returns the y where content may start."""
        top = self.ph - MARGIN
        if left is not None:
            self.text(MARGIN, top - 9, left, 12, bold=True)
            left_w = fonts.string_width(left, 12, bold=True)
        else:
            short = self.title if len(self.title) <= 60 else self.title[:57] + "..."
            self.text(MARGIN, top - 9, short, 9, bold=True)
            left_w = 0.0  # a long title may run under the right text, as before
        room = self.pw - 2 * MARGIN - left_w - 4 * mm
        size = 8.5  # smaller (down to 6.5) where a long right text would run into the left
        if left_w and fonts.string_width(right, size) > room:
            size = max(6.5, size * room / fonts.string_width(right, size))
        self.text(self.pw - MARGIN, top - 9, right, size, align="right")
        c = self.c
        c.setStrokeColorRGB(0.6, 0.6, 0.6)
        c.setLineWidth(0.5)
        c.line(MARGIN, top - 13, self.pw - MARGIN, top - 13)
        return top - HEADER_H

    def swatch(self, x: float, y: float, size: float, idx: int, symbol: bool = True,
               mono: bool = False) -> None:
        """A filled square of color ``idx`` (with its symbol) whose bottom-left is (x, y).

        ``mono`` draws it as black-and-white print shows it: white, with a black symbol.
        """
        c = self.c
        c.setFillColorRGB(*((1.0, 1.0, 1.0) if mono else self.fill[idx]))
        c.setStrokeColorRGB(0.3, 0.3, 0.3)
        c.setLineWidth(0.4)
        c.rect(x, y, size, size, stroke=1, fill=1)
        if symbol:
            sym = self.symbols[idx]
            fs = size * (0.72 if len(sym) == 1 else 0.5)
            self.text(x + size / 2, y + size / 2 - fs * 0.36, sym, fs, True, "center",
                      (0.0, 0.0, 0.0) if mono else self.ink[idx])


# --- pages ---------------------------------------------------------------------------------
def _cover(d: _Doc, bom: Bom, settings: ExportSettings, layout: ChartLayout,
           merged: MergeResult | None, preview: Image.Image | None,
           emb_plan: StitchPlan | None, formats: list[str], hoop: tuple[float, float],
           notes: list[str]) -> None:
    p, c = d.p, d.c
    medium = get_medium(p.medium, p.brand)
    brand = BRAND_TITLES.get(p.brand.lower(), p.brand)
    x, y = MARGIN, d.ph - MARGIN - 20
    width = d.pw - 2 * MARGIN
    for line in simpleSplit(d.title, FONT_BOLD, 20, width)[:3]:
        d.text(x, y, line, 20, bold=True)
        y -= 24
    d.text(x, y, f"{medium.title.capitalize()} pattern \u00b7 {brand} colors", 12,
           color=(0.3, 0.3, 0.3))
    y -= 14
    # picture
    box_h = d.ph * 0.42
    if preview is not None:
        img = preview
        if max(img.size) > 1400:
            k = 1400 / max(img.size)
            img = img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))),
                             Image.LANCZOS)
        scale = min(width / img.width, box_h / img.height)
        iw, ih = img.width * scale, img.height * scale
        ix, iy = x + (width - iw) / 2, y - ih
        c.drawImage(ImageReader(img), ix, iy, iw, ih)
        c.setStrokeColorRGB(0.5, 0.5, 0.5)
        c.setLineWidth(0.5)
        c.rect(ix, iy, iw, ih, stroke=1, fill=0)
        y = iy - 16
    # facts
    w_mm, h_mm = medium.finished_size_mm(p.width, p.height, settings.fabric_count,
                                         settings.drill)
    unit = CELL_UNITS[p.medium]
    facts: list[tuple[str, str]] = [
        ("Finished size", finished_size_text(w_mm, h_mm)),
        ("Grid", f"{p.width} \u00d7 {p.height} {unit}"),
        ("Colors", str(len(bom.rows))),
    ]
    if p.medium == "beads":
        bead = ("5 mm midi beads" if medium.pitch_mm == 5.0
                else f"mini beads, {pitch_text(medium.pitch_mm)} mm pegs")
        facts[0] = ("Finished size", finished_size_text(w_mm, h_mm) + f", {bead}")
        facts.append(("Beads", f"{bom.total_cells:,}"))
        facts.append(("Pegboards", f"{plural(len(layout.pages), 'square board')} of "
                      f"{layout.section}\u00d7{layout.section} pegs"))
        facts.append(("To buy", "; ".join(t.text() for t in bom.totals)))
    elif p.medium == "bricks":
        s = layout.section or 16
        facts[0] = ("Finished size", finished_size_text(w_mm, h_mm) + ", 8 mm stud pitch")
        facts.append(("Baseplates", f"{len(layout.pages)} of {s}\u00d7{s} studs "
                      f"({s * 0.8:.1f} cm)"))
        pid, pname = PARTS[settings.part]
        if merged is None:
            facts.append(("Pieces", f"{bom.total_cells:,} \u00d7 {pid} {pname}"))
        else:
            facts.append(("Pieces", f"{merged.pieces_after:,} parts instead of "
                          f"{merged.pieces_before:,} 1\u00d71 plates "
                          f"({merged.reduction:.0%} fewer, merged plates)"))
    elif p.medium == "diamond":
        from craftpix.media import CANVAS_MARGIN_MM

        shape = settings.drill or "square"
        facts[0] = ("Finished size", finished_size_text(w_mm, h_mm)
                    + f", {shape} drills {settings.cell_mm:g} mm apart")
        facts.append(("Drills", f"{bom.total_cells:,} {shape} drills; "
                      + "; ".join(t.text() for t in bom.totals)))
        m = CANVAS_MARGIN_MM
        facts.append(("Canvas", f"{(w_mm + 2 * m) / 10:.1f} \u00d7 {(h_mm + 2 * m) / 10:.1f} cm "
                      f"({m / 10:.0f} cm blank margin each side); the chart pages print the "
                      "symbol grid at true size"))
    else:
        fc = settings.fabric_count
        facts[0] = ("Finished size", finished_size_text(w_mm, h_mm) + f" on {fc} ct Aida")
        facts.append(("Stitches", f"{bom.total_cells:,} full crosses"))
        facts.append(("Floss", f"{settings.strands} strands; "
                      + "; ".join(t.text() for t in bom.totals)))
        facts.append(("Fabric", f"cut at least {fabric_cut_cm(w_mm)} \u00d7 "
                      f"{fabric_cut_cm(h_mm)} cm (5 cm margin each side)"))
        if emb_plan is not None and formats:
            facts.append(("Machine files", f"{', '.join(f.upper() for f in formats)}: "
                          f"{emb_plan.stitches:,} stitches, {len(emb_plan.color_order)} "
                          f"threads, hoop {hoop[0]:g}\u00d7{hoop[1]:g} mm"))
    for note in notes:
        facts.append(("Note", note[0].upper() + note[1:]))
    facts.append(("Chart", f"{len(layout.pages)} "
                  + ("board page" if layout.boards else "chart page")
                  + ("s" if len(layout.pages) != 1 else "")))
    meta_bits = []
    for key in ("image", "seed", "engine", "steps"):
        v = p.meta.get(key)
        if v is not None and v != "":
            meta_bits.append(f"{key} {Path(v).name if key == 'image' else v}")
    if meta_bits:
        facts.append(("Made with", "craftpix \u00b7 " + " \u00b7 ".join(meta_bits)))
    for label, value in facts:
        d.text(x, y, label, 9.5, bold=True)
        y = d.para(x + 32 * mm, y, value, width - 32 * mm, 9.5) - 3
    c.showPage()


_BOM_COLS = (0, 13 * mm, 27 * mm, 49 * mm, 104 * mm, 124 * mm)  # swatch, sym, code, name, count, buy


def _bom_pages(d: _Doc, bom: Bom) -> None:
    p = d.p
    x0 = MARGIN
    width = d.pw - 2 * MARGIN
    heading = {"beads": "Beads", "bricks": "Parts", "stitch": "Floss",
               "diamond": "Drills"}[p.medium]
    what = CELL_UNITS[p.medium]

    def start() -> float:
        y = d.header("Bill of materials")
        d.text(x0, y - 14, f"Bill of materials \u2014 {heading}", 14, bold=True)
        y -= 32
        for col, label in zip(_BOM_COLS, ("Color", "Symbol", "Code", "Name", "Count", "To buy"),
                              strict=True):
            d.text(x0 + col, y, label, 8, bold=True)
        d.c.setLineWidth(0.6)
        d.c.setStrokeColorRGB(0, 0, 0)
        d.c.line(x0, y - 3, x0 + width, y - 3)
        return y - 6

    y = start()
    bottom = MARGIN + FOOTER_H + 4 * mm
    buy_w = width - _BOM_COLS[5]
    for row in bom.rows:
        buy_lines = [b.text() for b in row.buy]
        wrapped: list[str] = []
        for t in buy_lines:
            wrapped += simpleSplit(t, FONT, 8, buy_w)
        name_lines = simpleSplit(row.color.name, FONT, 8.5, _BOM_COLS[4] - _BOM_COLS[3] - 3 * mm)
        shown = (p.meta.get("stands_for") or {}).get(row.color.code)
        if isinstance(shown, dict) and "source" in shown:  # the source color it stands for
            name_lines.append(f"for {shown['source']}, \u0394E00 {float(shown['delta_e00']):.1f}")
        n_lines = max(len(wrapped), len(name_lines), 1)
        row_h = max(7.5 * mm, n_lines * 10 + 6)
        if y - row_h < bottom:
            d.c.showPage()
            y = start()
        top = y
        sw = 5.5 * mm
        d.swatch(x0, top - 1.2 * mm - sw, sw, row.index, symbol=False)
        d.swatch(x0 + _BOM_COLS[1], top - 1.2 * mm - sw, sw, row.index, mono=True)
        base = top - 10
        d.text(x0 + _BOM_COLS[2], base, row.color.code, 8.5, bold=True)
        for k, line in enumerate(name_lines):
            d.text(x0 + _BOM_COLS[3], base - 10 * k, line, 8.5)
        d.text(x0 + _BOM_COLS[4] + 14 * mm, base, f"{row.count:,}", 8.5, align="right")
        for k, line in enumerate(wrapped):
            d.text(x0 + _BOM_COLS[5], base - 10 * k, line, 8)
        y = top - row_h
        d.c.setStrokeColorRGB(0.8, 0.8, 0.8)
        d.c.setLineWidth(0.3)
        d.c.line(x0, y + 1, x0 + width, y + 1)
    # totals and notes
    need = 25 + 11 * len(bom.totals) + 40 * len(bom.notes)
    if y - need < bottom:
        d.c.showPage()
        y = start()
    y -= 12
    d.text(x0, y, "Total", 9, bold=True)
    d.text(x0 + _BOM_COLS[4] + 14 * mm, y, f"{bom.total_cells:,}", 9, bold=True, align="right")
    d.text(x0 + _BOM_COLS[3], y, f"{len(bom.rows)} colors, {what}:", 9)
    for t in bom.totals:
        d.text(x0 + _BOM_COLS[5], y, t.text(), 8.5, bold=True)
        y -= 11
    if bom.cost is not None:
        owned = any(b.owned for r in bom.rows for b in r.buy)
        d.text(x0 + _BOM_COLS[5], y, f"Cost to buy{' (owned pieces left out)' if owned else ''}: "
               f"{bom.cost:.2f}", 8.5, bold=True)
        y -= 11
    y -= 8
    for note in bom.notes:
        y = d.para(x0, y, note, width, 8) - 4
    d.c.showPage()


def sews_text(block: ThreadBlock) -> str:
    """What a block sews, e.g. ``"261 crosses"`` or ``"backstitch, 369 edges"``."""
    if block.kind == "backstitch":
        return f"backstitch, {block.edges:,} edges"
    return f"{block.crosses:,} crosses"


def _sequence_page(d: _Doc, plan: StitchPlan, formats: list[str], hoop: tuple[float, float],
                   counts: np.ndarray) -> None:
    y = d.header("Machine embroidery: thread sequence")
    x0 = MARGIN
    width = d.pw - 2 * MARGIN
    d.text(x0, y - 14, "Machine embroidery \u2014 thread sequence", 14, bold=True)
    y -= 30
    intro = (
        f"Files: {', '.join('pattern.' + f for f in formats)}. Design {plan.width_mm:.1f} \u00d7 "
        f"{plan.height_mm:.1f} mm ({plan.extent[0]} \u00d7 {plan.extent[1]} stitched cells at "
        f"{plan.fabric_count} ct, empty margins left out), centred on the hoop centre"
        f"{', turned a quarter turn clockwise' if plan.turned else ''}; hoop {hoop[0]:g} \u00d7 "
        f"{hoop[1]:g} mm. {plan.stitches:,} stitches, {len(plan.color_order)} threads, "
        f"{plan.trims} trims. DST and EXP files store no thread colors, and PES/JEF snap them "
        "to the machine's own chart: thread the machine in this order."
    )
    y = d.para(x0, y, intro, width, 9) - 6
    cols = (0, 10 * mm, 22 * mm, 44 * mm, 108 * mm, 148 * mm)
    for col, label in zip(cols, ("#", "Color", "Code", "Name", "Sews", "Areas / lines"),
                          strict=True):
        d.text(x0 + col, y, label, 8, bold=True)
    y -= 6
    bottom = MARGIN + FOOTER_H + 4 * mm
    for k, block in enumerate(plan.blocks):  # as the machine sews them
        if y - 7 * mm < bottom:
            d.c.showPage()
            y = d.header("Machine embroidery: thread sequence") - 10
        idx = block.color
        d.text(x0, y - 12, str(k + 1), 9, bold=True)
        d.swatch(x0 + cols[1], y - 5.8 * mm, 5 * mm, idx)
        col = d.p.palette[idx]
        d.text(x0 + cols[2], y - 12, col.code, 9, bold=True)
        d.text(x0 + cols[3], y - 12, col.name[:40], 9)
        d.text(x0 + cols[4], y - 12, sews_text(block), 9)
        d.text(x0 + cols[5], y - 12, str(block.parts), 9)
        y -= 7 * mm
    d.c.showPage()


def _map_page(d: _Doc, layout: ChartLayout, thumb: Image.Image) -> None:
    label = "Board map" if layout.boards else "Page map"
    y = d.header(label)
    x0 = MARGIN
    width = d.pw - 2 * MARGIN
    d.text(x0, y - 14, label, 14, bold=True)
    what = "board" if layout.boards else "chart page"
    note = (f"Each {what} of the chart is outlined and numbered. "
            + ("Boards are read row by row, left to right."
               if layout.boards else
               "Neighbouring pages share one row or column (repeated at the page edge)."))
    if d.mirror_w is not None:
        note += (" The chart is mirrored: it shows the back of the piece as you build it, "
                 "boards numbered as they lie. Column numbers are the design's (as craftpix "
                 "edit --set ROW,COL takes them) and run right to left; the grey peg numbers "
                 "count each board's pegs from its left edge as printed.")
    y = d.para(x0, y - 30, note, width, 9) - 6
    avail_h = y - (MARGIN + FOOTER_H + 6 * mm)
    p = d.p
    scale = min(width / p.width, avail_h / p.height)
    iw, ih = p.width * scale, p.height * scale
    ix, iy = x0 + (width - iw) / 2, y - ih
    c = d.c
    c.drawImage(ImageReader(thumb), ix, iy, iw, ih, mask="auto")
    for page in layout.pages:
        rx = ix + page.col0 * scale
        ry = iy + (p.height - page.row1) * scale
        rw, rh = page.cols * scale, page.rows * scale
        c.setStrokeColorRGB(0, 0, 0)
        c.setLineWidth(1.6)
        c.rect(rx, ry, rw, rh, stroke=1, fill=0)
        c.setStrokeColorRGB(1, 1, 1)
        c.setLineWidth(0.6)
        c.rect(rx, ry, rw, rh, stroke=1, fill=0)
        fs = max(6.0, min(22.0, rw * 0.35, rh * 0.35))
        lab = str(page.number)
        tw = pdfmetrics.stringWidth(lab, FONT_BOLD, fs)
        c.setFillColorRGB(1, 1, 1)
        c.roundRect(rx + rw / 2 - tw / 2 - 2, ry + rh / 2 - fs * 0.45, tw + 4, fs * 1.05, 2,
                    stroke=0, fill=1)
        d.text(rx + rw / 2, ry + rh / 2 - fs * 0.3, lab, fs, True, "center")
    c.showPage()


def _mini_map(d: _Doc, layout: ChartLayout, page: ChartPage, x_right: float, y_top: float) -> None:
    """A tiny map of all pages with this one filled, right-aligned at ``x_right``."""
    nr = max(pg.grid_row for pg in layout.pages) + 1
    nc = max(pg.grid_col for pg in layout.pages) + 1
    if nr * nc <= 1:
        return
    box = min(3.2 * mm, 22 * mm / nc, (HEADER_H - 5 * mm) / nr)
    x0 = x_right - nc * box
    c = d.c
    c.setFillColorRGB(0.1, 0.1, 0.1)
    c.rect(x0 + page.grid_col * box, y_top - (page.grid_row + 1) * box, box, box,
           stroke=0, fill=1)
    path = c.beginPath()
    for k in range(nc + 1):
        path.moveTo(x0 + k * box, y_top)
        path.lineTo(x0 + k * box, y_top - nr * box)
    for k in range(nr + 1):
        path.moveTo(x0, y_top - k * box)
        path.lineTo(x0 + nc * box, y_top - k * box)
    c.setStrokeColorRGB(0.3, 0.3, 0.3)
    c.setLineWidth(0.4)
    c.drawPath(path, stroke=1, fill=0)


def draw_chart(d: _Doc, page: ChartPage, x0: float, y_top: float, cell: float,
               local: bool, merged: MergeResult | None = None) -> None:
    """Draw cells, symbols, grid, edge numbers and centre arrows of one page.

    ``(x0, y_top)`` is the top-left corner of the grid. ``local`` adds the grey numbers of
    the board's own pegs (counted from the board's edge as printed); the black numbers and
    bold lines are the design's rows and columns (on a mirrored chart, ``d.mirror_w``, its
    columns run right to left).
    """
    c, p = d.c, d.p
    cells = p.cells[page.row0:page.row1, page.col0:page.col1]
    nr, nc = cells.shape
    # 1. fills: one path per color made of horizontal runs
    runs: dict[int, list[tuple[int, int, int]]] = {}
    for r in range(nr):
        row = cells[r]
        cuts = np.flatnonzero(row[1:] != row[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [nc]))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            if row[a] >= 0:  # empty cells stay blank
                runs.setdefault(int(row[a]), []).append((r, a, b))
    for idx, rr in runs.items():
        c.setFillColorRGB(*d.fill[idx])
        path = c.beginPath()
        for r, a, b in rr:
            path.rect(x0 + a * cell, y_top - (r + 1) * cell, (b - a) * cell, cell)
        c.drawPath(path, stroke=0, fill=1)
    # 2. symbols, in black or white ink by the cell's luminance
    fs1 = cell * 0.68
    fs2 = cell * 0.46
    widths: dict[tuple[str, float], float] = {}
    for ink in ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)):
        idxs = [i for i in runs if d.ink[i] == ink]
        if not idxs:
            continue
        t = c.beginText()
        t.setFillColorRGB(*ink)
        cur_fs = None
        mask = np.isin(cells, idxs)
        for r, col in zip(*np.nonzero(mask), strict=True):
            i = int(cells[r, col])
            sym = d.symbols[i]
            fs = fs1 if len(sym) == 1 else fs2
            if fs != cur_fs:
                t.setFont(FONT_BOLD, fs)
                cur_fs = fs
            key = (sym, fs)
            if key not in widths:
                widths[key] = pdfmetrics.stringWidth(sym, FONT_BOLD, fs)
            t.setTextOrigin(x0 + (col + 0.5) * cell - widths[key] / 2,
                            y_top - (r + 0.5) * cell - fs * 0.36)
            t.textOut(sym)
        c.drawText(t)
    # 3. merged plates: outline each part larger than 1×1
    if merged is not None:
        inset = cell * 0.08
        outlines: dict[tuple[float, float, float], Any] = {}
        for pl in merged.placements:
            if pl.rows * pl.cols == 1:
                continue
            if not (page.row0 <= pl.row < page.row1 and page.col0 <= pl.col < page.col1):
                continue
            ink = d.ink[pl.color]
            if ink not in outlines:
                outlines[ink] = c.beginPath()
            outlines[ink].rect(x0 + (pl.col - page.col0) * cell + inset,
                               y_top - (pl.row - page.row0 + pl.rows) * cell + inset,
                               pl.cols * cell - 2 * inset, pl.rows * cell - 2 * inset)
        c.setLineWidth(max(0.8, cell * 0.09))
        for ink, path in outlines.items():
            c.setStrokeColorRGB(*ink)
            c.drawPath(path, stroke=1, fill=0)
    # 4. grid: thin lines, bold every ten
    w_pt, h_pt = nc * cell, nr * cell
    # Bold lines and the top/left numbers count design rows and columns (what `craftpix edit`
    # takes); on boards the bottom/right numbers (grey) count the board's own pegs/studs.
    off_c = page.col0 - page.peg_col0 if local else 0  # boards: number from the board's edge
    off_r = page.row0 - page.peg_row0 if local else 0
    thin = c.beginPath()
    bold = c.beginPath()
    for k in range(page.col0, page.col1 + 1):
        x = x0 + (k - page.col0) * cell
        tgt = bold if d.design_col(k) % BOLD_EVERY == 0 else thin
        tgt.moveTo(x, y_top)
        tgt.lineTo(x, y_top - h_pt)
    for k in range(page.row0, page.row1 + 1):
        y = y_top - (k - page.row0) * cell
        tgt = bold if k % BOLD_EVERY == 0 else thin
        tgt.moveTo(x0, y)
        tgt.lineTo(x0 + w_pt, y)
    c.setStrokeColorRGB(0.45, 0.45, 0.45)
    c.setLineWidth(0.3)
    c.drawPath(thin, stroke=1, fill=0)
    c.setStrokeColorRGB(0, 0, 0)
    c.setLineWidth(1.1)
    c.drawPath(bold, stroke=1, fill=0)
    c.setLineWidth(1.1)
    c.rect(x0, y_top - h_pt, w_pt, h_pt, stroke=1, fill=0)
    # 4b. backstitch: thick lines along the outlined cell edges, in the thread's color
    bs = d.backstitch
    if bs is not None:
        path = c.beginPath()
        hh = bs.h[page.row0:page.row1 + 1, page.col0:page.col1]
        for r, cc in zip(*np.nonzero(hh), strict=True):
            y = y_top - r * cell
            path.moveTo(x0 + cc * cell, y)
            path.lineTo(x0 + (cc + 1) * cell, y)
        vv = bs.v[page.row0:page.row1, page.col0:page.col1 + 1]
        for r, cc in zip(*np.nonzero(vv), strict=True):
            x = x0 + cc * cell
            path.moveTo(x, y_top - r * cell)
            path.lineTo(x, y_top - (r + 1) * cell)
        c.setStrokeColorRGB(*d.fill[bs.color])
        c.setLineWidth(max(1.4, cell * 0.16))
        c.setLineCap(1)
        c.drawPath(path, stroke=1, fill=0)
        c.setLineCap(0)
    # 5. numbers along all four edges, at the bold lines
    nfs = 6.0
    c.setFont(FONT, nfs)
    c.setFillColorRGB(0, 0, 0)
    for k in range(page.col0, page.col1 + 1):
        x = x0 + (k - page.col0) * cell
        n = d.design_col(k)  # mirrored: the design's column numbers, right to left
        if n % BOLD_EVERY == 0 and n:
            c.drawCentredString(x, y_top + 1.2 * mm, str(n))
            if not local:
                c.drawCentredString(x, y_top - h_pt - 1.2 * mm - nfs * 0.75, str(n))
        if local and (k - off_c) % BOLD_EVERY == 0 and k != off_c:
            c.setFillColorRGB(0.45, 0.45, 0.45)
            c.drawCentredString(x, y_top - h_pt - 1.2 * mm - nfs * 0.75, f"p{k - off_c}")
            c.setFillColorRGB(0, 0, 0)
    for k in range(page.row0, page.row1 + 1):
        y = y_top - (k - page.row0) * cell - nfs * 0.36
        if k % BOLD_EVERY == 0 and k:
            c.drawRightString(x0 - 1.0 * mm, y, str(k))
            if not local:
                c.drawString(x0 + w_pt + 1.0 * mm, y, str(k))
        if local and (k - off_r) % BOLD_EVERY == 0 and k != off_r:
            c.setFillColorRGB(0.45, 0.45, 0.45)
            c.drawString(x0 + w_pt + 1.0 * mm, y, f"p{k - off_r}")
            c.setFillColorRGB(0, 0, 0)
    # 6. centre arrows at the edge midpoints of the whole design
    a = 2.2 * mm
    gap = 4.0 * mm
    cx, cy = p.width / 2, p.height / 2
    c.setFillColorRGB(0, 0, 0)
    if page.col0 <= cx <= page.col1:
        x = x0 + (cx - page.col0) * cell
        _triangle(c, (x, y_top + gap), (x - a / 2, y_top + gap + a), (x + a / 2, y_top + gap + a))
        yb = y_top - h_pt - gap
        _triangle(c, (x, yb), (x - a / 2, yb - a), (x + a / 2, yb - a))
    if page.row0 <= cy <= page.row1:
        y = y_top - (cy - page.row0) * cell
        xl = x0 - gap
        _triangle(c, (xl, y), (xl - a, y + a / 2), (xl - a, y - a / 2))
        xr = x0 + w_pt + gap
        _triangle(c, (xr, y), (xr + a, y + a / 2), (xr + a, y - a / 2))


def _triangle(c: rl_canvas.Canvas, p1: tuple[float, float], p2: tuple[float, float],
              p3: tuple[float, float]) -> None:
    path = c.beginPath()
    path.moveTo(*p1)
    path.lineTo(*p2)
    path.lineTo(*p3)
    path.close()
    c.drawPath(path, stroke=0, fill=1)


def _chart_pages(d: _Doc, layout: ChartLayout, merged: MergeResult | None) -> None:
    p = d.p
    n = len(layout.pages)
    aw, _ = _chart_area((d.pw, d.ph))
    for page in layout.pages:
        rows = f"rows {page.row0 + 1}\u2013{page.row1}"
        cols = d.columns_text(page)
        left = None
        if layout.boards:
            kind = "Pegboard" if p.medium == "beads" else "Baseplate"
            left = f"{kind} {page.number}"
            right = (f"{kind} {page.number} of {n} \u00b7 design {cols}, {rows} \u00b7 "
                     f"grey p: {'pegs' if p.medium == 'beads' else 'studs'} on the board"
                     f"{d.chart_note}")
        else:
            right = f"Chart page {page.number} of {n} \u00b7 {cols}, {rows}{d.chart_note}"
        y = d.header(right, left)
        _mini_map(d, layout, page, d.pw - MARGIN, y + 0.5 * mm - 1.5 * mm)
        cell = layout.cell
        if layout.boards:
            sec = layout.section or page.cols
            bx0 = MARGIN + LABEL_W + (aw - sec * cell) / 2  # the whole board, centred
            by_top = y - LABEL_W
            c = d.c
            c.setStrokeColorRGB(0.6, 0.6, 0.6)
            c.setDash(2, 2)
            c.setLineWidth(0.6)
            c.rect(bx0, by_top - sec * cell, sec * cell, sec * cell, stroke=1, fill=0)
            c.setDash()
            x0 = bx0 + page.peg_col0 * cell
            y_top = by_top - page.peg_row0 * cell
        else:
            x0 = MARGIN + LABEL_W
            y_top = y - LABEL_W
        draw_chart(d, page, x0, y_top, cell, local=layout.boards, merged=merged)
        if layout.true_scale and not layout.boards:
            _ruler(d, x0, y_top - page.rows * cell - LABEL_W - 4 * mm)
        if layout.boards:
            sec = layout.section or page.rows
            _board_bom(d, page, y - LABEL_W - sec * cell - LABEL_W - 3.5 * mm, layout, merged)
        d.c.showPage()


def _board_bom(d: _Doc, page: ChartPage, y: float, layout: ChartLayout,
               merged: MergeResult | None) -> None:
    p = d.p
    counts = section_counts(p, page.row0, page.row1, page.col0, page.col1)
    order = usage_order(counts)
    total = int(counts.sum())
    x0 = MARGIN
    width = d.pw - 2 * MARGIN
    what = CELL_UNITS[p.medium]
    s = layout.section or 0
    used = f"{page.cols}\u00d7{page.rows} of {s}\u00d7{s} used" if (page.cols, page.rows) != (s, s) else ""
    line = f"This board: {total:,} {what}, {len(order)} colors"
    parts = None
    if merged is not None:
        parts = merged.part_counts_in(page.row0, page.row1, page.col0, page.col1)
        n_parts = sum(sum(v.values()) for v in parts.values())
        line += f", {n_parts:,} parts"
    if used:
        line += f" ({used})"
    d.text(x0, y, line, 9, bold=True)
    if layout.true_scale:
        _ruler(d, d.pw - MARGIN - 50 * mm, y - 1)
    y -= 5 * mm
    col_w = width / 3
    row_h = (7.6 if merged is not None else 4.3) * mm
    per_col = max(1, math.ceil(len(order) / 3))
    for k, idx in enumerate(order):
        col, r = divmod(k, per_col)
        x = x0 + col * col_w
        yy = y - r * row_h
        sw = 3.4 * mm
        d.swatch(x, yy - sw, sw, idx)
        color = p.palette[idx]
        label = f"{color.code} {color.name}"
        label = simpleSplit(label, FONT, 7.5, col_w - 20 * mm)[0]
        d.text(x + sw + 1.5 * mm, yy - sw + 1.0 * mm, label, 7.5)
        d.text(x + col_w - 3 * mm, yy - sw + 1.0 * mm, f"{int(counts[idx]):,}", 7.5, True,
               "right")
        if parts is not None:
            items = sorted(parts.get(idx, {}).items(), key=lambda kv: -kv[0][0] * kv[0][1])
            bits = "  ".join(f"{a}\u00d7{b}:{q}" for (a, b), q in items)
            bits = simpleSplit(bits, FONT, 6.5, col_w - sw - 4 * mm)[0]
            d.text(x + sw + 1.5 * mm, yy - sw - 2.4 * mm, bits, 6.5, color=(0.25, 0.25, 0.25))


def _ruler(d: _Doc, x: float, y: float) -> None:
    """A 5 cm ruler to check that the page printed at 100 %."""
    c = d.c
    c.setStrokeColorRGB(0, 0, 0)
    c.setLineWidth(0.6)
    c.line(x, y, x + 50 * mm, y)
    for k in range(6):
        c.line(x + k * 10 * mm, y, x + k * 10 * mm, y + (2.2 if k % 5 == 0 else 1.4) * mm)
    d.text(x + 25 * mm, y + 2.6 * mm, "5 cm at true size (print at 100 %)", 6.5, align="center")


# --- entry point ---------------------------------------------------------------------------
def write_pdf(
    pattern: Pattern,
    path: str | os.PathLike[str],
    settings: ExportSettings,
    bom: Bom,
    *,
    paper: str = "a4",
    merged: MergeResult | None = None,
    preview: Image.Image | None = None,
    thumbnail: Image.Image | None = None,
    embroidery: StitchPlan | None = None,
    formats: list[str] | None = None,
    hoop: tuple[float, float] = (100.0, 100.0),
    notes: list[str] | None = None,
    backstitch: Backstitch | None = None,
    chart: Pattern | None = None,
) -> Path:
    """Write the instructions PDF atomically (``backstitch``: outlines drawn on the charts).

    ``chart``: the grid the board map and chart pages show, when it is not ``pattern`` itself
    (``--mirror``: :func:`craftpix.export.mirrored`, same palette and size); ``merged`` then
    belongs to it. The cover, bill of materials and picture show ``pattern``.

    Pages: cover, bill of materials, the machine thread sequence (when ``embroidery`` is
    given), the page or board map (when there is more than one), and the chart pages.
    """
    if paper not in PAPERS:
        raise InputError(f"unknown paper {paper!r}; choose one of: {', '.join(PAPERS)}")
    _register_fonts()
    size = PAPERS[paper]
    shown = chart if chart is not None else pattern
    max_colors = 1
    if settings.section:  # the boards as charted (mirrored: the back's boards)
        for pg in section_plan(shown.width, shown.height, settings.section):
            cnt = section_counts(shown, pg.row0, pg.row1, pg.col0, pg.col1)
            max_colors = max(max_colors, int((cnt > 0).sum()))
    layout = chart_layout(pattern, settings, paper, max_colors, merged is not None)
    if thumbnail is None:
        from craftpix.export.preview import render_preview

        k = min(64, max(1, 600 // max(pattern.width, pattern.height)))
        thumbnail = render_preview(shown, "pixels", cell_px=k)
    out = Path(path)
    with atomic_path(out) as tmp:
        c = _Canvas(str(tmp), pagesize=size, invariant=1, pageCompression=1, initialFontName=FONT,
                    initialFontSize=10, footer=f"craftpix \u00b7 {pattern_title(pattern)[:70]}")
        c.setTitle(pattern_title(pattern))
        c.setAuthor("craftpix")
        c.setSubject(f"{get_medium(pattern.medium).title} pattern")
        c.setCreator("craftpix")
        d = _Doc(c, pattern, size)
        d.backstitch = backstitch
        _cover(d, bom, settings, layout, merged, preview, embroidery, list(formats or []), hoop,
               notes or [])
        _bom_pages(d, bom)
        if embroidery is not None and formats:
            _sequence_page(d, embroidery, list(formats), hoop, pattern.counts())
        if chart is not None and settings.mirror:
            d.chart_note = " \u00b7 mirrored"
            d.mirror_w = pattern.width
        d.p = shown  # same palette, symbols and size: the charts of the grid as built
        if len(layout.pages) > 1:
            _map_page(d, layout, thumbnail)
        _chart_pages(d, layout, merged)
        c.save()
    return out
