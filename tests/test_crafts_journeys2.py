"""A second new user's journeys through the crafts of issue #22, typed as on the command line:
resizing a saved pattern keeps its settings, mirrored merged bricks say one piece count in
the summary, PDF, orders and LDraw model, per-craft help, wording, the mini-bead pitch and an
imported chart's own symbols."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader
from synthetic import asymmetric_perler, run_cli

from craftpix import api
from craftpix.cli import main
from craftpix.export.merge import plate_id
from craftpix.export.orders import catalog_column
from craftpix.media import BEAD_LINES, pitch_text

README = Path(__file__).resolve().parents[1] / "README.md"
WIDE, TALL = 41, 10  # odd: the mirrored chart's baseplates split it elsewhere than the design's


def run(*args: str) -> tuple[int, str]:
    return run_cli(main, *args)


def _asymmetric(path: Path) -> Path:
    return asymmetric_perler(path, WIDE, TALL)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("journeys2")
    _asymmetric(folder / "asym.png")
    return folder


def _settings(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")).get("settings", {})


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


# --- 1. resize keeps the settings the pattern was saved with ------------------------------------
CRAFTS = {
    "stitch": (["--fabric-count", "18", "--strands", "3", "--backstitch", "auto",
                "--formats", "oxs", "--paper", "letter"],
               {"fabric_count": 18, "strands": 3, "backstitch": "auto", "formats": ["oxs"],
                "paper": "letter"}),
    "beads": (["--mirror", "--legend-order", "code"], {"mirror": True, "legend_order": "code"}),
    "diamond": (["--drill", "round", "--no-orders"], {"drill": "round", "orders": False}),
    "bricks": (["--merge", "--mirror", "--formats", "ldr", "--section", "32"],
               {"merge": True, "mirror": True, "formats": ["ldr"], "section": 32}),
    "round-bricks": (["--part", "round", "--formats", "ldr"],
                     {"part": "round", "formats": ["ldr"], "merge": False}),
}


@pytest.mark.parametrize("craft", list(CRAFTS))
@pytest.mark.parametrize("with_photo", [False, True])
def test_resize_keeps_the_saved_settings(work: Path, craft: str, with_photo: bool) -> None:
    args, expected = CRAFTS[craft]
    out = work / f"resize-{craft}-{with_photo}"
    code, text = run(craft.split("-")[-1], "--image", str(work / "asym.png"), "--size", "40",
                     *args,
                     "--sizes", "24", "--out", str(out), "-q")
    assert code == 0, text
    saved = _settings(out / "pattern.json")
    assert expected.items() <= saved.items()
    made = next(p for p in out.iterdir() if p.is_dir())  # --sizes 24 at creation: OUT/WxH/
    photo = ["--image", str(work / "asym.png")] if with_photo else []
    code, text = run("resize", str(out / "pattern.json"), "--size", "24", *photo,
                     "--out", str(out / "resized"), "-q")
    assert code == 0, text
    resized = _settings(out / "resized" / "pattern.json")
    assert resized == saved == _settings(made / "pattern.json")
    assert _files(out / "resized") == _files(made) == _files(out)


def test_resize_of_an_imported_chart_keeps_its_settings(work: Path) -> None:
    code, text = run("stitch", "--image", str(work / "asym.png"), "--size", "40",
                     "--fabric-count", "16", "--strands", "1", "--formats", "oxs",
                     "--out", str(work / "for-import"), "-q")
    assert code == 0, text
    code, text = run("import", str(work / "for-import" / "pattern.oxs"),
                     "--out", str(work / "imported"))
    assert code == 0, text
    saved = _settings(work / "imported" / "pattern.json")
    assert saved["fabric_count"] == 16 and saved["strands"] == 1 and saved["formats"] == ["oxs"]
    code, text = run("resize", str(work / "imported" / "pattern.json"), "--size", "30", "-q")
    assert code == 0, text
    folder = next(p for p in (work / "imported").iterdir() if p.is_dir())
    assert _settings(folder / "pattern.json") == saved
    assert "pattern.oxs" in _files(folder) and "pattern.pes" not in _files(folder)


# --- 2 and 3. mirrored merged bricks: one piece count, one model ---------------------------
@pytest.fixture(scope="module")
def mirrored_bricks(work: Path) -> tuple[Path, str]:
    out = work / "km"
    code, text = run("bricks", "--image", str(work / "asym.png"), "--size", f"{WIDE}x{TALL}",
                     "--merge", "--mirror", "--formats", "ldr", "--out", str(out), "-q")
    assert code == 0, text
    return out, text


def _shopping(folder: Path) -> Counter:
    """(part id, catalog code) → parts to build, from shopping-list.csv."""
    with open(folder / "shopping-list.csv", encoding="utf-8", newline="") as fh:
        return Counter({(row["item"].split()[0], row["code"]): int(row["count"])
                        for row in csv.DictReader(fh)})


def _ldraw(folder: Path) -> list[list[str]]:
    """The part lines (type 1) of pattern.ldr, split; every other line is a type-0 line."""
    lines = (folder / "pattern.ldr").read_text(encoding="utf-8").splitlines()
    assert all(line.split()[0] in ("0", "1") for line in lines if line.strip())
    return [line.split() for line in lines if line.startswith("1 ")]


def test_mirrored_merged_bricks_say_one_piece_count(mirrored_bricks: tuple[Path, str]) -> None:
    out, text = mirrored_bricks
    m = re.search(r", (\d+) studs, (\d+) pieces after merging, ", text)
    assert m, text
    pieces = int(m.group(2))
    pages = [p.extract_text() for p in PdfReader(out / "pattern.pdf").pages]
    cover = re.search(r"(\d+) parts instead of (\d+) 1×1", pages[0])
    assert cover and int(cover.group(1)) == pieces
    boards = [int(n) for t in pages
              for n in re.findall(r"This board: \d+ studs, \d+ colors?, (\d+) parts", t)]
    assert len(boards) == 3 and sum(boards) == pieces  # 41 studs: three 16-stud baseplates
    assert sum(_shopping(out).values()) == pieces
    with open(out / "rebrickable.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    larger = sum(int(r["Quantity"]) for r in rows if r["Part"] != "3024")  # 1×1s carry spares
    assert larger == sum(n for (part, _), n in _shopping(out).items() if part != "3024")
    assert len(_ldraw(out)) == pieces


def test_ldraw_model_is_the_mirrored_mosaic_as_built(mirrored_bricks: tuple[Path, str]) -> None:
    """Parts in the .ldr equal the BOM per part and color, and they cover the mirrored chart
    cell for cell in the right colors (the plates as ordered, where they are built)."""
    out, _ = mirrored_bricks
    pattern = api.load(out / "pattern.json")
    ldraw_of = catalog_column("lego", "ldraw_id")
    code_of = {ldraw_of[c.code]: c.code for c in pattern.palette}
    parts: Counter = Counter()
    built = np.full((pattern.height, pattern.width), "", dtype=object)
    for line in _ldraw(out):
        colour, x, z = line[1], float(line[2]), float(line[4])
        turned = line[5:14] != ["1", "0", "0", "0", "1", "0", "0", "0", "1"]
        part = line[14].removesuffix(".dat")
        size = {"3024": (1, 1), "3023": (1, 2), "3623": (1, 3), "3710": (1, 4),
                "3022": (2, 2), "3021": (2, 3), "3020": (2, 4)}[part]
        rows, cols = (size[1], size[0]) if turned else size
        col0 = round((x + 20 * pattern.width / 2) / 20 - cols / 2)
        row0 = round((20 * pattern.height / 2 - z) / 20 - rows / 2)
        assert (built[row0:row0 + rows, col0:col0 + cols] == "").all()  # one part per stud
        built[row0:row0 + rows, col0:col0 + cols] = code_of[colour]
        parts[(plate_id(*size), code_of[colour])] += 1
    assert parts == _shopping(out)
    codes = np.array([c.code for c in pattern.palette] + [""], dtype=object)
    assert np.array_equal(built, codes[pattern.cells][:, ::-1])  # the mirrored chart


# --- 4. help per craft, -q for edit, wording ---------------------------------------------------
def test_help_lists_only_what_applies_to_the_craft() -> None:
    _, diamond = run("diamond", "--help")
    others = re.search(r"Another craft's catalog \(([^)]*)\)", " ".join(diamond.split()))
    assert others and "dmc" not in others.group(1).split(", ")
    assert "lego" in others.group(1)
    _, imported = run("import", "--help")
    _, stitch = run("stitch", "--help")
    _, beads = run("beads", "--help")
    for text in (diamond, imported, stitch, beads):
        assert "bricklink" not in text.lower() and "ldr" not in text.split() and "LDraw" not in text
    _, bricks = run("bricks", "--help")
    assert "bricklink.xml" in bricks and "ldr" in bricks and "embroidery" not in bricks
    assert "default oxs" in " ".join(imported.split())  # what import writes without --formats


def test_edit_takes_quiet(work: Path) -> None:
    code, text = run("beads", "--image", str(work / "asym.png"), "--size", "20",
                     "--out", str(work / "edit-q"), "-q")
    assert code == 0, text
    for flag in ("-q", "--quiet"):
        code, text = run("edit", str(work / "edit-q" / "pattern.json"), "--clean", flag)
        assert code == 0, text
        assert "wrote" in text


@pytest.mark.parametrize(("craft", "brand", "said"), [
    ("diamond", "perler", "diamond painting uses DMC colors"),
    ("stitch", "lego", "cross-stitch uses DMC colors"),
    ("bricks", "dmc", "brick mosaic uses LEGO colors"),
    ("beads", "dmc", "fuse beads use perler, hama"),
])
def test_another_crafts_catalog_is_worded_right(work: Path, craft: str, brand: str,
                                                 said: str) -> None:
    code, text = run(craft, "--image", str(work / "asym.png"), "--size", "20", "--brand", brand)
    assert code == 2
    assert said in text.strip().splitlines()[-1]


ONE_OF_EACH = """<?xml version="1.0" encoding="UTF-8"?>
<chart>
<properties oxsversion="1.0" software="Other" chartheight="3" chartwidth="4" charttitle="One"
  stitchesperinch="14" palettecount="5"/>
<palette>
<palette_item index="0" number="cloth" name="cloth" color="FFFFFF"/>
<palette_item index="1" number="DMC 310" name="Black" color="000000" symbol_courier="5"/>
<palette_item index="2" number="DMC 666" name="Red" color="E31D42" symbol_courier="$"/>
<palette_item index="3" number="DMC 3843" name="Blue" color="00A8E0" symbol_courier="S"/>
<palette_item index="4" number="DMC 743" name="Yellow" color="FEC93A" symbol_courier="$"/>
<palette_item index="5" number="DMC 702" name="Green" color="47A74C" symbol_courier="\u2665"/>
</palette>
<fullstitches>
<stitch x="0" y="0" palindex="1"/><stitch x="1" y="0" palindex="2"/>
<stitch x="2" y="0" palindex="3"/><stitch x="3" y="0" palindex="4"/>
<stitch x="0" y="1" palindex="5"/><stitch x="1" y="1" palindex="1"/>
<stitch x="0" y="2" palindex="3"/>
</fullstitches>
<partstitches>
<partstitch x="3" y="2" palindex1="2" palindex2="0" direction="2"/>
</partstitches>
<backstitches>
<backstitch x1="0" x2="1.5" y1="0" y2="1" palindex="1" objecttype="backstitch"/>
</backstitches>
<ornaments_inc_knots_and_beads>
<object x1="2" y1="1.5" palindex="1" objecttype="knot"/>
</ornaments_inc_knots_and_beads>
</chart>
"""


def test_import_keeps_the_files_symbols_and_says_one_thing_in_the_singular(work: Path) -> None:
    chart = work / "other.oxs"
    chart.write_text(ONE_OF_EACH, encoding="utf-8")
    code, text = run("import", str(chart), "--out", str(work / "other"))
    assert code == 0, text
    assert "1 knot, bead or other ornament is not imported" in text
    assert "1 backstitch line is not imported" in text
    assert "1 half or three-quarter stitch became a full cross" in text
    assert "1 knots" not in text and "1 backstitch lines" not in text
    palette = {c["code"]: c["symbol"] for c in
               json.loads((work / "other" / "pattern.json").read_text("utf-8"))["palette"]}
    # valid and unique: kept as the other program printed them, look-alikes (5, S, $) too
    assert (palette["310"], palette["666"], palette["3843"]) == ("5", "$", "S")
    assert palette["743"] not in ("$", "5", "S")  # "$" was taken: one symbol, one color
    assert palette["702"] != "\u2665" and len(set(palette.values())) == len(palette)
    oxs = (work / "other" / "pattern.oxs").read_text(encoding="utf-8")
    assert 'symbol_courier="5"' in oxs and 'symbol_courier="$"' in oxs  # and written back


def test_mini_bead_pitch_is_said_one_way(work: Path) -> None:
    code, text = run("palettes", "list")
    assert code == 0
    line = next(t for t in text.splitlines() if t.startswith("perler-mini "))
    pitch = pitch_text(BEAD_LINES["perler-mini"].pitch_mm)
    assert pitch == "2.625" and f"({pitch} mm pegs)" in line
    assert f"Perler Mini 56×56 pegs ({pitch} mm)" in README.read_text(encoding="utf-8")
    for name in ("hama-mini", "artkal-mini"):
        line = next(t for t in text.splitlines() if t.startswith(f"{name} "))
        assert f"({pitch_text(BEAD_LINES[name].pitch_mm)} mm pegs)" in line
    code, out = run("beads", "--image", str(work / "asym.png"), "--size", "20",
                    "--brand", "perler-mini", "--out", str(work / "mini"), "-q")
    assert code == 0, out
    cover = PdfReader(work / "mini" / "pattern.pdf").pages[0].extract_text()
    assert f"mini beads, {pitch} mm pegs" in cover
