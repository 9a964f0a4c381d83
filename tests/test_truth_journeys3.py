"""Issue 21, a new user's journeys through the CLI: the files a folder holds stay true to its
pattern through export and edit, ``--size hoop`` sizes by what is sewn, edits keep what a color
stood for, help reads plainly, the fabric cut is rounded up and a wrong file is one line."""

import json
import re

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw
from pypdf import PdfReader

from craftpix.cli import main
from craftpix.export.embroidery import stitched_size
from craftpix.fileio import read_manifest
from craftpix.palette import load_palette
from craftpix.pattern import Pattern, pattern_from_indices

MM_PER_CELL_14 = 25.4 / 14


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _logo(path, transparent=False, size=(200, 150)):
    """A red disc with a black square: on white, or on nothing (transparent margins)."""
    w, h = size
    im = Image.new("RGBA", size, (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    d = ImageDraw.Draw(im)
    d.ellipse((w * 0.1, h * 0.1, w * 0.9, h * 0.9), fill=(220, 20, 30, 255))
    d.rectangle((w * 0.4, h * 0.4, w * 0.6, h * 0.6), fill=(20, 20, 20, 255))
    im.save(path)
    return path


def _bytes(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _pdf_text(path):
    return " ".join(page.extract_text() for page in PdfReader(path).pages)


# --- 1. a folder's files stay the pattern's --------------------------------------------------
def test_edit_rewrites_the_machine_files_and_pdf_that_export_kept(tmp_path):
    logo = _logo(tmp_path / "logo.png")
    s = tmp_path / "s"
    assert run("stitch", "--image", logo, "--size", "30", "--out", s, "-q").exit_code == 0
    res = run("export", s / "pattern.json", "--formats", "jef,oxs", "--no-pdf")
    assert res.exit_code == 0, res.output
    assert "kept pattern.dst, pattern.pdf, pattern.pes from before" in res.output
    before = _bytes(s)
    res = run("edit", s / "pattern.json", "--set", "15,15=310")
    assert res.exit_code == 0, res.output
    after = _bytes(s)
    for name in ("pattern.pes", "pattern.dst", "pattern.pdf", "pattern.jef", "pattern.oxs"):
        assert name in after, f"edit removed {name}: {sorted(after)}\n{res.output}"
        assert after[name] != before[name], f"{name} still shows the pattern before the edit"
        assert f"wrote {s / name}" in res.output
    assert "removed" not in res.output
    assert {"pattern.pes", "pattern.dst", "pattern.pdf"} <= set(read_manifest(s))
    settings = json.loads((s / "pattern.json").read_text())["settings"]
    assert set(settings["formats"]) == {"jef", "oxs", "pes", "dst"} and settings["pdf"] is True
    # the next edit keeps all of them, with nothing more to widen
    res = run("edit", s / "pattern.json", "--set", "1,1=310")
    assert res.exit_code == 0, res.output
    assert {"pattern.pes", "pattern.dst", "pattern.jef", "pattern.oxs"} <= set(_bytes(s))


def test_edit_names_the_machine_files_it_cannot_write_again(tmp_path):
    logo = _logo(tmp_path / "logo.png", transparent=True)
    h = tmp_path / "h"
    res = run("stitch", "--image", logo, "--size", "hoop", "--hoop", "4x4", "--out", h, "-q",
              "--no-pdf")
    assert res.exit_code == 0, res.output
    assert (h / "pattern.pes").exists() and (h / "pattern.dst").exists()
    # a stitch in the empty corner: the sewn extent no longer fits the 4x4 hoop
    res = run("edit", h / "pattern.json", "--set", "1,1=310")
    assert res.exit_code == 0, res.output
    assert not (h / "pattern.pes").exists() and not (h / "pattern.dst").exists()
    assert re.search(r"note: removed pattern\.dst, pattern\.pes\b", res.output), res.output
    assert "does not fit the 100x100 mm hoop" in res.output


def test_convert_writes_the_files_the_pattern_folder_holds(tmp_path):
    logo = _logo(tmp_path / "logo.png")
    owl = tmp_path / "owl"
    res = run("beads", "--image", logo, "--size", "12", "--out", owl, "-q")
    assert res.exit_code == 0, res.output
    res = run("export", owl / "pattern.json", "--no-pdf")  # keeps the PDF it does not rewrite
    assert res.exit_code == 0 and "kept pattern.pdf" in res.output, res.output
    res = run("convert", owl / "pattern.json", "--brand", "hama")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "owl-hama" / "pattern.pdf").exists(), res.output


def test_export_into_another_folder_names_what_it_removes(tmp_path):
    logo = _logo(tmp_path / "logo.png")
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        res = run("stitch", "--image", logo, "--size", "20", "--out", folder, "-q", "--no-pdf")
        assert res.exit_code == 0, res.output
    res = run("export", a / "pattern.json", "--formats", "jef", "--no-pdf", "--out", b)
    assert res.exit_code == 0, res.output
    assert not (b / "pattern.pes").exists()
    assert f"removed pattern.dst, pattern.pes from an earlier run in {b}" in res.output


# --- 2. --size hoop measures what is sewn ----------------------------------------------------
def test_size_hoop_gives_the_largest_design_whose_stitches_fit(tmp_path):
    logo = _logo(tmp_path / "logo-transparent.png", transparent=True)
    out = tmp_path / "h"
    res = run("stitch", "--image", logo, "--size", "hoop", "--hoop", "4x4", "--out", out, "-q",
              "--no-pdf", "--colors", "2")
    assert res.exit_code == 0, res.output
    pattern = Pattern.load(out / "pattern.json")
    sewn = stitched_size(pattern)
    whole = int(100 / MM_PER_CELL_14)  # 55 cells: the grid bound that ignores the margins
    assert pattern.width > whole, (pattern.width, pattern.height, sewn)
    assert max(sewn) * MM_PER_CELL_14 <= 100.0, sewn
    assert (out / "pattern.pes").exists()
    # one cell more and the stitches no longer fit the hoop
    res = run("stitch", "--image", logo, "--size", pattern.width + 1, "--hoop", "4x4",
              "--formats", "pes", "--out", tmp_path / "bigger", "-q", "--no-pdf",
              "--colors", "2")
    assert res.exit_code == 2 and "does not fit the 100x100 mm hoop" in res.output, res.output


# --- 3. a replaced color's "for #..." goes to the new color ----------------------------------
def test_replace_keeps_what_the_color_stood_for(tmp_path):
    logo = _logo(tmp_path / "logo.png")
    s = tmp_path / "s"
    res = run("stitch", "--image", logo, "--size", "20", "--out", s, "-q", "--formats", "none")
    assert res.exit_code == 0, res.output
    shown = json.loads((s / "pattern.json").read_text())["meta"]["stands_for"]
    red = next(code for code, v in shown.items() if v["source"] == "#DC141E")
    new = "321" if red != "321" else "666"
    res = run("edit", s / "pattern.json", "--replace", f"{red}={new}", "--set", "1,1=B5200")
    assert res.exit_code == 0, res.output
    after = json.loads((s / "pattern.json").read_text())["meta"]["stands_for"]
    assert red not in after
    assert after[new]["source"] == "#DC141E"
    assert after[new]["delta_e00"] != shown[red]["delta_e00"]  # measured for the new color
    assert "for #DC141E" in _pdf_text(s / "pattern.pdf")


# --- 4. help is plain text -------------------------------------------------------------------
def _commands(cmd, path):
    yield path
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, [*path, name])


def test_every_help_is_plain_text():
    for path in _commands(main, []):
        text = run(*path, "--help").output
        for markup in (":class:", ":func:", ":mod:", ":meth:", ":data:", "``"):
            assert markup not in text, (path, markup)
    assert "OutputSet" not in run("export", "--help").output


# --- 5. the fabric to cut is rounded up ------------------------------------------------------
def test_fabric_cut_is_rounded_up(tmp_path):
    dmc = load_palette("dmc")
    cells = np.zeros((45, 60), dtype=int)  # 108.9 x 81.6 mm at 14 ct
    pattern = pattern_from_indices(cells, dmc.codes[:1], dmc.names[:1], dmc.hexes[:1],
                                   "stitch", "dmc")
    folder = tmp_path / "f"
    folder.mkdir()
    pattern.save(folder / "pattern.json")
    res = run("export", folder / "pattern.json", "--formats", "none")
    assert res.exit_code == 0, res.output
    text = _pdf_text(folder / "pattern.pdf")
    assert "cut at least 21 \u00d7 19 cm" in text, re.findall(r"cut at least[^)]*", text)


# --- 6. a picture given to edit ----------------------------------------------------------------
def test_edit_of_an_image_says_it_takes_a_pattern_json(tmp_path):
    logo = _logo(tmp_path / "logo.png")
    res = CliRunner().invoke(main, ["edit", str(logo), "--set", "1,1=310"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert "it is a PNG image, not a pattern.json" in lines[0] and "UTF-8" not in lines[0]


@pytest.mark.parametrize("command", ["export", "convert"])
def test_other_pattern_commands_refuse_a_picture_the_same_way(tmp_path, command):
    logo = _logo(tmp_path / "logo.png")
    res = CliRunner().invoke(main, [command, str(logo)])
    assert res.exit_code == 2
    assert "it is a PNG image, not a pattern.json" in res.output, res.output
