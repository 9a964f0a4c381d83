"""craftpix diamond: the fourth craft, on DMC colors, printed at true scale."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader

from craftpix.cli import main
from craftpix.export import export_pattern
from craftpix.export.bom import DRILL_SPARE_MIN, drill_bags, drill_spare
from craftpix.media import DRILLS, get_medium
from craftpix.pattern import Color, Pattern

PT_PER_MM = 72 / 25.4
_RECT = re.compile(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re")


def _photo(path: Path, w: int = 150, h: int = 100) -> Path:
    """A non-square JPEG photo of soft colored blocks."""
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, size=(h // 10, w // 10, 3), dtype=np.uint8)
    Image.fromarray(np.kron(small, np.ones((10, 10, 1), dtype=np.uint8))).save(path, quality=90)
    return path


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def _grid_rect(pdf: Path, w: int, h: int, pitch_mm: float) -> bool:
    """Whether a chart page holds the grid outline of ``w``×``h`` cells of ``pitch_mm``."""
    want = (w * pitch_mm * PT_PER_MM, h * pitch_mm * PT_PER_MM)
    for page in PdfReader(str(pdf)).pages:
        if "Chart page" not in page.extract_text():
            continue
        for m in _RECT.finditer(page.get_contents().get_data()):
            rw, rh = float(m.group(3)), float(m.group(4))
            if abs(rw - want[0]) < 0.05 and abs(abs(rh) - want[1]) < 0.05:
                return True
    return False


@pytest.mark.parametrize("drill", ["square", "round"])
def test_diamond_journey_prints_the_canvas_at_true_scale(tmp_path: Path, drill: str) -> None:
    image = _photo(tmp_path / "garden.jpg")
    out = tmp_path / "dp"
    res = run("diamond", "--image", image, "--size", "40", "--drill", drill, "--out", out, "-q")
    assert res.exit_code == 0, res.output
    assert "diamond painting" in res.output and "drills" in res.output
    data = json.loads((out / "pattern.json").read_text())
    assert data["medium"] == "diamond" and data["brand"] == "dmc"
    assert data["settings"]["drill"] == drill
    w, h = data["width"], data["height"]
    assert (w, h) == (40, 27)  # the photo's shape, longer side 40
    assert _grid_rect(out / "pattern.pdf", w, h, DRILLS[drill])
    text = " ".join(" ".join(p.extract_text() for p in
                             PdfReader(str(out / "pattern.pdf")).pages).split())
    assert "5 cm at true size" in text  # the ruler to check the print
    cw, ch = (w * DRILLS[drill] + 100) / 10, (h * DRILLS[drill] + 100) / 10
    assert f"{cw:.1f} × {ch:.1f} cm (5 cm blank margin each side)" in text
    assert f"{drill} drills" in text
    img = Image.open(out / "preview.png")  # prints at the finished size: one drill per pitch
    cell_px = img.width / w
    assert img.info["dpi"][0] * DRILLS[drill] / 25.4 == pytest.approx(cell_px, rel=1e-3)


def test_size_in_cm_follows_the_drill(tmp_path: Path) -> None:
    image = _photo(tmp_path / "garden.jpg")
    res = run("diamond", "--image", image, "--size", "28cmx", "--drill", "round",
              "--out", tmp_path / "o", "-q")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("100×")  # 280 mm / 2.8 mm


def test_drill_counts_with_spares_in_bags(tmp_path: Path) -> None:
    palette = [Color("310", "Black", "#000000"), Color("BLANC", "White", "#FFFFFF"),
               Color("321", "Red", "#C7002B")]
    cells = np.zeros((30, 50), dtype=np.int64)
    cells[:, 30:] = 1
    cells[0, :5] = 2
    cells[5:10, 5:10] = -1
    res = export_pattern(Pattern(cells, palette, "diamond", "dmc"), tmp_path / "o",
                         preview=False, pdf=False)
    pack = get_medium("diamond").pack_size
    by_code = {r.color.code: r for r in res.bom.rows}
    for code, idx in (("310", 0), ("BLANC", 1), ("321", 2)):
        n = int((cells == idx).sum())
        line = by_code[code].buy[0]
        assert line.needed == n
        assert line.quantity == math.ceil((n + drill_spare(n)) / pack) == drill_bags(n, pack)
    assert drill_spare(5) == DRILL_SPARE_MIN and drill_spare(1000) == 100
    rows = (tmp_path / "o" / "shopping-list.csv").read_text().splitlines()
    assert rows[0].startswith("code,name,item,count,packs,pack_size")
    assert any(r.startswith(f"310,Black,bag of {pack},{int((cells == 0).sum())},") for r in rows)


def test_diamond_edit_convert_and_reexport(tmp_path: Path) -> None:
    image = _photo(tmp_path / "garden.jpg")
    out = tmp_path / "dp"
    assert run("diamond", "--image", image, "--size", "30", "--drill", "round",
               "--out", out, "-q").exit_code == 0
    data = json.loads((out / "pattern.json").read_text())
    first = data["palette"][0]["code"]
    res = run("edit", out / "pattern.json", "--set", f"1,1={first}", "--clean")
    assert res.exit_code == 0, res.output
    assert "diamond painting" in res.output
    again = json.loads((out / "pattern.json").read_text())
    assert again["settings"]["drill"] == "round"  # the drill sticks
    res = run("export", out / "pattern.json", "--paper", "letter")
    assert res.exit_code == 0, res.output
    res = run("convert", out / "pattern.json", "--brand", "dmc", "--out", tmp_path / "conv")
    assert res.exit_code == 0, res.output


def test_options_of_other_crafts_are_refused(tmp_path: Path) -> None:
    image = _photo(tmp_path / "garden.jpg")
    for extra in (["--fabric-count", "14"], ["--boards", "2"], ["--formats", "pes"],
                  ["--mirror"]):
        res = run("diamond", "--image", image, "--size", "30", *extra, "--out", tmp_path / "o")
        assert res.exit_code == 2, (extra, res.output)
    res = run("beads", "--image", image, "--size", "30", "--drill", "round",
              "--out", tmp_path / "b")
    assert res.exit_code == 2
    res = run("diamond", "--image", image, "--size", "30", "--brand", "perler",
              "--out", tmp_path / "p")
    assert res.exit_code == 2 and "perler" in res.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


def test_batch_makes_a_diamond_painting(tmp_path: Path) -> None:
    _photo(tmp_path / "garden.jpg")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("craft,image,size,colors,seed,drill\ndiamond,garden.jpg,30,8,0,round\n")
    res = run("batch", jobs, "--out", tmp_path / "res")
    assert res.exit_code == 0, res.output
    [found] = list((tmp_path / "res").rglob("pattern.json"))
    data = json.loads(found.read_text())
    assert data["medium"] == "diamond" and data["settings"]["drill"] == "round"


@pytest.mark.parametrize("form", [
    {"medium": "diamond", "brand": "dmc", "width": 20, "height": 16, "colors": 4, "seed": 1},
    {"medium": "beads", "brand": "artkal-mini", "width": 20, "height": 16, "colors": 4,
     "seed": 1, "section": 29},  # the page offers the midi board: the mini line's is used
])
def test_web_app_makes_diamond_and_mini_bead_patterns(tmp_path: Path, form: dict) -> None:
    from fastapi.testclient import TestClient

    from craftpix.web import WebSettings, create_app

    with TestClient(create_app(WebSettings(work_dir=tmp_path / "work"))) as client:
        crafts = {c["name"] for c in client.get("/api/options").json()["crafts"]}
        assert "diamond" in crafts
        photo = _photo(tmp_path / "photo.jpg")
        r = client.post("/api/image", files={"file": ("photo.jpg", photo.read_bytes(),
                                                      "application/octet-stream")})
        assert r.status_code == 200, r.text
        r = client.post("/api/generate", json=form)
        assert r.status_code == 200, r.text
        assert r.json()["medium"] == form["medium"]
