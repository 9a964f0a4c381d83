"""The instructions PDF: content, fonts, paper, page plan."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4, LETTER

from craftpix.export import export_pattern
from craftpix.export.bom import build_bom, resolve_settings
from craftpix.export.layout import page_plan
from craftpix.export.pdf import (
    chart_layout,
    luminance,
    pattern_title,
    symbol_ink,
    write_pdf,
)
from craftpix.pattern import Color, Pattern

DMC = [Color("310", "Black", "#000000"), Color("321", "Red", "#C7002B"),
       Color("BLANC", "White", "#FFFFFF"), Color("3865", "Winter White", "#F9F7F1"),
       Color("797", "Royal Blue", "#13477D"), Color("726", "Topaz Light", "#FDD755")]
PERLER = [Color("80-19001", "White", "#F1F1F1"), Color("80-19018", "Black", "#2E2F32"),
          Color("80-19005", "Red", "#BF0F23"), Color("80-19009", "Dark Blue", "#2B3F87")]
LEGO = [Color("21", "Bright Red", "#C91A09"), Color("1", "White", "#FFFFFF"),
        Color("26", "Black", "#05131D"), Color("23", "Bright Blue", "#0055BF")]


def blobs(h: int, w: int, n: int, seed: int = 0, scale: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, n, size=(h // scale + 1, w // scale + 1))
    return np.kron(small, np.ones((scale, scale), dtype=np.int64))[:h, :w]


def pdf_text(path: Path) -> tuple[PdfReader, str]:
    reader = PdfReader(str(path))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def all_fonts(reader: PdfReader) -> list[dict]:
    fonts = []
    for page in reader.pages:
        res = page.get("/Resources")
        if res is None or "/Font" not in res:
            continue
        for ref in res["/Font"].values():
            fonts.append(ref.get_object())
    return fonts


@pytest.mark.parametrize("medium,palette,brand,kwargs", [
    ("beads", PERLER, "perler", {}),
    ("bricks", LEGO, "lego", {"merge": True}),
    ("stitch", DMC, "dmc", {"formats": "none"}),
])
def test_pdf_holds_every_code_and_embeds_fonts(tmp_path: Path, medium: str, palette: list[Color],
                                               brand: str, kwargs: dict) -> None:
    p = Pattern(blobs(40, 35, len(palette)), palette, medium, brand,
                {"prompt": "a red fox in the snow", "seed": 3})
    res = export_pattern(p, tmp_path, preview=False, orders=False, **kwargs)
    path, saved = res.paths
    assert (path.name, saved.name) == ("pattern.pdf", "pattern.json")
    reader, text = pdf_text(path)
    assert "a red fox in the snow" in text
    for color in palette:
        assert color.code in text and color.name in text
    assert "Bill of materials" in text
    for row in res.bom.rows:
        assert f"{row.count:,}" in text
    # fonts: only embedded TrueType subsets, never a standard-14 font
    fonts = all_fonts(reader)
    assert fonts
    for f in fonts:
        assert f["/Subtype"] == "/TrueType", f["/BaseFont"]
        assert "/FontFile2" in f["/FontDescriptor"].get_object()
        assert "Helvetica" not in str(f["/BaseFont"])
    if medium == "bricks":
        m = res.merged
        assert m is not None and m.pieces_after < m.pieces_before
        assert f"{m.pieces_after:,} parts instead of {m.pieces_before:,}" in text
        assert "3020 Plate 2\u00d74" in text
    if medium == "stitch":
        assert "2(\u221a2+1)/count" in text
        assert "skein" in text


def test_finished_size_and_counts_on_cover(tmp_path: Path) -> None:
    p = Pattern(blobs(30, 42, 4), PERLER, "beads", "perler", {"image": "photos/cat.jpg"})
    res = export_pattern(p, tmp_path, preview=False)
    reader, _ = pdf_text(res.paths[0])
    cover = reader.pages[0].extract_text()
    assert cover.startswith("cat.jpg")
    assert "21.0 \u00d7 15.0 cm (8.3 \u00d7 5.9 in)" in cover
    assert "42 \u00d7 30 beads" in cover
    assert "1,260" in cover
    assert "4 square boards of 29\u00d729 pegs" in cover


def test_stitch_cover_uses_fabric_count(tmp_path: Path) -> None:
    p = Pattern(blobs(28, 56, 6), DMC, "stitch", "dmc")
    res = export_pattern(p, tmp_path, preview=False, formats=(), fabric_count=18)
    cover = PdfReader(str(res.paths[0])).pages[0].extract_text()
    assert "7.9 \u00d7 4.0 cm (3.1 \u00d7 1.6 in) on 18 ct Aida" in cover
    assert pattern_title(p) == "craftpix pattern"


@pytest.mark.parametrize("paper,size", [("a4", A4), ("letter", LETTER)])
def test_paper_sizes_and_page_split(tmp_path: Path, paper: str, size: tuple[float, float]) -> None:
    p = Pattern(blobs(90, 120, 6), DMC, "stitch", "dmc")
    settings = resolve_settings("stitch")
    layout = chart_layout(p, settings, paper)
    assert len(layout.pages) > 1 and not layout.boards
    assert layout.pages == page_plan(120, 90, layout.pages[0].cols, layout.pages[0].rows, 1)
    assert (layout.pages[0].cols - 1) % 10 == 0  # pages start on bold ten-lines
    path = write_pdf(p, tmp_path / "x.pdf", settings, build_bom(p, settings), paper=paper)
    reader, text = pdf_text(path)
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(size[0], abs=0.1)
        assert float(page.mediabox.height) == pytest.approx(size[1], abs=0.1)
    assert "Page map" in text
    n = len(layout.pages)
    for pg in layout.pages:
        assert (f"Chart page {pg.number} of {n} \u00b7 columns {pg.col0 + 1}\u2013{pg.col1}, "
                f"rows {pg.row0 + 1}\u2013{pg.row1}") in text
    # cover, bill of materials, page map, charts
    assert len(reader.pages) == 3 + n
    assert re.search(rf"page {len(reader.pages)} of {len(reader.pages)}", text)


def test_board_pages_with_per_board_counts(tmp_path: Path) -> None:
    p = Pattern(blobs(40, 40, 4), LEGO, "bricks", "lego")
    res = export_pattern(p, tmp_path, preview=False, section=32, part="round")
    reader, text = pdf_text(res.paths[0])
    for k in range(1, 5):
        assert f"Baseplate {k} of 4" in text
    # centred on the four plates: 12 empty studs each side, 20x20 of the design per plate
    assert text.count("This board: 400 studs") == 4
    assert "20×20 of 32×32 used" in text
    assert "4073/6141 Round plate 1\u00d71" in text
    assert "Board map" in text


def test_bead_boards_print_at_true_scale() -> None:
    p = Pattern(blobs(29, 29, 4), PERLER, "beads", "perler")
    layout = chart_layout(p, resolve_settings("beads"), "letter", max_board_colors=4)
    assert layout.true_scale and layout.boards
    assert layout.cell == pytest.approx(5 / 25.4 * 72)


def test_symbol_ink_contrasts() -> None:
    assert symbol_ink((0, 0, 0)) == (1.0, 1.0, 1.0)
    assert symbol_ink((255, 255, 255)) == (0.0, 0.0, 0.0)
    assert symbol_ink((253, 215, 85)) == (0.0, 0.0, 0.0)  # yellow: black ink
    assert symbol_ink((19, 71, 125)) == (1.0, 1.0, 1.0)  # dark blue: white ink
    assert luminance((255, 255, 255)) == pytest.approx(1.0)


def test_sequence_page_with_embroidery(tmp_path: Path) -> None:
    p = Pattern(blobs(20, 24, 4), DMC, "stitch", "dmc")
    res = export_pattern(p, tmp_path, preview=False, orders=False, formats="pes,dst")
    assert [q.name for q in res.paths] == ["pattern.pdf", "pattern.pes", "pattern.dst",
                                           "pattern.json"]
    _, text = pdf_text(res.paths[0])
    assert "thread sequence" in text
    assert res.stitch_plan is not None
    assert f"{res.stitch_plan.stitches:,} stitches" in text


def test_cover_notes_skipped_default_embroidery(tmp_path: Path) -> None:
    p = Pattern(blobs(30, 80, 4), DMC, "stitch", "dmc")  # 145 mm wide: not for a 100 mm hoop
    res = export_pattern(p, tmp_path, preview=False, orders=False, hoop="4x4")
    assert res.formats == () and res.stitch_plan is None
    assert [q.name for q in res.paths] == ["pattern.pdf", "pattern.json"]
    cover = PdfReader(str(res.paths[0])).pages[0].extract_text()
    assert "No embroidery files written: the design is 145.1 x 54.4 mm" in cover
    # without a hoop, the smallest preset that holds it, by area and shape: 5x7 (130x180 mm),
    # the design turned a quarter turn in the machine files
    res = export_pattern(Pattern(blobs(30, 80, 4), DMC, "stitch", "dmc"), tmp_path, preview=False)
    assert res.formats == ("pes", "dst") and res.hoop is not None and res.hoop.name == "5x7"
    assert res.stitch_plan is not None and res.stitch_plan.turned
    assert any("turned a quarter turn" in n for n in res.notes)


def test_legend_by_code_and_symbols_pinned(tmp_path: Path) -> None:
    pal = [Color("3865", "Winter White", "#F9F7F1"), Color("150", "Dusty Rose", "#AB0249"),
           Color("B5200", "Snow White", "#FFFFFF"), Color("1001", "x", "#123456")]
    cells = np.array([[0, 0, 0, 1], [1, 2, 3, 0]])
    p = Pattern(cells, pal, "stitch", "dmc")
    res = export_pattern(p, tmp_path, legend_order="code", formats="none", preview=False)
    assert [r.color.code for r in res.bom.rows] == ["150", "1001", "3865", "B5200"]
    saved = Pattern.load(tmp_path / "pattern.json")
    assert saved.settings["legend_order"] == "code"
    assert [c.symbol for c in saved.palette] == p.symbols()
    text = pdf_text(res.paths[0])[1]
    assert text.index("Dusty Rose") < text.index("Winter White")
