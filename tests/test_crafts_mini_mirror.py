"""Mini fuse beads (their own catalogs, pitch and boards) and --mirror for bead and brick charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader

from craftpix.cli import main
from craftpix.export import export_pattern, mirrored
from craftpix.export.merge import merge_plates
from craftpix.media import BEAD_LINES, get_medium
from craftpix.palette import load_palette
from craftpix.pattern import Color, Pattern

PT_PER_MM = 72 / 25.4
_RECT = re.compile(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re")


def rects(page) -> list[tuple[float, float, float, float]]:
    """Every ``x y w h re`` rectangle drawn on a PDF page, in points."""
    data = page.get_contents().get_data()
    return [tuple(float(v) for v in m.groups()) for m in _RECT.finditer(data)]


def chart_pages(path: Path) -> list:
    reader = PdfReader(str(path))
    return [p for p in reader.pages if "Pegboard" in p.extract_text()
            or "Baseplate" in p.extract_text()][-1:]  # the last board page


def _photo(path: Path, w: int = 120, h: int = 90) -> Path:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, size=(h // 15, w // 15, 3), dtype=np.uint8)
    Image.fromarray(np.kron(small, np.ones((15, 15, 1), dtype=np.uint8))).save(path, quality=92)
    return path


@pytest.mark.parametrize("brand,colors", [("perler-mini", 41), ("hama-mini", 78),
                                          ("artkal-mini", 174)])
def test_mini_catalogs_load_with_their_source(brand: str, colors: int) -> None:
    pal = load_palette(brand)
    assert len(pal) == colors
    assert "mini" in pal.title.lower()
    text = (Path(__file__).resolve().parents[1] / "palettes" / f"{brand}.csv").read_text()
    assert "Source: GitHub maxcleme/beadcolors (MIT licence)" in text


def test_mini_bead_line_has_its_pitch_and_board() -> None:
    midi = get_medium("beads")
    mini = get_medium("beads", "artkal-mini")
    assert (midi.pitch_mm, midi.sections) == (5.0, (29,))
    assert (mini.pitch_mm, mini.sections) == (2.6, (50,))
    assert get_medium("beads", "perler-mini").sections == (56,)
    assert 56 * get_medium("beads", "perler-mini").pitch_mm == pytest.approx(147)
    assert get_medium("bricks", "perler-mini").pitch_mm == 8.0  # only bead lines change
    assert set(BEAD_LINES) <= set(midi.brands)


@pytest.mark.parametrize("brand", sorted(BEAD_LINES))
def test_mini_board_prints_at_true_scale(tmp_path: Path, brand: str) -> None:
    """A JPEG at --boards 1: the board outline and the grid in the PDF measure pegs × pitch."""
    image = _photo(tmp_path / "photo.jpg")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["beads", "--image", str(image), "--boards", "1",
                                    "--brand", brand, "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    line = BEAD_LINES[brand]
    board = line.boards[0]
    want = board * line.pitch_mm * PT_PER_MM
    [page] = chart_pages(out / "pattern.pdf")
    squares = [r for r in rects(page) if abs(r[2] - r[3]) < 0.01 and r[2] > 100]
    assert any(abs(r[2] - want) < 0.05 for r in squares), (want, squares)
    cover = " ".join(PdfReader(str(out / "pattern.pdf")).pages[0].extract_text().split())
    assert f"{board}×{board} pegs" in cover and "mini beads" in cover


def test_mini_size_in_cm_uses_the_mini_pitch(tmp_path: Path) -> None:
    image = _photo(tmp_path / "photo.jpg")
    res = CliRunner().invoke(main, ["beads", "--image", str(image), "--size", "13cmx",
                                    "--brand", "artkal-mini", "--out", str(tmp_path / "o"),
                                    "-q"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("50×")  # 130 mm / 2.6 mm = 50 beads, not 26 midi beads


def test_mini_board_size_refused_for_midi(tmp_path: Path) -> None:
    image = _photo(tmp_path / "photo.jpg")
    res = CliRunner().invoke(main, ["beads", "--image", str(image), "--size", "20",
                                    "--section", "50", "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2
    assert "choose 29" in res.output


# --- --mirror --------------------------------------------------------------------------------
LEGO = [Color("21", "Bright Red", "#C91A09"), Color("1", "White", "#FFFFFF"),
        Color("26", "Black", "#05131D")]
PERLER = [Color("80-19001", "White", "#F1F1F1"), Color("80-19018", "Black", "#2E2F32"),
          Color("80-19005", "Red", "#BF0F23")]


def _asymmetric(h: int, w: int) -> np.ndarray:
    cells = np.zeros((h, w), dtype=np.int64)
    cells[:, : w // 3] = 1
    cells[2:5, w - 3:] = 2
    return cells


def test_mirrored_swaps_columns_and_remerges_within_boards() -> None:
    cells = _asymmetric(20, 31)
    p = Pattern(cells, LEGO, "bricks", "lego")
    merged = merge_plates(cells, 16, origin=(6, 0))
    flipped, fm = mirrored(p, merged)
    assert np.array_equal(flipped.cells, cells[:, ::-1])
    assert np.array_equal(mirrored(flipped)[0].cells, cells)
    assert fm is not None
    cover = np.full(cells.shape, -1)
    for pl in fm.placements:
        block = cover[pl.row:pl.row + pl.rows, pl.col:pl.col + pl.cols]
        assert (block == -1).all()  # no overlap
        block[:] = pl.color
    assert np.array_equal(cover, flipped.cells)  # every cell covered by its own color


def _chart_rects(path: Path) -> set:
    pages = PdfReader(str(path)).pages
    return {r for page in pages if "Pegboard" in page.extract_text() for r in rects(page)}


def test_mirror_draws_the_back_view(tmp_path: Path) -> None:
    cells = _asymmetric(29, 29)
    p = Pattern(cells, PERLER, "beads", "perler")
    export_pattern(p, tmp_path / "front", preview=False, orders=False)
    res = export_pattern(Pattern(cells.copy(), PERLER, "beads", "perler"), tmp_path / "back",
                         preview=False, orders=False, mirror=True)
    export_pattern(Pattern(cells[:, ::-1].copy(), PERLER, "beads", "perler"),
                   tmp_path / "flipped", preview=False, orders=False)
    back = _chart_rects(tmp_path / "back" / "pattern.pdf")
    assert back == _chart_rects(tmp_path / "flipped" / "pattern.pdf")
    assert back != _chart_rects(tmp_path / "front" / "pattern.pdf")
    text = " ".join(" ".join(pg.extract_text() for pg in
                             PdfReader(str(tmp_path / "back" / "pattern.pdf")).pages).split())
    assert "mirrored" in text
    assert res.stored["mirror"] is True
    assert res.bom.total_cells == int((cells >= 0).sum())
    # the setting sticks: re-export of the saved pattern is mirrored again
    again = export_pattern(Pattern(cells.copy(), PERLER, "beads", "perler",
                                   settings=dict(res.stored)), tmp_path / "again",
                           preview=False, orders=False)
    assert any("mirrored" in n for n in again.notes)


def test_mirror_bricks_with_merge_counts_the_parts_built(tmp_path: Path) -> None:
    cells = _asymmetric(20, 31)
    res = export_pattern(Pattern(cells, LEGO, "bricks", "lego"), tmp_path / "o",
                         preview=False, merge=True, mirror=True, part="plate")
    parts = sum(b.needed for r in res.bom.rows for b in r.buy)
    assert parts == len(mirrored(Pattern(cells, LEGO, "bricks", "lego"),
                                 merge_plates(cells, 16, origin=(6, 0)))[1].placements)


def test_mirror_is_refused_for_cross_stitch(tmp_path: Path) -> None:
    image = _photo(tmp_path / "photo.jpg")
    res = CliRunner().invoke(main, ["stitch", "--image", str(image), "--size", "20",
                                    "--mirror", "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2
    dmc = Pattern(np.zeros((4, 4), dtype=np.int64), [Color("310", "Black", "#000000")],
                  "stitch", "dmc")
    with pytest.raises(Exception, match="mirror applies to bead and brick"):
        export_pattern(dmc, tmp_path / "s", mirror=True, formats="none")


def test_convert_midi_to_mini_uses_the_mini_board(tmp_path: Path) -> None:
    image = _photo(tmp_path / "photo.jpg")
    out = tmp_path / "midi"
    assert CliRunner().invoke(main, ["beads", "--image", str(image), "--size", "30",
                                     "--out", str(out), "-q"]).exit_code == 0
    res = CliRunner().invoke(main, ["convert", str(out / "pattern.json"), "--brand", "hama-mini",
                                    "--out", str(tmp_path / "mini")])
    assert res.exit_code == 0, res.output
    assert "mini fuse beads" in res.output
    data = json.loads((tmp_path / "mini" / "pattern.json").read_text())
    assert data["brand"] == "hama-mini" and data["settings"]["section"] == 57
