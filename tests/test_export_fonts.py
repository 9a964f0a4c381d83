"""PDF text in any script: fallback fonts, embedded, extracted back intact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pypdf import PdfReader

from craftpix.export import export_pattern, fonts
from craftpix.pattern import Color, Pattern

NAMES = ["Красный", "Λευκό", "深紅色", "あか", "빨강", "Rouge foncé"]


def test_every_script_has_a_font() -> None:
    text = " ".join(NAMES)
    assert fonts.missing_chars(text) == ""
    used = {name for name, _ in fonts.runs(text)}
    assert {fonts.REGULAR, fonts.NOTO, fonts.CJK} <= used
    assert fonts.font_for("é") == fonts.REGULAR
    assert fonts.font_for("Ж") == fonts.NOTO
    assert fonts.font_for("紅") == fonts.CJK


def test_wrap_breaks_cjk_between_characters() -> None:
    text = "深紅色" * 20
    lines = fonts.wrap(text, 10, 100)
    assert len(lines) > 1 and "".join(lines) == text
    assert all(fonts.string_width(line, 10) <= 100 for line in lines)
    assert fonts.wrap("a b c", 10, 1000) == ["a b c"]


def test_pdf_text_in_cyrillic_greek_and_cjk_extracts_back(tmp_path: Path) -> None:
    pal = [Color(str(100 + i), name, f"#{40 * i:02X}{200 - 30 * i:02X}80")
           for i, name in enumerate(NAMES)]
    cells = np.arange(6 * 8).reshape(6, 8) % len(pal)
    p = Pattern(cells, pal, "stitch", "dmc", {"image": "сад-庭園-κήπος.png"})
    export_pattern(p, tmp_path, formats="none", preview=False, orders=False)
    reader = PdfReader(str(tmp_path / "pattern.pdf"))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for name in NAMES + ["сад-庭園-κήπος.png"]:
        assert name in text, name
    # every font is embedded: no standard-14 font, each with a font file
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            assert not str(f["/BaseFont"]).lstrip("/").startswith(("Helvetica", "Times", "Courier"))
