"""``craftpix export`` and the shared export options."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from craftpix.errors import InputError
from craftpix.export.cli import export_command
from craftpix.export.hoops import Hoop, smallest_fitting_hoop
from craftpix.export.options import export_options, export_settings, parse_hoop
from craftpix.fileio import MANIFEST  # the output set's list of the files craftpix owns
from craftpix.pattern import Color, Pattern

DMC = [Color("310", "Black", "#000000"), Color("321", "Red", "#C7002B"),
       Color("3865", "Winter White", "#F9F7F1")]
LEGO = [Color("21", "Bright Red", "#C91A09"), Color("1", "White", "#FFFFFF")]


def saved(tmp_path: Path, medium: str = "stitch", h: int = 12, w: int = 16) -> Path:
    cells = (np.arange(h)[:, None] // 4 + np.arange(w)[None, :] // 5) % 2
    pal, brand = (DMC, "dmc") if medium == "stitch" else (LEGO, "lego")
    path = tmp_path / "work" / "pattern.json"
    path.parent.mkdir()
    Pattern(cells, pal, medium, brand, {"prompt": "two tones"}).save(path)
    return path


def run(args: list[str]) -> tuple[int, str, str]:
    res = CliRunner().invoke(export_command, args, prog_name="craftpix export")
    return res.exit_code, res.stdout, res.stderr


def test_export_writes_files_next_to_the_pattern(tmp_path: Path) -> None:
    pj = saved(tmp_path)
    code, out, err = run([str(pj), "--formats", "pes,dst,jef", "--paper", "letter"])
    assert code == 0, err
    names = sorted(q.name for q in pj.parent.iterdir() if q.name != MANIFEST)
    assert names == ["pattern.dst", "pattern.jef", "pattern.json", "pattern.pdf", "pattern.pes",
                     "preview-pixels.png", "preview.png", "shopping-list.csv"]
    assert out.count("wrote ") == 8  # pattern.json is rewritten with the settings used


def test_export_default_formats_and_out_dir(tmp_path: Path) -> None:
    pj = saved(tmp_path)
    out_dir = tmp_path / "out" / "nested"
    code, out, err = run([str(pj), "--out", str(out_dir), "--no-pdf", "--fabric-count", "18",
                          "--strands", "1"])
    assert code == 0, err
    assert sorted(q.name for q in out_dir.iterdir() if q.name != MANIFEST) == [
        "pattern.dst", "pattern.json", "pattern.pes", "preview-pixels.png", "preview.png",
        "shopping-list.csv"]


def test_export_bricks_merge_reports_reduction(tmp_path: Path) -> None:
    pj = saved(tmp_path, "bricks", 16, 16)
    code, out, err = run([str(pj), "--merge", "--section", "16", "--no-pdf"])
    assert code == 0, err
    assert "merged plates: 256 pieces -> " in out


@pytest.mark.parametrize("args,needle", [
    (["--hoop", "0x5"], "--hoop"),
    (["--hoop", "abc"], "--hoop"),
    (["--hoop", "100x-3"], "--hoop"),
    (["--formats", "pes,xyz"], "xyz"),
    (["--paper", "a3"], "--paper"),
    (["--fabric-count", "12"], "--fabric-count"),
    (["--strands", "9"], "--strands"),
    (["--part", "brick"], "--part"),
    (["--section", "0"], "--section"),
    (["--section", "16"], "--section applies to beads and bricks"),
    (["--merge"], "--merge applies to brick mosaics"),
    (["--hoop", "50x50", "--formats", "pes"], "does not fit the 50x50 mm hoop"),
    (["--bogus"], "--bogus"),
])
def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    pj = saved(tmp_path, h=40, w=40)  # 72.6 mm at 14 ct
    before = sorted(q.name for q in pj.parent.iterdir())
    code, out, err = run([str(pj), *args])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err + out
    assert sorted(q.name for q in pj.parent.iterdir()) == before  # nothing written


def test_default_formats_skip_a_design_larger_than_the_hoop(tmp_path: Path) -> None:
    pj = saved(tmp_path, h=40, w=70)  # 127 x 72.6 mm at 14 ct: a chart, too big for 100x100
    code, out, err = run([str(pj), "--no-pdf", "--hoop", "4x4"])
    assert code == 0, err
    assert err.startswith("note: no embroidery files written: the design is 127.0 x 72.6 mm")
    assert not any(q.suffix in (".pes", ".dst") for q in pj.parent.iterdir())
    # the hoop stuck: a plain re-export uses it again
    assert Pattern.load(pj).settings["hoop"] == "4x4"
    code, out, err = run([str(pj), "--no-pdf"])
    assert code == 0 and "no embroidery files written" in err
    code, out, err = run([str(pj), "--hoop", "130x180"])
    assert code == 0 and err == ""
    assert (pj.parent / "pattern.pes").exists() and (pj.parent / "pattern.dst").exists()


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not valid JSON"),
    ('{"format": "craftpix.pattern", "version": 1}', "missing key"),
    ("[1, 2]", "JSON object"),
])
def test_malformed_pattern_exits_2(tmp_path: Path, content: str, needle: str) -> None:
    pj = tmp_path / "bad.json"
    pj.write_text(content)
    code, out, err = run([str(pj)])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert "Traceback" not in err + out


def test_missing_pattern_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run([str(tmp_path / "nope.json")])
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_options_decorator_for_other_commands() -> None:
    seen: dict = {}

    @click.command()
    @export_options
    @click.option("--size", default="10x20")
    def cmd(**opts: object) -> None:
        seen.update(opts)

    res = CliRunner().invoke(cmd, ["--hoop", "130x180", "--formats", "VP3,exp", "--paper",
                                   "Letter", "--fabric-count", "16"])
    assert res.exit_code == 0, res.output
    kwargs = export_settings(seen)
    assert kwargs == {"paper": "letter", "formats": ("vp3", "exp"),
                      "hoop": Hoop(130.0, 180.0, "5x7"), "fabric_count": 16}
    # with the medium known, options that do not apply fail before any work
    with pytest.raises(InputError, match="cross-stitch"):
        export_settings(seen, medium="beads")
    export_settings({**seen, "size": (80, 110)}, medium="stitch")  # 127 x 174.6 mm fits
    with pytest.raises(InputError, match="hoop"):
        export_settings({**seen, "size": (100, 200)}, medium="stitch")
    values = dict(seen)
    export_settings(values, pop=True)
    assert values == {"size": "10x20"}


def test_parse_hoop() -> None:
    assert parse_hoop("130x180").size == (130.0, 180.0)
    assert parse_hoop(" 200 X 200 mm").size == (200.0, 200.0)
    assert parse_hoop("4x4") == Hoop(100.0, 100.0, "4x4")  # a preset, not 4 mm
    assert parse_hoop("4x4in") == Hoop(100.0, 100.0, "4x4")
    assert parse_hoop("5x7").size == (130.0, 180.0)
    assert parse_hoop("6x10").size == (160.0, 260.0)
    assert parse_hoop("130x180mm").size == (130.0, 180.0)
    assert parse_hoop("3x5in").size == pytest.approx((76.2, 127.0))
    assert parse_hoop("12x20cm").size == (120.0, 200.0)
    assert parse_hoop(None) is None and parse_hoop("auto") is None
    for bad in ("0x5", "abc", "100", "100x", "-1x5", "2000x100", "5x7.5", "4inx100mm"):
        with pytest.raises(InputError):
            parse_hoop(bad)


def test_smallest_fitting_hoop() -> None:
    assert smallest_fitting_hoop(90, 95).name == "4x4"
    assert smallest_fitting_hoop(120, 170).name == "5x7"
    # the README's 80x60 at 14 ct: by area and shape the 5x7 holds it turned (not the 8x8)
    assert smallest_fitting_hoop(145.1, 108.9).name == "5x7"
    assert smallest_fitting_hoop(108.9, 145.1).name == "5x7"
    assert smallest_fitting_hoop(181, 272).name == "200x280"
    assert smallest_fitting_hoop(500, 500) is None


def test_settings_stick_between_exports(tmp_path: Path) -> None:
    pj = saved(tmp_path, "bricks", 40, 40)
    code, out, err = run([str(pj), "--section", "32", "--merge", "--no-pdf", "--part", "plate"])
    assert code == 0, err
    stored = Pattern.load(pj).settings
    assert stored["section"] == 32 and stored["merge"] is True and stored["pdf"] is False
    code, out, err = run([str(pj)])  # no options: the stored ones apply
    assert code == 0, err
    assert "merged plates" in out and not (pj.parent / "pattern.pdf").exists()
    code, out, err = run([str(pj), "--no-merge", "--pdf", "--paper", "letter"])
    assert code == 0, err
    s = Pattern.load(pj).settings
    assert (s["merge"], s["pdf"], s["paper"], s["section"]) == (False, True, "letter", 32)


def test_stitch_settings_stick(tmp_path: Path) -> None:
    pj = saved(tmp_path, h=30, w=30)
    code, _, err = run([str(pj), "--fabric-count", "18", "--strands", "1", "--formats", "jef",
                        "--hoop", "5x7", "--no-pdf"])
    assert code == 0, err
    s = Pattern.load(pj).settings
    assert (s["fabric_count"], s["strands"], s["formats"], s["hoop"]) == (18, 1, ["jef"], "5x7")
    (pj.parent / "pattern.jef").unlink()
    code, _, err = run([str(pj)])
    assert code == 0, err
    assert (pj.parent / "pattern.jef").exists() and not (pj.parent / "pattern.pes").exists()


def test_bad_stored_settings_are_one_line(tmp_path: Path) -> None:
    pj = saved(tmp_path)
    p = Pattern.load(pj)
    p.settings = {"fabric_count": 12}
    p.save(pj)
    code, _, err = run([str(pj)])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "fabric count 12" in err
    p.settings = {"colour": "red"}
    p.save(pj)
    code, _, err = run([str(pj)])
    assert code == 2 and "unknown pattern.json settings 'colour'" in err


def test_readme_cross_stitch_example_runs(tmp_path: Path) -> None:
    """``stitch --image garden.jpg --size 80x60 --colors 20 --fabric-count 14 --formats
    pes,dst,vp3``: 145 x 109 mm needs more than a 4x4 hoop, so the smallest preset that fits
    is chosen; every file is written and the hoop is recorded."""
    from PIL import Image

    from craftpix.cli import main

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:60, 0:80] / 60.0
    img = np.stack([0.3 + 0.5 * xx / 1.4, 0.6 - 0.3 * yy, 0.2 + 0.2 * yy], -1)
    img[10:30, 20:50] = [0.8, 0.2, 0.3]
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
    garden = tmp_path / "garden.jpg"
    Image.fromarray((img * 255).astype(np.uint8)).save(garden)
    out = tmp_path / "garden"
    res = CliRunner().invoke(main, ["stitch", "--image", str(garden), "--size", "80x60",
                                    "--colors", "20", "--fabric-count", "14",
                                    "--formats", "pes,dst,vp3", "--out", str(out), "--quiet",
                                    # the README's options as written; few engine steps so
                                    # that the test stays fast (the exports are under test)
                                    "--steps", "5"])
    assert res.exit_code == 0, res.output
    for fmt in ("pes", "dst", "vp3"):
        assert (out / f"pattern.{fmt}").stat().st_size > 0
    s = Pattern.load(out / "pattern.json").settings
    assert s["formats"] == ["pes", "dst", "vp3"] and s["fabric_count"] == 14


def test_hoop_too_small_for_named_formats_fails_before_work(tmp_path: Path) -> None:
    from craftpix.cli import main

    # an opaque photo fills the grid: the hoop is checked before the engine runs
    Image.new("RGB", (80, 60), (200, 40, 40)).save(tmp_path / "photo.jpg")
    res = CliRunner().invoke(main, ["stitch", "--image", str(tmp_path / "photo.jpg"), "--size",
                                    "80x60", "--formats", "pes", "--hoop", "4x4",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "does not fit the 100x100 mm hoop" in res.output
    assert not (tmp_path / "o").exists()


def test_hoop_check_measures_the_stitched_extent(tmp_path: Path) -> None:
    """A transparent logo: its empty margins are not sewn, so a 4x4 hoop holds it (issue 21)."""
    from craftpix.cli import main
    from craftpix.export.dst import decode

    a = np.zeros((60, 60, 4), np.uint8)
    a[6:48, 4:52] = (200, 30, 40, 255)  # stitched 48x42 of 60x60 cells: 87.1 x 76.2 mm at 14 ct
    a[15:35, 15:40] = (20, 20, 120, 255)
    Image.fromarray(a).save(tmp_path / "logo.png")
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["stitch", "--image", str(tmp_path / "logo.png"), "--size",
                                    "60", "--hoop", "4x4", "--formats", "dst,pes", "--out",
                                    str(out), "-q", "--no-pdf"])
    assert res.exit_code == 0, res.output
    rec = decode((out / "pattern.dst").read_bytes())
    width = (rec.x.max() - rec.x.min()) / 10
    assert 86 < width < 88.5  # the stitched extent, centred: not 108.9 mm
    assert abs(rec.x.max() + rec.x.min()) <= 2  # centred on the hoop centre
    auto = tmp_path / "auto"
    res = CliRunner().invoke(main, ["stitch", "--image", str(tmp_path / "logo.png"), "--size",
                                    "60", "--formats", "dst", "--out", str(auto), "-q"])
    assert res.exit_code == 0, res.output
    from pypdf import PdfReader

    text = " ".join(pg.extract_text() for pg in PdfReader(auto / "pattern.pdf").pages)
    assert "hoop 100 × 100 mm" in " ".join(text.split())  # the 4x4 preset, not 140x140


def test_cli_smallest_hoop_by_area_and_shape(tmp_path: Path) -> None:
    """`stitch --size 80x60 --formats dst` (145 x 109 mm at 14 ct): the 5x7 hoop, the design
    turned in the file — not the 8x8 (issue 21)."""
    from craftpix.cli import main
    from craftpix.export.dst import decode

    a = np.full((60, 80, 3), 230, np.uint8)
    a[10:50, 10:70] = (200, 30, 40)
    Image.fromarray(a).save(tmp_path / "land.jpg", quality=95)
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["stitch", "--image", str(tmp_path / "land.jpg"), "--size",
                                    "80x60", "--formats", "dst", "--out", str(out), "-q",
                                    "--no-pdf"])
    assert res.exit_code == 0, res.output
    assert "turned a quarter turn in the machine files to fit the 5x7" in res.output
    rec = decode((out / "pattern.dst").read_bytes())
    assert (rec.x.max() - rec.x.min()) / 10 <= 130 and (rec.y.max() - rec.y.min()) / 10 <= 180
    assert (rec.y.max() - rec.y.min()) > (rec.x.max() - rec.x.min())  # turned: taller than wide
