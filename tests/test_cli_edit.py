"""``craftpix edit`` and ``craftpix convert``: change a saved pattern, get valid files back."""

import numpy as np
import pytest
from click.testing import CliRunner

from craftpix import api
from craftpix.cli import main
from craftpix.palette import load_palette
from craftpix.pattern import Pattern, pattern_from_indices

PERLER = load_palette("perler")
WHITE, BLACK, RED = "80-19001", "80-19018", "80-19005"
HAS_SETTINGS = "settings" in Pattern.__dataclass_fields__


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def saved(tmp_path):
    """A 10×8 bead pattern: white, a black 3×3 block, one stray red cell, saved with files."""
    idx = {c: PERLER.codes.index(c) for c in (WHITE, BLACK, RED)}
    cells = np.full((8, 10), idx[WHITE])
    cells[2:5, 2:5] = idx[BLACK]
    cells[6, 7] = idx[RED]
    pattern = pattern_from_indices(cells, PERLER.codes, PERLER.names, PERLER.hexes, "beads",
                                   "perler")
    folder = tmp_path / "owl"
    folder.mkdir()
    path = pattern.save(folder / "pattern.json")
    return path


def codes(pattern):
    return np.asarray([c.code for c in pattern.palette])[pattern.cells]


def test_replace_rewrites_the_pattern_and_its_files(saved):
    res = run("edit", saved, "--replace", f"{BLACK}={RED}")
    assert res.exit_code == 0, res.output
    p = Pattern.load(saved)
    grid = codes(p)
    assert (grid[2:5, 2:5] == RED).all() and BLACK not in grid
    assert p.meta["edits"] == [f"replace {BLACK}={RED}"]
    for name in ("preview.png", "preview-pixels.png", "pattern.pdf"):
        assert (saved.parent / name).is_file() and name in res.output


def test_set_and_fill_count_from_one_as_on_the_chart(saved):
    res = run("edit", saved, "--set", f"1,1={BLACK}", "--fill", f"3,3={WHITE}")
    assert res.exit_code == 0, res.output
    grid = codes(Pattern.load(saved))
    assert grid[0, 0] == BLACK  # row 1, column 1
    assert (grid[2:5, 2:5] == WHITE).all()  # the black block filled from row 3, column 3
    assert grid[6, 7] == RED


def test_clean_absorbs_the_stray_cell_and_exclude_merges(saved, tmp_path):
    out = tmp_path / "cleaned"
    res = run("edit", saved, "--clean", "--out", out)
    assert res.exit_code == 0, res.output
    cleaned = Pattern.load(out / "pattern.json")
    assert RED not in codes(cleaned) and codes(cleaned)[6, 7] == WHITE
    assert (codes(Pattern.load(saved)) == RED).sum() == 1  # the original is untouched
    res = run("edit", saved, "--exclude", BLACK)
    assert res.exit_code == 0, res.output
    assert BLACK not in codes(Pattern.load(saved))


@pytest.mark.parametrize("args, message", [
    ([], "nothing to change"),
    (["--replace", "347"], "use OLD=NEW"),
    (["--replace", "nope=80-19001"], "has no color 'nope'"),
    (["--replace", f"{WHITE}=nope"], "'nope' is not in the perler catalog"),
    (["--set", "0,1=80-19001"], "count from 1"),
    (["--set", "9,1=80-19001"], "outside the 10×8 pattern"),
    (["--set", "a,b=c"], "ROW,COL=CODE"),
    (["--fill", "1,99=80-19001"], "outside"),
    (["--clean", "0"], "--clean"),
])
def test_bad_edits_are_one_line(saved, args, message):
    before = saved.read_text()
    res = CliRunner().invoke(main, ["edit", str(saved), *args])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.output
    assert saved.read_text() == before


def test_missing_pattern_file_is_one_line(tmp_path):
    res = CliRunner().invoke(main, ["edit", str(tmp_path / "none.json"), "--clean"])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_replace_with_empty_leaves_empty_cells(saved):
    res = run("edit", saved, "--replace", f"{RED}=empty")
    assert res.exit_code == 0, res.output
    p = Pattern.load(saved)
    assert p.cells[6, 7] == -1 and RED not in [c.code for c in p.palette]
    assert int(p.counts().sum()) == 79


def test_convert_maps_one_color_per_color(saved, tmp_path):
    res = run("convert", saved, "--brand", "hama")
    assert res.exit_code == 0, res.output
    out = saved.parent.with_name("owl-hama") / "pattern.json"
    p = Pattern.load(out)
    hama = load_palette("hama")
    assert p.brand == "hama" and p.medium == "beads"
    assert {c.code for c in p.palette} <= set(hama.codes) and len(p.palette) == 3
    before = codes(Pattern.load(saved))
    after = codes(p)
    for code in (WHITE, BLACK, RED):  # each color became one color
        assert len(set(after[before == code])) == 1
    assert "ΔE00" in res.output and (out.parent / "pattern.pdf").is_file()


def test_convert_refuses_another_crafts_catalog_unless_asked(saved, tmp_path):
    res = CliRunner().invoke(main, ["convert", str(saved), "--brand", "lego"])
    assert res.exit_code == 2 and "--palette lego" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = run("convert", saved, "--palette", "lego", "--out", tmp_path / "lego-beads")
    assert res.exit_code == 0, res.output
    assert Pattern.load(tmp_path / "lego-beads" / "pattern.json").brand == "lego"


def test_edits_keep_the_export_settings_given(tmp_path):
    """write_edited re-exports with the settings it is given (the pattern's stored ones)."""
    dmc = load_palette("dmc")
    cells = np.arange(12).reshape(3, 4) % 3
    p = pattern_from_indices(cells, dmc.codes[:3], dmc.names[:3], dmc.hexes[:3], "stitch", "dmc")
    result = api.write_edited(api.clean(p), tmp_path / "pattern.json",
                              {"fabric_count": 18, "formats": "dst"})
    assert result.settings.fabric_count == 18
    assert (tmp_path / "pattern.dst").is_file() and (tmp_path / "pattern.json").is_file()


@pytest.mark.skipif(not HAS_SETTINGS, reason="needs export settings stored in pattern.json")
def test_an_18_count_pattern_stays_18_count_after_an_edit(tmp_path):
    dmc = load_palette("dmc")
    cells = np.arange(12).reshape(3, 4) % 3
    p = pattern_from_indices(cells, dmc.codes[:3], dmc.names[:3], dmc.hexes[:3], "stitch", "dmc")
    api.export(p, tmp_path, fabric_count=18, formats="dst")
    path = tmp_path / "pattern.json"
    p.save(path)
    assert run("edit", path, "--set", f"1,1={dmc.codes[1]}").exit_code == 0
    assert Pattern.load(path).settings.get("fabric_count") == 18


def test_convert_next_to_a_pattern_in_the_current_folder(saved, tmp_path, monkeypatch):
    monkeypatch.chdir(saved.parent)
    res = run("convert", "pattern.json", "--brand", "artkal")
    assert res.exit_code == 0, res.output
    assert Pattern.load(saved.parent / "pattern-artkal" / "pattern.json").brand == "artkal"
