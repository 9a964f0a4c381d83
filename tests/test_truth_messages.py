"""Issue 21 item 6 through the CLI as a user types it: names, help, pages and messages."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.cli import main
from craftpix.export.layout import split_range
from craftpix.palette import load_palette
from craftpix.pattern import pattern_from_indices

PERLER = load_palette("perler")
WHITE, BLACK, RED = "80-19001", "80-19018", "80-19005"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def saved(tmp_path):
    idx = {c: PERLER.codes.index(c) for c in (WHITE, BLACK)}
    cells = np.full((8, 10), idx[WHITE])
    cells[2:5, 2:5] = idx[BLACK]
    pattern = pattern_from_indices(cells, PERLER.codes, PERLER.names, PERLER.hexes, "beads",
                                   "perler")
    folder = tmp_path / "owl"
    folder.mkdir()
    return pattern.save(folder / "pattern.json")


def test_unicode_file_name_keeps_its_letters(tmp_path):
    img = tmp_path / "mój logo ✓.png"
    Image.new("RGB", (12, 12), (200, 30, 30)).save(img)
    os.chdir(tmp_path)
    res = run("beads", "--image", img, "--size", "12", "--no-pdf", "-q")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "mój-logo-beads-12").is_dir(), sorted(os.listdir(tmp_path))


def test_one_color_is_singular_in_every_line(tmp_path):
    img = tmp_path / "red.png"
    Image.new("RGB", (12, 12), (200, 30, 30)).save(img)
    res = run("stitch", "--image", img, "--size", "12", "--no-pdf", "-q", "--out",
              tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert "1 dmc color," in res.output and "144 stitches" in res.output
    assert "1 colors" not in res.output and "stitchs" not in res.output


def test_notes_come_before_the_files_written(tmp_path):
    img = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(img)
    res = run("beads", "--image", img, "--size", "30", "--no-pdf", "-q", "--out", tmp_path / "p")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    notes = [i for i, line in enumerate(lines) if line.startswith("note:")]
    wrote = [i for i, line in enumerate(lines) if line.strip().startswith("wrote")]
    assert notes and wrote and max(notes) < min(wrote), res.output


def test_bead_and_brick_help_do_not_offer_backstitch():
    for craft in ("beads", "bricks"):
        out = run(craft, "--help").output
        assert "--backstitch" not in out, craft
    assert "--backstitch" in run("stitch", "--help").output


def test_sixty_columns_are_two_balanced_pages():
    assert split_range(60, 51) == [(0, 31), (30, 60)]
    for n in range(2, 400):
        chunks = split_range(n, 51)
        sizes = [b - a for a, b in chunks]
        assert max(sizes) <= 51 and chunks[0][0] == 0 and chunks[-1][1] == n
        assert all(chunks[i][1] - 1 == chunks[i + 1][0] for i in range(len(chunks) - 1))
        assert len(chunks) == max(1, -(-(n - 1) // 50))
        assert min(sizes) >= 11 or len(chunks) == 1, (n, chunks)


def test_replace_unknown_color_lists_the_patterns_colors(saved):
    res = run("edit", saved, "--replace", f"{RED}={BLACK}")
    assert res.exit_code == 2
    assert "no color '80-19005'" in res.output
    assert f"{WHITE} White" in res.output and f"{BLACK} Black" in res.output


def test_set_by_color_name_suggests_the_code(saved):
    res = run("edit", saved, "--set", "5,5=red")
    assert res.exit_code == 2
    assert "did you mean 80-19005 Red" in res.output, res.output


def test_prompt_without_diffusion_names_the_readme_install_line(tmp_path, monkeypatch):
    from craftpix.engines import sds

    monkeypatch.setattr(sds, "missing_diffusion_modules", lambda: ["torch"])
    res = run("beads", "--prompt", "a red fox", "--size", "16", "--out", tmp_path / "f")
    assert res.exit_code == 2, res.output
    assert res.output.strip().endswith('pip install ".[diffusion]"'), res.output
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    assert 'pip install ".[diffusion]"' in readme


def test_batch_colors_abc_names_the_column_and_what_it_takes(tmp_path):
    Image.new("RGB", (12, 12), (200, 30, 30)).save(tmp_path / "red.png")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("craft,image,size,colors\nbeads,red.png,12,abc\n", encoding="utf-8")
    res = run("batch", jobs, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 2
    assert "colors='abc': give a whole number from 1 to 500" in res.output, res.output
    assert "integer range" not in res.output


def test_a_color_keeps_its_symbol_through_edits(saved):
    from craftpix.pattern import Pattern

    def symbols():
        return {c.code: c.symbol for c in Pattern.load(saved).palette}

    assert run("edit", saved, "--set", "1,1=" + BLACK).exit_code == 0
    first = symbols()
    assert first[WHITE] and first[BLACK] and first[WHITE] != first[BLACK]
    res = run("edit", saved, "--replace", f"{BLACK}={WHITE}")  # black leaves the chart
    assert res.exit_code == 0, res.output
    assert symbols() == {WHITE: first[WHITE]}
    assert run("edit", saved, "--set", f"2,2={RED}").exit_code == 0  # a new color
    after = symbols()
    assert after[WHITE] == first[WHITE] and after[RED] not in (first[WHITE], first[BLACK])
    assert run("edit", saved, "--set", f"3,3={BLACK}").exit_code == 0  # black comes back
    back = symbols()
    assert back[BLACK] == first[BLACK] and back[RED] == after[RED]
    assert back[WHITE] == first[WHITE]
    res = run("export", saved, "--no-pdf")  # a re-export keeps them too
    assert res.exit_code == 0, res.output
    assert symbols() == back


def test_export_keeps_the_machine_files_it_does_not_rewrite(tmp_path):
    img = tmp_path / "garden.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(img)
    out = tmp_path / "garden"
    res = run("stitch", "--image", img, "--size", "16", "--colors", "4", "--formats", "pes,dst",
              "--out", out, "-q")
    assert res.exit_code == 0, res.output
    before = {n: (out / n).read_bytes() for n in ("pattern.pes", "pattern.dst", "pattern.pdf")}
    res = run("export", out / "pattern.json", "--formats", "jef", "--no-pdf", "--out", out)
    assert res.exit_code == 0, res.output
    assert (out / "pattern.jef").is_file()
    assert {n: (out / n).read_bytes() for n in before} == before
    assert "kept" in res.output and "pattern.pes" in res.output
    # the kept files stay craftpix's: a later export that rewrites them still may
    res = run("export", out / "pattern.json", "--formats", "dst", "--out", out)
    assert res.exit_code == 0, res.output
    assert (out / "pattern.pes").is_file() and (out / "pattern.jef").is_file()


def test_a_rerun_into_an_edited_folder_is_refused_unless_forced(tmp_path):
    img = tmp_path / "cat.png"
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(img)
    out = tmp_path / "t1"
    assert run("beads", "--image", img, "--size", "30", "--out", out, "-q").exit_code == 0
    res = run("edit", out / "pattern.json", "--fill", "1,1=empty")
    assert res.exit_code == 0, res.output
    from craftpix.fileio import read_manifest

    owned = read_manifest(out)
    assert {"pattern.json", "pattern.pdf", "preview.png"} <= set(owned)  # edit recorded them
    edited = (out / "pattern.json").read_bytes()
    res = run("beads", "--image", img, "--size", "30", "--out", out, "--no-pdf", "-q")
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1 and "--force" in res.output, res.output
    assert (out / "pattern.json").read_bytes() == edited and (out / "pattern.pdf").is_file()
    res = run("beads", "--image", img, "--size", "30", "--out", out, "--no-pdf", "-q", "--force")
    assert res.exit_code == 0, res.output
    assert "changed after craftpix wrote it" not in res.output
    assert not (out / "pattern.pdf").exists()  # the edit's PDF was craftpix's: removed


def test_chart_rulers_read_design_rows_and_columns_as_edit_takes_them(tmp_path):
    from pypdf import PdfReader

    from craftpix.pattern import Pattern

    img = tmp_path / "sprite.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(img)
    out = tmp_path / "sprite"
    assert run("beads", "--image", img, "--size", "40", "--colors", "4", "--out", out,
               "-q").exit_code == 0
    pages = [p.extract_text() for p in PdfReader(str(out / "pattern.pdf")).pages]
    board2 = next(t for t in pages if t.startswith("Pegboard 2\n"))
    # pegboard 2 holds design columns 21-40 (centred on 29-peg boards): its top ruler says
    # 30 and 40 as the design counts, its grey peg ruler counts the board's own pegs
    assert "design columns 21\u201340" in board2 and "grey p: pegs" in board2
    words = board2.split()
    assert "30" in words and "40" in words and "p10" in words and "p20" in words
    res = run("edit", out / "pattern.json", "--set", f"30,30={BLACK}")
    assert res.exit_code == 0, res.output
    p = Pattern.load(out / "pattern.json")
    assert p.palette[p.cells[29, 29]].code == BLACK  # where both rulers read 30


def test_edit_takes_a_boards_own_peg_numbers(tmp_path):
    from craftpix.pattern import Pattern

    img = tmp_path / "sprite.png"
    rng = np.random.default_rng(4)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(img)
    out = tmp_path / "sprite"
    assert run("beads", "--image", img, "--size", "40", "--colors", "4", "--out", out,
               "--no-pdf", "-q").exit_code == 0
    # 40 beads on 29-peg boards: centred, 9 empty pegs before the design; pegboard 2 (top
    # right) holds design columns 21-40 from its peg 1, rows 1-20 from its peg 10
    res = run("edit", out / "pattern.json", "--set", f"board 2, row 15, column 10={BLACK}",
              "--fill", f"B1:10,10={RED}")
    assert res.exit_code == 0, res.output
    p = Pattern.load(out / "pattern.json")
    assert p.palette[p.cells[5, 29]].code == BLACK  # design row 6, column 30
    assert p.palette[p.cells[0, 0]].code == RED  # board 1 peg 10,10 is design 1,1
    res = run("edit", out / "pattern.json", "--set", f"board 1, row 2, column 2={BLACK}")
    assert res.exit_code == 2 and "outside the design" in res.output, res.output
    res = run("edit", out / "pattern.json", "--set", f"board 9, row 2, column 2={BLACK}")
    assert res.exit_code == 2 and "boards 1 to 4" in res.output, res.output


def test_a_reader_finishes_a_publish_a_kill_cut_short_before_reading(saved):
    """SIGKILL after the commit point leaves the new set in the journal: `edit` (a reader)
    must work on that new pattern, never on the old pattern.json beside it."""
    import shutil

    from craftpix import fileio
    from craftpix.pattern import Pattern

    folder = saved.parent
    assert run("edit", saved, "--set", f"1,1={BLACK}").exit_code == 0
    # stage a newer set by hand, exactly as publish() leaves it at the commit point
    journal = folder / fileio.JOURNAL
    journal.mkdir()
    newer = Pattern.load(saved)
    newer.cells[7, 9] = [c.code for c in newer.palette].index(BLACK)
    newer.save(journal / "pattern.json")
    shutil.copy(folder / "preview.png", journal / "preview.png")
    files = {n: fileio._digest(journal / n) for n in ("pattern.json", "preview.png")}
    manifest = {"format": fileio.MANIFEST_FORMAT, "version": 1, "files": files}
    (journal / fileio.MANIFEST).write_text(json.dumps(manifest))
    res = run("edit", saved, "--set", f"2,2={BLACK}")
    assert res.exit_code == 0, res.output
    grid = Pattern.load(saved)
    codes = [c.code for c in grid.palette]
    assert grid.cells[7, 9] == codes.index(BLACK) and grid.cells[1, 1] == codes.index(BLACK)
    assert not journal.exists()
