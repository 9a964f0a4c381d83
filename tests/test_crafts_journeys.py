"""What a new user runs into with the crafts of issue #22, typed as on the command line:
size hints per craft, mirrored charts that describe what is built, converting a chart with
backstitch to another catalog, importing an OXS chart, the README's mini-bead example, and the
lines convert and bricks print."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from synthetic import asymmetric_perler, run_cli

from craftpix import api
from craftpix.cli import main
from craftpix.color import pairwise_delta_e_2000, rgb8_to_lab
from craftpix.export.layout import section_plan
from craftpix.palette import load_palette
from craftpix.sizing import parse_size

README = Path(__file__).resolve().parents[1] / "README.md"
WIDE, TALL = 41, 10  # an odd width: the two boards hold 21 and 20 columns


def run(*args: str) -> tuple[int, str]:
    return run_cli(main, *args)


def _asymmetric(path: Path) -> Path:
    return asymmetric_perler(path, WIDE, TALL)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("journeys")
    _asymmetric(folder / "asym.png")
    return folder


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _codes(path: Path) -> np.ndarray:
    """A saved pattern's cells as color codes ("" where no piece is)."""
    pattern = api.load(path)
    codes = np.array([c.code for c in pattern.palette] + [""], dtype=object)
    return codes[pattern.cells]


def _cells(path: Path) -> np.ndarray:
    """A saved pattern's cells: palette indices, -1 where no piece is."""
    return api.load(path).cells


# --- 1. the size hint names only options of that command ----------------------------------------
@pytest.mark.parametrize("craft", ["beads", "bricks", "stitch", "diamond"])
def test_missing_size_hint_is_valid_for_that_craft(work: Path, craft: str) -> None:
    code, out = run(craft, "--image", str(work / "asym.png"))
    assert code == 2
    line = out.strip().splitlines()[-1]
    assert "--size" in line
    command = main.commands[craft]
    offered = {o for p in command.params for o in getattr(p, "opts", [])}
    for option in re.findall(r"--[a-z][a-z-]*", line):
        assert option in offered, f"{craft}: the hint suggests {option}, which it lacks"
    assert ("--boards" in line) == (craft in ("beads", "bricks"))
    for example in re.search(r"e\.g\. ([^)]*)\)", line).group(1).split(", "):
        parse_size(example.removeprefix("or ").split(" ")[0])  # each example size parses


# --- 2. mirrored charts describe the cells printed on each page -------------------------------
def _board_pages(pdf: Path, kind: str = "Pegboard") -> list:
    return [p for p in PdfReader(str(pdf)).pages
            if re.search(rf"^{kind} \d+ of \d+", p.extract_text(), re.M)]


def _top_numbers(page) -> list[int]:
    """The black numbers of the chart's top ruler, left to right."""
    found: list[tuple[float, float, int]] = []

    def visit(text: str, cm, tm, font_dict, size) -> None:
        if text.strip().isdigit() and 5.5 < size < 6.5:
            found.append((tm[5], tm[4], int(text)))

    page.extract_text(visitor_text=visit)
    top = max(y for y, _, _ in found)
    return [n for y, x, n in sorted(found, key=lambda t: t[1]) if abs(y - top) < 0.5]


def _first_chart_row(page, symbols: set[str]) -> list[str]:
    """The symbols of the chart's top row of cells, left to right. Symbols are drawn ink by
    ink (black, then white), so a row comes as one run per ink, each placed where it starts;
    the runs are put in order by that place (right for rows whose inks do not interleave)."""
    found: list[tuple[float, float, list[str]]] = []

    def visit(text: str, cm, tm, font_dict, size) -> None:
        run = text.split()
        if run and size > 7 and all(ch in symbols for ch in run):
            found.append((tm[5], tm[4], run))

    page.extract_text(visitor_text=visit)
    top = max(y for y, _, _ in found)
    return [ch for y, x, run in sorted(found, key=lambda t: t[1]) if abs(y - top) < 0.5
            for ch in run]


@pytest.fixture(scope="module")
def mirrored_beads(work: Path) -> Path:
    code, out = run("beads", "--image", str(work / "asym.png"), "--size", f"{WIDE}x{TALL}",
                    "--mirror", "--out", str(work / "mirror"), "-q")
    assert code == 0, out
    return work / "mirror"


def test_mirrored_board_pages_describe_their_own_cells(mirrored_beads: Path) -> None:
    data = _load(mirrored_beads / "pattern.json")
    cells = _cells(mirrored_beads / "pattern.json")
    palette = data["palette"]
    boards = _board_pages(mirrored_beads / "pattern.pdf")
    assert len(boards) == 2
    # board 1 (top left of the back) holds the design's right 21 columns, board 2 the left 20
    for page, (first, last), ruler in ((boards[0], (41, 21), [40, 30, 20]),
                                       (boards[1], (20, 1), [20, 10])):
        text = page.extract_text()
        assert f"design columns {first}\u2013{last} (right to left), rows 1\u201310" in text
        assert "mirrored" in text
        assert _top_numbers(page) == ruler
        held = cells[:, last - 1:first][:, ::-1]  # design columns first..last, as printed
        symbols = [palette[i]["symbol"] for i in held[0]]
        assert _first_chart_row(page, {c["symbol"] for c in palette}) == symbols
        counts = np.bincount(held[held >= 0], minlength=len(palette))
        assert (f"This board: {int(counts.sum())} beads, {int((counts > 0).sum())} colors"
                in text)
        for i in np.flatnonzero(counts):
            assert f"{palette[i]['code']} {palette[i]['name']}\n{counts[i]}" in text


def test_edit_coordinates_agree_with_the_mirrored_chart(mirrored_beads: Path, work: Path) -> None:
    before = _codes(mirrored_beads / "pattern.json")
    assert before[0, WIDE - 1] != "80-19005"  # not red yet
    # peg 9 of board 1's row 10 is the first design cell it holds: design row 1, column 41
    # (the 10 rows sit on pegs 10-19, board 1's 21 columns on pegs 9-29)
    code, out = run("edit", str(mirrored_beads / "pattern.json"), "--set",
                    "board 1, row 10, column 9=80-19005", "--out", str(work / "by-board"))
    assert code == 0, out
    code, out = run("edit", str(mirrored_beads / "pattern.json"), "--set", "1,41=80-19005",
                    "--out", str(work / "by-design"))
    assert code == 0, out
    by_board = _load(work / "by-board" / "pattern.json")
    cells = _codes(work / "by-board" / "pattern.json")
    assert np.array_equal(cells, _codes(work / "by-design" / "pattern.json"))
    changed = np.argwhere(cells != before)
    assert changed.tolist() == [[0, WIDE - 1]]
    red = [c["symbol"] for c in by_board["palette"] if c["code"] == "80-19005"][0]
    board1 = _board_pages(work / "by-board" / "pattern.pdf")[0]
    row = _first_chart_row(board1, {c["symbol"] for c in by_board["palette"]})
    assert row[0] == red and len(row) == 21  # the top-left cell of board 1 as printed


def test_mirrored_bricks_with_merge(work: Path) -> None:
    code, out = run("bricks", "--image", str(work / "asym.png"), "--size", "20x8", "--merge",
                    "--mirror", "--out", str(work / "bricks"), "-q")
    assert code == 0, out
    summary = out.splitlines()[0]
    m = re.search(r", (\d+) studs, (\d+) pieces after merging, ", summary)
    assert m, summary
    assert "1×1" not in summary and "plates" not in summary
    cells = _cells(work / "bricks" / "pattern.json")
    assert int(m.group(1)) == int((cells >= 0).sum()) > int(m.group(2))
    boards = _board_pages(work / "bricks" / "pattern.pdf", "Baseplate")
    assert [re.search(r"design columns (\d+)\u2013(\d+)", p.extract_text()).groups()
            for p in boards] == [("20", "11"), ("10", "1")]  # 16-stud plates, 6 spare each side
    parts = sum(int(n) for p in boards
                for n in re.findall(r"This board: \d+ studs, \d+ colors, (\d+) parts",
                                    p.extract_text()))
    assert parts == int(m.group(2))


# --- 3 and 4. a stitch chart with backstitch: convert, import -------------------------------
@pytest.fixture(scope="module")
def stitched(work: Path) -> Path:
    code, out = run("stitch", "--image", str(work / "asym.png"), "--size", f"{WIDE}x{TALL}",
                    "--backstitch", "auto", "--backstitch-color", "310", "--formats", "oxs",
                    "--out", str(work / "chart"), "-q")
    assert code == 0, out
    assert "backstitch:" in out
    return work / "chart"


def test_convert_maps_the_backstitch_thread_to_the_new_catalog(stitched: Path,
                                                                work: Path) -> None:
    code, out = run("convert", str(stitched / "pattern.json"), "--palette", "hama",
                    "--out", str(work / "chart-hama"))
    assert code == 0, out
    data = _load(work / "chart-hama" / "pattern.json")
    thread = data["settings"]["backstitch_color"]
    hama = load_palette("hama")
    assert thread in hama.codes
    rgb = np.array([hama.rgb8[hama.codes.index(thread)], (0, 0, 0)], dtype=np.uint8)
    lab = rgb8_to_lab(rgb)
    assert float(pairwise_delta_e_2000(lab[:1], lab[1:])[0, 0]) < 10  # DMC 310 is black
    assert re.search(rf"backstitch: .*{re.escape(thread)} ", out)


def test_cell_hint_of_a_chart_without_boards(stitched: Path) -> None:
    code, out = run("edit", str(stitched / "pattern.json"), "--set", "12:30")
    assert code == 2
    assert "ROW,COL=CODE" in out and "board" not in out


def test_import_writes_the_charts_own_formats(stitched: Path, work: Path) -> None:
    code, out = run("import", str(stitched / "pattern.oxs"), "--out", str(work / "imported"))
    assert code == 0, out
    names = {p.name for p in (work / "imported").iterdir()}
    assert {"pattern.json", "pattern.pdf", "pattern.oxs"} <= names
    assert not names & {"pattern.pes", "pattern.dst"}
    code, out = run("import", str(stitched / "pattern.oxs"), "--formats", "oxs,pes",
                    "--out", str(work / "imported-pes"))
    assert code == 0, out
    assert {"pattern.oxs", "pattern.pes"} <= {p.name for p in (work / "imported-pes").iterdir()}


# --- 5. the README's mini-bead example gives what its comment says --------------------------
def test_readme_mini_example_gives_what_it_says(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    line = next(x for x in README.read_text(encoding="utf-8").splitlines()
                if x.startswith("craftpix beads") and "--brand perler-mini" in x)
    command, _, comment = line.partition("#")
    m = re.fullmatch(r"\s*(\d+) mini beads wide: one (\d+)×\2 board\s*", comment)
    assert m, comment
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (542, 130), (200, 30, 30)).save("logo.png")  # a wide logo
    code, out = run(*shlex.split(command)[1:], "--out", "mini", "-q")
    assert code == 0, out
    data = _load(tmp_path / "mini" / "pattern.json")
    assert data["width"] == int(m.group(1))
    assert data["settings"]["section"] == int(m.group(2))
    assert len(section_plan(data["width"], data["height"], int(m.group(2)))) == 1
    assert "1 square board of" in PdfReader("mini/pattern.pdf").pages[0].extract_text()


# --- 6. convert prints the paths as the user gave them ----------------------------------------
def test_convert_prints_relative_paths(work: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run("beads", "--image", str(work / "asym.png"), "--size", "20", "--out", "owl",
                    "--no-pdf", "-q")
    assert code == 0, out
    code, out = run("convert", "owl/pattern.json", "--brand", "hama")
    assert code == 0, out
    wrote = [x.split("wrote ", 1)[1] for x in out.splitlines() if "wrote " in x]
    assert "owl-hama/pattern.json" in wrote
    assert all(not Path(p).is_absolute() for p in wrote)
    assert (tmp_path / "owl-hama" / "pattern.json").exists()
