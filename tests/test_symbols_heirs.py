"""Chart symbols follow the cells: a replacing or converted color takes the symbol of the
color whose cells it took, so a chart printed before the edit still reads (issue 24)."""

import numpy as np
import pytest
from click.testing import CliRunner

from craftpix import edit
from craftpix.cli import main
from craftpix.palette import load_palette
from craftpix.pattern import Color, Pattern, pattern_from_indices

PERLER = load_palette("perler")
WHITE, BLACK, RED, BLUE = "80-19001", "80-19018", "80-19005", "80-19009"


def beads() -> Pattern:
    """10×8 perler: white ground, a black 3×3 block, a red 2×2 block, one blue cell."""
    idx = {c: PERLER.codes.index(c) for c in (WHITE, BLACK, RED, BLUE)}
    cells = np.full((8, 10), idx[WHITE])
    cells[2:5, 2:5] = idx[BLACK]
    cells[6:8, 6:8] = idx[RED]
    cells[0, 9] = idx[BLUE]
    p = pattern_from_indices(cells, PERLER.codes, PERLER.names, PERLER.hexes, "beads",
                             "perler").with_symbols()
    # symbols as edits leave them: not in the order a fresh chart would give (most used first)
    syms = [c.symbol for c in p.palette]
    palette = [Color(c.code, c.name, c.hex, syms[(i + 1) % len(syms)])
               for i, c in enumerate(p.palette)]
    return Pattern(p.cells, palette, p.medium, p.brand, dict(p.meta))


def symbols(p: Pattern) -> dict[str, str]:
    return dict(zip((c.code for c in p.palette), p.symbols(), strict=True))


def test_a_new_color_takes_the_symbol_of_the_one_it_replaces():
    p = beads()
    before = symbols(p)
    new = next(c for c in PERLER.codes if c not in before)
    q = edit.replace(p, {BLACK: new})
    after = symbols(q)
    assert after[new] == before[BLACK]
    assert {k: v for k, v in after.items() if k != new} == {
        k: v for k, v in before.items() if k != BLACK}
    # black comes back elsewhere: it gets a symbol of its own, never the one its heir holds
    r = edit.set_cell(q, 0, 0, BLACK)
    back = symbols(r)
    assert back[new] == before[BLACK] and back[BLACK] != before[BLACK]
    assert len(set(back.values())) == len(back)


def test_a_color_already_there_keeps_its_own_symbol():
    p = beads()
    before = symbols(p)
    q = edit.replace(p, {BLACK: RED})
    after = symbols(q)
    assert after[RED] == before[RED] and BLACK not in after
    # the removed color's symbol is never given to a color that arrives later
    new = next(c for c in PERLER.codes if c not in before)
    r = edit.set_cell(q, 0, 0, new)
    assert symbols(r)[new] not in set(before.values())


def test_two_colors_into_one_new_color_first_come():
    p = beads()
    before = symbols(p)
    new = next(c for c in PERLER.codes if c not in before)
    q = edit.replace(p, {RED: new, BLUE: new})
    assert symbols(q)[new] == before[RED]


def test_convert_each_new_color_takes_the_symbol_of_the_cells_it_mostly_took():
    p = beads()
    before = symbols(p)
    hama = load_palette("hama")
    q = edit.convert(p, hama, "hama")
    after = symbols(q)
    # one color per color: where each old color's cells went, the symbol went
    for i, c in enumerate(p.palette):
        cell = tuple(np.argwhere(p.cells == i)[0])
        assert after[q.palette[q.cells[cell]].code] == before[c.code]
    # a catalog of fewer colors: two old colors into one new, the one with more cells wins
    two = hama.subset([hama.codes.index(c) for c in ("H01", "H18")])
    m = edit.convert(p, two, "hama")
    merged = symbols(m)
    assert len(m.palette) == 2
    black_to = m.palette[m.cells[3, 3]].code
    white_to = m.palette[m.cells[0, 0]].code
    assert merged[white_to] == before[WHITE] and merged[black_to] == before[BLACK]


@pytest.mark.parametrize("command", ["edit", "convert"])
def test_the_command_line_agrees(tmp_path, command):
    p = beads()
    before = symbols(p)
    path = p.save(tmp_path / "pattern.json")
    new = next(c for c in PERLER.codes if c not in before)
    args = (["edit", str(path), "--replace", f"{BLACK}={new}", "--out", str(tmp_path / "e")]
            if command == "edit" else
            ["convert", str(path), "--brand", "hama", "--out", str(tmp_path / "e")])
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    q = Pattern.load(tmp_path / "e" / "pattern.json")
    after = symbols(q)
    if command == "edit":
        assert after[new] == before[BLACK]
    else:
        for i, c in enumerate(p.palette):
            cell = tuple(np.argwhere(p.cells == i)[0])
            assert after[q.palette[q.cells[cell]].code] == before[c.code]


def test_convert_keeps_what_each_color_stands_for(tmp_path):
    """After `convert --palette hama` each hama color stands for the source color of the perler
    color whose cells it took (ΔE00 measured anew); no perler code is left in the list."""
    from synthetic import asymmetric_perler

    from craftpix.cli import main
    from craftpix.pattern import Pattern

    asymmetric_perler(tmp_path / "asym.png")
    out = tmp_path / "p"
    assert CliRunner().invoke(main, ["beads", "--image", str(tmp_path / "asym.png"), "--size",
                                     "41x10", "--no-pdf", "--out", str(out)]).exit_code == 0
    before = Pattern.load(out / "pattern.json").meta["stands_for"]
    res = CliRunner().invoke(main, ["convert", str(out / "pattern.json"), "--palette", "hama",
                                    "--out", str(tmp_path / "h")])
    assert res.exit_code == 0, res.output
    after = Pattern.load(tmp_path / "h" / "pattern.json")
    shown = after.meta["stands_for"]
    assert set(shown) == {c.code for c in after.palette}
    assert {v["source"] for v in shown.values()} == {v["source"] for v in before.values()}
