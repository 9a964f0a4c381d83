"""``craftpix export`` and the shared export options."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from craftpix.errors import InputError
from craftpix.export.cli import export_command
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
                     "preview-pixels.png", "preview.png"]
    assert out.count("wrote ") == 6


def test_export_default_formats_and_out_dir(tmp_path: Path) -> None:
    pj = saved(tmp_path)
    out_dir = tmp_path / "out" / "nested"
    code, out, err = run([str(pj), "--out", str(out_dir), "--no-pdf", "--fabric-count", "18",
                          "--strands", "1"])
    assert code == 0, err
    assert sorted(q.name for q in out_dir.iterdir() if q.name != MANIFEST) == [
        "pattern.dst", "pattern.pes", "preview-pixels.png", "preview.png"]


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
    code, out, err = run([str(pj), "--no-pdf"])
    assert code == 0, err
    assert err.startswith("note: no embroidery files written: the design is 127.0 x 72.6 mm")
    assert not any(q.suffix in (".pes", ".dst") for q in pj.parent.iterdir())
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
    assert kwargs == {"pdf": True, "paper": "letter", "formats": ("vp3", "exp"),
                      "hoop": (130.0, 180.0), "merge": False, "part": "plate", "section": None,
                      "fabric_count": 16, "strands": None}
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
    assert parse_hoop("130x180") == (130.0, 180.0)
    assert parse_hoop(" 200 X 200 mm") == (200.0, 200.0)
    assert parse_hoop("5x7.5") == (5.0, 7.5)
    for bad in ("0x5", "abc", "100", "100x", "-1x5", "2000x100"):
        with pytest.raises(InputError):
            parse_hoop(bad)
